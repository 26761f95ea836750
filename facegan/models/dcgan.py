"""The DCGAN generator and discriminator, for 32, 64 and 128 px faces.

At 64 px with the default widths (64) these are exactly the PyTorch DCGAN tutorial's networks:
G maps z (100x1x1) to 512x4x4, then doubles the size while halving the channels down to 64x32x32
and 3x64x64 (tanh); D mirrors it and ends in one logit per image (no sigmoid: the losses work on
logits, which is numerically safer). Each halving/doubling of the resolution adds or removes one
layer on each side. The stabilising switches of the configuration (spectral norm, dropout, noise
layers, resize upsampling) change the layers inside that skeleton, never its depth or widths.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import Config
from .convs import Conv2d, ConvTranspose2d
from .layers import GaussianNoise

IMAGE_CHANNELS = 3


def stages(resolution: int) -> int:
    """How many times the image size doubles from 4x4 to ``resolution`` (4 at 64 px)."""
    n = int(math.log2(resolution)) - 2
    if n < 1 or 4 * 2 ** n != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return n


def generator_channels(resolution: int, width: int) -> list[int]:
    """Channels after each G layer, 4x4 first: [512, 256, 128, 64, 3] at 64 px, width 64."""
    n = stages(resolution)
    return [width * 2 ** (n - 1 - i) for i in range(n)] + [IMAGE_CHANNELS]


def discriminator_channels(resolution: int, width: int) -> list[int]:
    """Channels after each strided D layer: [64, 128, 256, 512] at 64 px, width 64 (then 1 logit)."""
    return [width * 2 ** i for i in range(stages(resolution))]


class Generator(nn.Module):
    """z (N, latent_dim) or (N, latent_dim, 1, 1) -> images (N, 3, resolution, resolution) in [-1, 1]."""

    def __init__(self, resolution: int = 64, latent_dim: int = 100, width: int = 64,
                 upsample: str = "transpose", noise_std: float = 0.0, spectral: bool = False,
                 norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
        if upsample not in ("transpose", "resize"):
            raise ValueError(f"upsample must be 'transpose' or 'resize', got {upsample!r}")
        self.resolution, self.latent_dim = resolution, latent_dim
        channels = generator_channels(resolution, width)
        blocks: list[tuple[str, nn.Module]] = []
        c_in, size = latent_dim, 4
        for i, c_out in enumerate(channels):
            last = i == len(channels) - 1
            layers: list[tuple[str, nn.Module]] = []
            if i == 0:
                if upsample == "transpose":
                    conv = ConvTranspose2d(c_in, c_out, 4, 1, 0, bias=False)
                else:
                    # A 4x4 conv padded by 3 on a 1x1 input is the same dense projection z -> 4x4 as
                    # the transposed conv, so 'resize' G holds no transposed conv at all.
                    conv = Conv2d(c_in, c_out, 4, 1, 3, bias=False)
            else:
                if upsample == "resize":
                    layers.append(("up", nn.Upsample(scale_factor=2, mode="nearest")))
                if noise_std > 0:
                    layers.append(("noise", GaussianNoise(noise_std)))
                conv = (ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False) if upsample == "transpose"
                        else Conv2d(c_in, c_out, 3, 1, 1, bias=False))
                size *= 2
            layers.append(("conv", conv))
            if last:
                layers.append(("act", nn.Tanh()))
            else:
                layers += [("bn", nn.BatchNorm2d(c_out))] if norm == "batch" else []
                layers += [("act", nn.ReLU(inplace=True))]
            blocks.append((f"b{size}", nn.Sequential(OrderedDict(layers))))
            c_in = c_out
        self.blocks = nn.Sequential(OrderedDict(blocks))
        init_weights(self)
        if spectral:
            add_spectral_norm(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """Images (N, 3, resolution, resolution) -> logits (N,): high means 'real' (with the usual labels)."""

    def __init__(self, resolution: int = 64, width: int = 64, norm: str = "batch",
                 dropout: float = 0.0, noise_std: float = 0.0):
        super().__init__()
        if norm not in ("batch", "spectral", "none"):
            raise ValueError(f"norm must be 'batch', 'spectral' or 'none', got {norm!r}")
        self.resolution = resolution
        blocks: list[tuple[str, nn.Module]] = []
        c_in, size = IMAGE_CHANNELS, resolution
        for i, c_out in enumerate(discriminator_channels(resolution, width)):
            size //= 2
            layers: list[tuple[str, nn.Module]] = []
            if noise_std > 0:
                layers.append(("noise", GaussianNoise(noise_std)))
            layers.append(("conv", Conv2d(c_in, c_out, 4, 2, 1, bias=False)))
            # DCGAN leaves the first layer unnormalised: BatchNorm on the input layer made training
            # oscillate in the paper's experiments.
            if norm == "batch" and i > 0:
                layers.append(("bn", nn.BatchNorm2d(c_out)))
            layers.append(("act", nn.LeakyReLU(0.2, inplace=True)))
            if dropout > 0:
                layers.append(("drop", nn.Dropout2d(dropout)))
            blocks.append((f"b{size}", nn.Sequential(OrderedDict(layers))))
            c_in = c_out
        out: list[tuple[str, nn.Module]] = []
        if noise_std > 0:
            out.append(("noise", GaussianNoise(noise_std)))
        out.append(("conv", Conv2d(c_in, 1, 4, 1, 0, bias=False)))
        blocks.append(("out", nn.Sequential(OrderedDict(out))))
        self.blocks = nn.Sequential(OrderedDict(blocks))
        init_weights(self)
        if norm == "spectral":
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).reshape(-1)


CONVS = (nn.Conv2d, nn.ConvTranspose2d)


@torch.no_grad()
def init_weights(net: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in net.modules():
        if isinstance(m, CONVS):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def add_spectral_norm(net: nn.Module) -> None:
    """Put spectral norm on every conv of ``net``; call after :func:`init_weights`, whose weights
    become the parametrization's ``original``. (Transposed convs are normalised along their output
    channels, dim=1, which ``spectral_norm`` picks by itself.)"""
    for m in list(net.modules()):
        if isinstance(m, CONVS):
            spectral_norm(m)


def build_networks(cfg: Config) -> tuple[Generator, Discriminator]:
    """The generator and discriminator that ``cfg`` describes, freshly initialised, on the CPU."""
    m, r = cfg.model, cfg.data.resolution
    G = Generator(resolution=r, latent_dim=m.latent_dim, width=m.g_width, upsample=m.g_upsample,
                  noise_std=m.g_noise_std, spectral=m.g_spectral, norm=m.g_norm)
    D = Discriminator(resolution=r, width=m.d_width, norm=m.d_norm, dropout=m.d_dropout,
                      noise_std=m.d_noise_std)
    return G, D
