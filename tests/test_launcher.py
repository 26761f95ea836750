"""Multi-GPU jobs (facegan.launcher): the dashboard's torchrun job, run here on 2 gloo CPU processes
(no GPU): it is watched through the run folder, stops with a checkpoint, resumes, and fails with
facegan's own message. The checks of the process count and the run-folder reader run without processes."""

import json
import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from facegan import job, launcher
from facegan.errors import FaceganError
from facegan.training.run_check import check_run
from facegan.training.run_dir import RunDir

from . import helpers
from .helpers import ROOT, tiny

DEADLINE = 240.0  # seconds: torchrun and two processes importing torch on a busy 2-core machine


def wait_for(predicate, what: str, timeout: float = DEADLINE):
    return helpers.wait_for(predicate, what, timeout, 0.1)


@pytest.fixture(autouse=True)
def _empty_registry(job_registry):
    pass


def test_the_number_of_processes_is_checked_before_anything_starts():
    cuda16 = tiny("device=auto")
    launcher.check_processes(cuda16, 1, gpus=0)  # one process is the ordinary thread job
    launcher.check_processes(cuda16, 4, gpus=4)
    with pytest.raises(FaceganError, match="3 processes need 3 CUDA GPUs; this machine has 2"):
        launcher.check_processes(cuda16, 3, gpus=2)
    with pytest.raises(FaceganError, match="batch_size 16 is the global batch and must divide evenly among the 3"):
        launcher.check_processes(cuda16, 3, gpus=8)
    with pytest.raises(FaceganError, match="at least 1"):
        launcher.check_processes(cuda16, 0)
    launcher.check_processes(tiny(), 2, gpus=0)  # CPU processes (gloo): for trying it out without GPUs
    with pytest.raises(FaceganError, match="must divide"):
        job.start(tiny(), processes=3)
    assert job.status().state == "idle"


def test_the_torchrun_command_for_a_new_run_and_for_a_resume(tmp_path):
    new = launcher.torchrun_command(tmp_path / "run", 4, config_path=tmp_path / "c.json")
    assert new[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m"]
    assert new[6:] == ["facegan", "train", "--run-dir", str(tmp_path / "run"), "--config", str(tmp_path / "c.json")]
    again = launcher.torchrun_command(tmp_path / "run", 2, resume_epochs=9)
    assert again[6:] == ["facegan", "train", "--run-dir", str(tmp_path / "run"), "--resume", "--epochs", "9"]


def test_the_run_folder_tail_gives_trainer_events_and_rereads_a_trimmed_log(tmp_path):
    from facegan.training import records as rec
    path = tmp_path / "run"
    tail = launcher.RunFolderTail(path, world=2, since=1.0)
    assert tail.events() == []  # rank 0 has not created the folder yet
    cfg = tiny("epochs=3", f"run_dir={path}")
    run = RunDir.create(cfg, {"kept": 70, "source": "synthetic"})
    assert tail.events() == []  # no start record yet: the processes are still preparing
    # 70 images in 2 shards of 35, 8 per rank a step: 4 steps an epoch
    start = {**rec.start(cfg, resumed=False, step=0, epochs_done=0, world=2, device="cpu", images=70,
                         steps_per_epoch=4), "time": 2.0}
    records = [start]
    records += [{"epoch": 1, "step": s, "time": 2.0, "kind": "step", "loss_d": 1.0, "images_per_s": 50.0}
                for s in (1, 2, 3, 4)]
    records += [{"epoch": 1, "step": 4, "time": 2.0, "kind": "epoch", "sample": "samples/epoch_0001.png"},
                {**rec.checkpoint(1, 1, 4, ["last.pt"]), "time": 2.0},
                {"epoch": 2, "step": 4, "time": 2.0, "kind": "warning", "message": "D is winning"}]
    lines = [json.dumps(r) for r in records]
    with open(run.metrics_path, "w") as f:
        f.write("\n".join(lines[:4]) + "\n" + lines[4][:10])  # a line half written
    events = tail.events()
    assert [(k, r["step"]) for k, r in events] == [("start", 0), ("log", 1), ("log", 2), ("log", 3)]
    assert events[0][1]["total_steps"] == 12 and events[0][1]["run_dir"] == str(path)
    assert "2 processes" in events[0][1]["device"]
    with open(run.metrics_path, "a") as f:
        f.write(lines[4][10:] + "\n" + "\n".join(lines[5:]) + "\n")
    events = tail.events()
    assert [k for k, _ in events] == ["log", "epoch", "checkpoint", "warning"]
    assert events[1][1]["sample_path"] == str(path / "samples" / "epoch_0001.png")
    assert tail.events() == []
    # A resume trims the log by writing a new file: it is read again from the top.
    tmp = run.path / "m.tmp"
    tmp.write_text("\n".join(lines[:3]) + "\n")
    os.replace(tmp, run.metrics_path)
    assert [(k, r["step"]) for k, r in tail.events()] == [("start", 0), ("log", 1), ("log", 2)]

    # A resume's watcher: what the log held before it launched is history, not events, also when the
    # resume's trim rewrites the log; from the resumed processes' start record on, records are events.
    old = [{**r, "time": 0.5} for r in records]
    tmp.write_text("\n".join(json.dumps(r) for r in old) + "\n")
    os.replace(tmp, run.metrics_path)
    resumed = launcher.RunFolderTail(path, world=2, since=1.0)
    assert resumed.events() == []
    tmp.write_text("\n".join(json.dumps(r) for r in old[:6]) + "\n")
    os.replace(tmp, run.metrics_path)
    again = {**rec.start(cfg, resumed=True, step=4, epochs_done=1, world=2, device="cpu", images=70,
                         steps_per_epoch=4), "time": 3.0}
    with open(run.metrics_path, "a") as f:
        f.write(json.dumps(again) + "\n")
        f.write(json.dumps({"epoch": 2, "step": 5, "time": 3.0, "kind": "step", "loss_d": 1.0}) + "\n")
    events = resumed.events()
    assert [(k, r["step"]) for k, r in events] == [("start", 4), ("log", 5)]
    assert events[0][1]["epochs_done"] == 1


@pytest.mark.slow
def test_a_torchrun_job_is_watched_stopped_with_a_checkpoint_and_resumed_to_the_end(tmp_path):
    run = tmp_path / "ddp"
    handle = job.start(tiny("epochs=200", f"run_dir={run}"), processes=2)
    assert isinstance(handle, launcher.TorchrunJob)
    s = job.status()
    assert s.run_dir == str(run) and s.processes == 2 and not s.can_pause  # known before the folder exists
    with pytest.raises(job.JobBusy):
        job.start(tiny("epochs=1", f"run_dir={tmp_path / 'other'}"))
    s = wait_for(lambda: (s := job.status()).state == "running" and s.step >= 3 and s, "training to run")
    assert s.total_steps == 200 * 4 and s.epochs == 200 and "2 processes" in s.device
    assert set(s.losses) >= {"loss_d", "loss_g"} and s.images_per_s > 0

    def controls():
        from dashboard.job_panel import job_controls
        from facegan import job
        job_controls(job.status(), key="t")
    at = AppTest.from_function(controls, default_timeout=60).run()
    assert at.button(key="t_pause").disabled and "cannot pause" in at.button(key="t_pause").help
    assert handle.pause().state == "running"  # a no-op, never a paused job holding two processes

    handle.stop(wait=DEADLINE)
    s = job.status()
    assert s.state == "stopped", s
    stopped_at = s.step
    assert RunDir(run).checkpoint_path("last").is_file() and (run / launcher.LOG_NAME).is_file()
    assert not handle.staging.exists()
    assert check_run(run).ok, check_run(run).problems

    until = stopped_at // 4 + 2
    job.start(tiny(f"epochs={until}", f"run_dir={run}"), resume=run, processes=2)
    s = wait_for(lambda: (s := job.status()).state in job.END_STATES and s, "the resumed run to end")
    assert s.state == "finished", s.error
    assert (s.step, s.epoch, s.progress) == (until * 4, until, 1.0)
    assert s.latest_grid == str(run / "samples" / f"epoch_{until:04d}.png")
    check = check_run(run, epochs=until)
    assert check.ok, check.problems
    with pytest.raises(FaceganError, match="only run.epochs"):
        job.start(tiny(f"epochs={until + 1}", f"run_dir={run}", "log_every=2"), resume=run, processes=2)


@pytest.mark.slow
def test_a_failing_torchrun_job_shows_facegans_error_line(tmp_path):
    job.start(tiny("epochs=1", "data.source=/nonexistent/faces", f"run_dir={tmp_path / 'run'}"), processes=2)
    s = wait_for(lambda: (s := job.status()).state in job.END_STATES and s, "the job to fail")
    assert s.state == "failed"
    head, _, details = s.error.partition("\n\n")
    assert "/nonexistent/faces" in head and "does not exist" in head and "Traceback" not in head
    assert details.strip()  # the processes' output, for the technical details
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_torchrun_job_is_stopped_with_a_checkpoint_when_its_process_exits(tmp_path):
    """The dashboard server exiting (here: a Python that started a job and returns) leaves no processes."""
    run = tmp_path / "run"
    script = f"""
import time
from facegan import job
from facegan.presets import from_preset
h = job.start(from_preset("dcgan-paper", {[*helpers.TINY, "epochs=500", f"run_dir={run}"]!r}), processes=2)
end = time.monotonic() + {DEADLINE}
while job.status().step < 3 and time.monotonic() < end:
    time.sleep(0.2)
print(h.proc.pid, job.status().step, flush=True)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=2 * DEADLINE)
    assert out.returncode == 0, out.stderr[-3000:]
    pid, step = map(int, out.stdout.split())
    assert step >= 3
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    check = check_run(run)
    assert check.ok and check.last_step >= step, check.problems
