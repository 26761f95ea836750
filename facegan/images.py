"""Image arrays in, image files out: grids and PNG/GIF encoding shared by the CLI, trainer and dashboard.

Images travel as uint8 arrays shaped (N, H, W, 3); networks use float tensors in [-1, 1] shaped
(N, 3, H, W). These are the only two conversions between them.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np
from PIL import Image

from .io import atomic_write_bytes


def to_uint8(images) -> np.ndarray:
    """Float images in [-1, 1], (N, 3, H, W) tensor or array -> uint8 (N, H, W, 3)."""
    if hasattr(images, "detach"):
        images = images.detach().float().cpu().numpy()
    x = np.asarray(images, dtype=np.float32)
    x = np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def grid(images: np.ndarray, ncols: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile uint8 (N, H, W, 3) images into one (rows*H, cols*W, 3) image with ``pad`` pixels between."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"expected a non-empty (N, H, W, 3) array, got shape {images.shape}")
    n, h, w, _ = images.shape
    if ncols is None:  # squarish, preferring a column count that leaves no hole in the last row
        side = math.ceil(math.sqrt(n))
        ncols = next((c for c in range(side, 2 * side) if n % c == 0), side)
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, 3), fill, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = img
    return out


def beside(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Tiles for a grid of ``len(left)`` rows: each row is ``left[i]`` followed by its ``k`` images
    ``right[i*k:(i+1)*k]`` (a generated face and its nearest real faces); the grid takes ``k + 1``
    columns."""
    k = len(right) // max(1, len(left))
    if len(right) != k * len(left):
        raise ValueError(f"{len(right)} images cannot be shared out evenly beside {len(left)}")
    return np.stack([t for i in range(len(left)) for t in (left[i], *right[i * k:(i + 1) * k])])


def png_bytes(image: np.ndarray, scale: int = 1, smooth: bool = False) -> bytes:
    """``image`` (uint8 (H, W, 3)) as PNG bytes, enlarged ``scale`` times: by repeating pixels (sharp
    squares, every pixel the network drew), or with ``smooth`` by Lanczos resampling (softer, looks
    less like pixels when shown large)."""
    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if scale > 1:
        how = Image.Resampling.LANCZOS if smooth else Image.Resampling.NEAREST
        img = img.resize((img.width * scale, img.height * scale), how)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def save_png(image: np.ndarray, path: str | os.PathLike, scale: int = 1):
    return atomic_write_bytes(path, png_bytes(image, scale))
