import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CELEBA_ZIP = Path(os.environ.get("FACEGAN_CELEBA_ZIP", ROOT.parent / "shared/data/celeba-10k-89x109.zip"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Tests never read or write the user's prepared-data cache (subprocesses inherit this too)."""
    old = os.environ.get("FACEGAN_CACHE_DIR")
    os.environ["FACEGAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("facegan-cache"))
    yield
    if old is None:
        os.environ.pop("FACEGAN_CACHE_DIR", None)
    else:
        os.environ["FACEGAN_CACHE_DIR"] = old


@pytest.fixture(autouse=True, scope="session")
def _no_demo(tmp_path_factory):
    """Tests see no demo generator unless they make one (``FACEGAN_DEMO``): the pages then behave as on a
    checkout without the shipped file, whatever the repository holds. The browser test serves the real one."""
    old = os.environ.get("FACEGAN_DEMO")
    os.environ["FACEGAN_DEMO"] = str(tmp_path_factory.mktemp("no-demo") / "celeba-64.safetensors")
    yield
    if old is None:
        os.environ.pop("FACEGAN_DEMO", None)
    else:
        os.environ["FACEGAN_DEMO"] = old


@pytest.fixture
def celeba_zip() -> Path:
    if not CELEBA_ZIP.is_file():
        pytest.skip(f"CelebA sample not found at {CELEBA_ZIP} (set FACEGAN_CELEBA_ZIP)")
    return CELEBA_ZIP


# A tiny run: 32 px, 64 built-in faces, 4 steps an epoch, every step logged.
TINY = ["resolution=32", "synthetic_count=64", "batch_size=16", "g_width=8", "d_width=8", "log_every=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished tiny run (2 epochs), trained once for the whole module."""
    path = tmp_path_factory.mktemp("trained") / "tiny"
    from facegan.presets import from_preset
    from facegan.training.trainer import train
    train(from_preset("dcgan-paper", [*TINY, "epochs=2", f"run_dir={path}"]))
    return path


@pytest.fixture
def runs_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("FACEGAN_RUNS_ROOT", str(root))
    from facegan import job
    job._reset_for_tests()
    yield root
    job._reset_for_tests()


@pytest.fixture
def with_run(runs_root, trained) -> Path:
    """The runs root holding a copy of the finished tiny run, as ``tiny``."""
    shutil.copytree(trained, runs_root / "tiny")
    return runs_root / "tiny"


def run_cli(*args: str, timeout: float = 300):
    """``python -m facegan ARGS`` in a subprocess, from the repository root."""
    import subprocess
    return subprocess.run([sys.executable, "-m", "facegan", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def wait_for(predicate, what: str, timeout: float, every: float = 0.05):
    """``predicate()``'s first truthy value, polled every ``every`` s; fails after ``timeout`` s naming
    ``what`` and the training job's status (what every waiting test wants to see then)."""
    import time

    from facegan import job
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := predicate():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; status: {job.status()}")
