"""Differentiable augmentation of everything D sees, and ADA's adaptive probability.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): the same
random transformations are applied to real and fake images, in D's update and in G's, and every one is
differentiable with respect to the image, so G learns through them. D then cannot memorise a small data
set, and since the fakes are augmented as the reals are, G is not pushed to draw augmented faces.
The ops, on images in [-1, 1] (N, C, H, W), each drawn per image:

- ``color``: brightness ``x + b``, b ~ U(-0.5, 0.5); saturation ``(x - mean_c) * s + mean_c``,
  s ~ U(0, 2), mean over the channels of each pixel; contrast ``(x - mean) * c + mean``, c ~ U(0.5, 1.5),
  mean over the whole image (three ops, each with its own coin when p < 1).
- ``translation``: shift by whole pixels, dy and dx each uniform in [-r, r] with r = round(H/8)
  (and W/8), the uncovered border filled with zeros.
- ``cutout``: zero one square of side round(H/2) x round(W/2) per image, placed uniformly where it lies
  wholly inside the image (the reference implementation clips squares at the border; here the count of
  zeroed pixels is exact).

Adaptive probability (ADA, Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data"): each op is applied to each image with probability p. The overfitting signal
r_t = E[sign(D(real))] over the reals of the last ``ADA_INTERVAL`` D updates is compared with a target
(0.6 in the paper): above it D is too sure of the training faces, so p rises; below, p falls, by
``images / speed`` per adjustment (p crosses [0, 1] in ``speed`` images). p lives on the device as a
0-dim tensor, so adjusting it never waits for the device.

Randomness comes from a caller's ``uniform(*shape) -> tensor (N, *shape)`` of U[0, 1) draws, which
:class:`~facegan.training.step.GANStep` takes from its seeded generator (per global batch under
torchrun), so augmented runs resume exactly.
"""

from __future__ import annotations

from typing import Callable

import torch

Uniform = Callable[..., torch.Tensor]

ADA_INTERVAL = 4  # D updates between adjustments of p, as in the ADA paper's reference code
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def color(x: torch.Tensor, brightness: torch.Tensor, saturation: torch.Tensor,
          contrast: torch.Tensor) -> torch.Tensor:
    """Brightness ``x + b``, then saturation ``(x - mean_c) * s + mean_c``, then contrast
    ``(x - mean) * c + mean``, with per-image factors shaped (N, 1, 1, 1) (b = 0, s = 1, c = 1 leave an
    image alone). Folded into one expression, which is the same function and costs one pass over the
    image: c*s*x + c*(1 - s)*mean_c(x) + (1 - c)*mean(x) + b (the brightness shift moves every mean by b,
    and the saturation step keeps the image mean)."""
    mean_c = x.mean(dim=1, keepdim=True)
    mean = mean_c.mean(dim=(2, 3), keepdim=True)
    cs = contrast * saturation
    return torch.addcmul((contrast - cs) * mean_c + ((1 - contrast) * mean + brightness), x, cs)


def shift_and_cut(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor,
                  cut: tuple[torch.Tensor, torch.Tensor, tuple[int, int]] | None = None) -> torch.Tensor:
    """Translation, then cutout, in one gather of whole pixels.

    Translation: out[i, :, y, x] = x[i, :, y + dy_i, x + dx_i], zero where that falls outside the image
    (``dy``, ``dx``: whole pixels, shaped (N,)). Cutout (``cut = (top, left, (height, width))``, top and
    left shaped (N,)): zero the rectangle at (top_i, left_i) of each image's output; a top at or below
    -height zeroes nothing. Both are indices into each image's pixels in (N, H, W, C) order (which is
    channels-last memory as it is) followed by one zero pixel that every blank position points at:
    measured here 2-4x faster, with its backward, than products with shifted identity matrices, and one
    pass instead of a gather and a mask."""
    n, c, h, w = x.shape
    # Each image's pixels in (N, H*W, C) order with one zero pixel after them, at index H*W.
    pixels = torch.cat([x.permute(0, 2, 3, 1).reshape(n, h * w, c), x.new_zeros(n, 1, c)], dim=1)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy.view(-1, 1, 1)  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx.view(-1, 1, 1)
    blank = ((rows < 0) | (rows >= h)) | ((cols < 0) | (cols >= w))  # (N, H, W): from outside the image
    if cut is not None:
        top, left, (height, width) = cut
        out_rows = torch.arange(h, device=x.device).view(1, h, 1) - top.view(-1, 1, 1)
        out_cols = torch.arange(w, device=x.device).view(1, 1, w) - left.view(-1, 1, 1)
        blank = blank | (((out_rows >= 0) & (out_rows < height)) & ((out_cols >= 0) & (out_cols < width)))
    index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).masked_fill_(blank, h * w)
    index = index.view(n, h * w, 1).expand(n, h * w, c)
    return pixels.gather(1, index).view(n, h, w, c).permute(0, 3, 1, 2)


def _whole(u: torch.Tensor, count: int) -> torch.Tensor:
    """U[0, 1) draws -> whole numbers uniform in [0, count)."""
    return (u * count).floor().long().clamp_(max=count - 1)


def diff_augment(x: torch.Tensor, ops: tuple[str, ...], uniform: Uniform,
                 p: torch.Tensor | float = 1.0) -> torch.Tensor:
    """``x`` (N, C, H, W) with each op of ``ops`` (see the module doc) applied to each image with
    probability ``p`` (in float32 at least), always in the order color, translation, cutout. An image an op
    skips gets that op's identity parameters (no shift, no
    square, factors of one), so skipping costs nothing extra. ``p`` a plain 1.0 applies every op to every
    image without drawing coins; otherwise the coins are drawn whatever p is, so an adaptive run's stream
    of random numbers does not depend on p."""
    if x.dtype in (torch.bfloat16, torch.float16):
        x = x.float()  # bf16 arithmetic with broadcasting is slower on CPUs than float32 (3x for addcmul here)
    n, _, h, w = x.shape
    always = not isinstance(p, torch.Tensor) and p >= 1.0

    def applied(*shape: int) -> torch.Tensor | None:
        return None if always else (uniform(*shape) < p).to(x.device)

    def param(value: torch.Tensor, identity: float, on: torch.Tensor | None) -> torch.Tensor:
        value = value.to(x.device)
        return value if on is None else torch.where(on, value, torch.full_like(value, identity))

    if "color" in ops:
        b, s, c = (uniform(1, 1, 1) for _ in range(3))
        x = color(x, param(b - 0.5, 0.0, applied(1, 1, 1)), param(s * 2, 1.0, applied(1, 1, 1)),
                  param(c + 0.5, 1.0, applied(1, 1, 1)))
    if "translation" in ops or "cutout" in ops:
        zero = torch.zeros(n, dtype=torch.long, device=x.device)
        dy = dx = zero
        cut = None
        if "translation" in ops:
            ry, rx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
            dy, dx = _whole(uniform(), 2 * ry + 1) - ry, _whole(uniform(), 2 * rx + 1) - rx
            on = applied()
            dy, dx = param(dy, 0, on), param(dx, 0, on)
        if "cutout" in ops:
            size = (int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5))
            top, left = _whole(uniform(), h - size[0] + 1), _whole(uniform(), w - size[1] + 1)
            cut = (param(top, -size[0], applied()), left.to(x.device), size)
        x = shift_and_cut(x, dy, dx, cut)
    return x


class AdaptiveP:
    """ADA's controller of the augmentation probability p (see the module doc).

    ``observe(real_logits)`` after each D update; every ``ADA_INTERVAL`` observations p moves by
    ``sign(r_t - target) * images / speed``, where ``images`` is the global batch times the interval.
    ``reduce`` (the sum over processes under torchrun) makes every rank see the same r_t, so p stays the
    same on all of them."""

    def __init__(self, p: float, target: float, speed: int, global_batch: int, device: torch.device,
                 adaptive: bool, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.p = torch.tensor(float(p), device=device)
        self.target, self.adaptive = target, adaptive
        self.step_size = global_batch * ADA_INTERVAL / speed
        self.signs = torch.zeros(2, device=device)  # sum of sign(D(real)), count
        self.seen = 0
        self.reduce = reduce or (lambda t: t)

    def observe(self, real_logits: torch.Tensor) -> None:
        if not self.adaptive:
            return
        logits = real_logits.detach().float()
        self.signs += torch.stack([logits.sign().sum(), torch.tensor(float(logits.numel()), device=logits.device)])
        self.seen += 1
        if self.seen % ADA_INTERVAL == 0:
            total = self.reduce(self.signs.clone())
            r_t = total[0] / total[1]
            self.p = (self.p + torch.sign(r_t - self.target) * self.step_size).clamp(0.0, 1.0)
            self.signs.zero_()

    def state_dict(self) -> dict:
        return {"p": self.p.detach().cpu(), "signs": self.signs.detach().cpu(), "seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        self.p = state["p"].to(self.p.device)
        self.signs = state["signs"].to(self.signs.device)
        self.seen = int(state["seen"])
