"""The runs folder as a list a person can manage: what each run is, and renaming and deleting runs
without ever reaching outside that folder or touching the run a training job is writing to.

Used by the dashboard's Runs, Train and Explore pages; everything here is plain file work on
:class:`~facegan.training.run_dir.RunDir` folders.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import FaceganError
from .metrics.registry import BETTER, HEADLINE_METRIC, METRICS
from .training import records as run_records
from .training.run_dir import RunDir, evaluations_dir

MAX_NAME = 120
# Keys of a metrics.jsonl record that say where and when, not what was measured.
_POSITION_KEYS = {"epoch", "step", "time", "kind", "images_per_s", "seconds", "n", "features", "checkpoint"}


@dataclass(frozen=True)
class RunInfo:
    """One run folder at a glance (what the Runs table shows)."""

    name: str
    path: Path
    preset: str = "?"
    resolution: int | None = None
    source: str = ""
    images: int | None = None     # images in the prepared data set
    epochs: int | None = None     # planned (run.epochs)
    epochs_done: int = 0          # epoch grids/records written
    step: int = 0                 # newest logged step
    created: str = ""             # config.json's "created" (local time, ISO)
    modified: float = 0.0         # newest file time in the folder's top level
    checkpoints: tuple[str, ...] = ()  # 'last', 'best', 'epoch_0003', ... (stems of checkpoints/*.pt)
    has_gif: bool = False
    metrics: dict = field(default_factory=dict)  # the newest evaluation's (or 'metrics' record's) numbers
    outcome: str | None = None    # how its latest training ended (records.outcome): 'finished', 'stopped',
    #                               'failed', 'interrupted'; None for a folder older than start/end records
    reason: str | None = None     # a failed run's one line
    problem: str | None = None    # why the folder could not be read fully, if it could not

    @property
    def can_sample(self) -> bool:
        return bool(self.checkpoints)

    @property
    def finished(self) -> bool:
        return self.epochs is not None and self.epochs_done >= self.epochs


def list_runs(root: str | Path) -> list[RunInfo]:
    """Every run folder (a folder with a config.json) directly under ``root``, newest first."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        if p.is_dir() and not p.is_symlink() and (p / "config.json").is_file():
            out.append(run_info(p))
    return sorted(out, key=lambda r: (r.created or "", r.modified, r.name), reverse=True)


def run_info(path: str | Path) -> RunInfo:
    """What one run folder holds; a damaged config.json or metrics log is reported, never raised."""
    run = RunDir(Path(path))
    base = {"name": run.path.name, "path": run.path, "modified": _mtime(run.path),
            "checkpoints": tuple(sorted((p.stem for p in run.checkpoints_dir.glob("*.pt")), key=_ckpt_order))
            if run.checkpoints_dir.is_dir() else (),
            "has_gif": run.gif_path.is_file()}
    try:
        meta = run.meta()
        cfg = meta["config"]
        base.update(preset=str(cfg.get("preset", "?")), resolution=int(cfg["data"]["resolution"]),
                    epochs=int(cfg["run"]["epochs"]), created=str(meta.get("created", "")),
                    source=str((meta.get("data") or {}).get("source", cfg["data"].get("source", ""))),
                    images=(meta.get("data") or {}).get("kept"))
    except FaceganError as e:
        return RunInfo(**base, problem=f"unreadable config.json ({e})")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return RunInfo(**base, problem=f"unreadable config.json ({type(e).__name__}: {e})")
    records = run.read_metrics()
    epochs_done = max((int(r.get("epoch", 0)) for r in records if r.get("kind") == "epoch"), default=0)
    epochs_done = max(epochs_done, max((e for e, _ in run.samples()), default=0))
    step = max((int(r.get("step", 0)) for r in records if isinstance(r.get("step"), (int, float))), default=0)
    history = metric_history(records) + [{k: v for k, v in e.items() if k != "record"}
                                         for e in evaluations(run.path)]
    outcome = run_records.outcome(records)
    reason = next((r.get("reason") for r in reversed(records) if r.get("kind") == "end"), None)
    return RunInfo(**base, epochs_done=epochs_done, step=step, metrics=history[-1] if history else {},
                   outcome=outcome, reason=reason if outcome == "failed" else None)


def run_state(info: RunInfo, live: Iterable[str | Path] = ()) -> str:
    """What the Runs table says a run is: 'training now' (its folder is among ``live``), 'damaged',
    'failed', 'finished', 'interrupted' (it started and never ended: killed), 'stopped' or 'empty'."""
    if info.path.resolve() in {Path(p).resolve() for p in live}:
        return "training now"
    if info.problem:
        return "damaged"
    if info.outcome == "failed":
        return "failed"
    if info.finished:
        return "finished"
    if info.outcome == "interrupted":
        return "interrupted"
    return "stopped" if info.step else "empty"


def metric_history(records: list[dict]) -> list[dict]:
    """The quality-metric records of a run's log (``kind == 'metrics'``), each flattened to
    ``{'epoch', 'step', name: number, ...}``; nested results ``{'fid': {'fid': 12.3}}`` become
    ``'fid'`` (or ``'fid.key'`` when the inner key differs)."""
    out = []
    for r in records:
        if r.get("kind") != "metrics":
            continue
        flat = {"epoch": r.get("epoch"), "step": r.get("step")}
        for k, v in r.items():
            if k in _POSITION_KEYS:
                continue
            if isinstance(v, dict):
                for k2, v2 in v.items():
                    if _number(v2):
                        flat[k if k2 == k else f"{k}.{k2}"] = float(v2)
            elif _number(v):
                flat[k] = float(v)
        out.append(flat)
    return out




def headline(results: dict) -> dict[str, float]:
    """``{'fid': 31.2, 'kid': 0.02, 'knn_accuracy': 0.8, 'precision': .., 'recall': ..}`` from an
    evaluation's ``metrics`` (``{name: {key: number}}``); a metric this table does not know gives its
    first number under its own name."""
    out: dict[str, float] = {}
    for name, result in (results or {}).items():
        if not isinstance(result, dict):
            if _number(result):
                out[name] = float(result)
            continue
        known = name in METRICS
        keys = list(METRICS[name].headlines) if known else next(([k] for k, v in result.items() if _number(v)), [])
        for k in keys:
            if _number(result.get(k)):
                out[k if known else name] = float(result[k])
    return out


def evaluations(run_path: str | Path) -> list[dict]:
    """The evaluations saved in ``RUN/eval/*.json`` (by :func:`facegan.metrics.evaluate.evaluate_run`;
    for a generator file outside a run, ``eval/`` beside it),
    oldest first, each as ``{'file', 'created', 'epoch', 'step', 'checkpoint', 'features', 'n',
    'record', headline numbers...}``; unreadable files are skipped."""
    import json
    folder = evaluations_dir(run_path)
    out = []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
            ck = rec.get("checkpoint") or {}
            out.append({"file": str(p), "created": str(rec.get("created", "")), "epoch": ck.get("epoch"),
                        "step": ck.get("step"), "checkpoint": ck.get("name"), "features": rec.get("features"),
                        "n": rec.get("n_fake"), "record": rec, **headline(rec.get("metrics"))})
        except (OSError, ValueError, AttributeError, TypeError):
            continue
    return sorted(out, key=lambda e: (e["created"], e["file"]))


def comparable(evals: list[dict], like: dict) -> list[dict]:
    """The evaluations (from :func:`evaluations`) made like ``like``: with the same feature network and
    the same number of faces. Numbers from others cannot be compared with it."""
    return [e for e in evals if e["features"] == like["features"] and e["n"] == like["n"]]


def best_scores(run_path: str | Path, records: list[dict]) -> tuple[dict[str, float], str]:
    """A run's best score of each metric, and how they were made: over its evaluations comparable with
    its newest one ('inception, 2,000 faces'), or else over the metrics its training logged ('during
    training'); ``({}, '')`` when it has neither. ``records`` is its log (:meth:`RunDir.read_metrics`)."""
    evals = evaluations(run_path)
    if evals:
        newest = evals[-1]
        return best_metrics(comparable(evals, newest), BETTER), f"{newest['features']}, {newest['n']:,} faces"
    history = metric_history(records)
    return (best_metrics(history, BETTER), "during training") if history else ({}, "")


def best_metrics(history: list[dict], better: dict[str, str]) -> dict[str, float]:
    """The best value of each metric over ``history`` (from :func:`metric_history` or
    :func:`evaluations`); ``better`` maps a registry metric's name to 'lower', 'higher' or
    'closer to 0.5' (numbers of metrics it lacks are left out)."""
    best: dict[str, float] = {}
    for rec in history:
        for k, v in rec.items():
            if k in ("epoch", "step", "n"):
                continue
            how = better.get(k) or better.get(HEADLINE_METRIC.get(k, "")) or better.get(k.partition(".")[0])
            if how is None or not _number(v):
                continue
            score = {"lower": v, "higher": -v}.get(how, abs(v - 0.5))
            old = best.get(k)
            old_score = None if old is None else {"lower": old, "higher": -old}.get(how, abs(old - 0.5))
            if old_score is None or score < old_score:
                best[k] = v
    return best


# -- names, renaming, deleting -----------------------------------------------------------------------

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def check_run_name(name: str) -> str:
    """``name`` stripped, if it can be a run folder's own name: one plain folder name, never a path
    (no separators, no ``..``, not absolute, not hidden) and no characters that some file systems
    refuse. Raises FaceganError saying what is wrong."""
    if not isinstance(name, str):
        raise FaceganError("a run name must be text")
    name = name.strip()
    if not name:
        raise FaceganError("a run name cannot be empty")
    if os.path.isabs(name) or "/" in name or "\\" in name or (os.altsep and os.altsep in name):
        raise FaceganError(f"run name {name!r} must be a plain name, not a path (no / or \\)")
    if name in (".", "..") or name.startswith("."):
        raise FaceganError(f"run name {name!r} may not start with a dot")
    if m := _BAD_CHARS.search(name):
        raise FaceganError(f"run name {name!r} contains {m.group()!r}; use letters, digits, spaces, "
                           "dots, dashes and underscores")
    if len(name) > MAX_NAME:
        raise FaceganError(f"run name is {len(name)} characters long; at most {MAX_NAME}")
    return name


def run_path(root: str | Path, name: str) -> Path:
    """The folder of run ``name`` under ``root``, checked to lie directly inside it (a link that
    points elsewhere is refused too)."""
    name = check_run_name(name)
    root = Path(root).expanduser().resolve()
    path = root / name
    if path.is_symlink() or path.resolve().parent != root:
        raise FaceganError(f"{name!r} is not a folder inside the runs folder {root}")
    return path


def _is_busy(path: Path, busy: Iterable[str | Path | None]) -> bool:
    target = path.resolve()
    for b in busy:
        if b is None:
            continue
        b = Path(b).expanduser().resolve()
        if b == target or target in b.parents:
            return True
    return False


def rename_run(root: str | Path, old: str, new: str, *, busy: Iterable[str | Path | None] = ()) -> Path:
    """Rename run folder ``old`` to ``new`` (both plain names under ``root``); refuses a run listed in
    ``busy`` (the live training job's), a folder that is not a run, and a name already taken."""
    src, dst = run_path(root, old), run_path(root, new)
    if not (src / "config.json").is_file():
        raise FaceganError(f"{old!r} is not a run folder in {src.parent}")
    if _is_busy(src, busy):
        raise FaceganError(f"{old!r} is being trained right now; stop the training job before renaming it")
    if src == dst:
        return src
    if dst.exists():
        raise FaceganError(f"a run or file named {new!r} already exists; choose another name")
    try:
        os.rename(src, dst)
    except OSError as e:
        raise FaceganError(f"could not rename {old!r} to {new!r}: {e.strerror or e}") from None
    return dst


def delete_run(root: str | Path, name: str, *, busy: Iterable[str | Path | None] = ()) -> None:
    """Delete run folder ``name`` under ``root`` with everything in it; refuses a run listed in
    ``busy`` and any folder that is not a run (no config.json)."""
    path = run_path(root, name)
    if not (path / "config.json").is_file():
        raise FaceganError(f"{name!r} is not a run folder in {path.parent}; nothing was deleted")
    if _is_busy(path, busy):
        raise FaceganError(f"{name!r} is being trained right now; stop the training job before deleting it")
    try:
        shutil.rmtree(path)
    except OSError as e:
        raise FaceganError(f"could not delete {name!r} completely: {e.strerror or e}") from None


# -- helpers -----------------------------------------------------------------------------------------

def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _mtime(path: Path) -> float:
    try:
        return max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.iterdir()])
    except OSError:
        return 0.0


def _ckpt_order(stem: str):
    """'last', 'best', then epoch checkpoints newest first."""
    m = re.match(r"^epoch_(\d+)$", stem)
    if m:
        return (2, -int(m.group(1)), stem)
    return ({"last": 0, "best": 1}.get(stem, 3), 0, stem)
