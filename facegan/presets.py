"""Named starting points: a preset is a set of overrides on the defaults, plus a line saying what it is."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Config
from .errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    overrides: dict


# What Home's "Train on built-in faces" starts: a newcomer's first run, which must end on faces in minutes.
FIRST_RUN_PRESET = "first-faces"

# The stabilised recipe at 64 px, shared by stable-64 and quick-64 (its half-width version).
_STABLE_64 = {"data.resolution": 64, "optim.batch_size": 128,
              "model.d_norm": "spectral", "model.d_noise_std": 0.1, "model.noise_schedule": "linear",
              "model.noise_epochs": 20, "model.ema": True, "model.ema_decay": 0.999,
              "tricks.real_label": (0.9, 0.9), "tricks.flip_p": 0.02,
              "tricks.replay_capacity": 2048, "tricks.replay_fraction": 0.25}

_QUICK_64 = {**_STABLE_64, "model.g_width": 32, "model.d_width": 32}  # quick-64, and faces-64 on top of it

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("dcgan-paper",
           "The DCGAN paper / PyTorch tutorial baseline: 64 px, BatchNorm, BCE, Adam 2e-4 (0.5, 0.999), "
           "batch 128, no stabilising tricks.",
           {"data.resolution": 64, "optim.batch_size": 128}),
    Preset("stable-64",
           "The face-GAN notebooks' stabilised recipe at 64 px: spectral norm and decaying noise layers "
           "in D, one-sided label smoothing with a few flips, a replay buffer of old fakes, and an EMA "
           "generator.",
           _STABLE_64),
    Preset("quick-64",
           "stable-64 at half width (32 channels in G and D): ~2.7x the steps per minute, so the best faces "
           "from a short run on a CPU (README, Performance).",
           _QUICK_64),
    Preset("faces-64",
           "The recipe to train faces with on a CPU: quick-64 with DiffAugment (colour, translation, cutout) "
           "at an adaptive probability that starts at 0 and rises only as far as D needs to stop memorising "
           "the faces; the best FID of four recipes for the same 30 minutes on CelebA-10k (README, Performance).",
           {**_QUICK_64, "tricks.diffaugment": "color,translation,cutout",
            "tricks.augment_adaptive": True, "tricks.augment_p": 0.0}),
    Preset(FIRST_RUN_PRESET,
           "A first run that ends on faces: the built-in faces at 32 px with the DCGAN paper's recipe, 60 "
           "epochs: 4 to 8 minutes on a 2-core CPU (README, Performance).",
           # Measured 2026-12-05 on 2 quiet cores with AMX (bf16): 3.3 s an epoch of 4,000 faces, 14 s to draw them
           # the first time (2026-12-06 on 2 cores without AMX, an AMD EPYC: 6.0-6.5 s an epoch, 6 min 23 s in
           # all). At 32 px the plain DCGAN draws saturated, varied cartoon faces within 60 epochs; stable-64's
           # tricks at half width ran 2.3x as fast but stayed grey and washed out at 140 epochs.
           {"data.source": "synthetic", "data.resolution": 32, "optim.batch_size": 128, "run.epochs": 60}),
    Preset("faces-128",
           "128 px faces: the stabilised recipe with one more layer each side, batch 64, and resize "
           "upsampling in G against checkerboard artefacts.",
           {"data.resolution": 128, "optim.batch_size": 64, "model.g_upsample": "resize",
            "model.d_norm": "spectral", "model.d_noise_std": 0.1, "model.noise_schedule": "linear",
            "model.noise_epochs": 30, "model.ema": True, "model.ema_decay": 0.999,
            "tricks.real_label": (0.9, 0.9), "tricks.flip_p": 0.02,
            "tricks.replay_capacity": 1024, "tricks.replay_fraction": 0.25}),
]}

DEFAULT_PRESET = "dcgan-paper"
# The preset to train faces with, and the Train page's: the best FID for the same 30 minutes of CPU training
# on CelebA-10k (benchmarks/quality_budget.py --minutes 30 --every 5, 2026-12-05, face crop, Inception FID of
# 2,048 vs 2,048 faces, README Performance): faces-64 53.1, quick-64 56.3, quick-64 + DiffAugment at p = 1
# 94.5, the PyTorch tutorial 188.7. It is not the command line's default: dcgan-paper stays the plain,
# well-known starting point there.
RECOMMENDED_PRESET = "faces-64"


def preset(name: str) -> Preset:
    """The preset called ``name``, or a ConfigError listing the names there are."""
    if name not in PRESETS:
        raise ConfigError("preset", name, "one of " + ", ".join(repr(p) for p in PRESETS))
    return PRESETS[name]


def from_preset(name: str = DEFAULT_PRESET, overrides: list[str] | dict | None = None) -> Config:
    """The full, validated configuration of preset ``name`` with ``key=value`` overrides applied."""
    cfg = Config(preset=name).with_overrides(preset(name).overrides)
    return cfg.with_overrides(overrides or [])
