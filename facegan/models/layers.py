"""Small building blocks the DCGAN networks are made of, beyond what ``torch.nn`` has."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

from ..compiled import Fused


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
        return add_noise(x, self.std)

    def extra_repr(self) -> str:
        return f"std={self.std:g}, base_std={self.base_std:g}"


def randn_as(x: torch.Tensor, generator: torch.Generator | None = None, n: int | None = None) -> torch.Tensor:
    """Standard normal noise shaped (with ``n`` rows if given), placed and laid out in memory like
    ``x``. Drawn contiguously (by :func:`normal_`) and then viewed in ``x``'s layout: ``randn_like`` on a
    channels_last CPU tensor takes a slow strided path (34 M/s against 190 M/s here)."""
    channels_last = not x.is_contiguous() and is_channels_last(x)
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


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` is laid out channels-last (NHWC in memory); a contiguous tensor may be too, when it has
    one channel or 1x1 maps."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)


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


# -- The noise layers' noise on the CPU: a counter-based generator, fused with the addition -------------------
# PyTorch's CPU normals come from one mt19937 stream per thread at about 400 M values/s, and D's noise layers
# add about 9.4 M values a forward pass at faces-64 (three passes a step): the draws were a third of its step
# while the layers are on, even split across threads (normal_ above). Here a value is a pure function of a key and
# its index: two 32-bit integer hashes of the index, turned into a N(0, 1) value by Box-Muller, computed and
# added to x in one compiled loop over memory on every thread (benchmarks/roofline.py, "switched off" table).

def _mix(x: torch.Tensor) -> torch.Tensor:
    """Chris Wellons' "triple32" integer hash (a bijection of 32-bit words with full avalanche) on int32
    tensors: multiplications wrap modulo 2^32; right shifts are made logical by masking."""
    x = x ^ ((x >> 17) & 0x7FFF)
    x = x * -0x12A52B45  # 0xED5AD4BB as a signed 32-bit number
    x = x ^ ((x >> 11) & 0x1FFFFF)
    x = x * -0x53B3E4AF  # 0xAC4C1B51
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * 0x31848BAB
    return x ^ ((x >> 14) & 0x3FFFF)


def hashed_noise_add(x: torch.Tensor, key: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``x + std * z`` for a flat ``x``, z ~ N(0, 1) per element, computed in float32: with
    h(c) = hash(hash(c ^ key[0]) ^ key[1]), element i draws u1 = (h(2i) >> 8 + 1) / 2^24 in (0, 1] and
    u2 = (h(2i + 1) >> 8) / 2^24 in [0, 1), and z = sqrt(-2 ln u1) cos(2 pi u2). Both key words go into
    every value, so two calls share structure only if their 64-bit keys nearly agree (a 32-bit key would
    repeat a whole draw somewhere in a long run). 24-bit uniforms, as PyTorch's own normals use: |z| < 5.8."""
    i = torch.arange(x.numel(), dtype=torch.int32, device=x.device)
    h1 = _mix(_mix((2 * i) ^ key[0]) ^ key[1])
    h2 = _mix(_mix((2 * i + 1) ^ key[0]) ^ key[1])
    u1 = (((h1 >> 8) & 0xFFFFFF) + 1).float() * 2.0 ** -24
    u2 = ((h2 >> 8) & 0xFFFFFF).float() * 2.0 ** -24
    z = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos((2 * math.pi) * u2)
    return (x.float() + std * z).to(x.dtype)


def seeded_noise_add(x: torch.Tensor, key: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Where compiling fails: the same kind of noise from PyTorch's generator seeded by ``key`` (other values,
    the same distribution; uncompiled, the hash chain took 15 times as long as this: 1.7 s against 0.11 s for
    9.4 M values)."""
    seed = (int(key[0]) & 0xFFFFFFFF) << 32 | (int(key[1]) & 0xFFFFFFFF)
    x32 = x.float()
    return (x32 + std * randn_as(x32, torch.Generator().manual_seed(seed))).to(x.dtype)


# Elementwise and independent of the size, so one kernel serves every layer and batch size (dynamic=True).
# Smaller tensors than HASHED_MIN take PyTorch's normals: for them compiling would not pay.
HASHED_MIN = 2 * CHUNK
hashed_noise = Fused(hashed_noise_add, "the noise layers' hashed noise", dynamic=True, fallback=seeded_noise_add)


class _NoiseAdd(torch.autograd.Function):
    """x + std * noise, whose gradient with respect to x is the gradient itself (at any order)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, key: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        flat, restore = memory_order(x)
        return restore(hashed_noise(flat, key, std))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None, None


def memory_order(x: torch.Tensor):
    """A flat view of ``x`` in the order its values lie in memory (contiguous or channels-last; a copy
    otherwise), and the function that gives a flat tensor ``x``'s shape and layout back."""
    if x.is_contiguous():
        return x.view(-1), lambda flat: flat.view(x.shape)
    if is_channels_last(x):
        nhwc = x.permute(0, 2, 3, 1)
        return nhwc.reshape(-1), lambda flat: flat.view(nhwc.shape).permute(0, 3, 1, 2)
    return memory_order(x.contiguous())


def add_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """``x + std * N(0, 1)`` noise, from the global RNG (which the caller seeds: modules cannot take a
    torch.Generator per call). Large CPU tensors take the hashed, compiled path, keyed by two numbers drawn
    from the global RNG (so a resumed run draws what an uninterrupted one does); other tensors PyTorch's
    normals."""
    if x.device.type != "cpu" or not HASHED_MIN <= x.numel() < 2 ** 30:  # 2i + 1 must fit in int32
        return torch.add(x, randn_as(x), alpha=std)
    key = torch.randint(-2 ** 31, 2 ** 31 - 1, (2,), dtype=torch.int32)
    return _NoiseAdd.apply(x, key, torch.tensor(std, dtype=torch.float32))

