import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from facegan.config import DataConfig
from facegan.data.cache import cache_root, prepare
from facegan.data.sources import SyntheticSource
from facegan.data.synthetic import render_face

from .helpers import ROOT


def test_cache_lives_under_facegan_cache_dir_and_is_reused_without_decoding(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEGAN_CACHE_DIR", str(tmp_path / "c"))
    cfg = DataConfig(resolution=32, synthetic_count=64)
    first = prepare(cfg)
    assert not first.reused and first.path.parent == tmp_path / "c" == cache_root()
    np.testing.assert_array_equal(first.images[5], render_face(5, 32, 0))

    def no_decoding(self, index, prep):
        raise AssertionError("a reused cache must not decode anything")
    monkeypatch.setattr(SyntheticSource, "load", no_decoding)
    second = prepare(cfg)
    assert second.reused and second.path == first.path
    np.testing.assert_array_equal(np.asarray(second.images), np.asarray(first.images))


def test_a_changed_source_or_preprocessing_is_rebuilt(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((24, 24, 3), 50 * i, np.uint8)).save(folder / f"{i}.png")
    a = prepare(DataConfig(source=str(folder), resolution=32))
    Image.fromarray(np.full((24, 24, 3), 255, np.uint8)).save(folder / "3.png")
    b = prepare(DataConfig(source=str(folder), resolution=32))
    assert not b.reused and b.key != a.key and b.kept == 4
    c = prepare(DataConfig(source=str(folder), resolution=64))
    assert not c.reused and c.images.shape[1] == 64
    # face_fraction only matters to the face crop: changing it must not split a centre-crop cache.
    d = prepare(DataConfig(source=str(folder), resolution=32, face_fraction=0.9))
    assert d.reused and d.key == b.key


def test_an_inconsistent_entry_is_not_trusted(tmp_path):
    cfg = DataConfig(resolution=32, synthetic_count=32)
    first = prepare(cfg, root=tmp_path)
    with open(first.path / "images.u8", "r+b") as f:   # a torn file: shorter than meta.json says
        f.truncate(100)
    again = prepare(cfg, root=tmp_path)
    assert not again.reused and again.kept == 32
    np.testing.assert_array_equal(again.images[31], render_face(31, 32, 0))
    meta = json.loads((first.path / "meta.json").read_text())
    assert meta["kept"] == 32


def test_an_exception_mid_build_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = SyntheticSource.load

    def flaky(self, index, prep):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        return real(self, index, prep)
    monkeypatch.setattr(SyntheticSource, "load", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare(DataConfig(resolution=32, synthetic_count=64), root=tmp_path, workers=1)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_build_is_never_trusted(tmp_path):
    env = dict(os.environ, FACEGAN_CACHE_DIR=str(tmp_path))
    args = ["--data", "synthetic", "--resolution", "32", "--set", "synthetic_count=1500"]
    proc = subprocess.Popen([sys.executable, "-m", "facegan", "prepare", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list(tmp_path.glob("*.partial-*")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partials = list(tmp_path.glob("*.partial-*"))
    assert partials, "the build should have been caught half-way"
    assert not [p for p in tmp_path.iterdir() if ".partial-" not in p.name]
    data = prepare(DataConfig(resolution=32, synthetic_count=1500, limit=None), root=tmp_path)
    assert not data.reused and data.kept == 1500
    for i in (0, 749, 1499):
        np.testing.assert_array_equal(data.images[i], render_face(i, 32, 0))


def test_stale_partials_are_cleaned(tmp_path, monkeypatch):
    old = tmp_path / "synthetic-32px-abc.partial-1-deadbeef"
    old.mkdir()
    os.utime(old, (0, 0))
    young = tmp_path / "synthetic-32px-abd.partial-2-deadbeef"
    young.mkdir()
    prepare(DataConfig(resolution=32, synthetic_count=16), root=tmp_path)
    assert not old.exists() and young.exists()
