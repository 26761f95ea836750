"""The training loop: a configuration and a data source in, a run folder a person can watch out.

Read :func:`train` top to bottom: set up (data, networks, optimisers, the step), maybe restore a
checkpoint, then epochs of steps; logging, sample grids, checkpoints and health checks hang off the loop
at fixed points. Everything a resume needs is in the checkpoint, and the batches of epoch ``e`` are a
pure function of ``(seed, e)``, so a resumed run continues exactly where the checkpoint left it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import Config
from ..data.cache import PreparedData, prepare
from ..data.loader import BatchLoader
from ..devices import amp_dtype, channels_last
from ..errors import FaceganError, first_line
from ..images import grid, save_png, to_uint8
from ..io import atomic_link
from ..models import build_networks
from ..models.sampling import sample
from . import distributed, records
from .checkpoint import load_checkpoint, load_weights, rng_state, save_checkpoint, set_rng_state
from .health import Health, TrainingDiverged, all_finite
from .run_dir import RunDir
from .step import GANStep, make_optimizers

Event = Callable[[str, dict], None]

# What a resume may change: how much longer to train and where/how verbosely. Anything else would make
# the continued run a different experiment from the one its config.json describes.
RESUMABLE_KEYS = {"run.epochs", "run.device", "run.log_every", "run.checkpoint_minutes",
                  "run.keep_checkpoints"}


class Control:
    """Pause, resume and stop a running :func:`train` from another thread (the dashboard's job), or ask
    it for a checkpoint now (the command line's SIGUSR1)."""

    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._checkpoint = threading.Event()

    def request_checkpoint(self) -> None:
        """Save the 'last' checkpoint after the step in flight (safe to call from a signal handler)."""
        self._checkpoint.set()

    def checkpoint_requested(self) -> bool:
        """Whether a checkpoint was asked for since the last call (which clears the request)."""
        if self._checkpoint.is_set():
            self._checkpoint.clear()
            return True
        return False

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        if not self._stop.is_set():  # a stop already asked for must not be parked behind a pause
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self) -> None:
        self._running.wait()


class _StopWhilePreparing(Exception):
    pass


@dataclass
class TrainResult:
    run_dir: Path | None  # None when stopped while the data was still being prepared
    epochs_done: int
    step: int
    stopped: bool  # by Control.stop() before the last epoch


@dataclass
class Position:
    """Where training stands: ``batch`` batches of epoch ``epoch`` (0-based) are done."""

    epoch: int = 0
    batch: int = 0
    step: int = 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fixed_latents(cfg: Config) -> torch.Tensor:
    """The run's sample-grid latents: drawn from their own generator, so they do not depend on (or
    disturb) the training randomness."""
    g = torch.Generator().manual_seed(cfg.run.seed + 0x5EED)
    return torch.randn(cfg.run.sample_count, cfg.model.latent_dim, 1, 1, generator=g)


def resume_config(run: RunDir, changes: dict | Config | None = None, processes: int = 1) -> Config:
    """The configuration a resume of ``run`` trains with: the run's own, with ``changes``
    (``{'section.key' or short name: value}``, or a whole Config: what it sets differently)
    applied. The one rule of what a resume may change (the
    trainer, the job registry, the command line and the Train page all come here): a value equal to the
    run's own is accepted (a re-typed command); any other change outside RESUMABLE_KEYS (under torchrun,
    ``processes > 1``, only run.epochs: its processes are given --epochs alone) is refused, naming each
    field, the run's value and the given one. ``run.run_dir`` is where the run is and never counts."""
    base = run.config()
    if isinstance(changes, Config):
        changes = {k: new for k, (_, new) in base.diff(changes).items()}
    cfg = base.with_overrides(changes or {})
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, run_dir=base.run.run_dir))
    allowed = {"run.epochs"} if processes > 1 else RESUMABLE_KEYS
    bad = {k: d for k, d in base.diff(cfg).items() if k not in allowed}
    if bad:
        where = " under torchrun" if processes > 1 else ""
        given = ", ".join(f"{k} to {_shown(new)} (the run has {_shown(old)})" for k, (old, new) in sorted(bad.items()))
        raise FaceganError(f"cannot change {given} when resuming {run.path}: a resumed run keeps its configuration "
                           f"(only {', '.join(sorted(allowed))} may change{where}); "
                           "leave those settings out, or start a new run")
    return cfg


def _shown(value) -> str:
    return repr(value) if isinstance(value, str) or value is None else str(value)


def train(cfg: Config, *, resume: str | Path | None = None, control: Control | None = None,
          on_event: Event | None = None, data: PreparedData | None = None,
          prepare_progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train as ``cfg`` says into a new run folder, or continue the run folder ``resume`` (then ``cfg``
    should come from :func:`resume_config`). ``on_event(kind, record)`` hears 'start', 'log', 'epoch',
    'metrics', 'warning', 'checkpoint' and 'end'; it is called on this thread and must be quick.
    Records of steps and epochs carry the 1-based ``epoch`` they belong to; 'start' and 'end' carry
    ``epochs_done``.

    Under torchrun every process calls this (see :mod:`.distributed`): all of them train, only rank 0
    writes the run folder and hears events, and log records average the step statistics over ranks."""
    control = control or Control()
    dist = distributed.setup(cfg.run.device, cfg.run.sync_batchnorm)
    emit = (on_event if dist.main else None) or (lambda kind, record: None)
    write = _write if dist.main else _discard

    # -- set up --------------------------------------------------------------------------------------
    device = dist.device
    batch_size = dist.per_rank_batch(cfg.optim.batch_size)

    def preparing(done: int, total: int) -> None:  # a Stop must not wait for a long cache build
        if control.stopping:
            raise _StopWhilePreparing
        if prepare_progress:
            prepare_progress(done, total)
    try:
        with dist.local_main_first():  # one cache build per node, which the others then reuse
            data = data or prepare(cfg.data, progress=preparing)
    except _StopWhilePreparing:
        emit("end", {"stopped": True, "epochs_done": 0, "step": 0})
        return TrainResult(None, 0, 0, stopped=True)
    run = dist.share(lambda: RunDir.open(resume) if resume else RunDir.create(cfg, data.summary()))
    seed_everything(cfg.run.seed)
    G, D = build_networks(cfg)
    memory_format = torch.channels_last if channels_last(device) else torch.contiguous_format
    G.to(device, memory_format=memory_format)
    D.to(device, memory_format=memory_format)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    # G and D stay the plain modules (checkpoints, samples); the step trains their DDP wrappers.
    step = GANStep(cfg, dist.wrap(G, cfg.run.sync_batchnorm), dist.wrap(D, cfg.run.sync_batchnorm), opt_g, opt_d,
                   device, generator=torch.Generator().manual_seed(cfg.run.seed),
                   amp_dtype=amp_dtype(device, cfg.run.precision),
                   shard=(dist.rank, dist.world))
    loader = BatchLoader(data.images, batch_size, device=device, flip=cfg.data.flip,
                         seed=cfg.run.seed, rank=dist.rank, world=dist.world)
    z_fixed = fixed_latents(cfg)
    pos = Position()
    history: list[dict] = []  # live-metric records, kept in checkpoints so best.pt survives a resume
    data_spread = float(data.images[:256].astype(np.float32).std(axis=0).mean()) / 127.5
    health = Health(cfg.optim.loss, real_std=data_spread)

    if resume:
        # train() may be handed any configuration: it must be one a resume of this run allows.
        dist.share(lambda: resume_config(run, cfg))
        # ... and the images must be the ones it trained on (a subset file edited since would change them)
        trained_on = dist.share(lambda: (run.meta().get("data") or {}).get("key"))
        if trained_on and trained_on != data.key:
            raise FaceganError(f"cannot resume {run.path}: its images have changed since it started (data key "
                               f"{trained_on}, now {data.key}: the source's files or the data.subset file differ); "
                               "put them back as they were, or start a new run")
        # Rank 0 reads the checkpoint and hands it to the others, which may not see its file system.
        ckpt = dist.share(lambda: _read_last(run, device if not dist.active else "cpu"))
        pos, z_fixed, history = _restore(ckpt, run.checkpoint_path("last"), G, D, opt_g, opt_d, step)
        write(run.trim_metrics, pos.step, pos.epoch)  # records a killed run wrote after its last checkpoint
        write(run.remove_temporaries)  # half-written files of a killed run's last writes
    dist.fork_rng()
    z_fixed = z_fixed.to(device)
    tracker = None
    if cfg.run.metrics_every and dist.main:
        from ..metrics.tracking import TRACKED, Tracker
        tracker = Tracker(cfg, data, device)

    steps_per_epoch = len(loader)
    begun = records.start(cfg, resumed=bool(resume), step=pos.step, epochs_done=pos.epoch, world=dist.world,
                          device=str(device), images=data.kept, steps_per_epoch=steps_per_epoch)
    write(run.log, begun)
    emit("start", {**begun, "run_dir": str(run.path)})

    def end(state: str, reason: str | None = None) -> TrainResult:
        """Log and announce how training ended ('failed' is logged on a best-effort basis: the failure may
        be the disk)."""
        rec = records.end(state, pos.epoch, max(1, pos.epoch + (pos.batch > 0)), pos.step, reason)
        if state == "failed":
            with contextlib.suppress(OSError):
                if dist.main:
                    run.log(rec)
        else:
            write(run.log, rec)
        emit("end", {**rec, "stopped": state == "stopped"})
        return TrainResult(run.path, pos.epoch, pos.step, stopped=state == "stopped")

    def checkpoint(stats: dict | None, *, epoch_end: bool = False, best: bool = False) -> None:
        """Save ``last`` (at an epoch end also the numbered copy, and ``best`` when the tracked metric
        improved) unless the weights have gone bad."""
        if stats is not None and not all_finite(stats):
            raise TrainingDiverged(_diverged_message(run, pos, _floats(stats)))
        # an update can make the weights non-finite while the losses it started from were fine
        bad = [name for name, net in (("the generator's weights", G), ("the discriminator's weights", D))
               if not all_finite(dict(net.named_parameters()))]
        if bad:
            raise TrainingDiverged(_diverged_message(run, pos, {}, " and ".join(bad)))
        if not dist.main:
            return
        payload = {
            "config": cfg.to_dict(), "epoch": pos.epoch, "batch": pos.batch, "step": pos.step,
            "G": G.state_dict(), "D": D.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "step_state": step.state_dict(), "rng": rng_state(), "fixed_z": z_fixed.cpu(),
            "metric_history": history,
        }
        run.sync_metrics()
        files = [_write(save_checkpoint, run.checkpoint_path("last"), payload)]
        if epoch_end and cfg.run.keep_checkpoints > 0:
            files.append(_write(atomic_link, files[0], run.checkpoint_path(pos.epoch)))
            for _, old in run.epoch_checkpoints()[: -cfg.run.keep_checkpoints]:
                old.unlink(missing_ok=True)
        if best:
            files.append(_write(atomic_link, files[0], run.checkpoint_path("best")))
        rec = records.checkpoint(pos.epoch, max(1, pos.epoch + (pos.batch > 0)), pos.step, [f.name for f in files])
        _write(run.log, rec)
        emit("checkpoint", rec)

    # -- the loop ------------------------------------------------------------------------------------
    try:
        last_ckpt = time.monotonic()
        stats: dict | None = None
        while pos.epoch < cfg.run.epochs:
            epoch_start = last_log_time = time.perf_counter()
            last_log_step = pos.step  # images/s measures training steps only, not grids and checkpoints
            for real in loader.epoch(pos.epoch, start=pos.batch):
                if control.paused:
                    control.wait_while_paused()
                    last_log_time, last_log_step = time.perf_counter(), pos.step  # nor the pause
                if dist.stopping(control.stopping, pos.step):
                    checkpoint(stats)
                    return end("stopped")

                step.set_epoch(pos.epoch + pos.batch / steps_per_epoch)
                stats = step(real)
                pos.batch += 1
                pos.step += 1

                if pos.step % cfg.run.log_every == 0:
                    now = time.perf_counter()
                    record = {"epoch": pos.epoch + 1, "step": pos.step, "time": time.time(), "kind": "step",
                              **_floats(dist.average(stats)), "lr_g": opt_g.param_groups[0]["lr"],
                              "lr_d": opt_d.param_groups[0]["lr"],
                              "images_per_s": (pos.step - last_log_step) * loader.batch_size * dist.world
                              / (now - last_log_time)}
                    last_log_time, last_log_step = now, pos.step
                    if not all_finite(record):
                        raise TrainingDiverged(_diverged_message(run, pos, record))
                    write(run.log, record)
                    emit("log", record)
                    for warning in health.check_step(record):
                        _warn(write, run, emit, pos.epoch + 1, pos.step, warning)
                due = cfg.run.checkpoint_minutes and time.monotonic() - last_ckpt > 60 * cfg.run.checkpoint_minutes
                if control.checkpoint_requested() or due:
                    checkpoint(stats)
                    last_ckpt = time.monotonic()

            # -- end of an epoch: grid, record, checkpoint -----------------------------------------------
            pos.epoch, pos.batch = pos.epoch + 1, 0
            fake = sample(step.g_eval, z_fixed)
            write(save_png, grid(to_uint8(fake)), run.sample_path(pos.epoch))
            record = {"epoch": pos.epoch, "step": pos.step, "time": time.time(), "kind": "epoch",
                      "epoch_seconds": time.perf_counter() - epoch_start,
                      "sample": str(run.sample_path(pos.epoch).relative_to(run.path))}
            write(run.log, record)
            for warning in health.check_samples(fake, pos.step):
                _warn(write, run, emit, pos.epoch, pos.step, warning)
            improved = False
            if tracker and (pos.epoch % cfg.run.metrics_every == 0 or pos.epoch == cfg.run.epochs):
                measured = {"epoch": pos.epoch, "step": pos.step, "time": time.time(), "kind": "metrics",
                            **tracker.measure(step.g_eval)}
                improved = all(measured[TRACKED] < h[TRACKED] for h in history)
                history.append(measured)
                _write(run.log, measured)
                emit("metrics", {**measured, "best": improved})
            checkpoint(stats, epoch_end=True, best=improved)
            last_ckpt = time.monotonic()
            emit("epoch", {**record, "sample_path": str(run.sample_path(pos.epoch))})

        from ..visual.gif import write_training_gif
        write(write_training_gif, run)
        return end("finished")
    except Exception as e:  # NaN, a full disk, a bug: the log says why the run ended
        end("failed", first_line(e))
        raise


def _read_last(run: RunDir, device) -> dict:
    path = run.checkpoint_path("last")
    if not path.is_file():
        raise FaceganError(f"{run.path} has no checkpoint to resume from (checkpoints/last.pt); it stopped "
                           "before its first checkpoint — start it again as a new run")
    return load_checkpoint(path, map_location=device)


def _restore(ckpt: dict, path: Path, G, D, opt_g, opt_d, step: GANStep) -> tuple[Position, torch.Tensor, list]:
    load_weights(G, ckpt["G"], "generator", path)
    load_weights(D, ckpt["D"], "discriminator", path)
    try:
        opt_g.load_state_dict(ckpt["opt_g"])
        opt_d.load_state_dict(ckpt["opt_d"])
        step.load_state_dict(ckpt["step_state"])
    except (KeyError, ValueError, RuntimeError) as e:
        raise FaceganError(f"{path}: the optimiser or step state does not fit this run ({e})") from None
    set_rng_state(ckpt["rng"])
    position = Position(int(ckpt["epoch"]), int(ckpt["batch"]), int(ckpt["step"]))
    return position, ckpt["fixed_z"], list(ckpt.get("metric_history", []))


def _floats(stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """All step statistics to Python floats with one device sync."""
    values = torch.stack([v.detach().float().reshape(()) for v in stats.values()]).tolist()
    return dict(zip(stats, values))


def _write(fn, *args):
    """Run a write; a full disk or a failing file system becomes a clear stop, never a half-written file
    (every writer is atomic or append-only)."""
    try:
        return fn(*args)
    except OSError as e:
        raise FaceganError(f"could not write to the run folder ({e.strerror or e}: {e.filename or ''}); "
                           "the previous checkpoint is intact — free some space and resume") from None


def _discard(fn, *args):
    """The ``_write`` of ranks other than 0: they never touch the run folder."""


def _warn(write, run: RunDir, emit: Event, epoch: int, step: int, message: str) -> None:
    record = records.warning(epoch, step, message)
    write(run.log, record)
    emit("warning", record)


def _diverged_message(run: RunDir, pos: Position, stats: dict, bad: str = "") -> str:
    bad = bad or ", ".join(k for k, v in stats.items() if isinstance(v, float) and not math.isfinite(v)) or "a loss"
    return (f"training diverged at step {pos.step} (epoch {pos.epoch + 1}): {bad} became NaN or infinite. "
            f"The run stopped; its last good checkpoint is {run.checkpoint_path('last')}. Try lower learning "
            "rates, spectral norm in D, or label smoothing")
