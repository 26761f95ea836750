"""Find a face like this photo: crop a photo to the face, then search the generator's latent space for the
face it can draw that looks most like it (GAN inversion by optimisation, as StyleGAN2's projector does).

1. **Crop.** OpenCV's bundled Haar cascade finds the largest frontal face; the crop is the square the
   training data's face crop would have taken around it. Measured on the first 300 aligned CelebA images
   (`celeba-10k-89x109.zip`), the cascade found 276 faces, and the training crop's side was a median 0.95
   of the detection's width (quartiles 0.91 to 0.99), centred on it across and 0.03 widths above it. No face
   found: the centre square, said so. A manual box overrides both.
2. **Search.** Start from the best of 64 random latents (pixel distance), then Adam over z for ``steps``
   steps, minimising
       L(z) = MSE(G(z), x) + λ · ‖f(G(z)) − f(x)‖² / D
   with images in [−1, 1], f the EfficientNet-Lite0 features facegan's metrics use (1280-d, ImageNet
   weights that ship offline; here at the image's own size) and λ = 0.05. Tried on 4 held-out CelebA faces
   with the demo generator of epoch 143: λ = 0.5 drew visible artefacts; 0.05 and the pixel term alone
   (λ = 0) looked alike (with 0.05, on 3 of them: 0.15 to 0.26 of random faces' pixel MSE to the photo).
   The learning rate falls linearly to 0 over the last half of the steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..errors import FaceganError

MAX_PHOTO_BYTES = 25 * 2**20
MIN_PHOTO_SIDE = 16
CASCADE = "haarcascade_frontalface_default.xml"
# The training face crop around a Haar detection (x, y, w, h): side and centre in units of w (see above).
CROP_SIDE, CROP_DY = 0.95, -0.03
STARTS = 64
PERCEPTUAL_WEIGHT = 0.05
STEPS = 200
MAX_STEPS = 5000


class Stopped(Exception):
    """Raised by a ``progress`` callback to end a search early; :func:`project` returns what it found."""


@dataclass(frozen=True)
class Crop:
    box: tuple[float, float, float, float]   # (left, top, right, bottom) in the photo's pixels
    found: bool                              # a face was detected (else the centre square)


@dataclass
class Projection:
    z: torch.Tensor          # (1, latent_dim, 1, 1): the latent found
    image: np.ndarray        # uint8 (R, R, 3): G(z)
    target: np.ndarray       # uint8 (R, R, 3): the crop as the network sees it
    mse: float               # mean squared difference of image and target, pixels in [0, 1]
    losses: list[float]      # L(z) at each step
    seconds: float
    stopped: bool = False


def read_photo(data: bytes, name: str = "the photo", size: int | None = None) -> np.ndarray:
    """A photo's bytes as uint8 RGB (H, W, 3); a :class:`FaceganError` saying what is wrong otherwise (too
    large, not an image, damaged, smaller than 16 pixels a side). ``size``: the file's size, when it was
    too large to read."""
    from ..data.decode import decode_image
    size = len(data) if size is None else size
    if size > MAX_PHOTO_BYTES:
        raise FaceganError(f"{name} is {size / 2**20:.0f} MB; allowed: up to {MAX_PHOTO_BYTES // 2**20} MB "
                           "(a face needs far fewer pixels: save it smaller)")
    try:
        return np.asarray(decode_image(data, min_size=MIN_PHOTO_SIDE), np.uint8)
    except FaceganError as e:
        raise FaceganError(f"{name} cannot be used: {e} (give a JPEG, PNG, WebP or BMP photo of a face, at least "
                           f"{MIN_PHOTO_SIDE} pixels a side)") from None


def read_photo_file(path: str | Path) -> np.ndarray:
    """:func:`read_photo` of a file, refusing one too large before reading it."""
    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
        if size > MAX_PHOTO_BYTES:
            return read_photo(b"", str(path), size=size)
        data = path.read_bytes()
    except OSError as e:
        raise FaceganError(f"cannot read the photo {path}: {e.strerror or e}") from None
    return read_photo(data, str(path))


def find_face(photo: np.ndarray) -> Crop:
    """Where to crop ``photo`` (uint8 (H, W, 3)): around its largest frontal face, or its centre square."""
    h, w = photo.shape[:2]
    try:
        import cv2
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        gray = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2GRAY)
        faces = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                         minSize=(max(16, min(h, w) // 10),) * 2)
    except (ImportError, AttributeError):  # an OpenCV without the cascade module: the centre square
        faces = ()
    if len(faces) == 0:
        side = min(h, w)
        left, top = (w - side) / 2, (h - side) / 2
        return Crop((left, top, left + side, top + side), found=False)
    x, y, fw, fh = max(faces, key=lambda f: f[2] * f[3])
    side = min(CROP_SIDE * fw, h, w)
    cx, cy = x + fw / 2, y + fh / 2 + CROP_DY * fw
    left = min(max(cx - side / 2, 0.0), w - side)
    top = min(max(cy - side / 2, 0.0), h - side)
    return Crop((float(left), float(top), float(left + side), float(top + side)), found=True)


def square_at(cx: float, cy: float, side: float, width: int, height: int) -> tuple[float, float, float, float]:
    """The square box of side ``side`` × the photo's shorter side, centred at (``cx``, ``cy``) × (width,
    height), moved (never shrunk) to lie inside the photo: the manual crop of the page's three sliders."""
    s = min(max(side, 0.05), 1.0) * min(width, height)
    left = min(max(cx * width - s / 2, 0.0), width - s)
    top = min(max(cy * height - s / 2, 0.0), height - s)
    return float(left), float(top), float(left + s), float(top + s)


def square_of(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float]:
    """(cx, cy, side) of ``box`` in the units :func:`square_at` takes."""
    left, top, right, bottom = box
    return (left + right) / 2 / width, (top + bottom) / 2 / height, (right - left) / min(width, height)


def crop(photo: np.ndarray, box: tuple[float, float, float, float], resolution: int) -> np.ndarray:
    """The square ``box`` of ``photo`` resized to ``resolution`` px (bicubic, as the training data)."""
    left, top, right, bottom = box
    h, w = photo.shape[:2]
    if not (0 <= left < right <= w + 1e-6 and 0 <= top < bottom <= h + 1e-6):
        raise FaceganError(f"crop box {tuple(round(v) for v in box)} is not inside the {w} x {h} photo")
    img = Image.fromarray(photo).resize((resolution, resolution), Image.Resampling.BICUBIC, box=box)
    return np.asarray(img, np.uint8)


def _to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.array(images, np.float32)).permute(0, 3, 1, 2) / 127.5 - 1.0


def _features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Lite0 features of images in [-1, 1] (N, 3, H, W), differentiable: ImageNet-normalised as the metrics
    do, but at the images' own size (the metrics enlarge to 128 px first, which makes each step of the
    search 3 to 4 times slower for no better guidance)."""
    from ..metrics.features import IMAGENET_MEAN, IMAGENET_STD
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return net(((x + 1.0) / 2.0 - mean) / std)


def check_steps(steps: int) -> int:
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise FaceganError(f"steps: got {steps}; allowed: 1 to {MAX_STEPS}")
    return steps


def check_out(out: str | Path) -> Path:
    """``out`` as the folder for the result files: it may exist (as a folder) or not, but its parent must."""
    out = Path(out).expanduser()
    if not out.parent.is_dir():
        raise FaceganError(f"--out: the folder {out.parent} does not exist; create it first")
    if out.exists() and not out.is_dir():
        raise FaceganError(f"--out: {out} is a file; give a folder for the four result files")
    return out


def project(G: nn.Module, target: np.ndarray, steps: int = STEPS, *, seed: int = 0, lr: float = 0.05,
            perceptual: float = PERCEPTUAL_WEIGHT, progress: Callable[[int, int], None] | None = None) -> Projection:
    """The latent whose face G draws most like ``target`` (uint8 (R, R, 3) at G's resolution): see the
    module's docstring. ``progress(step, steps)`` is called after each step; raising :class:`Stopped`
    from it ends the search with the best latent so far."""
    check_steps(steps)
    res = G.resolution
    if target.shape != (res, res, 3):
        raise FaceganError(f"the target is {target.shape}, the generator draws ({res}, {res}, 3)")
    start = time.perf_counter()
    device = next(G.parameters()).device
    x = _to_unit(target[None]).to(device)
    net = None
    if perceptual > 0:
        from ..metrics.features import network
        net = network("lite0", device).module.eval()
        with torch.no_grad():
            fx = _features(net, x)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        candidates = torch.randn(STARTS, G.latent_dim, 1, 1, generator=g).to(device)
        dist = ((G(candidates) - x) ** 2).mean(dim=(1, 2, 3))
    z = candidates[int(dist.argmin())].clone()[None].requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    losses: list[float] = []
    best = (math.inf, z.detach().clone())
    stopped = False
    with torch.enable_grad():
        for step in range(steps):
            for group in opt.param_groups:  # constant, then linearly down to 0 over the second half
                group["lr"] = lr * min(1.0, 2.0 * (1.0 - step / steps))
            img = G(z)
            loss = F.mse_loss(img, x)
            if net is not None:
                loss = loss + perceptual * F.mse_loss(_features(net, img), fx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if losses[-1] < best[0]:
                best = (losses[-1], z.detach().clone())
            if progress is not None:
                try:
                    progress(step + 1, steps)
                except Stopped:
                    stopped = True
                    break
    z = best[1]
    with torch.no_grad():
        out = G(z)
    from ..images import to_uint8
    image = to_uint8(out)[0]
    mse = pixel_mse(image, target)
    return Projection(z.cpu(), image, target, mse, losses, time.perf_counter() - start, stopped)


def pixel_mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of two uint8 images (or stacks of them), pixels taken in [0, 1]."""
    return float(np.mean(((a.astype(np.float32) - b.astype(np.float32)) / 255.0) ** 2))


def morph_latents(z: torch.Tensor, seed: int = 0, steps: int = 8) -> torch.Tensor:
    """The latent found morphing into a random face (seeded), along the sphere: (steps, latent_dim, 1, 1)."""
    from .interpolate import path_1d
    other = torch.randn(1, z.numel(), 1, 1, generator=torch.Generator().manual_seed(int(seed) + 1))
    return path_1d(z.reshape(-1, 1, 1), other[0], steps, spherical=True)


def latent_npy(z: torch.Tensor) -> bytes:
    """The latent found as the bytes of a .npy file: (latent_dim,) float32."""
    import io
    buf = io.BytesIO()
    np.save(buf, z.reshape(-1).cpu().numpy().astype(np.float32))
    return buf.getvalue()


def write_projection(G: nn.Module, p: Projection, out: str | Path, *, seed: int = 0, scale: int = 1) -> list[Path]:
    """``out/crop.png`` (the target), ``out/result.png`` (G of the latent found, same size),
    ``out/latent.npy`` and ``out/morph.png`` (the result morphing into a random face, 8 steps along the
    sphere). ``out`` is created if missing; its parent must exist."""
    from ..generate import generate
    from ..images import grid, save_png
    from ..io import atomic_write_bytes
    out = check_out(out)
    try:
        out.mkdir(exist_ok=True)
        morph = generate(G, morph_latents(p.z, seed))
        return [save_png(p.target, out / "crop.png", scale), save_png(p.image, out / "result.png", scale),
                atomic_write_bytes(out / "latent.npy", latent_npy(p.z)),
                save_png(grid(morph, ncols=8), out / "morph.png", scale)]
    except OSError as e:
        raise FaceganError(f"cannot write {e.filename or out}: {e.strerror or e}") from None
