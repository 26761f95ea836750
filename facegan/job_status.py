"""What a background training job is doing, as pages see it, and what every kind of job has in common.

:class:`JobStatus` is an immutable snapshot. :class:`StatusTracker` folds the trainer's events into it;
an event is a record of the run's log (``facegan/training/records.py``) under the name ``train()``'s
``on_event`` gives it ('log' for a 'step' record). A thread job hears them from ``train()`` itself; a
torchrun job reads the same records back from the run folder. Either way one function decides what they
mean. :class:`BackgroundJob` is the public interface both kinds implement (:mod:`facegan.job` runs
training in a thread, :mod:`facegan.launcher` in torchrun processes): launch, status, pause, resume,
stop, join, describe.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .config import Config
from .errors import FaceganError
from .training import records
from .training.run_dir import RunDir
from .training.trainer import Control

LIVE_STATES = frozenset({"starting", "running", "paused", "stopping"})
END_STATES = frozenset({"stopped", "finished", "failed"})
MAX_WARNINGS = 50   # health warnings are once per kind, so this only bounds a pathological run
RATE_WINDOW = 20    # log records that images/s and the ETA are averaged over


class JobBusy(FaceganError):
    """A training job is already running in this process; stop it (or let it finish) first."""


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of the job. Immutable (``losses`` is a read-only mapping, ``warnings`` a tuple), so
    any thread may keep and read it while training goes on."""

    state: str = "idle"  # 'idle' (no job yet), then 'starting', 'running', 'paused', 'stopping',
    #                      and finally 'stopped', 'finished' or 'failed'
    job_id: int = 0      # grows by one per start: a page can tell a new job from the one it showed
    preset: str | None = None
    run_dir: str | None = None  # known once the run folder exists (after data preparation)
    device: str | None = None
    images: int | None = None  # images in the prepared data set
    preparing: tuple[int, int] | None = None  # (done, total) while the data cache is being built
    epoch: int = 0       # 1-based epoch the latest step belongs to, as in metrics.jsonl
    epochs: int = 0
    step: int = 0        # as of the latest log record, epoch end or checkpoint (every run.log_every)
    total_steps: int = 0
    progress: float = 0.0  # step / total_steps, 0..1
    images_per_s: float | None = None  # over the last RATE_WINDOW log records, pauses left out
    eta_seconds: float | None = None   # remaining steps at that rate; None when not known
    losses: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # records.losses
    latest_grid: str | None = None     # the newest epoch's sample grid
    checkpoint_step: int | None = None  # step of the newest checkpoint: where a resume would start
    warnings: tuple[str, ...] = ()     # the newest MAX_WARNINGS messages
    warning_count: int = 0
    parked: bool = False  # paused and the training thread is actually waiting (the step in flight is done)
    processes: int = 1    # > 1: a multi-GPU job, trained by torchrun processes (facegan.launcher)
    can_pause: bool = True  # torchrun jobs cannot pause (their ranks would hold the GPUs in a collective)
    error: str | None = None  # a FaceganError's message; anything else also carries its traceback
    started_at: float | None = None   # time.time()
    finished_at: float | None = None

    @property
    def live(self) -> bool:
        """The job holds the registry: no other job may start."""
        return self.state in LIVE_STATES


class StatusTracker:
    """A job's latest :class:`JobStatus`, changed only through its methods (under a lock), read by
    :meth:`get` from any thread. ``apply`` is the one place that turns the trainer's events into status."""

    def __init__(self, status: JobStatus, batch_size: int):
        self._lock = threading.Lock()
        self._status = status
        # Rate bookkeeping, touched only by the thread that applies events.
        self._rates: deque[tuple[int, float]] = deque(maxlen=RATE_WINDOW)  # (steps, seconds per image)
        self._last_log_step = 0
        self._batch = batch_size

    def get(self) -> JobStatus:
        with self._lock:
            return self._status

    def update(self, **changes) -> JobStatus:
        with self._lock:
            self._status = dataclasses.replace(self._status, **changes)
            return self._status

    def apply(self, kind: str, rec: dict) -> None:
        """Fold one of ``train()``'s events into the status ('start', 'log', 'epoch', 'warning',
        'checkpoint', 'end'; others are ignored)."""
        if kind == "start":
            run = RunDir(rec["run_dir"])
            samples = run.samples()  # a resumed run already has grids to show
            self._last_log_step = rec["step"]
            self._batch = min(self._batch, rec["images"]) or 1  # the loader's batch, as its images/s uses
            self.update(state="running", preparing=None, run_dir=str(run.path), device=rec["device"],
                        images=rec["images"], epochs=rec["epochs"], total_steps=rec["total_steps"],
                        step=rec["step"], epoch=min(rec["epochs_done"] + 1, rec["epochs"]),
                        latest_grid=str(samples[-1][1]) if samples else None,
                        **self._progress(rec["step"], rec["total_steps"]))
            return
        with self._lock:
            s = self._status
            if kind == "log":
                self._add_rate(rec["step"], rec.get("images_per_s"))
                s = dataclasses.replace(s, step=rec["step"], epoch=rec["epoch"],
                                        losses=MappingProxyType(records.losses(rec)),
                                        **self._progress(rec["step"], s.total_steps))
            elif kind == "epoch":
                s = dataclasses.replace(s, step=rec["step"], epoch=rec["epoch"], latest_grid=rec["sample_path"],
                                        **self._progress(rec["step"], s.total_steps))
            elif kind == "warning":
                s = dataclasses.replace(s, warnings=(s.warnings + (rec["message"],))[-MAX_WARNINGS:],
                                        warning_count=s.warning_count + 1)
            elif kind == "checkpoint":
                s = dataclasses.replace(s, checkpoint_step=rec["step"])
            elif kind == "end":
                s = dataclasses.replace(s, step=rec["step"])
            self._status = s

    def finish(self, state: str, *, error: str | None = None, step: int | None = None) -> None:
        """The job ended: 'stopped', 'finished' or 'failed' (with the error a person reads)."""
        changes: dict = {"state": state, "error": error, "finished_at": time.time(), "preparing": None,
                         "eta_seconds": None}
        with self._lock:
            if step is not None:
                total = self._status.total_steps
                changes.update(step=step, progress=min(1.0, step / total) if total else 0.0)
                if state == "finished":
                    changes.update(progress=1.0, eta_seconds=0.0)
            self._status = dataclasses.replace(self._status, **changes)

    def _add_rate(self, step: int, images_per_s) -> None:
        # The trainer's images/s already leaves out pauses and epoch-end work.
        steps, self._last_log_step = step - self._last_log_step, step
        if steps <= 0 or not images_per_s or not math.isfinite(images_per_s) or images_per_s <= 0:
            return
        self._rates.append((steps, 1.0 / images_per_s))

    def _progress(self, step: int, total: int) -> dict:
        """progress, images/s and ETA at ``step`` of ``total`` from the recent log records."""
        out: dict = {"progress": min(1.0, step / total) if total else 0.0}
        if self._rates:
            steps = sum(n for n, _ in self._rates)
            seconds_per_image = sum(n * spi for n, spi in self._rates) / steps
            out["images_per_s"] = 1.0 / seconds_per_image
            out["eta_seconds"] = max(0, total - step) * self._batch * seconds_per_image
        return out


class BackgroundJob:
    """One training job running beside the dashboard: its configuration, its Control, a thread that
    runs :meth:`run` (training itself, or watching the processes that train), and its status.
    Subclasses implement :meth:`run`, which applies events to ``tracker`` and ends with
    ``tracker.finish``."""

    def __init__(self, job_id: int, cfg: Config, resume: Path | None, control: Control | None = None):
        self.cfg, self.resume_from = cfg, resume
        self.control = control or Control()
        self.tracker = StatusTracker(JobStatus(state="starting", job_id=job_id, preset=cfg.preset,
                                               run_dir=str(resume) if resume else None, epochs=cfg.run.epochs,
                                               started_at=time.time()), cfg.optim.batch_size)
        self.thread = threading.Thread(target=self.run, name=f"facegan-job-{job_id}", daemon=True)

    def run(self) -> None:
        raise NotImplementedError

    # -- the interface pages and the registry use ------------------------------------------------------
    def launch(self) -> None:
        """Start the job's thread (may raise when no thread can be started)."""
        self.thread.start()

    def status(self) -> JobStatus:
        s = self.tracker.get()
        if s.state not in ("starting", "running"):
            return s
        if self.control.stopping:
            return dataclasses.replace(s, state="stopping")
        if self.control.paused:
            return dataclasses.replace(s, state="paused", parked=self.parked)
        return s

    @property
    def parked(self) -> bool:
        """Whether a paused job is actually waiting (the step in flight done)."""
        return False

    def pause(self) -> JobStatus:
        """Pause after the step in flight (``status().parked`` says when that has happened)."""
        # Control.pause after Control.stop would park a stopping run for good: stop wins.
        if self.status().state in ("starting", "running"):
            self.control.pause()
        return self.status()

    def resume(self) -> JobStatus:
        self.control.resume()
        return self.status()

    def stop(self, wait: float | None = None) -> JobStatus:
        """Stop after the step in flight, writing a checkpoint the run can be resumed from (a paused
        run wakes up to stop). ``wait``: seconds to wait for the job to end; None returns at once."""
        if self.status().live:
            self.control.stop()
        if wait is not None:
            self.join(wait)
        return self.status()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def describe(self) -> str:
        """Which run the job trains, for messages."""
        s = self.tracker.get()
        if s.run_dir:
            return f"run {s.run_dir}"
        if self.cfg.run.run_dir:
            return f"run {self.cfg.run.run_dir} (still preparing its data)"
        return f"a new '{self.cfg.preset}' run under {self.cfg.run.runs_root} (still preparing its data)"
