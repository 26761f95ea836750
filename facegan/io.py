"""Crash-safe file writes: whatever is on disk is either the old file or the whole new one.

A write goes to a temporary file in the same folder, is flushed and fsync'd, then renamed over the
target (rename is atomic on POSIX and Windows), and the folder is fsync'd so the rename itself survives
a power cut.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_json(path: str | os.PathLike, obj, indent: int | None = 2) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=indent) + "\n").encode("utf-8"))


def display_name(name: str) -> str:
    """A file name that can always be printed and put in JSON (undecodable bytes become U+FFFD)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
