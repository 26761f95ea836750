"""Live quality tracking during training: FID and KID every few epochs, on latents fixed for the run.

The real side is computed once per data set and feature network (and cached on disk by
:mod:`facegan.metrics.reference`), so each measurement costs only the generated side.
"""

from __future__ import annotations

import torch

from ..config import Config
from ..data.cache import PreparedData
from ..images import to_uint8
from ..models.sampling import sample
from .features import extract
from .fid import feature_stats, frechet_distance
from .kid import kid
from .reference import reference

TRACKED = "fid"  # the number best.pt follows (lower is better)


class Tracker:
    def __init__(self, cfg: Config, data: PreparedData, device: torch.device):
        r = cfg.run
        self.features, self.n, self.device = r.metrics_features, min(r.metrics_n, data.kept), device
        self.real = reference(data, self.features, self.n, device=device)
        g = torch.Generator().manual_seed(cfg.run.seed + 0x3E7)
        self.z = torch.randn(self.n, cfg.model.latent_dim, 1, 1, generator=g)

    def measure(self, G: torch.nn.Module) -> dict:
        """{'fid', 'kid', 'kid_std', 'features', 'n'} of ``G``'s images against the real reference."""
        fake = extract(to_uint8(sample(G, self.z.to(self.device))), self.features, device=self.device)
        mu, sigma = feature_stats(fake)
        k = kid(self.real.features, fake, subset_size=min(1000, self.n))
        return {"fid": frechet_distance(self.real.mu, self.real.sigma, mu, sigma), "kid": k["kid"],
                "kid_std": k["kid_std"], "features": self.features, "n": self.n}
