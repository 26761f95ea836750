"""Zip files of faces that a person uploads (through the dashboard): checked before anything uses them,
then kept under one folder with a name derived from their content.

A zip is refused when it is not a zip, when a member's name would land outside a folder it were
extracted to (absolute paths, drive letters, ``..``), or when it is too large or compresses
suspiciously well (a zip bomb). facegan reads zips in place (:class:`~facegan.data.sources.ZipSource`
never extracts them), so these checks guard anything else that might unpack the file as well.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from ..errors import FaceganError
from .decode import IMAGE_EXTENSIONS

MAX_ZIP_BYTES = 2 * 2**30            # the uploaded file itself: .streamlit/config.toml maxUploadSize (MB)
MAX_UNCOMPRESSED_BYTES = 16 * 2**30  # all members together, uncompressed
MAX_MEMBERS = 1_000_000
MAX_RATIO = 250                      # uncompressed / compressed of one member larger than 1 MiB
CHUNK = 4 * 2**20


@dataclass(frozen=True)
class ZipReport:
    members: int          # files (not folders) in the zip
    images: int           # of which have an image extension
    uncompressed: int     # bytes


def unsafe_member(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None: absolute, with a drive, or climbing out
    with ``..`` (in either slash style), or carrying a NUL."""
    if "\x00" in name:
        return "a NUL character in its name"
    win = PureWindowsPath(name)
    if name.startswith(("/", "\\")) or win.drive or PurePosixPath(name).is_absolute():
        return "an absolute path"
    if ".." in re.split(r"[\\/]+", name):
        return "a '..' path component"
    return None


def check_zip(path: str | Path, *, max_bytes: int = MAX_ZIP_BYTES,
              max_uncompressed: int = MAX_UNCOMPRESSED_BYTES, max_members: int = MAX_MEMBERS) -> ZipReport:
    """Raise FaceganError unless ``path`` is a readable zip that is safe to use (see the module
    docstring); otherwise say what it holds."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise FaceganError(f"cannot read the uploaded file {path.name}: {e.strerror}") from None
    if size > max_bytes:
        raise FaceganError(f"{path.name} is {size / 2**30:.1f} GiB; at most {max_bytes / 2**30:.1f} GiB "
                           "may be uploaded (put large data sets in a folder and give its path instead)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise FaceganError(f"{path.name} is not a readable zip file ({e})") from None
    files = [i for i in infos if not i.is_dir()]
    if len(infos) > max_members:
        raise FaceganError(f"{path.name} has {len(infos):,} entries; at most {max_members:,} are accepted")
    total = 0
    for info in infos:
        why = unsafe_member(info.filename)
        if why:
            raise FaceganError(f"{path.name} is refused: member {info.filename!r} has {why} "
                               "(a zip that could write outside its folder)")
    for info in files:
        total += info.file_size
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FaceganError(f"{path.name} is refused: member {info.filename!r} expands "
                               f"{info.file_size / max(info.compress_size, 1):.0f} times (a zip bomb?)")
    if total > max_uncompressed:
        raise FaceganError(f"{path.name} would be {total / 2**30:.1f} GiB uncompressed; at most "
                           f"{max_uncompressed / 2**30:.1f} GiB is accepted")
    images = sum(1 for i in files if Path(i.filename).suffix.lower() in IMAGE_EXTENSIONS)
    if images == 0:
        raise FaceganError(f"{path.name} holds no image files (jpg, png, webp, bmp)")
    return ZipReport(members=len(files), images=images, uncompressed=total)


def safe_stem(name: str) -> str:
    """A file name stem made only of letters, digits, dots, dashes and underscores."""
    stem = Path(PureWindowsPath(str(name)).name).stem  # drop any folders the browser sent
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")
    return stem[:60] or "upload"


def save_upload(name: str, data: bytes | BinaryIO, root: str | Path, **limits) -> tuple[Path, ZipReport]:
    """Keep an uploaded zip as ``root/<content hash>-<name>.zip`` after :func:`check_zip` accepts it;
    the same content uploaded again is stored once. Nothing is left behind when it is refused."""
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".upload-{os.getpid()}-{uuid.uuid4().hex[:8]}.partial"
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                h.update(data)
                f.write(data)
            else:
                if hasattr(data, "seek"):
                    data.seek(0)
                while chunk := data.read(CHUNK):
                    h.update(chunk)
                    f.write(chunk)
        report = check_zip(tmp, **limits)
        final = root / f"{h.hexdigest()[:16]}-{safe_stem(name)}.zip"
        if final.is_file() and final.stat().st_size == tmp.stat().st_size:
            tmp.unlink()
        else:
            os.replace(tmp, final)
        return final, report
    except OSError as e:
        raise FaceganError(f"could not store the upload in {root}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()

