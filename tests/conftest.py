"""The tests' fixtures. Constants and helpers they share are in helpers.py (a test imports that module,
never this one)."""

import os
import shutil
from pathlib import Path

import pytest

from .helpers import CELEBA_ZIP, tiny

# Seconds a job left running by a test may take to stop at the end of it: torchrun and two processes on a
# busy 2-core machine are the slowest.
JOB_STOP_S = 240.0


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished tiny run (2 epochs), trained once for the whole module."""
    path = tmp_path_factory.mktemp("trained") / "tiny"
    from facegan.training.trainer import train
    train(tiny("epochs=2", f"run_dir={path}"))
    return path


@pytest.fixture
def job_registry():
    """The dashboard's one-job registry, empty before the test and emptied after it (a job still
    running is stopped)."""
    from facegan import job
    job.reset(timeout=JOB_STOP_S)
    yield
    job.reset(timeout=JOB_STOP_S)


@pytest.fixture
def runs_root(tmp_path, monkeypatch, job_registry) -> Path:
    """An empty runs folder that the dashboard lists (``FACEGAN_RUNS_ROOT``), with no job."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("FACEGAN_RUNS_ROOT", str(root))
    return root


@pytest.fixture
def with_run(runs_root, trained) -> Path:
    """The runs root holding a copy of the finished tiny run, as ``tiny``."""
    shutil.copytree(trained, runs_root / "tiny")
    return runs_root / "tiny"
