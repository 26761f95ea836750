"""Images from a generator, the one way every caller (grids, metrics, the dashboard) makes them."""

from __future__ import annotations

import torch


@torch.no_grad()
def sample(G: torch.nn.Module, z: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """G's images for latents ``z`` in eval mode (BatchNorm running statistics, no noise layers), as
    float32 on the CPU. G's own mode is restored afterwards."""
    was_training = G.training
    G.eval()
    try:
        return torch.cat([G(z[i:i + batch]).float().cpu() for i in range(0, len(z), batch)])
    finally:
        G.train(was_training)
