"""Batches for training, straight from the prepared uint8 array.

No DataLoader, no workers: the whole prepared set is one uint8 tensor (on the GPU when it fits), so a
batch is an index, a cast and a flip. The order of epoch ``e`` is a pure function of ``(seed, e)``, so
resuming at (epoch, batch) reproduces the exact batches, and ranks of a distributed run take disjoint
slices of the same order.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

DEVICE_FRACTION = 0.25  # put the data set on the accelerator if it takes at most this share of its memory


def epoch_order(seed: int, epoch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(permutation of range(n), flip flag per position) for one epoch."""
    rng = np.random.default_rng([seed, epoch, 0xFACE])
    return rng.permutation(n), rng.random(n) < 0.5


def to_float(batch_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]. The result is channels_last in memory,
    which is what the convolutions want on CUDA and on modern CPUs anyway."""
    return batch_u8.permute(0, 3, 1, 2).float().mul_(1 / 127.5).sub_(1.0)


def rank_batch(n: int, batch_size: int, world: int = 1) -> int:
    """Images per step on each of ``world`` ranks sharing ``n`` images: the per-rank ``batch_size``, or
    the whole shard when it is smaller (a data set smaller than one batch still trains)."""
    return min(batch_size, n // world)


def steps_per_epoch(n: int, batch_size: int, world: int = 1) -> int:
    """Steps an epoch takes (the incomplete last batch is dropped)."""
    return (n // world) // rank_batch(n, batch_size, world)


class BatchLoader:
    """Shuffled, optionally flipped batches of a prepared data set, ``len(self)`` per epoch.

    ``rank``/``world`` split every epoch's order into disjoint shards for distributed training; each
    shard then yields ``batch_size`` images per step (the per-rank batch).
    """

    def __init__(self, images: np.ndarray, batch_size: int, *, device: torch.device | str = "cpu",
                 flip: bool = True, seed: int = 0, rank: int = 0, world: int = 1):
        if len(images) == 0:
            raise ValueError("no images to load")
        self.device = torch.device(device)
        self.flip, self.seed, self.rank, self.world = flip, seed, rank, world
        self.n = len(images)
        self.batch_size = rank_batch(self.n, batch_size, world)
        if self.batch_size < 1:
            raise ValueError(f"{self.n} images cannot be shared by {world} processes")
        self.data = _place(images, self.device)

    def __len__(self) -> int:
        return steps_per_epoch(self.n, self.batch_size, self.world)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """The batches of ``epoch`` from batch index ``start`` on (the incomplete last one is dropped,
        as DCGAN's BatchNorm statistics dislike a tiny batch)."""
        order, flips = epoch_order(self.seed, epoch, self.n)
        order, flips = order[self.rank::self.world], flips[self.rank::self.world]
        b = self.batch_size
        for i in range(start, len(self)):
            idx, flip = order[i * b:(i + 1) * b], flips[i * b:(i + 1) * b] if self.flip else None
            yield self._cpu_batch(idx, flip) if self.device.type == "cpu" else self._device_batch(idx, flip)

    def _cpu_batch(self, idx: np.ndarray, flip: np.ndarray | None) -> torch.Tensor:
        # numpy, single-threaded: on the CPU its gather, column reversal and cast are several times faster
        # than torch's uint8 kernels, whose thread start-up dominates at this size.
        batch = np.take(self.data, idx, axis=0)
        if flip is not None and flip.any():
            rows = np.flatnonzero(flip)
            batch[rows] = np.take(batch[rows], np.arange(batch.shape[2] - 1, -1, -1), axis=2)
        out = batch.astype(np.float32)
        out *= np.float32(1 / 127.5)
        out -= np.float32(1.0)
        return torch.from_numpy(out).permute(0, 3, 1, 2)

    def _device_batch(self, idx: np.ndarray, flip: np.ndarray | None) -> torch.Tensor:
        if isinstance(self.data, torch.Tensor):  # the whole set lives on the device
            batch = self.data[torch.from_numpy(idx).to(self.device, non_blocking=True)]
        else:  # too big for it: uint8 over pinned memory (a quarter of the float bytes), cast there
            batch = torch.from_numpy(np.take(self.data, idx, axis=0)).pin_memory().to(self.device, non_blocking=True)
        if flip is not None:
            mask = torch.from_numpy(flip).to(self.device, non_blocking=True)
            batch = torch.where(mask[:, None, None, None], batch.flip(2), batch)
        return to_float(batch)


def _place(images: np.ndarray, device: torch.device) -> np.ndarray | torch.Tensor:
    """The whole set in memory: a uint8 tensor on ``device`` if it fits comfortably, else a numpy array
    in host memory (read from the memory map once)."""
    host = np.array(images, dtype=np.uint8)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        if host.nbytes <= DEVICE_FRACTION * free:
            return torch.from_numpy(host).to(device)
    elif device.type == "mps":
        return torch.from_numpy(host).to(device)
    return host
