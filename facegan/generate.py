"""Faces from a trained generator: load it from a run folder, a checkpoint or an exported file, draw
seeded latents, and turn them into images.

Everything here is inference: the generator comes back in eval mode (BatchNorm running statistics, no
noise layers) with gradients off, and the EMA copy of its weights is preferred when the run kept one,
because that is what the run's own sample grids were drawn from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import Config
from .devices import pick_device
from .errors import FaceganError, first_line
from .images import to_uint8
from .models import build_networks
from .models.sampling import sample
from .training.checkpoint import CheckpointError, load_checkpoint, load_weights
from .training.run_dir import RunDir

EXPORT_FORMAT = "facegan-generator"
EPOCH_RE = re.compile(r"^(?:epoch_)?(\d+)$")


def load_generator(source: str | Path, which: str | int = "last",
                   device: str | torch.device = "cpu") -> tuple[nn.Module, Config, dict]:
    """The generator of ``source`` in eval mode with gradients off, its Config, and
    ``{"epoch", "step", "checkpoint", "ema"}``.

    ``source`` is a run folder (``which`` then picks 'last', 'best', 'epoch_N' or N, or names a .pt
    file), a .pt checkpoint, or a .safetensors file written by :func:`facegan.export.export_generator`
    (``which`` is ignored for files). The EMA weights are used when the checkpoint holds them.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        path = _checkpoint_in_run(RunDir.open(path), which)
    elif not path.exists():
        raise FaceganError(f"no run folder or checkpoint at {path}")
    kind = _file_kind(path)
    if kind == "safetensors":
        G, cfg, info = _from_safetensors(path)
    elif kind == "torch":
        G, cfg, info = _from_checkpoint(path)
    else:
        raise CheckpointError(f"{path} is neither a run folder, a facegan .pt checkpoint nor an exported "
                              ".safetensors generator")
    G = G.to(pick_device(str(device))).eval().requires_grad_(False)
    return G, cfg, info


def latents(n: int, latent_dim: int, seed: int, truncation: float = 1.0) -> torch.Tensor:
    """``n`` Gaussian latents (n, latent_dim, 1, 1) that depend on ``seed`` (and ``truncation``) only:
    drawn on the CPU from their own generator, so the same seed gives the same faces on any device.

    ``truncation`` (PSI, in (0, 1]) is the truncation trick for variety against quality: every latent is
    scaled toward the mean of the latent distribution (0), ``z * PSI``. The faces move toward the
    generator's average face: fewer odd ones, less variety. PSI = 1 changes nothing. Scaling (rather
    than resampling the components beyond a threshold) keeps each seed's face as PSI moves, so a slider
    over PSI morphs one face instead of jumping between faces."""
    if not 0 <= int(seed) < 2**63:
        raise FaceganError(f"seed: got {seed}; allowed: 0 to 2**63 - 1")
    check_truncation(truncation)
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, latent_dim, 1, 1, generator=g)
    return z if truncation == 1.0 else z * float(truncation)


def nearby(z: torch.Tensor, n: int, spread: float, seed: int) -> torch.Tensor:
    """``n`` latents (n, latent_dim, 1, 1) around one latent ``z``: ``z + spread * e`` with ``e`` drawn
    from N(0, I) with ``seed``, so "more faces like this one" are faces that share its look and differ in
    details. ``spread`` is in units of the latents' own spread: 0 repeats ``z``; 1 moves as far as the
    latents themselves vary (the faces then share little more than chance would give)."""
    if not (isinstance(spread, (int, float)) and 0.0 <= float(spread) <= 2.0):
        raise FaceganError(f"spread: got {spread}; allowed: 0 to 2 (how different the faces may be)")
    if not 1 <= int(n) <= 1024:
        raise FaceganError(f"n: got {n}; allowed: 1 to 1024")
    z = z.reshape(1, -1, 1, 1)
    g = torch.Generator().manual_seed(int(seed))
    return z + float(spread) * torch.randn(int(n), z.shape[1], 1, 1, generator=g, dtype=z.dtype)


def check_truncation(truncation: float) -> float:
    """``truncation`` if it is a usable PSI, else a :class:`FaceganError` saying what is allowed."""
    if not (isinstance(truncation, (int, float)) and 0.0 < float(truncation) <= 1.0):
        raise FaceganError(f"truncation: got {truncation}; allowed: a number greater than 0 and at most 1 "
                           "(1 = off; lower = less variety, fewer odd faces)")
    return float(truncation)


def generate(G: nn.Module, z: torch.Tensor, batch: int = 256) -> np.ndarray:
    """G's images for latents ``z`` as uint8 (N, H, W, 3)."""
    device = next(G.parameters()).device
    return to_uint8(sample(G, z.to(device), batch=batch))


def sample_file_names(n: int) -> list[str]:
    """``000000.png`` … : the names :func:`write_sample_files` gives ``n`` faces."""
    return [f"{i:06d}.png" for i in range(n)]


def write_sample_files(G: nn.Module, z: torch.Tensor, folder: str | Path, scale: int = 1,
                       batch: int = 256) -> list[Path]:
    """One PNG per latent of ``z`` in ``folder`` (``000000.png`` …), the form that pytorch-fid, clean-fid
    and torchmetrics read a set of images in. ``folder`` is created if missing (its parent must exist);
    files already there under those names are never overwritten: that is an error before anything is
    written. Faces are made ``batch`` at a time, so any number fits in memory."""
    from .images import save_png
    folder = Path(folder).expanduser()
    names = sample_file_names(len(z))
    if folder.exists() and not folder.is_dir():
        raise FaceganError(f"{folder} is a file; give a folder for single images (or a .png path for a grid)")
    if folder.is_dir():
        taken = [name for name in names if (folder / name).exists()]
        if taken:
            raise FaceganError(f"{folder} already holds {taken[0]}"
                               f"{f' and {len(taken) - 1} more' if len(taken) > 1 else ''} of the files to "
                               "write; choose an empty folder, or move those files away first")
    try:
        folder.mkdir(exist_ok=True)
        paths = []
        for start in range(0, len(z), batch):
            for image, name in zip(generate(G, z[start:start + batch]), names[start:start + batch]):
                paths.append(save_png(image, folder / name, scale))
        return paths
    except OSError as e:
        raise FaceganError(f"cannot write {e.filename or folder}: {e.strerror or e}") from None


# -- finding and reading the weights -----------------------------------------------------------------

def _checkpoint_in_run(run: RunDir, which: str | int) -> Path:
    if isinstance(which, int):
        path = run.checkpoint_path(which)
    elif m := EPOCH_RE.match(str(which)):
        path = run.checkpoint_path(int(m.group(1)))
    elif which in ("last", "best"):
        path = run.checkpoint_path(which)
    elif (given := Path(str(which)).expanduser()).is_file():  # e.g. a checkpoint copied out of the run
        return given
    elif given.suffix or len(given.parts) > 1:
        raise CheckpointError(f"no checkpoint file at {given}")
    else:  # a misspelt name: the error below lists what there is
        path = run.checkpoint_path(str(which))
    if not path.is_file():
        found = sorted(p.stem for p in run.checkpoints_dir.glob("*.pt")) if run.checkpoints_dir.is_dir() else []
        have = ", ".join(found) if found else "none (the run stopped before its first checkpoint)"
        raise CheckpointError(f"{run.path} has no checkpoint {path.stem!r}; available: {have}")
    return path


def _file_kind(path: Path) -> str:
    """'torch', 'safetensors' or 'other', by content: a renamed file still loads, and a stray file
    (an image, a config.json) is named as such rather than reported as a damaged checkpoint."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror}") from None
    if not head:
        raise CheckpointError(f"{path} is empty (a copy or download that did not finish?)")
    if head[:2] == b"PK" or head[:1] == b"\x80":  # torch.save's zip container, or its legacy pickle
        return "torch"
    if len(head) == 9 and head[8:9] == b"{":  # 8-byte header length, then the JSON header
        return "safetensors"
    # too short or damaged to tell: trust the name and let that loader say what is wrong
    return {".pt": "torch", ".pth": "torch", ".safetensors": "safetensors"}.get(path.suffix.lower(), "other")


def _from_checkpoint(path: Path) -> tuple[nn.Module, Config, dict]:
    ckpt = load_checkpoint(path)
    try:
        cfg = Config.from_dict(ckpt["config"])
        ema_state = (ckpt.get("step_state") or {}).get("ema")
        state = ema_state if cfg.model.ema and ema_state is not None else ckpt["G"]
        epoch, step = int(ckpt["epoch"]), int(ckpt["step"])
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise CheckpointError(f"{path} is a facegan checkpoint without usable generator weights, "
                              f"configuration or position ({type(e).__name__}: {e})") from None
    except FaceganError as e:  # a config field this version does not know or allow
        raise CheckpointError(f"{path}: its configuration does not load here ({e})") from None
    G, _ = build_networks(cfg)
    load_weights(G, state, "EMA generator" if state is ema_state else "generator", path)
    return G, cfg, {"epoch": epoch, "step": step, "checkpoint": str(path), "ema": state is ema_state}


def _from_safetensors(path: Path) -> tuple[nn.Module, Config, dict]:
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is damaged (truncated or not a safetensors file): "
                              f"{first_line(e)}") from None
    if meta.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a facegan generator export "
                              f"(its metadata has no format={EXPORT_FORMAT!r})")
    try:
        cfg = Config.from_dict(json.loads(meta["config"]))
        epoch, step = int(meta["epoch"]), int(meta["step"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable generator metadata ({type(e).__name__}: {e})") from None
    except FaceganError as e:
        raise CheckpointError(f"{path}: its configuration does not load here ({e})") from None
    G, _ = build_networks(cfg)
    load_weights(G, state, "generator", path)
    return G, cfg, {"epoch": epoch, "step": step, "checkpoint": str(path), "ema": meta.get("ema") == "true"}
