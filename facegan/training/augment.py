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

from ..compiled import Fused

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


# Per op, in the order they apply: the names of its per-image values, their shape after the batch
# dimension, and the values that have a coin (an image the coin skips gets that value's identity).
_DRAWS = {"color": (("brightness", "saturation", "contrast"), (1, 1, 1), ("brightness", "saturation", "contrast")),
          "translation": (("dy", "dx"), (), ("shift",)),
          "cutout": (("top", "left"), (), ("top",))}


def draw(ops: tuple[str, ...], uniform: Uniform, coins: bool) -> dict[str, torch.Tensor]:
    """Every U[0, 1) number one augmentation of a batch needs, in a fixed order: per op its values, then
    (with ``coins``) one coin per value that has an identity. Coins are drawn whatever p is, so an
    adaptive run's stream of random numbers does not depend on p."""
    draws = {}
    for op, (names, shape, coined) in _DRAWS.items():
        if op in ops:
            draws.update({name: uniform(*shape) for name in names})
            if coins:
                draws.update({f"{name}_coin": uniform(*shape) for name in coined})
    return draws


def parameters(draws: dict[str, torch.Tensor], p: torch.Tensor | None, size: tuple[int, int]):
    """The per-image parameters of :func:`transform` from :func:`draw`'s numbers: b ~ U(-0.5, 0.5),
    s ~ U(0, 2), c ~ U(0.5, 1.5); shifts uniform in [-r, r] whole pixels; a cutout square anywhere it fits.
    With ``p`` (``None``: every op on every image), an op whose coin is not below p gets its identity
    (b = 0, s = c = 1, no shift, a square wholly above the image)."""
    h, w = size

    def on(value: torch.Tensor, coin: str, identity: float) -> torch.Tensor:
        return value if p is None else torch.where(draws[coin] < p, value, identity)

    colors = shift = cut = None
    if "brightness" in draws:
        colors = (on(draws["brightness"] - 0.5, "brightness_coin", 0.0),
                  on(draws["saturation"] * 2, "saturation_coin", 1.0),
                  on(draws["contrast"] + 0.5, "contrast_coin", 1.0))
    if "dy" in draws:
        ry, rx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
        shift = (on(_whole(draws["dy"], 2 * ry + 1) - ry, "shift_coin", 0),
                 on(_whole(draws["dx"], 2 * rx + 1) - rx, "shift_coin", 0))
    if "top" in draws:
        square = (int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5))
        cut = (on(_whole(draws["top"], h - square[0] + 1), "top_coin", -square[0]),
               _whole(draws["left"], w - square[1] + 1), square)
    return colors, shift, cut


def transform(x: torch.Tensor, draws: dict[str, torch.Tensor], p: torch.Tensor | None) -> torch.Tensor:
    """The work of :func:`diff_augment` once its random numbers are drawn: :func:`color`, then
    :func:`shift_and_cut`, with :func:`parameters`. Pure, so it can be compiled (see :class:`Fused`)."""
    colors, shift, cut = parameters(draws, p, (x.shape[2], x.shape[3]))
    if colors is not None:
        x = color(x, *colors)
    if shift is not None or cut is not None:
        if shift is None:
            zero = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
            shift = (zero, zero)
        x = shift_and_cut(x, *shift, cut)
    return x


# Augmenting is a chain of small, memory-bound operations (the parameters, means, a multiply-add, an index
# computation, a gather): fused, forward and backward take about half the eager chain's time on 128 faces of
# 64 px (benchmarks/augment_cost.py gives the share of a training step). One kernel per input shape, so a
# resumed run computes what an uninterrupted one does. The kernel is differentiable once, which training needs
# (R1 and WGAN-GP differentiate D at its augmented input); transform itself is differentiable twice.
fused_transform = Fused(transform, "DiffAugment")


def diff_augment(x: torch.Tensor, ops: tuple[str, ...], uniform: Uniform,
                 p: torch.Tensor | float = 1.0) -> torch.Tensor:
    """``x`` (N, C, H, W) with each op of ``ops`` (see the module doc) applied to each image with
    probability ``p`` (in float32 at least), always in the order color, translation, cutout. An image an op
    skips gets that op's identity parameters, so skipping costs nothing extra. ``p`` a plain 1.0 applies
    every op to every image without drawing coins."""
    if not ops:
        return x
    if x.dtype in (torch.bfloat16, torch.float16):
        x = x.float()  # bf16 arithmetic with broadcasting is slower on CPUs than float32 (3x for addcmul here)
    always = not isinstance(p, torch.Tensor) and p >= 1.0
    draws = {name: u.to(x.device) for name, u in draw(ops, uniform, coins=not always).items()}
    return fused_transform(x, draws, None if always else torch.as_tensor(p, dtype=torch.float32, device=x.device))


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
