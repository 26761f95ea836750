"""Features and statistics of real images, computed once per data set and feature network.

The real side of every evaluation is the same for all checkpoints of a run, and computing it is most
of the cost (Inception needs ~0.3 s per image on a CPU), so it is cached the way prepared data is:
one ``.npz`` per (prepared-data key, selection, feature network, sample count, FEATURES_VERSION)
under ``cache_root()/stats``, written atomically. Which images represent a data set is fixed: the
first ``n`` of a seeded permutation of the selected range, so "5000 images of CelebA" means the same
5000 on every machine and at every call.

The same file format is what ``python -m facegan stats`` writes and ``fid`` reads back: ``mu`` and
``sigma`` (float64, as pytorch-fid's stats files, which load here too), plus ``features`` (float32,
needed by every metric but FID), ``indices`` (the data set's image of each row) and ``meta`` (JSON).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..data.cache import PreparedData, cache_root
from ..errors import FaceganError, first_line
from ..io import atomic_write_bytes
from .features import FEATURES, FEATURES_VERSION, extract

Progress = Callable[[int, int], None]

SELECTION_SEED = 0  # the permutation that picks which n images represent a data set


@dataclass
class Reference:
    """Features (None for a stats file holding only mu and sigma) and their mean and covariance."""

    features: np.ndarray | None
    mu: np.ndarray
    sigma: np.ndarray
    meta: dict = field(default_factory=dict)
    indices: np.ndarray | None = None
    path: Path | None = None
    reused: bool = False

    @property
    def count(self) -> int | None:
        """How many images the statistics are of (None: a foreign stats file that does not say)."""
        c = self.meta.get("count")
        if c is None and self.features is not None:
            c = len(self.features)
        return None if c is None else int(c)


def stats_root() -> Path:
    return cache_root() / "stats"


def select(kept: int, n: int | None = None, selection: tuple[int | None, int | None] | None = None,
           seed: int = SELECTION_SEED) -> tuple[np.ndarray, str]:
    """Sorted indices of the images that represent a data set of ``kept`` images, and a name for them.

    ``selection`` is a Python-style (start, stop) range of the data set's images (negative counts from
    the end); from it the first ``n`` of a ``seed``-ed permutation are taken (all when ``n`` is None
    or larger). Sorted, so a memory map is read front to back.
    """
    start, stop, _ = slice(*(selection or (None, None))).indices(kept)
    stop = max(start, stop)
    if stop == start:
        raise FaceganError(f"the selection {_range_text(selection)} of a data set of {kept} images is empty")
    pool = np.arange(start, stop)
    if n is not None and n < len(pool):
        pool = np.sort(np.random.default_rng(seed).permutation(pool)[:n])
    name = ("all" if (start, stop) == (0, kept) else f"{start}-{stop}") + f"-n{len(pool)}"
    return pool, name


def reference(data: PreparedData, features: str = "inception", n: int | None = None, *,
              selection: tuple[int | None, int | None] | None = None, device: str | torch.device = "auto",
              batch_size: int = 64, progress: Progress | None = None, root: Path | None = None) -> Reference:
    """Features, mu and sigma of ``n`` images of ``data`` (see :func:`select`), from the cache when
    this data, selection, network and count were seen before."""
    if features not in FEATURES:
        raise FaceganError(f"features: got {features!r}; allowed: {', '.join(repr(k) for k in FEATURES)}")
    indices, name = select(data.kept, n, selection)
    path = (Path(root) if root else stats_root()) / f"{data.key}-{name}-{features}-v{FEATURES_VERSION}.npz"
    meta = {"data_key": data.key, "source": data.source, "resolution": data.prep.resolution,
            "crop": data.prep.crop, "features": features, "dim": FEATURES[features],
            "features_version": FEATURES_VERSION, "count": len(indices), "kept": data.kept,
            "selection": name, "selection_seed": SELECTION_SEED}
    cached = _read_cached(path, meta)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    batches = (data.images[indices[i:i + batch_size]] for i in range(0, len(indices), batch_size))
    feats = extract(batches, features, device=device, batch_size=batch_size, progress=progress,
                    total=len(indices))
    meta = {**meta, "seconds": round(time.perf_counter() - t0, 3), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    ref = from_features(feats, meta, indices)
    try:
        save(path, ref)
    except OSError as e:
        raise FaceganError(f"could not write the statistics cache {path}: {e.strerror or e}; free some disk "
                           "space or set FACEGAN_CACHE_DIR to another folder") from None
    ref.path = path
    return ref


def from_features(feats: np.ndarray, meta: dict, indices: np.ndarray | None = None) -> Reference:
    from .fid import feature_stats
    mu, sigma = feature_stats(feats)
    return Reference(feats, np.asarray(mu, np.float64), np.asarray(sigma, np.float64),
                     {**meta, "count": len(feats)}, indices)


def save(path: str | Path, ref: Reference) -> Path:
    """Write ``ref`` as an .npz atomically (a reader sees the old file or the whole new one)."""
    arrays = {"mu": ref.mu.astype(np.float64), "sigma": ref.sigma.astype(np.float64),
              "meta": np.array(json.dumps(ref.meta))}
    if ref.features is not None:
        arrays["features"] = ref.features.astype(np.float32, copy=False)
    if ref.indices is not None:
        arrays["indices"] = ref.indices.astype(np.int64, copy=False)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load(path: str | Path, features: str | None = None) -> Reference:
    """A statistics file: ours, or pytorch-fid's (``mu`` and ``sigma`` only, taken as Inception
    pool3). With ``features`` given, a file of another network is an error, not a silent mismatch."""
    path = Path(path).expanduser()
    try:
        with np.load(path, allow_pickle=False) as z:
            mu, sigma = np.asarray(z["mu"], np.float64), np.asarray(z["sigma"], np.float64)
            feats = np.asarray(z["features"], np.float32) if "features" in z.files else None
            indices = np.asarray(z["indices"]) if "indices" in z.files else None
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    except FileNotFoundError:
        raise FaceganError(f"no statistics file at {path}") from None
    except KeyError as e:
        raise FaceganError(f"{path} is not a statistics file: it has no {e.args[0]!r} array "
                           "(python -m facegan stats writes one)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise FaceganError(f"cannot read the statistics file {path}: {first_line(e)}") from None
    if not isinstance(meta, dict):
        meta = {}
    meta.setdefault("features", "inception" if mu.shape == (2048,) else None)
    d = mu.shape[0] if mu.ndim == 1 else -1
    if mu.ndim != 1 or sigma.shape != (d, d) or (feats is not None and feats.shape[1:] != (d,)):
        raise FaceganError(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not match (expected (D,) "
                           "and (D, D))")
    if features is not None and (meta["features"] != features or d != FEATURES[features]):
        raise FaceganError(f"{path} holds {meta['features'] or f'{d}-d'} features, not {features}; "
                           f"compute both sides with the same --features")
    meta.setdefault("count", len(feats) if feats is not None else None)
    return Reference(feats, mu, sigma, meta, indices, path, reused=True)


def _read_cached(path: Path, meta: dict) -> Reference | None:
    """The cache entry at ``path`` if it is complete and made for exactly ``meta``; else None."""
    try:
        ref = load(path, meta["features"])
    except FaceganError:
        return None
    same = all(ref.meta.get(k) == v for k, v in meta.items())
    if not same or ref.features is None or ref.indices is None or len(ref.features) != meta["count"]:
        return None
    return ref


def _range_text(selection) -> str:
    start, stop = selection or (None, None)
    return f"{'' if start is None else start}:{'' if stop is None else stop}"
