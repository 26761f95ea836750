"""A memory of D's old opponents: generated images kept and shown to D again.

Mixing old fakes into D's fake batch stops G and D from chasing each other in circles (G returning
to a mode D has forgotten). The images stay on their device; the buffer is a fixed ring, so its
oldest images make room for new ones.
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Keeps up to ``capacity`` generated images; :meth:`mix` swaps ``fraction`` of a fake batch for
    randomly chosen stored ones (with replacement), once at least that many are stored."""

    def __init__(self, capacity: int, fraction: float, generator: torch.Generator | None = None):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity, self.fraction, self.generator = capacity, fraction, generator
        self.images: torch.Tensor | None = None  # (capacity, C, H, W), allocated on the first push
        self.size = 0   # images stored
        self.next = 0   # slot the next image goes to (the oldest once full)

    def __len__(self) -> int:
        return self.size

    def mix(self, fakes: torch.Tensor) -> torch.Tensor:
        """``fakes`` with its last ``round(fraction * len(fakes))`` images replaced by stored ones,
        or ``fakes`` itself while the buffer holds fewer than that."""
        n = fakes.shape[0]
        k = round(self.fraction * n)
        if k == 0 or self.size < k:
            return fakes
        storage = self._storage_for(fakes)
        # Pick by age (0 = oldest), not by slot, so a buffer restored from state_dict (stored
        # oldest first) replays the same images for the same random draws.
        age = torch.randint(self.size, (k,), device=storage.device, generator=self.generator)
        idx = (age + self._oldest()) % self.capacity
        return torch.cat([fakes[: n - k], storage[idx].to(fakes.dtype)])

    @torch.no_grad()
    def push(self, fakes: torch.Tensor) -> None:
        """Store detached copies of ``fakes``, overwriting the oldest images once full."""
        new = fakes.detach()[-self.capacity:]
        storage = self._storage_for(new)
        n = new.shape[0]
        head = min(n, self.capacity - self.next)
        storage[self.next: self.next + head] = new[:head]
        storage[: n - head] = new[head:]
        self.next = (self.next + n) % self.capacity
        self.size = min(self.capacity, self.size + n)

    def _storage_for(self, images: torch.Tensor) -> torch.Tensor:
        if self.images is None or self.images.shape[1:] != images.shape[1:]:
            self.images = images.new_empty((self.capacity, *images.shape[1:]))
            self.size = self.next = 0
        elif self.images.device != images.device:
            self.images = self.images.to(images.device)
        return self.images

    def _oldest(self) -> int:
        return self.next if self.size == self.capacity else 0

    def chronological(self) -> torch.Tensor | None:
        """The stored images, oldest first (``None`` before the first push)."""
        if self.images is None:
            return None
        return self.images[: self.size].roll(-self._oldest(), dims=0)

    def state_dict(self) -> dict:
        """``{'images': Tensor (oldest first), 'size': int, 'capacity': int}``: plain tensors and
        ints, so it saves with ``torch.save(weights_only=True)`` or safetensors."""
        images = self.chronological()
        return {"images": (images.clone() if images is not None else torch.empty(0)),
                "size": self.size, "capacity": self.capacity}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`; a smaller capacity than saved keeps the newest images."""
        images = state["images"][: state["size"]][-self.capacity:]
        self.size = self.next = 0
        self.images = None
        if images.shape[0]:
            storage = self._storage_for(images)
            storage[: images.shape[0]] = images
            self.size = images.shape[0]
            self.next = self.size % self.capacity
