"""Where the dashboard keeps things, and the configuration a new run starts from.

``FACEGAN_RUNS_ROOT`` moves the runs folder (default ``checkpoints/``, as on the command line) for the
dashboard only; ``FACEGAN_CACHE_DIR`` moves the prepared-data cache (and with it uploads) everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from facegan.config import Config, RunConfig
from facegan.data.cache import cache_root
from facegan.presets import RECOMMENDED_PRESET, from_preset

RUNS_ROOT_ENV = "FACEGAN_RUNS_ROOT"


def runs_root() -> Path:
    """The folder the dashboard lists runs from and creates new runs in."""
    env = os.environ.get(RUNS_ROOT_ENV, "").strip()
    return Path(env or RunConfig.runs_root).expanduser()


def uploads_root() -> Path:
    """Where uploaded zips are kept: a folder of the prepared-data cache, so they live (and are
    cleaned) with the rest of the prepared data, never inside the project."""
    return cache_root() / "uploads"


def subsets_root() -> Path:
    """Where the Data page writes the subset files of the selections it trains on (beside uploads)."""
    return cache_root() / "subsets"


def default_config(preset: str = RECOMMENDED_PRESET, overrides: dict | None = None) -> Config:
    """Preset ``preset`` (the recommended one unless named) with the dashboard's runs folder and ``overrides``."""
    return from_preset(preset, {"run.runs_root": str(runs_root()), **(overrides or {})})
