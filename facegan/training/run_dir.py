"""A run folder: everything one training run writes, in one place a person can open.

    RUN/config.json           the resolved configuration, library versions, seed, data source and cache key
    RUN/metrics.jsonl         append-only log, one JSON object a line, each with epoch, step and time
    RUN/samples/epoch_NNNN.png a grid from latents fixed for the run, one per epoch
    RUN/checkpoints/          last.pt, epoch_NNNN.pt (the newest k), best.pt
    RUN/training.gif          the epoch grids as an animation
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from pathlib import Path

from ..config import Config
from ..errors import FaceganError
from ..io import atomic_write_bytes, atomic_write_json

SAMPLE_RE = re.compile(r"^epoch_(\d{4,})\.png$")
EPOCH_CKPT_RE = re.compile(r"^epoch_(\d{4,})\.pt$")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # -- layout --------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def gif_path(self) -> Path:
        return self.path / "training.gif"

    def sample_path(self, epoch: int) -> Path:
        return self.samples_dir / f"epoch_{epoch:04d}.png"

    def checkpoint_path(self, which: str | int) -> Path:
        return self.checkpoints_dir / (f"epoch_{which:04d}.pt" if isinstance(which, int) else f"{which}.pt")

    def samples(self) -> list[tuple[int, Path]]:
        """(epoch, path) of every sample grid, in epoch order."""
        if not self.samples_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.samples_dir.iterdir() if (m := SAMPLE_RE.match(p.name))]
        return sorted(found)

    def epoch_checkpoints(self) -> list[tuple[int, Path]]:
        if not self.checkpoints_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.checkpoints_dir.iterdir()
                 if (m := EPOCH_CKPT_RE.match(p.name))]
        return sorted(found)

    # -- creating and opening ------------------------------------------------------------------------
    @staticmethod
    def new_path(cfg: Config) -> Path:
        """Where a new run of ``cfg`` goes: ``cfg.run.run_dir``, or a fresh ``<time>-<preset>`` under
        runs_root (the dashboard's torchrun jobs name it before the processes create it)."""
        if cfg.run.run_dir:
            return Path(cfg.run.run_dir).expanduser()
        root = Path(cfg.run.runs_root).expanduser()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = root / f"{stamp}-{cfg.preset}"
        n = 1
        while path.exists():
            n += 1
            path = root / f"{stamp}-{cfg.preset}-{n}"
        return path

    @classmethod
    def create(cls, cfg: Config, data_summary: dict) -> "RunDir":
        """A new run folder at :meth:`new_path`; an explicit ``run.run_dir`` must be empty or absent."""
        path = cls.new_path(cfg)
        if cfg.run.run_dir and path.exists() and any(path.iterdir()):
            raise FaceganError(f"run folder {path} already holds files; resume it (--resume) or choose "
                               "another --run-dir")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise FaceganError(f"cannot create run folder {path}: {e.strerror}") from None
        run = cls(path)
        atomic_write_json(run.config_path, {"config": cfg.to_dict(), "versions": library_versions(),
                                            "seed": cfg.run.seed, "data": data_summary,
                                            "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return run

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        run = cls(Path(path).expanduser())
        if not run.config_path.is_file():
            raise FaceganError(f"{run.path} is not a facegan run folder (it has no config.json)")
        return run

    def config(self) -> Config:
        return Config.from_dict(self.meta()["config"])

    def meta(self) -> dict:
        """config.json's contents: the configuration under "config", then versions, seed and data."""
        try:
            meta = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise FaceganError(f"cannot read {self.config_path}: {e}") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise FaceganError(f"{self.path} is not a facegan run folder: its config.json has no run "
                               "configuration (a plain configuration file goes to --config, not --run-dir)")
        return meta

    # -- the metrics log -----------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        """Append one record. A line is written whole by one write call; the file is fsync'd when a
        checkpoint is saved (what a resume trims back to anyway)."""
        line = json.dumps(record, allow_nan=True) + "\n"
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(line)

    def read_metrics(self) -> list[dict]:
        """Every complete record; a torn last line (a kill mid-write) is ignored."""
        if not self.metrics_path.is_file():
            return []
        out = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def trim_metrics(self, last_step: int, epochs_done: int | None = None) -> int:
        """Drop the records after ``last_step`` (written after the checkpoint a resume starts from)
        and any torn line; returns how many were dropped. A checkpoint taken on an epoch's last step
        but before its end comes at the same step as the epoch's end records: ``epochs_done`` (the
        checkpoint's) drops those too, or the resume, which redoes that epoch end, would log it twice."""
        records = self.read_metrics()
        keep = [r for r in records if r.get("step", 0) <= last_step and not (
            epochs_done is not None and r.get("kind") in ("epoch", "metrics") and r.get("epoch", 0) > epochs_done)]
        raw = self.metrics_path.read_bytes() if self.metrics_path.is_file() else b""
        text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in keep)
        if text.encode() != raw:
            atomic_write_bytes(self.metrics_path, text.encode())
        return len(records) - len(keep)

    def temporaries(self) -> list[Path]:
        """The temporary files of atomic writes that never finished (``.NAME.*.tmp``)."""
        return sorted(p for folder in (self.path, self.checkpoints_dir, self.samples_dir) if folder.is_dir()
                      for p in folder.glob(".*.tmp") if p.is_file())

    def remove_temporaries(self) -> list[Path]:
        """Delete the temporary files of atomic writes a killed run left behind; returns them. Only a
        resume calls this: no other process writes the run then."""
        found = self.temporaries()
        for p in found:
            p.unlink(missing_ok=True)
        return found

    def sync_metrics(self) -> None:
        if self.metrics_path.is_file():
            with open(self.metrics_path, "a") as f:
                os.fsync(f.fileno())


def library_versions() -> dict:
    import numpy
    import PIL
    import torch

    from .. import __version__
    return {"facegan": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "pillow": PIL.__version__}


def owning_run(path: str | Path) -> Path | None:
    """The run folder ``path`` is, or holds the checkpoint ``path`` (RUN/checkpoints/x.pt); None for a
    file outside any run (an exported generator, a copied checkpoint)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return path
    if path.parent.name == "checkpoints" and (path.parent.parent / "config.json").is_file():
        return path.parent.parent
    return None


def evaluations_dir(path: str | Path) -> Path:
    """Where the evaluations of a run folder or generator file are kept: RUN/eval for a run and for a
    checkpoint inside one, an ``eval`` folder beside any other file."""
    path = Path(path).expanduser()
    return (owning_run(path) or path.parent) / "eval"
