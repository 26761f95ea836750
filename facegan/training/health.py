"""Early warnings for the classic ways a GAN fails, and the hard stop for NaN.

Checked only where the loop already has numbers on the host (log points, epoch ends), so health costs
no extra device syncs.
"""

from __future__ import annotations

import math

import torch

from ..errors import FaceganError

D_WINNING_LOSS = 0.02      # BCE loss of D this low means it separates real from fake almost perfectly
D_WINNING_LOGS = 20        # ... for this many log points in a row
G_EXPLODING_LOSS = 20.0    # non-saturating G loss: -log(sigmoid(logit)) > 20 means D(G(z)) < 2e-9
G_EXPLODING_LOGS = 5       # ... for this many log points in a row (early DCGAN training spikes past it once)
COLLAPSE_RATIO = 0.15      # sample diversity below this share of the data's is a collapse
COLLAPSE_AFTER_STEPS = 200  # before this, BatchNorm's running statistics (used by eval-mode samples) lag


class TrainingDiverged(FaceganError):
    """A loss or weight became NaN/inf; the run stopped and its last good checkpoint is kept."""


def all_finite(values: dict) -> bool:
    for v in values.values():
        if isinstance(v, torch.Tensor):
            if not bool(torch.isfinite(v).all()):
                return False
        elif isinstance(v, float) and not math.isfinite(v):
            return False
    return True


class Health:
    def __init__(self, loss: str, real_std: float):
        self.loss, self.real_std = loss, real_std
        self.d_low = self.g_high = 0
        self.warned: set[str] = set()

    def check_step(self, record: dict) -> list[str]:
        out = []
        if self.loss == "bce":
            self.d_low = self.d_low + 1 if record["loss_d"] < D_WINNING_LOSS else 0
            if self.d_low >= D_WINNING_LOGS:
                out += self._once("d-winning", "D is winning: its loss has stayed near 0, so G gets almost no "
                                  "useful gradient. Try label smoothing, noise layers, spectral norm in D, "
                                  "or a lower lr_d.")
            self.g_high = self.g_high + 1 if record["loss_g"] > G_EXPLODING_LOSS else 0
            if self.g_high >= G_EXPLODING_LOGS:
                out += self._once("g-exploding", f"G's loss is exploding ({record['loss_g']:.1f}): D rejects "
                                  "every fake with certainty. Try the stable-64 preset's tricks.")
        return out

    def check_samples(self, fake: torch.Tensor, step: int) -> list[str]:
        """``fake``: one batch of samples in [-1, 1]. Collapse = they barely differ from each other."""
        if len(fake) < 4 or step < COLLAPSE_AFTER_STEPS:
            return []
        spread = float(fake.float().std(dim=0).mean())
        if spread < COLLAPSE_RATIO * self.real_std:
            return self._once("collapse", f"mode collapse: the samples of one batch are almost identical "
                              f"(spread {spread:.3f} vs {self.real_std:.3f} in the data). Try a lower lr_g, "
                              "noise layers, a replay buffer or the stable-64 preset.", repeat=True)
        self.warned.discard("collapse")
        return []

    def _once(self, key: str, message: str, repeat: bool = False) -> list[str]:
        """A warning is raised once until its condition clears (``repeat``: every time)."""
        if key in self.warned and not repeat:
            return []
        self.warned.add(key)
        return [message]
