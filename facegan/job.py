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

import logging
import threading
import traceback
from pathlib import Path
from typing import Callable

from .config import Config
from .errors import FaceganError
from .job_status import END_STATES, LIVE_STATES, MAX_WARNINGS, BackgroundJob, JobBusy, JobStatus  # noqa: F401
from .launcher import TorchrunJob, check_processes
from .training.run_dir import RunDir
from .training.trainer import Control, resume_config, train

log = logging.getLogger(__name__)


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


class ThreadJob(BackgroundJob):
    """A job whose training is :func:`train` in a thread of this process."""

    def __init__(self, job_id: int, cfg: Config, resume: Path | None):
        super().__init__(job_id, cfg, resume, control=_JobControl())

    @property
    def parked(self) -> bool:
        return self.control.parked

    def run(self) -> None:
        try:
            result = train(self.cfg, resume=self.resume_from, control=self.control, on_event=self.tracker.apply,
                           prepare_progress=lambda done, total: self.tracker.update(preparing=(done, total)))
        except FaceganError as e:
            self.tracker.finish("failed", error=str(e))
        except BaseException as e:  # a bug: keep all of it, the person needs the traceback to report it
            log.error("training job %s failed", self.tracker.get().job_id, exc_info=True)
            self.tracker.finish("failed", error=f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        else:
            self.tracker.finish("stopped" if result.stopped else "finished", step=result.step)


class _Registry:
    """The process's one job slot."""

    def __init__(self):
        self.lock = threading.Lock()
        self.job: BackgroundJob | None = None
        self.next_id = 1

    def start(self, make: Callable[[int], BackgroundJob]) -> BackgroundJob:
        """Start ``make(job_id)``'s job unless another is live."""
        with self.lock:
            if self.job is not None and (busy := self.job.status()).live:
                raise JobBusy(f"a training job is already {busy.state}: {self.job.describe()}; stop it "
                              "or wait for it to finish before starting another")
            job = make(self.next_id)
            self.next_id += 1
            job.launch()  # may raise (no threads left): then the slot stays as it was
            self.job = job
            return job


_REGISTRY = _Registry()


def start(cfg: Config | None, *, resume: str | Path | None = None, processes: int = 1) -> BackgroundJob:
    """Start training ``cfg`` in the background, or continue the run folder ``resume`` (then ``cfg`` may
    be None for the run's own configuration, or differ from it only in what a resume may change, such
    as run.epochs). ``processes > 1`` trains on that many GPUs with torchrun (see :mod:`facegan.launcher`).
    Raises :class:`JobBusy` while another job is live, and a FaceganError at once for a resume or a
    number of processes that cannot work; everything that goes wrong later ends the job 'failed'."""
    if resume is not None:
        resume = Path(resume).expanduser()
        run = RunDir.open(resume)
        cfg = resume_config(run, cfg, processes)
    elif cfg is None:
        raise FaceganError("start needs a configuration, or a run folder to resume")
    if processes == 1:
        return _REGISTRY.start(lambda job_id: ThreadJob(job_id, cfg, resume))
    check_processes(cfg, processes)
    return _REGISTRY.start(lambda job_id: TorchrunJob(job_id, cfg, resume, processes))


def current() -> BackgroundJob | None:
    """The live job, or else the most recent one (so a reload or another tab sees the same job)."""
    with _REGISTRY.lock:
        return _REGISTRY.job


def status() -> JobStatus:
    """The current job's status; state 'idle' when none has started in this process."""
    job = current()
    return job.status() if job is not None else JobStatus()


def reset(timeout: float = 30.0) -> None:
    """Stop a live job (waiting up to ``timeout`` s for its checkpoint) and empty the registry, so the
    next :func:`start` begins afresh. The tests call it between tests."""
    job = current()
    if job is not None:
        job.stop(wait=timeout)
        job.resume()
    with _REGISTRY.lock:
        _REGISTRY.job = None
