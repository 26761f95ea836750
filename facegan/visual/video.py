"""Latent-walk videos: a smooth loop through K random faces, each morphing into the next along the sphere
(slerp, :func:`facegan.visual.interpolate.slerp`) and the last back into the first, so the video plays
round without a jump: its last frame is its first.

Written as an animated GIF or WebP (Pillow) or, where ``imageio-ffmpeg`` is installed (it ships its own
ffmpeg), an H.264 MP4. The faces are enlarged with nearest-neighbour sampling: a 64 px face stays sharp
pixels rather than blur.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import FaceganError
from ..io import atomic_write_bytes
from .interpolate import slerp

FORMATS = (".gif", ".webp", ".mp4")
FPS = 24
SIZE = {".mp4": 720, ".gif": 256, ".webp": 256}  # a GIF or WebP at 720 px runs to tens of MB
MAX_FRAMES = 24 * 120
MAX_FACES = 100


def loop_latents(keys: torch.Tensor, frames: int) -> torch.Tensor:
    """``frames`` latents (frames, L, 1, 1) that walk from ``keys[0]`` through each key in turn and back
    to ``keys[0]``: the first and last are exactly ``keys[0]``, and each key is reached on its own frame
    when ``frames - 1`` divides by the number of keys."""
    k = len(keys)
    if k < 2:
        raise FaceganError(f"faces: got {k}; allowed: at least 2 (a loop through one face does not move)")
    if frames < k + 1:
        raise FaceganError(f"a loop through {k} faces needs at least {k + 1} frames, got {frames}")
    keys = keys.reshape(k, -1, 1, 1)
    # Frame f sits at position p = f * k / (frames - 1) along the loop: segment floor(p), fraction p - floor(p).
    out = []
    for f in range(frames):
        p = f * k / (frames - 1)
        seg = min(int(math.floor(p)), k - 1)
        t = p - seg
        out.append(slerp(keys[seg], keys[(seg + 1) % k], t))
    return torch.stack(out)


def check_faces(k: int) -> int:
    if not (isinstance(k, int) and 2 <= k <= MAX_FACES):
        raise FaceganError(f"faces: got {k}; allowed: 2 to {MAX_FACES} (the faces the loop passes through)")
    return k


def frame_count(seconds: float, fps: int = FPS) -> int:
    if not (isinstance(seconds, (int, float)) and 0 < seconds and round(seconds * fps) + 1 <= MAX_FRAMES):
        raise FaceganError(f"seconds: got {seconds}; allowed: more than 0 and at most {MAX_FRAMES // fps}")
    return int(round(seconds * fps)) + 1


def check_out(path: str | Path) -> str:
    """The format of ``path`` from its extension, or a :class:`FaceganError` naming the allowed ones."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise FaceganError(f"--out: got {str(path)!r}; allowed: a file ending in {', '.join(FORMATS)}")
    if ext == ".mp4" and not has_mp4():
        raise FaceganError("an .mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                           "or write a .gif or .webp")
    return ext


def has_mp4() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def enlarge(images: np.ndarray, size: int) -> list[Image.Image]:
    """uint8 (T, H, W, 3) frames as ``size`` × ``size`` Pillow images, nearest-neighbour."""
    return [Image.fromarray(im).resize((size, size), Image.Resampling.NEAREST) for im in images]


def video_bytes(images: np.ndarray, fmt: str, fps: int = FPS, size: int | None = None) -> bytes:
    """uint8 frames (T, H, W, 3) as a looping ``fmt`` ('.gif', '.webp' or '.mp4') file's bytes."""
    size = int(size or SIZE[fmt])
    if not 16 <= size <= 2048:
        raise FaceganError(f"size: got {size}; allowed: 16 to 2048 pixels")
    frames = enlarge(images, size)
    ms = 1000.0 / fps
    buf = io.BytesIO()
    if fmt == ".gif":
        # GIF counts time in hundredths of a second: round each frame so the total keeps the pace.
        durations = [int(round((i + 1) * ms / 10) * 10 - round(i * ms / 10) * 10) for i in range(len(frames))]
        pal = [f.quantize(colors=256, method=Image.Quantize.MEDIANCUT) for f in frames]
        pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], duration=durations, loop=0,
                    disposal=1, optimize=False)
    elif fmt == ".webp":
        frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], duration=int(round(ms)),
                       loop=0, quality=90, method=4)
    elif fmt == ".mp4":
        return _mp4(frames, fps)
    else:
        raise FaceganError(f"unknown video format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return buf.getvalue()


def _mp4(frames: list[Image.Image], fps: int) -> bytes:
    import tempfile

    import imageio_ffmpeg
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "walk.mp4"
        w = imageio_ffmpeg.write_frames(str(path), frames[0].size, fps=fps, codec="libx264", quality=8,
                                        pix_fmt_out="yuv420p", macro_block_size=16,
                                        ffmpeg_log_level="error")
        w.send(None)
        for f in frames:
            w.send(np.ascontiguousarray(np.asarray(f)))
        w.close()
        return path.read_bytes()


def write_video(images: np.ndarray, out: str | Path, fps: int = FPS, size: int | None = None) -> Path:
    """Write the frames to ``out`` (format from its extension), whole or not at all."""
    out = Path(out).expanduser()
    data = video_bytes(images, check_out(out), fps, size)
    try:
        atomic_write_bytes(out, data)
    except OSError as e:
        raise FaceganError(f"cannot write {out}: {e.strerror or e}") from None
    return out
