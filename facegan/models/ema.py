"""An exponential moving average of the generator's weights, for smoother samples."""

from __future__ import annotations

import copy

import torch
from torch import nn


def unwrap(net: nn.Module) -> nn.Module:
    """The plain module inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    net = getattr(net, "_orig_mod", net)
    if isinstance(net, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        net = net.module
    return getattr(net, "_orig_mod", net)


class EMA:
    """A copy of G whose parameters follow G's as ``ema = d * ema + (1 - d) * param``.

    With ``warmup`` the decay per update is ``d = min(decay, (1 + n) / (10 + n))`` after n updates (as
    TensorFlow's ExponentialMovingAverage with ``num_updates``): decay 0.999 averages over ~1000 steps,
    so without it a run of a few thousand steps samples an average still dominated by G's random
    initial weights. Buffers (BatchNorm running statistics, spectral-norm vectors) are copied, not
    averaged: they describe the current weights' activations, and averaging counters makes no sense.
    The copy stays in eval mode with gradients off; sample from it with ``ema.model(z)``.
    """

    def __init__(self, G: nn.Module, decay: float, *, warmup: bool = True):
        self.decay = float(decay)
        self.warmup = warmup
        self.updates = 0
        self.model = copy.deepcopy(unwrap(G)).eval().requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        net = unwrap(G)
        weight = 1.0 - self.current_decay()
        for avg, p in zip(self.model.parameters(), net.parameters(), strict=True):
            avg.lerp_(p.detach(), weight)
        for avg, b in zip(self.model.buffers(), net.buffers(), strict=True):
            avg.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
