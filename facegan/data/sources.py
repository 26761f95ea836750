"""Where faces come from: the built-in synthetic set, a folder, a zip, CelebA's or FFHQ's layout.

A source lists its entries (cheaply: names, sizes, stamps — that list is also its identity for the
prepared-data cache) and loads entry ``i`` as a square RGB uint8 array at the target resolution, or
raises :class:`SkipImage` saying why that entry is unusable. Sources know nothing about caching.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..config import DataConfig
from ..errors import FaceganError
from . import synthetic
from .decode import IMAGE_EXTENSIONS, SkipImage, decode_image, read_file

LAYOUTS = ("images", "celeba", "ffhq")
MAX_MEMBER_BYTES = 256 * 2**20  # a zip member larger than this is a zip bomb, not a face photo

# CelebA's aligned crops put the face centre a little below the image centre (ProGAN crops 128 px
# around (89, 121) of 178x218), so the 'face' crop is centred at that height.
FACE_CENTRE_Y = 121 / 218


@dataclass(frozen=True)
class Entry:
    name: str   # path relative to the source root, or the zip member's name
    size: int   # bytes; -1 when the file could not even be stat'ed (it is then skipped at load time)
    stamp: str  # what changes when the content does: mtime in ns for files, CRC-32 for zip members


@dataclass(frozen=True)
class Prep:
    """How every image of a source is turned into a training image."""

    resolution: int
    crop: str            # 'center', 'face' or 'none' ('auto' is resolved by the source's layout)
    face_fraction: float
    min_size: int


class Source:
    kind = "base"
    layout = "images"
    entries: list[Entry]
    skipped_entries: dict[str, list[str]]  # files excluded while listing, by reason

    def describe(self) -> str:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A hash of everything that identifies the source's content."""
        h = hashlib.sha256(f"{self.kind}|{self.layout}\n".encode())
        for e in self.entries:
            h.update(f"{e.name.encode('utf-8', 'surrogateescape').hex()}|{e.size}|{e.stamp}\n".encode())
        return h.hexdigest()

    def default_crop(self) -> str:
        return "face" if self.layout == "celeba" else "center"

    def load(self, index: int, prep: Prep) -> np.ndarray:
        raise NotImplementedError


class SyntheticSource(Source):
    kind = "synthetic"

    def __init__(self, count: int, seed: int):
        self.count, self.seed = count, seed
        self.entries = [Entry(str(i), 0, f"v{synthetic.GENERATOR_VERSION}-s{seed}") for i in range(count)]
        self.skipped_entries = {}

    def describe(self) -> str:
        return f"built-in synthetic faces ({self.count}, seed {self.seed})"

    def default_crop(self) -> str:
        return "none"  # drawn square and centred already

    def load(self, index: int, prep: Prep) -> np.ndarray:
        return synthetic.render_face(index, prep.resolution, self.seed)


class _FileSource(Source):
    """Shared by folders and zips: bytes -> decoded image -> crop -> resize."""

    def read(self, entry: Entry) -> bytes:
        raise NotImplementedError

    def load(self, index: int, prep: Prep) -> np.ndarray:
        entry = self.entries[index]
        img = decode_image(self.read(entry), min_size=prep.min_size,
                           keep_side=keep_side(prep))
        return crop_resize(img, prep)


class FolderSource(_FileSource):
    kind = "folder"

    def __init__(self, root: Path, layout: str):
        self.root, self.layout = root, layout
        self.entries, self.skipped_entries = [], {}
        for rel in sorted(_walk(root)):
            if Path(rel).suffix.lower() not in IMAGE_EXTENSIONS:
                self.skipped_entries.setdefault("not-an-image-file", []).append(rel)
                continue
            try:
                st = os.stat(root / rel)
                self.entries.append(Entry(rel, st.st_size, str(st.st_mtime_ns)))
            except OSError:  # broken link, loop, permissions: read_file says which when loading
                self.entries.append(Entry(rel, -1, "unstat"))

    def describe(self) -> str:
        return f"{self.layout} folder {self.root}"

    def read(self, entry: Entry) -> bytes:
        return read_file(self.root / entry.name)


def _walk(root: Path):
    """Relative paths of every non-folder below ``root``, not following folder links (no cycles)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        base = os.path.relpath(folder, root)
        for name in files:
            if not name.startswith("."):
                yield name if base == "." else os.path.join(base, name)


class ZipSource(_FileSource):
    kind = "zip"

    def __init__(self, path: Path, layout: str):
        self.path, self.layout = path, layout
        self.entries, self.skipped_entries = [], {}
        self._local = threading.local()  # one open ZipFile per thread: reads then never contend
        try:
            with zipfile.ZipFile(path) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise FaceganError(f"{path} is not a readable zip file ({e}); re-download or re-create it") from None
        for info in sorted(infos, key=lambda i: i.filename):
            name = info.filename
            if Path(name).suffix.lower() not in IMAGE_EXTENSIONS or "__MACOSX/" in name:
                self.skipped_entries.setdefault("not-an-image-file", []).append(name)
            else:
                self.entries.append(Entry(name, info.file_size, f"{info.CRC:08x}"))

    def describe(self) -> str:
        return f"{self.layout} zip {self.path}"

    def read(self, entry: Entry) -> bytes:
        if entry.size > MAX_MEMBER_BYTES:
            raise SkipImage("too-large", f"{entry.size} bytes uncompressed")
        zf = getattr(self._local, "zf", None)
        if zf is None:
            zf = self._local.zf = zipfile.ZipFile(self.path)
        try:
            data = zf.read(entry.name)
        except RuntimeError as e:  # encrypted member
            raise SkipImage("unreadable", str(e)) from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
            raise SkipImage("truncated", f"corrupt zip member: {e}") from None
        if not data:
            raise SkipImage("empty", "zero-byte zip member")
        return data


# -- choosing a source -------------------------------------------------------------------------------

_PREFIX = re.compile(r"^(synthetic|folder|zip|celeba|ffhq):(.*)$", re.IGNORECASE)


def open_source(cfg: DataConfig) -> Source:
    """The source named by ``cfg.source``, with ``cfg.limit`` applied. Raises FaceganError with what to
    do when the path is missing or holds nothing usable."""
    spec = cfg.source.strip()
    if spec.lower() in ("synthetic", "builtin", "built-in"):
        count = min(cfg.synthetic_count, cfg.limit or cfg.synthetic_count)
        return SyntheticSource(count, cfg.synthetic_seed)
    layout = None
    m = _PREFIX.match(spec)
    if m:
        tag, spec = m.group(1).lower(), m.group(2)
        if tag == "synthetic":
            raise FaceganError("data.source: 'synthetic' takes no path; set data.synthetic_count instead")
        layout = tag if tag in ("celeba", "ffhq") else "images"
    path = Path(os.path.expanduser(spec))
    if not spec or not path.exists():
        raise FaceganError(f"data source {spec!r} does not exist; give 'synthetic', a folder of images, "
                           "or a .zip of images")
    path = path.resolve()
    layout = layout or _guess_layout(path)
    if path.is_dir():
        src: Source = FolderSource(path, layout)
    elif zipfile.is_zipfile(path):
        src = ZipSource(path, layout)
    else:
        raise FaceganError(f"data source {spec!r} is a file but not a zip; give a folder of images or "
                           "a .zip of images")
    if cfg.limit:
        src.entries = src.entries[: cfg.limit]
    if not src.entries:
        found = ", ".join(f"{len(v)} {k}" for k, v in src.skipped_entries.items()) or "nothing"
        raise FaceganError(f"no image files (jpg, png, webp, bmp) in {path}: found {found}")
    return src


def _guess_layout(path: Path) -> str:
    name = path.name.lower()
    if "celeb" in name or "img_align" in name:
        return "celeba"
    if "ffhq" in name:
        return "ffhq"
    return "images"


# -- crop and resize ---------------------------------------------------------------------------------

def crop_box(width: int, height: int, crop: str, face_fraction: float) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the region of a ``width`` x ``height`` image that becomes the
    training image."""
    if crop == "none":
        return 0.0, 0.0, float(width), float(height)
    if crop == "center":
        side = min(width, height)
        cx, cy = width / 2, height / 2
    elif crop == "face":
        side = min(face_fraction * width, height)
        cx, cy = width / 2, FACE_CENTRE_Y * height
    else:
        raise ValueError(f"unknown crop {crop!r}")
    # Shift (never shrink) the square so it stays inside the image.
    left = min(max(cx - side / 2, 0.0), width - side)
    top = min(max(cy - side / 2, 0.0), height - side)
    return left, top, left + side, top + side


def keep_side(prep: Prep) -> int:
    """The smallest image side a JPEG may be draft-decoded to while the crop still has ``resolution``
    pixels: the face crop uses only ``face_fraction`` of the width."""
    frac = prep.face_fraction if prep.crop == "face" else 1.0
    return math.ceil(prep.resolution / frac)


def crop_resize(img: Image.Image, prep: Prep) -> np.ndarray:
    box = crop_box(img.width, img.height, prep.crop, prep.face_fraction)
    out = img.resize((prep.resolution, prep.resolution), Image.Resampling.BICUBIC, box=box)
    return np.asarray(out, dtype=np.uint8)


def resolve_prep(cfg: DataConfig, source: Source) -> Prep:
    crop = source.default_crop() if cfg.crop == "auto" else cfg.crop
    return Prep(cfg.resolution, crop, cfg.face_fraction, cfg.min_size)
