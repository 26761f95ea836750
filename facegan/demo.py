"""The demo generator the repository ships, so a fresh checkout has faces to show.

``checkpoints/demo/celeba-64.safetensors`` is an exported EMA generator trained on CelebA-10k at 64 px
(its model card, ``checkpoints/demo/README.md``, says how, how good, and under which terms: CelebA is
for non-commercial research only, and so are the weights and every face drawn from them).
``FACEGAN_DEMO`` points at another file (tests use it). The dashboard lists the demo first, read-only,
as a run called :data:`DEMO_NAME`; it is never in the runs folder, so nothing can rename or delete it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import FaceganError
from .runs import RunInfo

DEMO_ENV = "FACEGAN_DEMO"
DEMO_FILE = Path(__file__).resolve().parents[1] / "checkpoints" / "demo" / "celeba-64.safetensors"
DEMO_NAME = "Demo: CelebA 64 px"
CELEBA_ENV = "FACEGAN_CELEBA_ZIP"
# Where the project's own real faces sit on its machines (the CelebA-10k sample, beside the checkout).
CELEBA_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "celeba-10k-89x109.zip"


def demo_path() -> Path:
    return Path(os.environ.get(DEMO_ENV, "").strip() or DEMO_FILE).expanduser()


def demo_run() -> tuple[RunInfo | None, str | None]:
    """(the demo as a run the pages can pick, None) when its file loads; (None, one line saying what
    is wrong) when it is missing or damaged."""
    from .generate import load_generator
    path = demo_path()
    if not path.is_file():
        return None, f"The demo generator is missing ({path}); train your own faces instead."
    try:
        _, cfg, info = load_generator(path, device="cpu")
    except FaceganError as e:
        return None, f"The demo generator cannot be loaded ({e}); train your own faces instead."
    return RunInfo(name=DEMO_NAME, path=path, preset=cfg.preset, resolution=cfg.data.resolution,
                   source="CelebA (non-commercial research only)", epochs=info["epoch"],
                   epochs_done=info["epoch"], step=info["step"], checkpoints=("demo",)), None


def is_demo(run: RunInfo) -> bool:
    return run.name == DEMO_NAME and Path(run.path) == demo_path()


def celeba_source() -> str | None:
    """The CelebA faces to measure the demo against: ``FACEGAN_CELEBA_ZIP``, or the project's sample
    beside the checkout; None when neither is there."""
    path = Path(os.environ.get(CELEBA_ENV, "").strip() or CELEBA_DEFAULT).expanduser()
    return f"celeba:{path}" if path.exists() else None


def celeba_data(resolution: int = 64):
    """The CelebA faces the demo is measured and played against, prepared as for its training (face crop,
    ``resolution`` px), as a DataConfig; None when this machine has no CelebA (:func:`celeba_source`)."""
    from .metrics.evaluate import data_config
    source = celeba_source()
    return data_config(source, resolution=resolution) if source else None
