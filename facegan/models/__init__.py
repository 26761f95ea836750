"""The networks: DCGAN generator and discriminator, their layers, the EMA copy, and a summary."""

from .dcgan import Discriminator, Generator, build_networks, init_weights
from .ema import EMA, unwrap
from .layers import GaussianNoise, noise_layers
from .summary import architecture, format_architecture

__all__ = ["Discriminator", "Generator", "build_networks", "init_weights", "EMA", "unwrap",
           "GaussianNoise", "noise_layers", "architecture", "format_architecture"]
