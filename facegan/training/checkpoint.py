"""Checkpoints: written atomically, read without unpickling anything but tensors and plain data.

A checkpoint is one ``torch.save`` dict: networks, optimisers, the step's state (EMA, replay buffer,
generator), every RNG state, the position in training, the fixed latents and the metric history. It is
written to a temporary file, fsync'd and renamed, so a crash at any instant leaves the previous file
whole; it is read with ``weights_only=True``, so a file carrying a pickled code payload is refused.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import FaceganError, first_line
from ..io import atomic_writer

FORMAT = "facegan-checkpoint"
VERSION = 1


class CheckpointError(FaceganError):
    """A checkpoint that cannot be used: missing, damaged, unsafe, or for another architecture."""


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Streamed into the atomic writer's file: 0.58x the time of serialising to memory first (75 against 130 ms
    for faces-64's 76 MB checkpoint, benchmarks/checkpoint_write.py), and no second copy of it in memory."""
    try:
        with atomic_writer(path) as f:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, f)
    except RuntimeError as e:
        # torch.save's zip writer reports a failed write (a full disk) as its own RuntimeError raised while the
        # OSError was handled; the OSError is what happened, and what callers tell a person about
        if isinstance(e.__context__, OSError):
            raise e.__context__ from None
        raise
    return Path(path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint at ``path``, or a CheckpointError that says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"refused to load {path}: it holds Python objects other than tensors and "
                              f"plain data, which could run code when loaded ({first_line(e)}). "
                              "Only load checkpoints written by facegan from a source you trust") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path} is damaged (truncated or not a PyTorch file): "
                              f"{first_line(e)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a facegan checkpoint")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer facegan (format {ckpt['version']}); upgrade")
    return ckpt


def load_weights(net: torch.nn.Module, state: dict, what: str, path: Path) -> None:
    """``net.load_state_dict(state)`` with an error that names the architecture mismatch."""
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        detail = " ".join(str(e).split())[:400]
        raise CheckpointError(f"{path}: the {what} weights do not fit this configuration's architecture "
                              f"(different resolution, widths, latent size or normalisation?): {detail}") from None


# -- RNG state as tensors and ints (weights_only can load those, not numpy's or Python's tuples) -----

def rng_state() -> dict:
    np_state = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
