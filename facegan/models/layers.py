"""Small building blocks the DCGAN networks are made of, beyond what ``torch.nn`` has."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise to its input while training; the identity in eval mode.

    ``base_std`` is the configured strength; ``std`` is the strength now, which a noise schedule
    lowers over training (:func:`facegan.training.schedules.set_noise_epoch`). ``std`` is a plain
    float, so reading it in ``forward`` costs no device sync.
    """

    def __init__(self, std: float):
        super().__init__()
        self.base_std = float(std)
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0.0:
            return x
        # From the global RNG, which the caller seeds: modules cannot take a torch.Generator per call.
        return torch.add(x, randn_as(x), alpha=self.std)

    def extra_repr(self) -> str:
        return f"std={self.std:g}, base_std={self.base_std:g}"


def randn_as(x: torch.Tensor, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
    """Standard normal noise shaped (with ``n`` rows if given), placed and laid out in memory like
    ``x``. Drawn contiguously (by :func:`normal_`) and then viewed in ``x``'s layout: ``randn_like`` on a
    channels_last CPU tensor takes a slow strided path (34 M/s against 190 M/s here)."""
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    rows = n or x.shape[0]
    shape = (rows, *x.shape[2:], x.shape[1]) if channels_last else (rows, *x.shape[1:])
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    normal_(out, generator)
    return out.permute(0, 3, 1, 2) if channels_last else out


# PyTorch fills a CPU tensor with normals on one thread (one generator's sequential state): 300 M values/s
# here, which made D's noise layers 45% of a quick-64 step while they are on. A large draw is split into
# chunks of a fixed size, each filled by its own generator seeded from the caller's, on as many threads as
# PyTorch uses (the draws release Python's lock): 2.06x for the draws alone on 2 cores, 1.11x for the
# quick-64 step (benchmarks/roofline.py). The split never depends on the thread count, so the values are
# the same on every machine.
CHUNK = 1 << 18
_pool: tuple[int, ThreadPoolExecutor] | None = None  # with the process it belongs to (a fork has no threads)


def normal_(out: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill the contiguous ``out`` with N(0, 1) values from ``generator`` (the global RNG if None)."""
    global _pool
    if out.device.type != "cpu" or out.numel() < 2 * CHUNK:
        return out.normal_(generator=generator)
    chunks = out.view(-1).split(CHUNK)
    seeds = torch.randint(2**62, (len(chunks),), generator=generator).tolist()

    def fill(chunk_seed: tuple[torch.Tensor, int]) -> None:
        chunk_seed[0].normal_(generator=torch.Generator().manual_seed(chunk_seed[1]))

    if torch.get_num_threads() < 2:
        list(map(fill, zip(chunks, seeds)))
        return out
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(torch.get_num_threads(), thread_name_prefix="facegan-normal"))
    list(_pool[1].map(fill, zip(chunks, seeds)))
    return out


def noise_layers(net: nn.Module) -> list[GaussianNoise]:
    """Every noise layer of ``net`` (through DDP / compile wrappers, which share the modules)."""
    return [m for m in net.modules() if isinstance(m, GaussianNoise)]
