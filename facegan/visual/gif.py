"""The training GIF: one frame per epoch grid, labelled with its epoch, like the seed notebooks'."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from ..errors import FaceganError
from ..io import atomic_write_bytes

MAX_SIDE = 768  # frames larger than this are scaled down: a GIF is for watching, not for pixels


def gif_bytes(frames: list[tuple[int, Path]], ms_per_frame: int = 400, hold_last_ms: int = 2000) -> bytes:
    """An animated GIF of (epoch, PNG path) frames; the last frame is held a little longer."""
    if not frames:
        raise FaceganError("no epoch grids to animate yet: the GIF is made from samples/epoch_*.png")
    images = []
    for epoch, path in frames:
        with Image.open(path) as im:
            img = im.convert("RGB")
        if max(img.size) > MAX_SIDE:
            scale = MAX_SIDE / max(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        label = f"epoch {epoch}"
        draw = ImageDraw.Draw(img)
        box = draw.textbbox((0, 0), label)
        draw.rectangle((0, 0, box[2] + 8, box[3] + 6), fill=(0, 0, 0))
        draw.text((4, 3), label, fill=(255, 255, 255))
        images.append(img.quantize(colors=256, method=Image.Quantize.MEDIANCUT))
    durations = [ms_per_frame] * (len(images) - 1) + [hold_last_ms]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buf.getvalue()


def write_training_gif(run, out: str | Path | None = None) -> Path:
    """Write ``run``'s training GIF (default ``RUN/training.gif``) from its epoch grids."""
    return atomic_write_bytes(out or run.gif_path, gif_bytes(run.samples()))
