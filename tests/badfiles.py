"""A corpus of awkward image files: the good, the odd and the broken, for decode and data-source tests.

``make_bad_corpus(folder)`` writes them and returns ``{file name: expected outcome}``, where the
outcome is ``"kept"`` (read_file + decode_image give an RGB image) or the SkipImage reason key.
Pictures are 40x48 so the whole corpus builds in a few tens of milliseconds.

Names are file names directly inside ``folder`` (str, as ``os.listdir`` returns them: an undecodable
byte becomes a surrogate). Most names end in an image extension; ``readme.txt`` and ``animated.gif``
do not, so a folder scanner filters them out while decode_image still has an answer for them.
Symbolic links and the unreadable file exist only on POSIX systems; a zip cannot hold them.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 40, 48

# Colours of reference_picture(), for tests that check orientation.
BAND = (220, 30, 30)    # the top 12 rows
MARK = (30, 30, 220)    # an 8x8 square in the top-left corner (on top of the band)
SKIN = (230, 190, 160)  # everything else

# Names whose outcome depends on the file system rather than the bytes.
FILESYSTEM_ONLY = ("dangling.jpg", "loop.jpg", "unreadable.jpg")
NON_UTF8_NAME = os.fsdecode(b"face-\xff.jpg")


def reference_picture(w: int = W, h: int = H) -> np.ndarray:
    """An asymmetric RGB picture: a band along the top, a mark in the top-left corner."""
    a = np.empty((h, w, 3), np.uint8)
    a[:] = SKIN
    a[: h // 4] = BAND
    a[:8, :8] = MARK
    return a


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_bytes(width: int, height: int, bit_depth: int, color_type: int, rows: bytes | None) -> bytes:
    """A PNG built by hand, for what Pillow will not write (16-bit RGB) or should not have to (bombs).

    ``rows`` is the raw scanline data with a filter byte per row; None writes no IDAT at all.
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(rows, 6)) if rows is not None else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def _rgb16_png() -> bytes:
    """48x40 16-bit RGB: red ramps 0..65535 left to right, green 0, blue 40000 (156 in 8 bits)."""
    a = np.zeros((H, W, 3), np.uint16)
    a[..., 0] = np.linspace(0, 65535, W).round().astype(np.uint16)
    a[..., 2] = 40000
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in a)
    return png_bytes(W, H, 16, 2, rows)


def _exif_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    return encode(Image.fromarray(reference_picture()), "JPEG", quality=95, exif=exif.tobytes())


def _nested_zip() -> bytes:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("face.jpg", encode(Image.fromarray(reference_picture()), "JPEG"))
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("inner.zip", inner.getvalue())
    return outer.getvalue()


def corpus_bytes() -> dict[str, tuple[bytes, str]]:
    """The byte-content part of the corpus: {name: (bytes, expected outcome)}."""
    pic = Image.fromarray(reference_picture())
    jpeg = encode(pic, "JPEG", quality=95)
    png = encode(pic, "PNG")
    webp = encode(pic, "WEBP", quality=90)
    # Noise makes the entropy-coded scan most of the file, so cutting it fails while decoding pixels
    # (a flat picture's JPEG is mostly header and fails earlier, in Image.open).
    noisy = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    noisy_jpeg = encode(Image.fromarray(noisy), "JPEG", quality=95)

    gray16 = Image.fromarray(np.tile(np.linspace(0, 65535, W).round().astype(np.uint16), (H, 1)))
    cmyk = Image.new("CMYK", (W, H), (0, 255, 255, 0))  # red
    cmyk.paste((255, 255, 0, 0), (W // 2, 0, W, H))     # right half blue

    palette = Image.new("P", (W, H), 0)
    palette.putpalette([0, 0, 255, 255, 0, 0])          # 0: blue (made transparent), 1: red
    palette.paste(1, (W // 2, 0, W, H))
    rgba = Image.new("RGBA", (W, H), (0, 0, 0, 0))      # transparent black ...
    rgba.paste((0, 200, 0, 255), (W // 2, 0, W, H))     # ... and opaque green on the right
    gray_alpha = Image.new("LA", (W, H), (0, 0))
    gray_alpha.paste((50, 255), (W // 2, 0, W, H))
    bilevel = Image.fromarray(reference_picture()[..., 1] > 100)  # white where the picture is SKIN

    frames = [Image.new("RGB", (W, H), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    anim_webp = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100,
                       lossless=True)

    corrupt_png = bytearray(png)
    corrupt_png[len(png) // 2] ^= 0xFF  # inside IDAT: zlib or CRC error
    # 8000x6000 1-bit: 48 megapixels, over MAX_PIXELS, yet only ~6 KB on disk.
    bomb = png_bytes(8000, 6000, 1, 0, bytes(6000 * 1001))
    # Claims 400 megapixels: Pillow's own check refuses it inside Image.open.
    bomb_header = png_bytes(20000, 20000, 1, 0, None)

    rnd = random.Random(1234)
    return {
        "good.jpg": (jpeg, "kept"),
        "good.png": (png, "kept"),
        "good.webp": (webp, "kept"),
        "good.bmp": (encode(pic, "BMP"), "kept"),
        "UPPER_CASE.JPEG": (jpeg, "kept"),
        NON_UTF8_NAME: (jpeg, "kept"),
        "gray.jpg": (encode(pic.convert("L"), "JPEG", quality=95), "kept"),
        "cmyk.jpg": (encode(cmyk, "JPEG", quality=95), "kept"),
        "gray16.png": (encode(gray16, "PNG"), "kept"),
        "rgb16.png": (_rgb16_png(), "kept"),
        "palette_transparent.png": (encode(palette, "PNG", transparency=0), "kept"),
        "rgba.png": (encode(rgba, "PNG"), "kept"),
        "gray_alpha.png": (encode(gray_alpha, "PNG"), "kept"),
        "bilevel.png": (encode(bilevel, "PNG"), "kept"),
        "exif_rotated_6.jpg": (_exif_jpeg(6), "kept"),
        "exif_rotated_8.jpg": (_exif_jpeg(8), "kept"),
        "animated_gif.png": (gif, "kept"),
        "animated.gif": (gif, "kept"),
        "animated.webp": (anim_webp, "kept"),
        "truncated.jpg": (noisy_jpeg[: len(noisy_jpeg) * 6 // 10], "truncated"),
        "truncated_header.jpg": (jpeg[:20], "truncated"),
        "truncated.png": (png[: len(png) // 2], "truncated"),
        "truncated.webp": (webp[: len(webp) // 2], "truncated"),
        "corrupt.png": (bytes(corrupt_png), "truncated"),
        "empty.jpg": (b"", "empty"),
        "text.jpg": (b"These are not the pixels you are looking for.\n" * 20, "not-an-image"),
        "page.png": (b"<!DOCTYPE html>\n<html><body><img src='face.png'></body></html>\n", "not-an-image"),
        "random.jpg": (rnd.randbytes(3000), "not-an-image"),
        "nested_zip.jpg": (_nested_zip(), "not-an-image"),
        "document.png": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
                         "not-an-image"),
        "readme.txt": (b"not an image\n", "not-an-image"),
        "tiny.png": (encode(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), "too-small"),
        "narrow.png": (encode(Image.new("RGB", (100, 8), (255, 0, 0)), "PNG"), "too-small"),
        "bomb.png": (bomb, "too-large"),
        "bomb_header.png": (bomb_header, "too-large"),
    }


def make_bad_corpus(folder: Path) -> dict[str, str]:
    """Write the corpus into ``folder`` (created if needed); return {name: expected outcome}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}
    files = corpus_bytes()
    for name, (data, outcome) in files.items():
        try:
            (folder / name).write_bytes(data)
        except (OSError, UnicodeError):  # a file system that insists on UTF-8 names (macOS)
            continue
        expect[name] = outcome

    if os.name == "posix":
        os.symlink("no-such-file.jpg", folder / "dangling.jpg")
        expect["dangling.jpg"] = "broken-symlink"
        os.symlink("loop.jpg", folder / "loop.jpg")  # points at itself
        expect["loop.jpg"] = "symlink-loop"
        locked = folder / "unreadable.jpg"
        locked.write_bytes(files["good.jpg"][0])
        locked.chmod(0)
        # root (as in many CI containers) reads it anyway: then it is simply a good JPEG.
        expect["unreadable.jpg"] = "kept" if os.access(locked, os.R_OK) else "unreadable"
    return expect



def zip_corpus(folder: Path, expect: dict[str, str], archive: Path) -> dict[str, str]:
    """Zip the byte-content files of a corpus written by make_bad_corpus; return {member: outcome}.

    Links and permissions do not exist inside a zip, so those files are left out. zipfile cannot
    store a name holding undecodable bytes, so such a file goes in under its printable name (the
    bad byte becomes U+FFFD): the member keeps the file's content and outcome.
    """
    members: dict[str, str] = {}
    with zipfile.ZipFile(archive, "w") as zf:
        for name, outcome in expect.items():
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file() or not os.access(path, os.R_OK):
                continue
            member = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            zf.write(path, member)
            members[member] = outcome
    return members
