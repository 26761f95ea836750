"""Turn the bytes of one file into a clean, upright RGB image, or say exactly why not.

Every failure is a :class:`SkipImage` carrying a short key from :data:`REASONS`, so a data source can
count and report skipped files by kind instead of dying on the first odd one.

Design notes:

* Nothing here changes Pillow's process-wide settings (``ImageFile.LOAD_TRUNCATED_IMAGES``,
  ``Image.MAX_IMAGE_PIXELS``, the warnings filters), so it is safe to call from many threads and does
  not change what other code sees. The truncation check relies on ``LOAD_TRUNCATED_IMAGES`` keeping
  its default of False.
* The pixel-count limit :data:`MAX_PIXELS` is checked on the header size, before any pixel data is
  decoded. It is below Pillow's own limit (``Image.MAX_IMAGE_PIXELS``, about 89 megapixels), so Pillow's
  check only fires for headers claiming more than that. ``Image.open`` runs Pillow's check itself,
  before we can see the size: above 2x its limit it raises ``DecompressionBombError``; between 1x and
  2x it issues a ``DecompressionBombWarning`` through the normal warnings machinery (shown once, or
  raised if the warnings filter says "error"). Both end up as ``too-large`` here.
* Transparent pixels are composited over white (:data:`BACKGROUND`): that is how viewers and browsers
  show such files, so the model trains on what the person saw when they chose the picture.
"""

from __future__ import annotations

import errno
import io
import os
import stat

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facegan.errors import FaceganError

REASONS: dict[str, str] = {
    "empty": "empty file (zero bytes)",
    "not-an-image": "not a JPEG, PNG, WebP, BMP or GIF image",
    "truncated": "truncated or corrupt image data",
    "too-large": "image or file too large (possible decompression bomb)",
    "too-small": "image smaller than the minimum side length",
    "broken-symlink": "symbolic link to a file that does not exist",
    "symlink-loop": "symbolic link loop",
    "unreadable": "file cannot be read (permissions or I/O error)",
    "not-a-file": "a directory or other non-regular file",
    # Not raised here: the key data sources count files they never try to decode under.
    "not-an-image-file": "file name without an image extension (.jpg, .jpeg, .png, .webp, .bmp)",
}

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})

MAX_PIXELS = 40_000_000
"""Largest width*height decoded (40 megapixels is ~120 MB as RGB; bigger is a bomb, not a face)."""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Largest file read into memory; stops a video or disk image named .jpg from filling RAM."""

BACKGROUND = (255, 255, 255)
"""Colour that transparent pixels are composited over."""

# Pillow format ids tried by Image.open. Restricting the list keeps lenient plugins (TGA, for
# instance, has no magic number) from "recognising" random bytes as an image. GIF is not among
# IMAGE_EXTENSIONS but is accepted: a GIF saved under a .png name is still a usable picture.
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")

# Only these decoders honour Image.draft (MPO is what Pillow calls a JPEG with extra camera frames).
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})


class SkipImage(FaceganError):
    """This file cannot be used; ``.reason`` is a short key from REASONS, ``.detail`` a human sentence.

    A FaceganError, so a lone file given directly by the person fails with a one-line message.
    """

    def __init__(self, reason: str, detail: str = ""):
        if reason not in REASONS:
            raise ValueError(f"unknown SkipImage reason {reason!r}")
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail or REASONS[reason]}")

    def __reduce__(self):
        # The default pickling would call SkipImage(message); DataLoader workers pickle exceptions.
        return type(self), (self.reason, self.detail)


def read_file(path: str | os.PathLike) -> bytes:
    """Read a file's bytes, or raise SkipImage saying why it cannot be read."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait forever for a writer. It has no
    # effect on regular files; anything that is not one is rejected after fstat.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        if os.path.islink(path):
            raise SkipImage("broken-symlink", "the file it points to does not exist") from None
        raise SkipImage("unreadable", "no such file (was it deleted?)") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SkipImage("symlink-loop", "symbolic links point at each other in a loop") from None
        if os.path.isdir(path):  # Windows cannot open a directory at all
            raise SkipImage("not-a-file", "it is a directory") from None
        raise SkipImage("unreadable", e.strerror or str(e)) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SkipImage("not-a-file", "it is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise SkipImage("not-a-file", "it is a device, pipe or socket, not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise SkipImage("too-large", f"file is {st.st_size / 2**20:.0f} MiB; "
                                         f"limit {MAX_FILE_BYTES / 2**20:.0f} MiB")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)  # +1: notice a file that grew after fstat
    except OSError as e:
        raise SkipImage("unreadable", e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if not data:
        raise SkipImage("empty", "the file has zero bytes")
    if len(data) > MAX_FILE_BYTES:
        raise SkipImage("too-large", f"file is larger than {MAX_FILE_BYTES / 2**20:.0f} MiB")
    return data


def decode_image(
    data: bytes,
    *,
    min_size: int = 16,
    keep_side: int | None = None,
    max_pixels: int = MAX_PIXELS,
) -> Image.Image:
    """Decode to a mode 'RGB' image with EXIF orientation applied, or raise SkipImage.

    ``keep_side`` lets the JPEG decoder scale down by 1/2, 1/4 or 1/8 while both sides stay at least
    ``max(keep_side, min_size)`` (measured before EXIF rotation; the target is square, so rotation
    does not matter). Other formats ignore it. The result is always a new image with no open file.
    """
    if min_size < 1 or (keep_side is not None and keep_side < 1):
        raise ValueError(f"min_size and keep_side must be >= 1, got {min_size}, {keep_side}")
    if not data:
        raise SkipImage("empty", "the file has zero bytes")

    try:
        img = Image.open(io.BytesIO(data), formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as e:
        raise SkipImage("too-large", f"refused by Pillow: {e}" if str(e) else "out of memory") from None
    except Exception as e:  # UnidentifiedImageError, or OSError/ValueError/... from a broken header
        raise _broken_header(data, e) from None

    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise SkipImage("too-large", f"{width}x{height} is {width * height / 1e6:.0f} megapixels; "
                                         f"limit {max_pixels / 1e6:.0f}")
        if min(width, height) < min_size:
            raise SkipImage("too-small", f"{width}x{height} is smaller than {min_size} pixels on a side")
        try:
            if keep_side is not None and img.format in _DRAFT_FORMATS:
                side = max(keep_side, min_size)
                img.draft("RGB", (side, side))
            img.load()  # the whole image: a truncated stream raises here instead of turning grey
        except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as e:
            raise SkipImage("too-large", str(e) or "out of memory decoding") from None
        except Exception as e:
            raise SkipImage("truncated", f"{img.format} data cannot be decoded: {e}") from None
        try:
            ImageOps.exif_transpose(img, in_place=True)
        except Exception as e:
            # Unknown orientation means a possibly sideways face; losing one file is the lesser harm.
            raise SkipImage("truncated", f"corrupt EXIF metadata: {e}") from None
        try:
            return to_rgb(img)
        except ValueError as e:
            raise SkipImage("not-an-image", f"cannot convert colour mode {img.mode!r}: {e}") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """Return a new 'RGB' copy of a loaded image of any common mode.

    16/32-bit integer and float greyscale are scaled to 8 bits (a plain convert clips them, turning
    most 16-bit values white); transparency is composited over BACKGROUND.
    """
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):
        return Image.fromarray(_to_8bit(np.asarray(img), img.mode)).convert("RGB")
    if img.has_transparency_data:
        rgba = img.convert("RGBA")  # also resolves palette and colour-key transparency
        out = Image.new("RGB", img.size, BACKGROUND)
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return img.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB...; a copy even when already RGB


def _to_8bit(values: np.ndarray, mode: str) -> np.ndarray:
    """Scale a greyscale array of high bit depth to uint8.

    16-bit data uses the full 0..65535 range, keeping absolute brightness (a dark photo stays dark).
    32-bit int and float files have no standard range: use the smallest usual full scale that holds
    the data (1.0 for float, then 255, then 65535) and stretch min..max only if none does.
    """
    if mode.startswith("I;16"):
        lut = np.round(np.arange(65536) * (255 / 65535)).astype(np.uint8)
        return lut[values]
    values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(values.min()), float(values.max())
    scales = (1.0, 255.0, 65535.0) if mode == "F" else (255.0, 65535.0)
    full = next((s for s in scales if lo >= 0 and hi <= s), None)
    if full is None:
        values, full = values - lo, max(hi - lo, 1e-12)
    return np.round(values * (255 / full)).clip(0, 255).astype(np.uint8)


def _broken_header(data: bytes, error: Exception) -> SkipImage:
    """Classify bytes whose header Pillow could not parse."""
    head = bytes(data[:16])
    # BMP's "BM" is left out: too weak a signature, plenty of text starts with it.
    kind = (
        "JPEG" if head.startswith(b"\xff\xd8\xff")
        else "PNG" if head.startswith(b"\x89PNG\r\n\x1a\n")
        else "GIF" if head.startswith((b"GIF87a", b"GIF89a"))
        else "WebP" if head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        else None
    )
    if kind is None:
        return SkipImage("not-an-image", f"not a JPEG, PNG, WebP, BMP or GIF file (starts with {head[:8]!r})")
    why = "" if isinstance(error, UnidentifiedImageError) else f" ({error})"  # its text names a BytesIO
    return SkipImage("truncated", f"starts like a {kind} file but its header is cut short or damaged{why}")
