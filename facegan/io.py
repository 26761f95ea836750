"""Crash-safe file writes: whatever is on disk is either the old file or the whole new one.

A write goes to a temporary file in the same folder, is flushed and fsync'd, then renamed over the
target (rename is atomic on POSIX and Windows), and the folder is fsync'd so the rename itself survives
a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

# mkstemp creates files readable by their owner only; written files should get the usual permissions.
# The umask can only be read by setting it, so it is read once, at import (before any threads exist).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def fsync_dir(folder: str | os.PathLike) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its renames are durable enough
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; it becomes ``path`` when the block ends without an
    error (and is removed when it raises). A writer that streams into it (``torch.save``) spares the copy of
    the whole content in memory that :func:`atomic_write_bytes` takes (55 of 130 ms for a 76 MB checkpoint)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


def atomic_link(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Make ``dst`` another name of the file ``src`` (a hard link, atomically replacing ``dst``), so a
    checkpoint written once is also ``epoch_N.pt`` and ``best.pt`` (each write of 75 MB cost 0.3 s of an
    epoch end). Every write here replaces a file instead of changing it in place, so the names never see
    each other's later writes. Where the file system has no hard links, the bytes are copied atomically."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.urandom(6).hex()}.tmp")  # the pattern a resume clears up
    try:
        os.link(src, tmp)
    except OSError:
        return atomic_write_bytes(dst, src.read_bytes())
    try:
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)
    return dst


def atomic_write_json(path: str | os.PathLike, obj, indent: int | None = 2) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=indent) + "\n").encode("utf-8"))


def display_name(name: str) -> str:
    """A file name that can always be printed and put in JSON (undecodable bytes become U+FFFD)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
