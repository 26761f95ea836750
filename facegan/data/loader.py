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
        # A data set smaller than one batch still trains: the batch is the whole set.
        self.batch_size = min(batch_size, self.n // world)
        if self.batch_size < 1:
            raise ValueError(f"{self.n} images cannot be shared by {world} processes")
        self.data = _place(images, self.device)

    def __len__(self) -> int:
        return (self.n // self.world) // self.batch_size

    def epoch(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """The batches of ``epoch`` from batch index ``start`` on (the incomplete last one is dropped,
        as DCGAN's BatchNorm statistics dislike a tiny batch)."""
        order, flips = epoch_order(self.seed, epoch, self.n)
        order, flips = order[self.rank::self.world], flips[self.rank::self.world]
        b = self.batch_size
        for i in range(start, len(self)):
            batch = self._take(order[i * b:(i + 1) * b])
            if self.flip:  # on the uint8 (N, H, W, 3) batch: a quarter of the bytes of the float one
                mask = torch.from_numpy(flips[i * b:(i + 1) * b]).to(batch.device, non_blocking=True)
                batch = torch.where(mask[:, None, None, None], batch.flip(2), batch)
            batch = to_float(batch)
            yield batch

    def _take(self, idx: np.ndarray) -> torch.Tensor:
        if isinstance(self.data, torch.Tensor):  # already on the device
            return self.data[torch.from_numpy(idx).to(self.device, non_blocking=True)]
        # numpy's gather is single-threaded and an order of magnitude faster than torch's uint8 indexing
        # on the CPU; for an accelerator the data does not fit on, the batch goes over pinned memory.
        batch = torch.from_numpy(self.data[idx])
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        return batch.to(self.device, non_blocking=True)


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
