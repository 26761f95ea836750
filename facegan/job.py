"""The training job the dashboard drives: one :func:`~facegan.training.trainer.train` at a time, in a
background thread, that any page or browser tab can start, watch, pause, resume and stop.

``_REGISTRY`` is the one piece of module-level state in facegan, on purpose. Streamlit re-runs a page
script from the top on every click and gives every browser tab its own session, so anything a script
creates dies with that re-run or session; a training run must outlive them all (a reload, a second tab,
a closed tab), and there must be only one per process, since two runs would fight over one GPU. So the
job lives here, behind a lock, and every session reaches the same one through :func:`current`.

The training thread never touches Streamlit: it only updates the job's state under a lock, and pages
read immutable :class:`JobStatus` snapshots whenever they re-run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

from .config import SECTIONS, Config
from .errors import FaceganError
from .training.run_dir import RunDir
from .training.trainer import Control, TrainResult, resume_config, train

log = logging.getLogger(__name__)

LIVE_STATES = frozenset({"starting", "running", "paused", "stopping"})
END_STATES = frozenset({"stopped", "finished", "failed"})
MAX_WARNINGS = 50   # health warnings are once per kind, so this only bounds a pathological run
RATE_WINDOW = 20    # log records that images/s and the ETA are averaged over

# Keys of a 'log' record that say where and when, not how training goes.
_NOT_LOSSES = {"epoch", "step", "time", "kind", "images_per_s"}


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
    losses: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
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


class _JobControl(Control):
    """A Control that also knows whether training is actually parked in a pause (the step in flight is
    done), so the dashboard can say "paused" only once it is true."""

    def __init__(self):
        super().__init__()
        self._parked = False

    def wait_while_paused(self) -> None:
        # A pause requested after this check takes effect one step later, as train() promises anyway;
        # checking first keeps ``parked`` true for the whole of every wait.
        if not self.paused:
            return
        self._parked = True
        try:
            super().wait_while_paused()
        finally:
            self._parked = False

    @property
    def parked(self) -> bool:
        return self._parked and self.paused


class JobHandle:
    """One training job: the thread running :func:`train`, its Control, and its latest status."""

    def __init__(self, job_id: int, cfg: Config, resume: Path | None):
        self._cfg, self._resume = cfg, resume
        self._control = _JobControl()
        self._lock = threading.Lock()
        self._status = JobStatus(state="starting", job_id=job_id, preset=cfg.preset,
                                 run_dir=str(resume) if resume else None, epochs=cfg.run.epochs,
                                 started_at=time.time())
        # Rate bookkeeping, touched only by the training thread (inside _on_event).
        self._rates: deque[tuple[int, float]] = deque(maxlen=RATE_WINDOW)  # (steps, seconds per image)
        self._last_log_step = 0
        self._batch = cfg.optim.batch_size
        self._thread = threading.Thread(target=self._run, name=f"facegan-job-{job_id}", daemon=True)

    # -- what pages call -----------------------------------------------------------------------------
    def status(self) -> JobStatus:
        with self._lock:
            s = self._status
        if s.state not in ("starting", "running"):
            return s
        if self._control.stopping:
            return dataclasses.replace(s, state="stopping")
        if self._control.paused:
            return dataclasses.replace(s, state="paused", parked=self._control.parked)
        return s

    def pause(self) -> JobStatus:
        """Pause after the step in flight (``status().parked`` says when that has happened)."""
        # Control.pause after Control.stop would park a stopping run for good: stop wins.
        if self.status().state in ("starting", "running"):
            self._control.pause()
        return self.status()

    def resume(self) -> JobStatus:
        self._control.resume()
        return self.status()

    def stop(self, wait: float | None = None) -> JobStatus:
        """Stop after the step in flight, writing a checkpoint the run can be resumed from (a paused
        run wakes up to stop). ``wait``: seconds to wait for the thread to end; None returns at once."""
        if self.status().live:
            self._control.stop()
        if wait is not None:
            self.join(wait)
        return self.status()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the training thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            result = train(self._cfg, resume=self._resume, control=self._control, on_event=self._on_event,
                           prepare_progress=self._on_prepare)
        except FaceganError as e:
            self._finish("failed", error=str(e))
        except BaseException as e:  # a bug: keep all of it, the person needs the traceback to report it
            log.error("training job %s failed", self._status.job_id, exc_info=True)
            self._finish("failed", error=f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        else:
            self._finish("stopped" if result.stopped else "finished", result=result)

    def _update(self, **changes) -> None:
        with self._lock:
            self._status = dataclasses.replace(self._status, **changes)

    def _on_prepare(self, done: int, total: int) -> None:
        self._update(preparing=(done, total))

    def _on_event(self, kind: str, rec: dict) -> None:
        if kind == "start":
            run = RunDir(rec["run_dir"])
            samples = run.samples()  # a resumed run already has grids to show
            self._last_log_step = rec["step"]
            self._batch = min(self._batch, rec["images"]) or 1  # the loader's batch, as its images/s uses
            self._update(state="running", preparing=None, run_dir=str(run.path), device=rec["device"],
                         images=rec["images"], epochs=rec["epochs"], total_steps=rec["total_steps"],
                         step=rec["step"], epoch=min(rec["epochs_done"] + 1, rec["epochs"]),
                         latest_grid=str(samples[-1][1]) if samples else None,
                         **self._progress(rec["step"], rec["total_steps"]))
        elif kind == "log":
            losses = {k: float(v) for k, v in rec.items()
                      if k not in _NOT_LOSSES and isinstance(v, (int, float)) and not isinstance(v, bool)}
            self._add_rate(rec["step"], rec.get("images_per_s"))
            with self._lock:
                s = self._status
                self._status = dataclasses.replace(
                    s, step=rec["step"], epoch=rec["epoch"], losses=MappingProxyType(losses),
                    **self._progress(rec["step"], s.total_steps))
        elif kind == "epoch":
            with self._lock:
                s = self._status
                self._status = dataclasses.replace(
                    s, step=rec["step"], epoch=rec["epoch"], latest_grid=rec["sample_path"],
                    **self._progress(rec["step"], s.total_steps))
        elif kind == "warning":
            with self._lock:
                s = self._status
                self._status = dataclasses.replace(s, warnings=(s.warnings + (rec["message"],))[-MAX_WARNINGS:],
                                                   warning_count=s.warning_count + 1)
        elif kind == "checkpoint":
            self._update(checkpoint_step=rec["step"])
        elif kind == "end":
            self._update(step=rec["step"])

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

    def _finish(self, state: str, *, error: str | None = None, result: TrainResult | None = None) -> None:
        changes: dict = {"state": state, "error": error, "finished_at": time.time(), "preparing": None,
                         "eta_seconds": None}
        with self._lock:
            if result is not None:
                total = self._status.total_steps
                changes.update(step=result.step, progress=min(1.0, result.step / total) if total else 0.0)
                if state == "finished":
                    changes.update(progress=1.0, eta_seconds=0.0)
            self._status = dataclasses.replace(self._status, **changes)


class _Registry:
    """The process's one job slot."""

    def __init__(self):
        self.lock = threading.Lock()
        self.job: JobHandle | None = None
        self.next_id = 1

    def start(self, make: Callable[[int], JobHandle]) -> JobHandle:
        """Start ``make(job_id)``'s job unless another is live."""
        with self.lock:
            if self.job is not None and (busy := self.job.status()).live:
                raise JobBusy(f"a training job is already {busy.state}: {_describe(self.job, busy)}; stop it "
                              "or wait for it to finish before starting another")
            job = make(self.next_id)
            self.next_id += 1
            job._thread.start()  # may raise (no threads left): then the slot stays as it was
            self.job = job
            return job


_REGISTRY = _Registry()


def start(cfg: Config | None, *, resume: str | Path | None = None, processes: int = 1) -> JobHandle:
    """Start training ``cfg`` in the background, or continue the run folder ``resume`` (then ``cfg`` may
    be None for the run's own configuration, or differ from it only in what a resume may change, such
    as run.epochs). ``processes > 1`` trains on that many GPUs with torchrun (see :mod:`facegan.launcher`).
    Raises :class:`JobBusy` while another job is live, and a FaceganError at once for a resume or a
    number of processes that cannot work; everything that goes wrong later ends the job 'failed'."""
    if resume is not None:
        # train() itself does not check that the config it is given belongs to the run it resumes
        resume = Path(resume).expanduser()
        run = RunDir.open(resume)
        changed = _changed(run.config(), cfg) if cfg is not None else {}
        if processes > 1 and set(changed) - {"run.epochs"}:  # `train --resume` under torchrun takes --epochs only
            raise FaceganError("a multi-GPU resume can change only run.epochs")
        cfg = resume_config(run, changed)
    elif cfg is None:
        raise FaceganError("start needs a configuration, or a run folder to resume")
    if processes == 1:
        return _REGISTRY.start(lambda job_id: JobHandle(job_id, cfg, resume))
    from .launcher import TorchrunJob, check_processes
    check_processes(cfg, processes)
    return _REGISTRY.start(lambda job_id: TorchrunJob(job_id, cfg, resume, processes))


def current() -> JobHandle | None:
    """The live job, or else the most recent one (so a reload or another tab sees the same job)."""
    with _REGISTRY.lock:
        return _REGISTRY.job


def status() -> JobStatus:
    """The current job's status; state 'idle' when none has started in this process."""
    job = current()
    return job.status() if job is not None else JobStatus()


def _changed(base: Config, cfg: Config) -> dict[str, object]:
    """``{'section.key': value}`` of what ``cfg`` sets differently from ``base``."""
    old, new = base.to_dict(), cfg.to_dict()
    return {f"{s}.{k}": v for s in SECTIONS for k, v in new[s].items() if old[s].get(k) != v}


def _describe(job: JobHandle, s: JobStatus) -> str:
    if s.run_dir:
        return f"run {s.run_dir}"
    cfg = job._cfg
    if cfg.run.run_dir:
        return f"run {cfg.run.run_dir} (still preparing its data)"
    return f"a new '{cfg.preset}' run under {cfg.run.runs_root} (still preparing its data)"


def _reset_for_tests(timeout: float = 30.0) -> None:
    """Tests only: stop a live job, wait for it, and empty the registry."""
    job = current()
    if job is not None:
        job.stop(wait=timeout)
        job._control.resume()
    with _REGISTRY.lock:
        _REGISTRY.job = None
