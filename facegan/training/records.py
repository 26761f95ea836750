"""The run record: what a run folder's ``metrics.jsonl`` holds, one JSON object a line.

Every record has ``kind``, ``time`` (seconds since the epoch), the 1-based ``epoch`` it belongs to and the
global ``step``. Only rank 0 writes it. The kinds, in the order a run
writes them:

    start       training began in this folder, new or resumed: ``config`` (the full configuration),
                ``resumed`` (whether from a checkpoint), ``step`` and ``epochs_done`` where it begins,
                ``world`` (processes), ``device``, ``images``, ``epochs``, ``steps_per_epoch``,
                ``total_steps``
    step        every ``run.log_every`` steps: the step's statistics (losses, D's outputs, gradient norms,
                noise stds, augment_p: :func:`losses`), ``lr_g``, ``lr_d``, ``images_per_s``
    epoch       an epoch ended: ``epoch_seconds``, ``sample`` (its grid, relative to the run folder)
    metrics     live quality metrics measured at an epoch end (``run.metrics_every``)
    warning     a health check's ``message``
    checkpoint  a checkpoint was saved: ``files`` (names in checkpoints/), ``epochs_done``
    end         training ended: ``state`` ('finished', 'stopped' or 'failed'), ``reason`` (one line, for
                'failed'), ``epochs_done``

A resume first trims the records written after the checkpoint it starts from (``RunDir.trim_metrics``),
so the log holds every step once. A run killed before it could write ``end`` has none: :func:`outcome`
then says 'interrupted'. Folders written before ``start``/``checkpoint``/``end`` existed (2026-12-05)
read the same, with no outcome beyond what their epochs show.
"""

from __future__ import annotations

import time

from ..config import Config

KINDS = ("start", "step", "epoch", "metrics", "warning", "checkpoint", "end")
END_STATES = ("finished", "stopped", "failed")

# Keys of a 'step' record that say where, when and how fast, not how training goes.
STEP_INFO = frozenset({"kind", "time", "epoch", "step", "images_per_s", "lr_g", "lr_d"})


def _stamp(kind: str, epoch: int, step: int) -> dict:
    return {"kind": kind, "time": time.time(), "epoch": epoch, "step": step}


def start(cfg: Config, *, resumed: bool, step: int, epochs_done: int, world: int, device: str, images: int,
          steps_per_epoch: int) -> dict:
    return {**_stamp("start", epochs_done + 1, step), "config": cfg.to_dict(), "resumed": resumed,
            "epochs_done": epochs_done, "world": world, "device": device, "images": images,
            "epochs": cfg.run.epochs, "steps_per_epoch": steps_per_epoch,
            "total_steps": cfg.run.epochs * steps_per_epoch}


def checkpoint(epochs_done: int, epoch: int, step: int, files: list[str]) -> dict:
    return {**_stamp("checkpoint", epoch, step), "files": files, "epochs_done": epochs_done}


def end(state: str, epochs_done: int, epoch: int, step: int, reason: str | None = None) -> dict:
    if state not in END_STATES:
        raise ValueError(f"an end record's state is one of {END_STATES}, not {state!r}")
    rec = {**_stamp("end", epoch, step), "state": state, "epochs_done": epochs_done}
    if reason is not None:
        rec["reason"] = reason
    return rec


def warning(epoch: int, step: int, message: str) -> dict:
    return {**_stamp("warning", epoch, step), "message": message}


def losses(record: dict) -> dict[str, float]:
    """The statistics of a 'step' record: every number that is not its position, time, speed or
    learning rate (loss_d, loss_g, d_real, d_fake, grad norms, noise stds, augment_p, ...)."""
    return {k: float(v) for k, v in record.items()
            if k not in STEP_INFO and isinstance(v, (int, float)) and not isinstance(v, bool)}


def outcome(records: list[dict]) -> str | None:
    """How the run's latest training ended: 'finished', 'stopped', 'failed', 'interrupted' (it started
    and never wrote an end: killed, or still training), or None for a log without start records."""
    for rec in reversed(records):
        if rec.get("kind") == "end" and rec.get("state") in END_STATES:
            return rec["state"]
        if rec.get("kind") == "start":
            return "interrupted"
    return None
