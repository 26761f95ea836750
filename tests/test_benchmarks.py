"""The benchmarks compare like with like: the tutorial's networks are facegan's dcgan-paper networks."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from reference_dcgan import Discriminator, Generator  # noqa: E402

from facegan.models import build_networks  # noqa: E402
from facegan.presets import from_preset  # noqa: E402


def test_the_tutorials_networks_have_the_dcgan_paper_presets_parameters():
    G, D = build_networks(from_preset("dcgan-paper"))
    for ref, ours in ((Generator(), G), (Discriminator(), D)):
        assert sorted(p.shape for p in ref.parameters()) == sorted(p.shape for p in ours.parameters())
    z = torch.randn(2, 100, 1, 1)
    assert Generator()(z).shape == G(z.flatten(1)).shape == (2, 3, 64, 64)
