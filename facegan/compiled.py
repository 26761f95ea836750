"""Elementwise work compiled by Inductor on the CPU, with a plain-PyTorch way to the same result."""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import torch


class Fused:
    """``fn`` compiled by ``torch.compile`` for CPU tensors; ``fallback`` (``fn`` itself if not given) for
    others, and everywhere once compiling has failed.

    Why: a chain of small, memory-bound operations (DiffAugment's parameters and gather, the noise layers'
    hash and Box-Muller) runs as a few fused C++ loops with their backward instead of one pass over memory
    per operation; each user says what it gains in its own module. ``dynamic=False`` compiles one kernel per
    input shape, so which kernel runs cannot depend on the order shapes arrive in; ``dynamic=True`` one kernel
    for every size, for purely elementwise functions whose result does not depend on the size. Where
    compiling is not possible (no C++ compiler, an unsupported platform) the first call warns once, naming
    ``name``, and ``fallback`` runs from then on; ``TORCHDYNAMO_DISABLE=1`` switches compiling off. The
    compiled function is differentiable once."""

    def __init__(self, fn: Callable[..., torch.Tensor], name: str, *, dynamic: bool = False,
                 fallback: Callable[..., torch.Tensor] | None = None):
        self.fn, self.name, self.dynamic = fn, name, dynamic
        self.fallback = fallback or fn
        self.compiled: Callable[..., torch.Tensor] | None = None
        self.failed = False

    def __call__(self, x: torch.Tensor, *args) -> torch.Tensor:
        if x.device.type != "cpu" or self.failed:
            return self.fallback(x, *args)
        if self.compiled is None:
            # Compiling on a machine without CUDA logs "No CUDA runtime is found" once: noise in a CPU run's log.
            logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
            self.compiled = torch.compile(self.fn, dynamic=self.dynamic)
        try:
            return self.compiled(x, *args)
        except Exception as err:  # noqa: BLE001 - any failure to compile; the fallback raises real errors again
            self.failed = True
            warnings.warn(f"{self.name} runs uncompiled (slower): torch.compile failed: {err}", stacklevel=2)
            return self.fallback(x, *args)
