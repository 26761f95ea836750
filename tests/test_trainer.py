import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from facegan.errors import FaceganError
from facegan.presets import from_preset
from facegan.training import step as step_mod
from facegan.training.checkpoint import CheckpointError, load_checkpoint
from facegan.training.health import TrainingDiverged
from facegan.training.run_dir import RunDir
from facegan.training.trainer import Control, resume_config, train

from . import helpers
from .helpers import ROOT

# The tiny run with 96 faces: 6 steps an epoch, so that a stop at step 8 falls inside an epoch.
TINY = [*helpers.TINY, "synthetic_count=96"]


def tiny(tmp_path, name="run", preset="dcgan-paper", extra=()):
    return from_preset(preset, [*TINY, f"run_dir={tmp_path / name}", *extra])


def step_records(run: RunDir) -> list[dict]:
    return [r for r in run.read_metrics() if r["kind"] == "step"]


def test_two_epochs_write_every_run_file(tmp_path):
    cfg = tiny(tmp_path, extra=["epochs=2", "keep_checkpoints=1"])
    result = train(cfg)
    run = RunDir(result.run_dir)
    assert (result.epochs_done, result.step, result.stopped) == (2, 12, False)
    meta = json.loads(run.config_path.read_text())
    assert run.config() == cfg and meta["seed"] == 0
    assert meta["data"]["kept"] == 96 and meta["data"]["key"] and meta["versions"]["torch"] == torch.__version__
    records = run.read_metrics()
    assert all({"epoch", "step", "time"} <= set(r) for r in records)
    steps = step_records(run)
    assert [r["step"] for r in steps] == list(range(1, 13))
    assert {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "lr_g", "lr_d",
            "noise_d", "images_per_s"} <= set(steps[0])
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]
    assert [e for e, _ in run.samples()] == [1, 2]
    grid = Image.open(run.sample_path(2))
    assert grid.size == (2 * 34 + 2, 2 * 34 + 2)  # the tiny run's 4 faces: 2 x 2 tiles of 32 px, 2 px apart
    # keep_checkpoints=1: only the newest numbered checkpoint survives beside last.pt
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["epoch_0002.pt", "last.pt"]
    gif = Image.open(run.gif_path)
    assert gif.n_frames == 2


@pytest.mark.parametrize("links", [True, False])
def test_an_epoch_checkpoint_is_written_once_and_its_copies_keep_their_epoch(tmp_path, monkeypatch, links):

    from facegan.training import checkpoint as ck
    writes = []
    real_writer = ck.atomic_writer
    monkeypatch.setattr(ck, "atomic_writer", lambda path: (writes.append(Path(path)), real_writer(path))[1])
    if not links:  # a file system without hard links: the numbered copy is copied instead
        def no_link(*a):
            raise OSError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_link)
    result = train(tiny(tmp_path, extra=["epochs=2", "keep_checkpoints=2"]))
    run = RunDir(result.run_dir)
    assert [p.name for p in writes] == ["last.pt", "last.pt"]  # once an epoch
    last, first, second = (run.checkpoint_path(n) for n in ("last", 1, 2))
    assert second.read_bytes() == last.read_bytes()
    assert load_checkpoint(first)["step"] == 6 and load_checkpoint(last)["step"] == 12
    assert (os.stat(second).st_ino == os.stat(last).st_ino) == links
    assert not list(run.checkpoints_dir.glob(".*.tmp"))


def _stop_at(n: int, control: Control):
    def on_event(kind, record):
        if kind == "log" and record["step"] == n:
            control.stop()
    return on_event


@pytest.mark.parametrize("preset, extra", [
    ("dcgan-paper", []),
    # every stateful trick at once: replay buffer, EMA, noise layers and instance noise on schedules,
    # smoothed and flipped labels, dropout, two D steps per G step, and DiffAugment with an adaptive p
    # that moves fast enough to change within the run
    ("stable-64", ["instance_noise_std=0.1", "d_dropout=0.2", "d_steps=2", "replay_capacity=32",
                   "diffaugment=color,translation,cutout", "augment_adaptive=true", "augment_p=0.2",
                   "augment_speed=1000"]),
])
def test_resume_is_exact(tmp_path, monkeypatch, preset, extra):
    extra = ["epochs=3", *extra]
    if preset == "stable-64":  # the noise layers' hashed noise, which full-size layers take, on the tiny ones too
        from facegan.models import layers
        monkeypatch.setattr(layers, "HASHED_MIN", 1)
    whole = train(tiny(tmp_path, "whole", preset, extra))
    control = Control()
    first = train(tiny(tmp_path, "split", preset, extra), control=control, on_event=_stop_at(8, control))
    assert first.stopped and first.step == 8  # mid-epoch 2 (6 steps per epoch)
    run = RunDir(first.run_dir)
    second = train(resume_config(run), resume=run.path)
    assert (second.step, second.epochs_done, second.stopped) == (whole.step, 3, False)
    a, b = step_records(RunDir(whole.run_dir)), step_records(run)
    assert [r["step"] for r in b] == list(range(1, whole.step + 1))
    keys = ["loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"]
    if "augment_adaptive=true" in extra:
        keys.append("augment_p")
        # p really adapted, and stands elsewhere than where it started at the stop, so a resume that lost
        # it would show
        assert len({r["augment_p"] for r in a}) > 3 and a[7]["augment_p"] != 0.2
    for ra, rb in zip(a, b):
        for key in keys:
            assert ra[key] == rb[key], (ra["step"], key)
    ga = load_checkpoint(RunDir(whole.run_dir).checkpoint_path("last"))["G"]
    gb = load_checkpoint(run.checkpoint_path("last"))["G"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    for epoch in (1, 2, 3):  # fixed latents: the grids are identical across the resume
        assert RunDir(whole.run_dir).sample_path(epoch).read_bytes() == run.sample_path(epoch).read_bytes()


def cli_train(run_dir, epochs: int, faces: int, checkpoint_minutes: float, stderr=subprocess.DEVNULL):
    """``python -m facegan train`` of a tiny run in a subprocess."""
    args = ["--data", "synthetic", "--resolution", "32", "--epochs", str(epochs), "--batch-size", "16",
            "--run-dir", str(run_dir), "--set", f"synthetic_count={faces}", "--set", "g_width=8", "--set",
            "d_width=8", "--set", "log_every=1", "--set", f"checkpoint_minutes={checkpoint_minutes}"]
    return subprocess.Popen([sys.executable, "-m", "facegan", "train", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=stderr, text=True)


def test_sigkill_mid_epoch_then_resume_logs_each_step_once(tmp_path):
    run_dir = tmp_path / "killed"
    proc = cli_train(run_dir, epochs=4, faces=128, checkpoint_minutes=0.001)
    run = RunDir(run_dir)
    deadline = time.time() + 120
    while time.time() < deadline:
        steps = [r["step"] for r in step_records(run)] if run.metrics_path.exists() else []
        if len(steps) >= 12 and run.checkpoint_path("last").exists():
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run should have been killed, not finished"
    killed_at = load_checkpoint(run.checkpoint_path("last"))["step"]
    assert 0 < killed_at < 32
    resumed = subprocess.run([sys.executable, "-m", "facegan", "train", "--resume", "--run-dir", str(run_dir)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert [r["step"] for r in step_records(run)] == list(range(1, 33))
    assert [r["epoch"] for r in run.read_metrics() if r["kind"] == "epoch"] == [1, 2, 3, 4]
    assert load_checkpoint(run.checkpoint_path("last"))["step"] == 32


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_call = step_mod.GANStep.__call__
    calls = {"n": 0}

    def poisoned(self, real):
        stats = real_call(self, real)
        calls["n"] += 1
        if calls["n"] >= 9:  # epoch 2, after epoch 1's checkpoint
            stats["loss_g"] = stats["loss_g"] * float("nan")
        return stats
    monkeypatch.setattr(step_mod.GANStep, "__call__", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 9 .*loss_g.*last\.pt"):
        train(tiny(tmp_path, extra=["epochs=3"]))
    run = RunDir(tmp_path / "run")
    ckpt = load_checkpoint(run.checkpoint_path("last"))
    assert ckpt["step"] == 6 and ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())


def test_weights_gone_bad_between_logged_steps_are_never_checkpointed(tmp_path, monkeypatch):
    """Steps are logged every 4th step and a checkpoint is due after every step. Step 7's update leaves a
    generator weight NaN while the losses it computed first are finite, and step 7 is not logged: the
    checkpoint guard is what must stop the run, before last.pt holds the bad weights."""
    real_call = step_mod.GANStep.__call__
    calls = {"n": 0}

    def poisoned(self, real):
        stats = real_call(self, real)
        calls["n"] += 1
        if calls["n"] == 7:
            with torch.no_grad():
                weight = next(self.G.parameters())
                weight[(0,) * weight.dim()] = float("nan")
        return stats
    monkeypatch.setattr(step_mod.GANStep, "__call__", poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 7 .*generator's weights became NaN"):
        train(tiny(tmp_path, extra=["epochs=3", "log_every=4", "checkpoint_minutes=1e-6"]))
    run = RunDir(tmp_path / "run")
    ckpt = load_checkpoint(run.checkpoint_path("last"))
    assert ckpt["step"] == 6  # step 6's checkpoint (epoch 1's end), the last with good weights
    assert all(torch.isfinite(v).all() for net in ("G", "D") for v in ckpt[net].values() if v.is_floating_point())
    assert [r["step"] for r in run.read_metrics() if r["kind"] == "step"] == [4]  # step 8 was never reached


def test_the_log_records_each_start_checkpoint_and_how_training_ended(tmp_path, monkeypatch):
    from facegan.config import Config
    from facegan.training import records
    cfg = tiny(tmp_path, extra=["epochs=2", "keep_checkpoints=1"])
    train(cfg)
    run = RunDir(cfg.run.run_dir)
    log = run.read_metrics()
    assert [r["kind"] for r in log if r["kind"] not in ("step", "warning")] == [
        "start", "epoch", "checkpoint", "epoch", "checkpoint", "end"]
    start, end = log[0], log[-1]
    assert Config.from_dict(start["config"]) == cfg and not start["resumed"] and start["world"] == 1
    assert (start["step"], start["epochs_done"], start["total_steps"], start["images"]) == (0, 0, 12, 96)
    assert [r["files"] for r in log if r["kind"] == "checkpoint"] == [["last.pt", "epoch_0001.pt"],
                                                                      ["last.pt", "epoch_0002.pt"]]
    assert (end["state"], end["epochs_done"], end["step"], end["epoch"]) == ("finished", 2, 12, 2)
    assert records.outcome(log) == "finished"

    control = Control()
    train(resume_config(run, {"run.epochs": 4}), resume=run.path, control=control, on_event=_stop_at(15, control))
    log = run.read_metrics()
    again = [r for r in log if r["kind"] == "start"][-1]
    assert again["resumed"] and (again["step"], again["epochs_done"]) == (12, 2)
    assert (log[-1]["kind"], log[-1]["state"], log[-1]["step"]) == ("end", "stopped", 15)
    assert log[-2]["kind"] == "checkpoint" and log[-2]["step"] == 15
    assert records.outcome(log) == "stopped"

    real_call = step_mod.GANStep.__call__

    def poisoned(self, real):
        stats = real_call(self, real)
        stats["loss_d"] = stats["loss_d"] * float("nan")
        return stats
    monkeypatch.setattr(step_mod.GANStep, "__call__", poisoned)
    with pytest.raises(TrainingDiverged):
        train(resume_config(run, {"run.epochs": 4}), resume=run.path)
    log = run.read_metrics()
    assert log[-1]["kind"] == "end" and log[-1]["state"] == "failed" and "diverged" in log[-1]["reason"]
    assert records.outcome(log) == "failed"
    assert records.outcome(log[:-1]) == "interrupted"  # started, never ended: killed (or still training)
    assert records.outcome([r for r in log if r["kind"] in ("step", "epoch")]) is None  # an older folder


def test_resume_guards(tmp_path):
    cfg = tiny(tmp_path, extra=["epochs=1"])
    train(cfg)
    run = RunDir(cfg.run.run_dir)
    with pytest.raises(FaceganError, match="already holds files"):
        train(cfg)
    with pytest.raises(FaceganError, match="cannot change model.latent_dim"):
        resume_config(run, {"model.latent_dim": 5})
    # One rule for every caller: the run's own values and its folder may be given again; under torchrun
    # only run.epochs may change (its processes are given --epochs alone).
    assert resume_config(run, {"model.latent_dim": 100, "run.run_dir": "elsewhere"}) == run.config()
    assert resume_config(run, {"run.log_every": 2}).run.log_every == 2
    with pytest.raises(FaceganError, match=r"cannot change run.log_every to 2 \(the run has 1\).*under torchrun"):
        resume_config(run, {"run.log_every": 2}, processes=2)
    more = resume_config(run, {"run.epochs": 2}, processes=2)
    assert train(more, resume=run.path).epochs_done == 2
    empty = tmp_path / "nockpt"
    RunDir.create(tiny(tmp_path, "nockpt"), {})
    with pytest.raises(FaceganError, match="no checkpoint to resume"):
        train(resume_config(RunDir(empty)), resume=empty)
    with pytest.raises(FaceganError, match="not a facegan run folder"):
        RunDir.open(tmp_path / "nowhere")


def test_damaged_and_hostile_checkpoints_are_refused(tmp_path):
    cfg = tiny(tmp_path, extra=["epochs=1"])
    run = RunDir(train(cfg).run_dir)
    data = run.checkpoint_path("last").read_bytes()
    run.checkpoint_path("last").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(run.checkpoint_path("last"))
    with pytest.raises(CheckpointError, match="damaged"):
        train(resume_config(run, {"run.epochs": 2}), resume=run.path)

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "facegan-checkpoint", "G": Payload()}))
    torch.save({"format": "facegan-checkpoint", "x": Payload()}, tmp_path / "evil2.pt")
    for path in (evil, tmp_path / "evil2.pt"):
        with pytest.raises(CheckpointError, match="refused"):
            load_checkpoint(path)
    assert not marker.exists()


def test_arch_command_json_shapes():
    from .helpers import run_cli
    res = run_cli("arch", "--preset", "dcgan-paper", "--resolution", "64", "--json")
    arch = json.loads(res.stdout)
    assert arch["generator"]["layers"][-1]["output_shape"] == [3, 64, 64]
    assert arch["discriminator"]["params"] == 2765568 and arch["generator"]["params"] == 3576704
    text = run_cli("arch", "--preset", "faces-128").stdout
    assert "[3, 128, 128]" in text or "3x128x128" in text.replace(" ", "") or "3, 128, 128" in text


def test_live_metrics_are_logged_and_best_follows_fid(tmp_path):
    cfg = tiny(tmp_path, extra=["epochs=3", "metrics_every=1", "metrics_n=64", "metrics_features=lite0"])
    control = Control()
    first = train(cfg, control=control, on_event=_stop_at(13, control))  # stops in epoch 3
    run = RunDir(first.run_dir)
    train(resume_config(run), resume=run.path)
    records = [r for r in run.read_metrics() if r["kind"] == "metrics"]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert all(r["features"] == "lite0" and r["n"] == 64 and r["fid"] > 0 and "kid" in r for r in records)
    best = min(records, key=lambda r: r["fid"])
    ckpt = load_checkpoint(run.checkpoint_path("best"))
    assert ckpt["epoch"] == best["epoch"]
    assert [h["fid"] for h in load_checkpoint(run.checkpoint_path("last"))["metric_history"]] == \
        [r["fid"] for r in records]


PAUSE_S = 4.0


def test_images_per_s_leaves_pauses_out(tmp_path):
    import threading
    control = Control()

    def on_event(kind, record):
        if kind == "log" and record["step"] == 3:
            control.pause()
            threading.Timer(PAUSE_S, control.resume).start()
    cfg = tiny(tmp_path, extra=["epochs=1"])
    run = RunDir(train(cfg, control=control, on_event=on_event).run_dir)
    rates = {r["step"]: r["images_per_s"] for r in step_records(run)}
    # Counting the pause would make step 4 last over PAUSE_S; a tiny step takes milliseconds here, and
    # took over 0.5 s once with a 2-thread benchmark beside the suite on 2 cores, so half of a 4 s pause
    # tells the two apart with margin on any machine of this kind.
    assert cfg.optim.batch_size / rates[4] < PAUSE_S / 2, rates


def test_a_checkpoint_asked_for_mid_epoch_is_taken_after_the_step_in_flight(tmp_path):
    control, seen = Control(), []

    def on_event(kind, record):
        if kind == "log" and record["step"] == 3:
            control.request_checkpoint()
        if kind == "checkpoint":
            seen.append(record["step"])
    train(tiny(tmp_path, extra=["epochs=1", "checkpoint_minutes=0"]), control=control, on_event=on_event)
    assert seen == [3, 6]  # asked for while step 3 was logged: taken at once, mid-epoch; then the epoch end's


def test_sigusr1_saves_a_checkpoint_and_training_goes_on(tmp_path):
    run_dir = tmp_path / "usr1"
    proc = cli_train(run_dir, epochs=1, faces=1024, checkpoint_minutes=0, stderr=subprocess.PIPE)
    run = RunDir(run_dir)
    deadline = time.time() + 120
    while time.time() < deadline and not (run.metrics_path.exists() and len(step_records(run)) >= 3):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGUSR1)
    while time.time() < deadline and not run.checkpoint_path("last").exists():
        time.sleep(0.02)
    saved_at = load_checkpoint(run.checkpoint_path("last"))["step"]
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert 3 <= saved_at < 64  # mid-epoch: the epoch has 64 steps
    assert load_checkpoint(run.checkpoint_path("last"))["step"] == 64  # and it went on to the end
