"""The dashboard's training job: one background run per process, watched, paused, stopped and resumed.

Real runs are tiny (32 px, 64 synthetic faces, 4 steps an epoch); the tests that need exact numbers or
a run that waits for them drive the job with a scripted stand-in for train()."""

import ast
import threading
import time
from pathlib import Path

import pytest

from facegan import job
from facegan.errors import FaceganError
from facegan.training.checkpoint import load_checkpoint
from facegan.training.run_dir import RunDir
from facegan.training.trainer import TrainResult

from . import helpers
from .helpers import STEPS_PER_EPOCH

DEADLINE = 60.0


def tiny(run_dir: Path, epochs: int, *extra: str):
    return helpers.tiny(f"epochs={epochs}", f"run_dir={run_dir}", *extra)


def wait_for(predicate, what: str, timeout: float = DEADLINE, every: float = 0.005):
    return helpers.wait_for(predicate, what, timeout, every)


def finished(handle, timeout: float = DEADLINE) -> job.JobStatus:
    assert handle.join(timeout), f"job did not end within {timeout} s: {handle.status()}"
    return handle.status()


@pytest.fixture(autouse=True)
def _empty_registry(job_registry):
    pass


# -- real (tiny) runs -----------------------------------------------------------------------------------

def test_run_finishes_with_its_status_filled(tmp_path):
    assert job.current() is None and job.status().state == "idle"
    handle = job.start(tiny(tmp_path / "run", epochs=2))
    assert job.current() is handle
    s = finished(handle)
    assert s.state == "finished", s.error
    assert s.error is None
    assert s.progress == 1.0
    assert s.step == s.total_steps == 2 * STEPS_PER_EPOCH
    assert s.epoch == s.epochs == 2
    assert s.run_dir == str(tmp_path / "run") and s.preset == "dcgan-paper"
    assert s.device == "cpu" and s.images == 64
    assert s.latest_grid == str(RunDir(tmp_path / "run").sample_path(2)) and Path(s.latest_grid).is_file()
    assert s.checkpoint_step == s.step
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(s.losses) and not {"step", "time"} & set(s.losses)
    assert s.images_per_s > 0 and s.eta_seconds == 0.0
    assert s.started_at <= s.finished_at
    assert not s.live and s.preparing is None and not s.parked
    assert job.status() == s and job.current() is handle  # a finished job stays visible to other sessions


def test_second_start_while_running_is_refused_naming_the_run(tmp_path):
    handle = job.start(tiny(tmp_path / "a", epochs=50))
    with pytest.raises(job.JobBusy, match=str(tmp_path / "a")):
        job.start(tiny(tmp_path / "b", epochs=1))
    wait_for(lambda: handle.status().state == "running", "the run to start")
    with pytest.raises(job.JobBusy, match=f"running: run {tmp_path / 'a'}"):
        job.start(tiny(tmp_path / "b", epochs=1))
    assert job.current() is handle and not (tmp_path / "b").exists()
    assert handle.stop(wait=DEADLINE).state == "stopped"


def test_pause_holds_the_step_and_resume_continues(tmp_path):
    handle = job.start(tiny(tmp_path / "run", epochs=50))
    wait_for(lambda: handle.status().step >= 2, "a few steps")
    before = handle.status().step
    assert handle.pause().state == "paused"
    parked = wait_for(lambda: (s := handle.status()).parked and s, "the step in flight to finish")
    assert parked.state == "paused" and parked.step <= before + 1
    time.sleep(0.5)
    held = handle.status()
    assert held.step == parked.step and held.state == "paused" and held.parked
    assert held.eta_seconds is not None and held.eta_seconds > 0

    assert handle.resume().state == "running"
    wait_for(lambda: handle.status().step >= held.step + 3, "training to go on after resume")
    assert not handle.status().parked
    handle.stop(wait=DEADLINE)


def stopped_run(run_dir: Path, epochs: int = 50, *, paused_first: bool = False) -> job.JobStatus:
    handle = job.start(tiny(run_dir, epochs))
    wait_for(lambda: handle.status().step >= 2, "a few steps")
    if paused_first:
        handle.pause()
        wait_for(lambda: handle.status().parked, "the pause to take effect")
    handle.stop()
    at_stop = handle.status()
    s = finished(handle)
    assert at_stop.state == "stopping"
    assert s.state == "stopped", s.error
    # The step in flight when stop() came is finished, then no more (none at all from a pause).
    assert at_stop.step <= s.step <= at_stop.step + (0 if paused_first else 1) < s.total_steps
    return s


def test_stop_takes_effect_within_a_step_and_checkpoints_it(tmp_path):
    s = stopped_run(tmp_path / "run")
    assert s.progress == pytest.approx(s.step / s.total_steps) and s.eta_seconds is None
    ckpt = load_checkpoint(RunDir(s.run_dir).checkpoint_path("last"))
    assert ckpt["step"] == s.step == s.checkpoint_step
    assert s.step == max(r["step"] for r in RunDir(s.run_dir).read_metrics())


def test_resume_continues_a_stopped_run_to_the_end(tmp_path):
    stopped = stopped_run(tmp_path / "run")
    run = RunDir(stopped.run_dir)
    # Only what a resume may change may differ from the run's own configuration.
    with pytest.raises(FaceganError, match="cannot change optim.lr_g"):
        job.start(tiny(tmp_path / "run", 50, "lr_g=0.001"), resume=stopped.run_dir)
    epochs = stopped.step // STEPS_PER_EPOCH + 2  # a short rest of the run, whatever step it stopped at
    handle = job.start(tiny(tmp_path / "run", epochs), resume=stopped.run_dir)
    s = finished(handle)
    assert s.state == "finished", s.error
    assert s.step == s.total_steps == epochs * STEPS_PER_EPOCH and s.progress == 1.0
    steps = [r["step"] for r in run.read_metrics() if r["kind"] == "step"]
    assert steps == list(range(1, s.total_steps + 1))  # continued from the checkpoint, not from scratch
    assert load_checkpoint(run.checkpoint_path("last"))["step"] == s.total_steps


def test_a_paused_run_stops_and_resumes_with_its_own_config(tmp_path):
    stopped = stopped_run(tmp_path / "run", epochs=4, paused_first=True)
    handle = job.start(None, resume=stopped.run_dir)
    assert handle.status().epochs == 4
    s = finished(handle)
    assert s.state == "finished", s.error
    assert s.step == s.total_steps == 4 * STEPS_PER_EPOCH
    assert s.latest_grid == str(RunDir(stopped.run_dir).sample_path(4))


def test_pause_after_stop_does_not_hold_the_stop(tmp_path):
    handle = job.start(tiny(tmp_path / "run", epochs=50))
    wait_for(lambda: handle.status().step >= 1, "a step")
    handle.stop()
    handle.pause()  # a plain Control would park the stopping run until someone resumed it
    assert finished(handle, timeout=20).state == "stopped"


def test_a_run_with_bad_input_fails_with_its_message_and_frees_the_registry(tmp_path):
    missing = tmp_path / "no-such-faces"
    handle = job.start(tiny(tmp_path / "bad", 1, f"data.source={missing}"))
    s = finished(handle)
    assert s.state == "failed" and not s.live
    assert str(missing) in s.error and "Traceback" not in s.error
    assert s.finished_at is not None
    ok = finished(job.start(tiny(tmp_path / "good", epochs=1)))
    assert ok.state == "finished" and ok.job_id == s.job_id + 1


# -- a scripted train() ---------------------------------------------------------------------------------

def test_an_unexpected_exception_keeps_its_traceback(tmp_path, monkeypatch):
    def broken_train(cfg, **kw):
        raise ValueError("the loss went sideways")
    monkeypatch.setattr(job, "train", broken_train)
    s = finished(job.start(tiny(tmp_path / "run", epochs=1)))
    assert s.state == "failed"
    assert s.error.startswith("ValueError: the loss went sideways")
    assert "Traceback" in s.error and "broken_train" in s.error
    monkeypatch.undo()
    assert finished(job.start(tiny(tmp_path / "run2", epochs=1))).state == "finished"


def test_racing_starts_make_exactly_one_job(tmp_path, monkeypatch):
    calls, release = [], threading.Event()

    def slow_train(cfg, *, control, **kw):
        calls.append(cfg)
        release.wait(DEADLINE)
        return TrainResult(tmp_path, 0, 0, stopped=False)
    monkeypatch.setattr(job, "train", slow_train)

    n = 16
    barrier, started, busy, other = threading.Barrier(n), [], [], []

    def click(i):
        cfg = tiny(tmp_path / f"run{i}", epochs=1)
        barrier.wait()
        try:
            started.append(job.start(cfg))
        except job.JobBusy as e:
            busy.append(e)
        except Exception as e:  # noqa: BLE001 - any other outcome is a failure to report
            other.append(e)
    threads = [threading.Thread(target=click, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert not other
    assert len(started) == 1 and len(busy) == n - 1
    assert job.current() is started[0]
    wait_for(lambda: calls, "the job's thread to call train")
    release.set()
    assert finished(started[0]).state == "finished"
    assert len(calls) == 1


def test_status_follows_the_events(tmp_path, monkeypatch):
    """Rates, ETA, losses, warnings and grids from a scripted run with known numbers."""
    go = [threading.Event() for _ in range(3)]
    reached = [threading.Event() for _ in range(3)]

    def checkpoint(i):
        reached[i].set()
        assert go[i].wait(DEADLINE)

    def scripted_train(cfg, *, resume, control, on_event, prepare_progress):
        prepare_progress(3, 10)
        checkpoint(0)
        on_event("start", {"run_dir": str(tmp_path), "epochs_done": 0, "step": 0, "device": "cpu",
                           "steps_per_epoch": 10, "total_steps": 100, "epochs": 10, "images": 160})
        for step in range(1, 11):  # 16 images a step at 160 img/s: 0.1 s a step
            on_event("log", {"epoch": 1, "step": step, "time": 0.0, "kind": "step", "loss_d": 0.5,
                             "loss_g": 2.0, "lr_g": 2e-4, "lr_d": 2e-4, "images_per_s": 160.0})
        for i in range(job.MAX_WARNINGS + 5):
            on_event("warning", {"epoch": 1, "step": 10, "time": 0.0, "kind": "warning", "message": f"w{i}"})
        on_event("checkpoint", {"epoch": 1, "step": 10})
        on_event("epoch", {"epoch": 1, "step": 10, "sample_path": str(tmp_path / "grid1.png")})
        checkpoint(1)
        control.wait_while_paused()
        # The trainer's rate leaves the pause out, so the speed stays what it was.
        on_event("log", {"epoch": 2, "step": 20, "time": 0.0, "kind": "step", "loss_d": 0.4,
                         "loss_g": 2.5, "images_per_s": 160.0})
        checkpoint(2)
        on_event("end", {"stopped": False, "epochs_done": 10, "step": 100})
        return TrainResult(tmp_path, 10, 100, stopped=False)
    monkeypatch.setattr(job, "train", scripted_train)

    handle = job.start(tiny(tmp_path / "run", epochs=10))
    assert reached[0].wait(DEADLINE)
    s = handle.status()
    assert (s.state, s.preparing, s.run_dir, s.eta_seconds, s.progress) == ("starting", (3, 10), None, None, 0.0)
    assert s.epochs == 10 and s.started_at is not None

    go[0].set()
    assert reached[1].wait(DEADLINE)
    s = handle.status()
    assert s.state == "running" and s.preparing is None and s.run_dir == str(tmp_path)
    assert (s.step, s.epoch, s.total_steps, s.progress) == (10, 1, 100, 0.1)
    assert s.images_per_s == pytest.approx(160.0)
    assert s.eta_seconds == pytest.approx(90 * 0.1)
    assert dict(s.losses) == {"loss_d": 0.5, "loss_g": 2.0}  # records.losses: learning rates are not losses
    assert s.latest_grid == str(tmp_path / "grid1.png") and s.checkpoint_step == 10
    assert s.warning_count == job.MAX_WARNINGS + 5 and len(s.warnings) == job.MAX_WARNINGS
    assert s.warnings[-1] == f"w{job.MAX_WARNINGS + 4}"
    with pytest.raises(TypeError):
        s.losses["loss_d"] = 0.0  # snapshots are read-only

    handle.pause()
    go[1].set()
    wait_for(lambda: handle.status().parked, "the scripted run to park")
    handle.resume()
    assert reached[2].wait(DEADLINE)
    s = handle.status()
    assert s.step == 20 and dict(s.losses) == {"loss_d": 0.4, "loss_g": 2.5}
    assert s.images_per_s == pytest.approx(160.0) and s.eta_seconds == pytest.approx(80 * 0.1)

    go[2].set()
    s = finished(handle)
    assert (s.state, s.step, s.progress, s.eta_seconds) == ("finished", 100, 1.0, 0.0)


def test_the_job_module_never_imports_streamlit():
    tree = ast.parse(Path(job.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m.split(".")[0] == "streamlit" for m in imported)
