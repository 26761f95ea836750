"""Live quality tracking during training: FID and KID every few epochs, on latents fixed for the run.

The real side is computed once per data set and feature network (and cached on disk by
:mod:`facegan.metrics.reference`), so each measurement costs only the generated side.
"""

from __future__ import annotations

import warnings

import torch

from ..config import Config
from ..data.cache import PreparedData
from ..images import to_uint8
from ..models.sampling import sample
from .features import extract
from .reference import from_features, reference
from .registry import compute_sets

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
        feats = extract(to_uint8(sample(G, self.z.to(self.device))), self.features, device=self.device)
        fake = from_features(feats, {"features": self.features, "count": self.n})
        with warnings.catch_warnings():  # FID's small-sample note: the tracked numbers compare run to run
            warnings.simplefilter("ignore")
            out = compute_sets(["fid", "kid"], self.real, fake, subset_size=min(1000, self.n))
        return {"fid": out["fid"]["fid"], "kid": out["kid"]["kid"], "kid_std": out["kid"]["kid_std"],
                "features": self.features, "n": self.n}
