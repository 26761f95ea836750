"""The gradients of one training step, for the multi-process equivalence test.

Imported, :func:`step_gradients` computes them in this process (one process, the whole global batch).
Run under torchrun (``python -m torch.distributed.run --nproc_per_node=2 -m tests.ddp_grads OUT KEY=VALUE…``)
each rank saves ``OUT/rank<R>.pt`` with two sets: ``averaged``, its gradients with G and D in
DistributedDataParallel (what facegan trains with), and ``alone``, the same step on the same rows with
the all-reduce left out (the negative control: each rank's gradients of its own half batch).

The optimisers are SGD with a learning rate of 0, so no parameter moves during the step: G's gradients
are taken against the same D in every arm, and what is compared is the gradients alone, not an
optimiser's amplification of them (Adam's first steps move a weight by about its learning rate whatever
the size of its gradient, so float rounding of a near-zero gradient could flip a whole step).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from facegan.config import Config
from facegan.models import build_networks
from facegan.presets import from_preset
from facegan.training import distributed
from facegan.training.step import GANStep
from facegan.training.trainer import seed_everything

GLOBAL_BATCH = 16


def config(sets: list[str]) -> Config:
    """No BatchNorm anywhere (G's off, D spectral), so the gradients do not depend on how the global batch
    is split; fp32, since bf16 autocast would round every forward pass to 8 bits of mantissa."""
    return from_preset("dcgan-paper", ["resolution=32", f"batch_size={GLOBAL_BATCH}", "g_width=8", "d_width=8",
                                       "g_norm=none", "d_norm=spectral", "precision=fp32", *sets])


def step_gradients(sets: list[str], rank: int = 0, world: int = 1,
                   wrap: Callable[[nn.Module], nn.Module] = lambda net: net) -> dict[str, torch.Tensor]:
    """Every parameter's gradient after one step on this rank's rows of a fixed global batch."""
    cfg = config(sets)
    seed_everything(0)
    G, D = build_networks(cfg)
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.0), torch.optim.SGD(D.parameters(), lr=0.0)
    step = GANStep(cfg, wrap(G), wrap(D), opt_g, opt_d, "cpu", generator=torch.Generator().manual_seed(0),
                   shard=(rank, world))
    real = torch.rand(GLOBAL_BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    step(real[rank::world])
    return {f"{name}.{key}": p.grad.detach().clone()
            for name, net in (("G", G), ("D", D)) for key, p in net.named_parameters()}


def relative_differences(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> dict[str, float]:
    """||got - want|| / ||want|| for each tensor."""
    assert got.keys() == want.keys()
    return {k: ((got[k] - want[k]).norm() / want[k].norm()).item() for k in want}


if __name__ == "__main__":
    out, sets = Path(sys.argv[1]), sys.argv[2:]
    dist = distributed.setup("cpu")
    averaged = step_gradients(sets, dist.rank, dist.world, dist.wrap)
    alone = step_gradients(sets, dist.rank, dist.world)
    torch.save({"averaged": averaged, "alone": alone}, out / f"rank{dist.rank}.pt")
    distributed.teardown()
