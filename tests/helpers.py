"""What the tests share besides fixtures (those are in conftest.py, which tests never import): the
repository's place, the CelebA sample's, the one tiny training configuration, and running the CLI."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CELEBA_ZIP = Path(os.environ.get("FACEGAN_CELEBA_ZIP", ROOT.parent / "shared/data/celeba-10k-89x109.zip"))

# The tiny run every training test starts from: 32 px, 64 built-in faces, batch 16 (4 steps an epoch),
# networks 8 channels wide, every step logged, 4 faces per epoch grid. A second or two an epoch on a CPU.
TINY = ["resolution=32", "synthetic_count=64", "batch_size=16", "g_width=8", "d_width=8", "log_every=1",
        "sample_count=4", "device=cpu"]
STEPS_PER_EPOCH = 4


def tiny(*more: str, preset: str = "dcgan-paper"):
    """The tiny configuration (``preset`` with :data:`TINY`), then the overrides ``more``."""
    from facegan.presets import from_preset
    return from_preset(preset, [*TINY, *more])


def tiny_cli() -> list[str]:
    """:data:`TINY` as ``python -m facegan train`` options, on the built-in faces."""
    return ["--data", "synthetic", *(a for kv in TINY for a in ("--set", kv))]


def run_cli(*args: str, timeout: float = 300):
    """``python -m facegan ARGS`` in a subprocess, from the repository root."""
    return subprocess.run([sys.executable, "-m", "facegan", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def wait_for(predicate, what: str, timeout: float, every: float = 0.05):
    """``predicate()``'s first truthy value, polled every ``every`` s; fails after ``timeout`` s naming
    ``what`` and the training job's status (what every waiting test wants to see then)."""
    from facegan import job
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; status: {job.status()}")


def compile_without_a_compiler(fn, **kwargs):
    """Stands in for ``torch.compile`` on a machine without a C++ compiler: the compiled call raises."""
    def call(*args):
        raise RuntimeError("no C++ compiler")
    return call
