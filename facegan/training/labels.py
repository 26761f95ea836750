"""The targets D is trained towards under the BCE loss: smoothing, noisy labels, flips, real-as-fake.

Every image first gets a class (real or fake); the tricks then act on the class, and finally each
image's label is drawn uniformly from its class's range. So a flipped real image gets a label from
the fake range, and the two ranges (which the configuration keeps apart) tell the classes apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import TricksConfig


@dataclass(frozen=True)
class LabelSpec:
    """Label ranges and tricks, with the label convention already applied.

    ``g_target`` is the label G wants D to give its fakes: the hard real label (1, or 0 when swapped);
    smoothing is a regulariser of D only.
    """

    real: tuple[float, float] = (1.0, 1.0)
    fake: tuple[float, float] = (0.0, 0.0)
    flip_p: float = 0.0
    real_as_fake: float = 0.0
    g_target: float = 1.0

    @classmethod
    def from_config(cls, tricks: TricksConfig) -> "LabelSpec":
        """With ``swap_labels`` the convention is real=0, fake=1: every label ``y`` becomes ``1 - y``,
        so a range ``(lo, hi)`` becomes ``(1 - hi, 1 - lo)``: real (0.9, 1.0) -> (0.0, 0.1),
        fake (0.0, 0.1) -> (0.9, 1.0), and G's target becomes 0."""
        real, fake, target = tuple(tricks.real_label), tuple(tricks.fake_label), 1.0
        if tricks.swap_labels:
            real, fake, target = mirror(real), mirror(fake), 0.0
        return cls(real=real, fake=fake, flip_p=tricks.flip_p, real_as_fake=tricks.real_as_fake,
                   g_target=target)


def mirror(r: tuple[float, float]) -> tuple[float, float]:
    return (1.0 - r[1], 1.0 - r[0])


def uniform(n: int, lo_hi: tuple[float, float], device=None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    lo, hi = lo_hi
    return lo + (hi - lo) * torch.rand(n, device=device, generator=generator)


def classes(n: int, real: bool, spec: LabelSpec, device=None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Bool (n,): True where an image of a real (``real=True``) or fake batch is shown as real.

    Real-as-fake marks exactly ``round(real_as_fake * n)`` random images of a real batch fake; then
    each class is flipped independently with probability ``flip_p`` (a real-as-fake image that is
    flipped is shown as real again)."""
    is_real = torch.full((n,), real, dtype=torch.bool, device=device)
    if real and spec.real_as_fake > 0:
        k = round(spec.real_as_fake * n)
        is_real[torch.randperm(n, device=device, generator=generator)[:k]] = False
    if spec.flip_p > 0:
        is_real ^= torch.rand(n, device=device, generator=generator) < spec.flip_p
    return is_real


def d_labels(n: int, real: bool, spec: LabelSpec, device=None,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Float (n,) BCE targets for a batch of ``n`` real (``real=True``) or generated images."""
    is_real = classes(n, real, spec, device, generator)
    return torch.where(is_real, uniform(n, spec.real, device, generator),
                       uniform(n, spec.fake, device, generator))
