"""Checkpoints that must not be used, through every command and page that loads one.

A hostile ``.pt`` carries a pickled ``__reduce__`` payload that would create a marker file when
unpickled: each loader must refuse it with a one-line message, and the marker must never appear. A
truncated file, and files whose weights come from another architecture or resolution than their run's
configuration, must give clear errors too.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil

import pytest
import torch

from facegan import cli
from facegan.models import build_networks
from facegan.presets import from_preset
from facegan.training.run_dir import RunDir

from .helpers import TINY


class Payload:
    marker = None

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _variants(good: bytes, folder, marker) -> dict[str, bytes]:
    """{kind: bytes of a last.pt} for each way a checkpoint can be unusable."""
    Payload.marker = marker
    buf = io.BytesIO()
    torch.save({"format": "facegan-checkpoint", "version": 1, "G": Payload()}, buf)
    out = {"payload": buf.getvalue(), "truncated": good[: len(good) // 2]}
    ckpt = torch.load(io.BytesIO(good), weights_only=True)
    for kind, extra in (("architecture", ["g_width=16", "d_width=16"]), ("resolution", ["resolution=64"])):
        G, D = build_networks(from_preset("dcgan-paper", [*TINY, *extra]))
        other = {**ckpt, "G": G.state_dict(), "D": D.state_dict()}  # the run's config, other weights
        buf = io.BytesIO()
        torch.save(other, buf)
        out[kind] = buf.getvalue()
    return out


MESSAGE = {"payload": "refused to load", "truncated": "damaged", "architecture": "do not fit",
           "resolution": "do not fit"}


def _cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, err.getvalue()


@pytest.mark.parametrize("kind", list(MESSAGE))
def test_every_command_refuses_an_unusable_checkpoint(trained, tmp_path, kind):
    marker = tmp_path / "payload-ran"
    good = RunDir(trained).checkpoint_path("last").read_bytes()
    data = _variants(good, tmp_path, marker)[kind]
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for p in RunDir(run).checkpoints_dir.glob("*.pt"):
        p.write_bytes(data)
    lone = tmp_path / f"{kind}.pt"
    lone.write_bytes(data)
    out = str(tmp_path / "out")
    commands = [("train", "--resume", "--run-dir", str(run), "--epochs", "2")]
    for target in (str(run), str(lone)):
        commands += [("sample", target, "--out", out + ".png"),
                     ("interpolate", target, "--mode", "1d", "--out", out + ".png"),
                     ("export", target, "--out", out + ".safetensors"),
                     ("evaluate", target, "--features", "lite0", "--n", "8")]
    for args in commands:
        code, err = _cli(*args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("facegan: error:"), (args, err)
        assert MESSAGE[kind] in lines[0], (args, lines[0])
    assert not marker.exists(), "the pickle payload ran"
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.safetensors").exists()
    if kind == "payload":  # the payload does run when unpickled without weights_only: the test is live
        torch.load(lone, weights_only=False)
        assert marker.exists()


def test_explore_and_evaluate_pages_refuse_a_hostile_checkpoint(trained, tmp_path, monkeypatch):
    from facegan import job

    from . import test_pages
    marker = tmp_path / "payload-ran"
    root = tmp_path / "runs"
    shutil.copytree(trained, root / "tiny")
    data = _variants(RunDir(trained).checkpoint_path("last").read_bytes(), tmp_path, marker)["payload"]
    for p in RunDir(root / "tiny").checkpoints_dir.glob("*.pt"):
        p.write_bytes(data)
    monkeypatch.setenv("FACEGAN_RUNS_ROOT", str(root))
    job.reset()
    try:
        at = test_pages.page("pages/explore.py")
        assert "refused to load" in test_pages.texts(at, "error")
        at = test_pages.page("pages/evaluate.py")
        at.select_slider(key="eval_n").set_value(64).run()
        at.button(key="eval_go").click().run()
        assert not at.exception, at.exception
        assert "refused to load" in test_pages.texts(at, "error")
    finally:
        job.reset()
    assert not marker.exists(), "the pickle payload ran in a dashboard page"
