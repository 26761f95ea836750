"""Multi-GPU training from the dashboard: a job whose training runs as a ``torchrun`` subprocess (one
process per GPU) instead of a thread of the dashboard's process.

The dashboard cannot host DDP itself: every rank must be its own process. So :class:`TorchrunJob` starts
``python -m torch.distributed.run --standalone --nproc_per_node=K -m facegan train …`` in a process group
of its own, and a watcher thread reads back the records rank 0 writes into the run folder's metrics.jsonl
(``facegan/training/records.py``): the same records a thread job hears from
:func:`~facegan.training.trainer.train`, folded into status by the same
:class:`~facegan.job_status.StatusTracker`. Stop sends SIGINT to the group (the ranks
agree on a step and rank 0 checkpoints), then SIGTERM and SIGKILL if it does not end. A torchrun job
cannot pause: the ranks would sit in a collective, holding the GPUs.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import devices
from .config import Config
from .errors import FaceganError
from .job_status import BackgroundJob, JobStatus
from .training.run_dir import RunDir

LOG_NAME = "torchrun.log"   # the processes' output; copied into the run folder when the job ends
CONFIG_NAME = "torchrun-config.json"
POLL_S = 0.5                # how often the watcher reads the run folder
STOP_GRACE_S = 120.0        # after SIGINT (then SIGTERM), how long before the next, harder signal
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
PREFIX = "facegan: error: "  # how the command line starts its one-line messages
EVENT = {"step": "log"}      # the name train()'s on_event gives a record kind, where it differs


def check_processes(cfg: Config, processes: int, gpus: int | None = None) -> None:
    """Raise a FaceganError unless ``cfg`` can train on ``processes`` torchrun processes here: at most one
    per GPU (CPU processes, for trying it out, need run.device 'cpu'), and a global batch they share evenly."""
    if processes < 1:
        raise FaceganError(f"the number of processes must be at least 1, not {processes}")
    if processes == 1:
        return
    gpus = devices.gpu_count() if gpus is None else gpus
    if cfg.run.device != "cpu" and processes > gpus:
        raise FaceganError(f"{processes} processes need {processes} CUDA GPUs; this machine has {gpus}")
    if cfg.optim.batch_size % processes:
        raise FaceganError(f"optim.batch_size {cfg.optim.batch_size} is the global batch and must divide evenly "
                           f"among the {processes} processes; choose a multiple of {processes}")


def torchrun_command(run_dir: Path, nproc: int, *, config_path: Path | None = None,
                     resume_epochs: int | None = None) -> list[str]:
    """The torchrun command line: a new run from ``config_path``, or (``resume_epochs``) a resume of
    ``run_dir`` until that epoch."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "facegan", "train", "--run-dir", str(run_dir)]
    if resume_epochs is not None:
        return [*cmd, "--resume", "--epochs", str(resume_epochs)]
    return [*cmd, "--config", str(config_path)]


def launch(cfg: Config, run_dir: Path, nproc: int, staging: Path, *, resume: bool = False) -> subprocess.Popen:
    """Start the torchrun job in its own process group, from the folder facegan is imported from, with
    its output in ``staging/torchrun.log`` (RunDir.create refuses a run folder that already holds files,
    so neither the log nor the config may go in ``run_dir`` before rank 0 creates it)."""
    staging.mkdir(parents=True, exist_ok=True)
    if resume:
        cmd = torchrun_command(run_dir, nproc, resume_epochs=cfg.run.epochs)
    else:
        config_path = staging / CONFIG_NAME
        config_path.write_text(cfg.to_json(), encoding="utf-8")
        cmd = torchrun_command(run_dir, nproc, config_path=config_path)
    # `-m facegan` must import this very package, wherever the dashboard was started from.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                                    os.environ.get("PYTHONPATH")]))}
    with open(staging / LOG_NAME, "ab") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)


class RunFolderTail:
    """Reads a run folder that another process is writing, as trainer events: from the 'start' record
    that process writes (one with a time at or after ``since``, the launch), every complete record after
    it, under the name ``train()``'s ``on_event`` gives it. A resume's trim rewrites the log before its
    start record: the file is then read again from the top, and records from before ``since`` are skipped."""

    def __init__(self, run_dir: Path, world: int, since: float):
        self.run, self.world, self.since = RunDir(run_dir), world, since
        self.started = False
        self._offset, self._inode, self._partial = 0, None, b""

    def events(self) -> list[tuple[str, dict]]:
        out: list[tuple[str, dict]] = []
        for rec in self._new_records():
            kind = rec.get("kind")
            if rec.get("time", 0) < self.since:
                continue
            if kind == "start":
                self.started = True
                out.append(("start", {**rec, "run_dir": str(self.run.path),
                                      "device": f"{rec.get('device')} × {self.world} processes (torchrun)"}))
            elif self.started and kind == "epoch":
                out.append(("epoch", {**rec, "sample_path": str(self.run.path / rec["sample"])}))
            elif self.started and kind:
                out.append((EVENT.get(kind, kind), rec))
        return out

    def _new_records(self) -> list[dict]:
        path = self.run.metrics_path
        try:
            st = path.stat()
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._offset, self._inode, self._partial = 0, st.st_ino, b""
        if st.st_size == self._offset:
            return []
        with open(path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read(st.st_size - self._offset)
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")  # the last piece may be a line half written
        out = []
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out


class TorchrunJob(BackgroundJob):
    """A job whose training is ``processes`` torchrun processes. Start it through
    :func:`facegan.job.start` with ``processes > 1``."""

    def __init__(self, job_id: int, cfg: Config, resume: Path | None, processes: int):
        super().__init__(job_id, cfg, resume)
        self.processes = processes
        self.run_path = resume if resume is not None else RunDir.new_path(cfg)
        self.staging = Path(tempfile.mkdtemp(prefix="facegan-torchrun-"))
        self.proc: subprocess.Popen | None = None
        self.ended: dict | None = None  # the run's 'end' record, once rank 0 has written it
        self.tracker.update(run_dir=str(self.run_path), processes=processes, can_pause=False)

    def pause(self) -> JobStatus:
        """Not possible (see the module's note); the job goes on."""
        return self.status()

    def run(self) -> None:
        launched = time.time()
        try:
            self.proc = launch(self.cfg, self.run_path, self.processes, self.staging,
                               resume=self.resume_from is not None)
        except OSError as e:
            self.tracker.finish("failed", error=f"could not start torchrun: {e}")
            return
        # The processes live in a session of their own, so nothing else ends them with the dashboard.
        atexit.register(self._stop_at_exit)
        tail = RunFolderTail(self.run_path, self.processes, since=launched)
        signals, next_signal_at = iter(STOP_SIGNALS), 0.0
        while True:
            code = self.proc.poll()
            for kind, rec in tail.events():
                self.tracker.apply(kind, rec)
                if kind == "end":
                    self.ended = rec
            if code is not None:
                break
            if self.control.stopping and time.monotonic() >= next_signal_at:
                self._signal(next(signals, signal.SIGKILL))
                next_signal_at = time.monotonic() + STOP_GRACE_S
            time.sleep(POLL_S)
        self._end(code)

    def _stop_at_exit(self) -> None:
        """When this Python exits (the dashboard server stops), stop a live job as Stop would: SIGINT, a
        checkpoint, then harder signals. This thread (a daemon) is gone by then, so this waits itself."""
        for sig in STOP_SIGNALS:
            if self.proc.poll() is not None:
                return
            self._signal(sig)
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                continue

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def _end(self, code: int) -> None:
        """The final state from the run's 'end' record (torchrun itself exits non-zero after a SIGINT
        even when the ranks stopped cleanly); the processes' output says why when there is none."""
        atexit.unregister(self._stop_at_exit)
        log = log_tail(self.staging / LOG_NAME, 400)
        self._keep_log()
        end = self.ended or {}
        if end.get("state") in ("finished", "stopped"):
            self.tracker.finish(end["state"], step=end["step"])
            return
        head = end.get("reason") or error_line(log) or (
            f"training was stopped before it saved anything (torchrun exited {code})" if self.control.stopping
            else f"torchrun exited with status {code}")
        details = "\n".join(log.splitlines()[-40:])
        self.tracker.finish("failed", error=f"{head}\n\n{details}")

    def _keep_log(self) -> None:
        """Append this job's output to the run folder's torchrun.log (when the run folder exists) and
        remove the staging folder (kept when the copy fails)."""
        src = self.staging / LOG_NAME
        if (self.run_path / "config.json").is_file() and src.is_file():
            try:
                with open(src, "rb") as f, open(self.run_path / LOG_NAME, "ab") as out:
                    shutil.copyfileobj(f, out)
            except OSError:
                return
        shutil.rmtree(self.staging, ignore_errors=True)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def error_line(tail: str) -> str | None:
    """facegan's one-line error message among the processes' output (each rank prints the same one)."""
    for line in tail.splitlines():
        if line.startswith(PREFIX):
            return line[len(PREFIX):]
    return None
