"""Evaluating a trained generator against real faces, and comparing two image sets.

:func:`evaluate_run` is what ``python -m facegan evaluate`` and the dashboard run: it draws ``n`` faces
from a checkpoint (EMA weights when kept, latents from ``seed``), takes the same number of real faces
(the cached reference features of the data set: a second checkpoint costs only its fakes), computes
the metrics by name through the registry, and adds a t-SNE map and each of the first fakes' nearest
real faces for people to look at. Everything is written to ``RUN/eval/`` and returned.

:func:`evaluate_sets` compares two image sources (folders, zips, data sources or saved statistics),
as ``python -m pytorch_fid A B`` does; it is the ``fid`` command.

The real set is always passed to the metrics first. Sample counts and the feature network are recorded
with every number: FIDs from different counts or networks are not comparable.
"""

from __future__ import annotations

import dataclasses
import io
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from ..config import Config, DataConfig
from ..devices import pick_device
from ..errors import FaceganError
from ..io import atomic_write_bytes, atomic_write_json
from ..training.run_dir import evaluations_dir, owning_run
from .features import FEATURES, extract
from .reference import Reference, from_features, load, reference

StageProgress = Callable[[str, int, int], None]   # progress(stage, done, total)

DEFAULT_METRICS = ("fid", "kid", "knn", "pr")
TSNE_MAX = 1000         # samples per side in the t-SNE map (t-SNE is O(n log n) but slow in practice)
NEIGHBOUR_FAKES = 64    # how many generated faces get their nearest real faces listed
NEIGHBOUR_K = 3


def metric_names(metrics: str | Iterable[str]) -> list[str]:
    """Registry names for ``metrics`` ('fid,kid' or a list; 'pr' means precision_recall), checked
    before any slow work so a typo fails at once."""
    from .registry import ALIASES, METRICS
    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = []
    for item in items:
        name = ALIASES.get(item.strip().lower(), item.strip().lower())
        if not name:
            continue
        if name not in METRICS:
            known = ", ".join(sorted({*METRICS, *ALIASES}))
            raise FaceganError(f"metrics: got {item.strip()!r}; allowed: {known}")
        if name not in names:
            names.append(name)
    if not names:
        raise FaceganError("metrics: name at least one, e.g. fid,kid,knn,pr")
    return names


def compare(real: Reference, fake: Reference, metrics: list[str], *, seed: int = 0) -> tuple[dict, list[str]]:
    """({name: result}, warnings) of ``metrics`` between two feature sets. FID comes from the cached
    mean and covariance (the same number as from the features, without recomputing the real side)."""
    from .registry import METRICS, compute_sets
    need_features = [m for m in metrics if METRICS[m].from_stats is None]
    for side, ref in (("first", real), ("second", fake)):
        if need_features and ref.features is None:
            raise FaceganError(f"the {side} set is a statistics file with mean and covariance only: it gives "
                               f"FID but not {', '.join(need_features)} (python -m facegan stats saves "
                               "the features too)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = compute_sets(metrics, real, fake, seed=seed)
    notes = list(dict.fromkeys(str(w.message) for w in caught))
    return _plain(out), notes


# -- a generator against real faces ------------------------------------------------------------------

def evaluate_run(run_or_file: str | Path, data_cfg: DataConfig | None = None, *, n: int = 5000,
                 metrics: str | Iterable[str] = DEFAULT_METRICS, features: str = "inception",
                 checkpoint: str | int = "last", seed: int = 0, truncation: float = 1.0,
                 device: str | torch.device = "auto",
                 progress: StageProgress | None = None, batch_size: int = 64, tsne_max: int = TSNE_MAX,
                 neighbour_count: int = NEIGHBOUR_FAKES, neighbour_k: int = NEIGHBOUR_K,
                 out_dir: str | Path | None = None) -> dict:
    """Evaluate a run folder (``checkpoint`` picks last, best, epoch_N or a .pt path) or a checkpoint
    / exported generator file against ``data_cfg`` (default: the run's own data), prepared at the
    generator's resolution. The generated faces come from ``latents(n, dim, seed, truncation)``
    (:func:`facegan.generate.latents`); the record keeps the truncation it used.

    ``progress(stage, done, total)`` reports 'preparing', 'real features' and 'generated features'.
    Writes ``<checkpoint>-<features>-n<N>-<time>.json`` (and ``tsne-….csv``, ``neighbours-….csv``) in
    ``out_dir`` (default RUN/eval, or an ``eval`` folder beside a lone checkpoint file) and returns the
    same dict with ``files`` added.
    """
    from ..data.cache import prepare
    from ..generate import check_truncation, generate, latents, load_generator
    t_start = time.perf_counter()
    names = metric_names(metrics)
    truncation = check_truncation(truncation)
    _check_counts(n=n, batch_size=batch_size, tsne_max=tsne_max, neighbour_count=neighbour_count,
                  neighbour_k=neighbour_k)
    if features not in FEATURES:
        raise FaceganError(f"features: got {features!r}; allowed: {', '.join(repr(k) for k in FEATURES)}")
    dev = device if isinstance(device, torch.device) else pick_device(str(device))
    G, cfg, info = load_generator(run_or_file, checkpoint, dev)
    base = data_cfg if data_cfg is not None else cfg.data
    data_cfg = dataclasses.replace(base, resolution=cfg.data.resolution)  # fakes and reals alike
    data = prepare(data_cfg, progress=_stage(progress, "preparing"))

    t0 = time.perf_counter()
    real = reference(data, features, n, device=dev, batch_size=batch_size,
                     progress=_stage(progress, "real features"))
    t_real = time.perf_counter() - t0

    t0 = time.perf_counter()
    z = latents(n, cfg.model.latent_dim, seed, truncation)
    fakes = (generate(G, z[i:i + batch_size]) for i in range(0, n, batch_size))
    fake_feats = extract(fakes, features, device=dev, batch_size=batch_size,
                         progress=_stage(progress, "generated features"), total=n)
    fake = from_features(fake_feats, {"features": features})
    t_fake = time.perf_counter() - t0

    t0 = time.perf_counter()
    results, notes = compare(real, fake, names, seed=seed)
    t_metrics = time.perf_counter() - t0

    t0 = time.perf_counter()
    tsne = _tsne(real, fake_feats, tsne_max, seed) if tsne_max else None
    t_tsne = time.perf_counter() - t0
    pairs = _neighbours(real, fake_feats, neighbour_count, neighbour_k) if neighbour_count else None

    run_path, out_dir = _locations(Path(run_or_file).expanduser(), out_dir)
    ckpt_name = Path(info["checkpoint"]).stem
    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem = _free_stem(out_dir, f"{ckpt_name}-{features}-n{n}-{stamp}")
    files = {"json": str(out_dir / f"{stem}.json")}
    if tsne is not None:
        files["tsne"] = str(out_dir / f"tsne-{stem}.csv")
    if pairs is not None:
        files["neighbours"] = str(out_dir / f"neighbours-{stem}.csv")
    record = {
        "kind": "evaluation",
        "metrics": results,
        "warnings": notes,
        "features": features,
        "feature_dim": FEATURES[features],
        "n_real": real.count,
        "n_fake": n,
        "seed": seed,
        "truncation": truncation,
        "run": str(run_path) if run_path else None,
        "checkpoint": {**info, "name": ckpt_name},
        "data": {k: v for k, v in data.summary().items() if k not in ("examples", "seconds", "reused")},
        "reference": {"path": str(real.path) if real.path else None, "reused": real.reused,
                      "selection": real.meta.get("selection"), "selection_seed": real.meta.get("selection_seed")},
        "settings": {"metrics": names, "n": n, "features": features, "checkpoint": str(checkpoint),
                     "seed": seed, "truncation": truncation, "batch_size": batch_size, "tsne_max": tsne_max,
                     "neighbour_count": neighbour_count, "neighbour_k": neighbour_k},
        "device": str(dev),
        "seconds": {"real_features": round(t_real, 3), "generated_features": round(t_fake, 3),
                    "metrics": round(t_metrics, 3), "tsne": round(t_tsne, 3),
                    "total": round(time.perf_counter() - t_start, 3)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "files": files,
    }
    try:
        if tsne is not None:
            atomic_write_bytes(files["tsne"], _csv(tsne))
        if pairs is not None:
            atomic_write_bytes(files["neighbours"], _csv(pairs))
        atomic_write_json(files["json"], _plain(record))  # last: its presence means the others are there
    except OSError as e:
        raise FaceganError(f"cannot write the evaluation to {out_dir}: {e.strerror or e}") from None
    return record


def _locations(path: Path, out_dir: str | Path | None) -> tuple[Path | None, Path]:
    """(run folder or None, where the evaluation files go)."""
    return owning_run(path), Path(out_dir).expanduser() if out_dir is not None else evaluations_dir(path)


def _free_stem(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``… when an evaluation in the same second took it."""
    out, k = stem, 1
    while (folder / f"{out}.json").exists():
        k += 1
        out = f"{stem}-{k}"
    return out


def _tsne(real: Reference, fake_feats: np.ndarray, most: int, seed: int):
    """The t-SNE table of at most ``most`` samples a side; ``index`` is the real image's index in the
    prepared data set, or the generated face's latent index (``latents(n, dim, seed)[index]``)."""
    from .tsne import tsne_table
    rng = np.random.default_rng(seed)
    real_rows = np.sort(rng.choice(len(real.features), min(most, len(real.features)), replace=False))
    fake_rows = np.arange(min(most, len(fake_feats)))
    table = tsne_table(real.features[real_rows], fake_feats[fake_rows], seed=seed)
    is_real = (table["kind"] == "real").to_numpy()
    idx = table["index"].to_numpy().copy()
    idx[is_real] = real.indices[real_rows[idx[is_real]]]
    idx[~is_real] = fake_rows[idx[~is_real]]
    table["index"] = idx
    return table


def _neighbours(real: Reference, fake_feats: np.ndarray, count: int, k: int):
    """The ``k`` nearest real faces of the first ``count`` generated ones, one row per pair:
    fake_index (latent index), rank (1 = nearest), real_index (image in the prepared data), distance."""
    import pandas as pd

    from .neighbours import nearest_real
    m = min(count, len(fake_feats))
    k = min(k, len(real.features))
    idx, dist = nearest_real(fake_feats[:m], real.features, k)
    return pd.DataFrame({"fake_index": np.repeat(np.arange(m), k), "rank": np.tile(np.arange(1, k + 1), m),
                         "real_index": real.indices[idx.ravel()], "distance": dist.ravel()})


# -- two image sets ----------------------------------------------------------------------------------

def evaluate_sets(a: str | Path, b: str | Path, *, features: str = "inception", n: int | None = None,
                  metrics: str | Iterable[str] = ("fid",), resolution: int = 64, crop: str = "auto",
                  limit: int | None = None,
                  selections: tuple[tuple[int | None, int | None] | None, ...] = (None, None),
                  seed: int = 0, device: str | torch.device = "auto", batch_size: int = 64,
                  progress: StageProgress | None = None) -> dict:
    """Metrics between two image sources, A taken as the real side.

    Each of ``a``/``b`` is a folder or zip of images, a data source ('synthetic', 'celeba:PATH'), or a
    statistics ``.npz`` (from ``python -m facegan stats`` or pytorch-fid; used as it is). Images are
    prepared (and cached) at ``resolution`` with ``crop``; of each set's ``selections`` range (Python
    slice bounds, e.g. ``(None, 5000)`` and ``(5000, None)`` for two halves) at most ``n`` are used,
    picked as :func:`facegan.metrics.reference.select` does.
    """
    t_start = time.perf_counter()
    names = metric_names(metrics)
    _check_counts(n=n, batch_size=batch_size)
    if features not in FEATURES:
        raise FaceganError(f"features: got {features!r}; allowed: {', '.join(repr(k) for k in FEATURES)}")
    dev = device if isinstance(device, torch.device) else pick_device(str(device))
    sides, seconds = [], {}
    for label, spec, selection in zip("AB", (a, b), selections):
        t0 = time.perf_counter()
        sides.append(set_reference(spec, features=features, n=n, resolution=resolution, crop=crop,
                                   limit=limit, selection=selection, device=dev, batch_size=batch_size,
                                   progress=progress, label=label))
        seconds[label] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    results, notes = compare(sides[0], sides[1], names, seed=seed)
    seconds["metrics"] = round(time.perf_counter() - t0, 3)
    seconds["total"] = round(time.perf_counter() - t_start, 3)
    out = {"metrics": results, "warnings": notes, "features": features, "feature_dim": FEATURES[features],
           "n_a": sides[0].count, "n_b": sides[1].count,
           "a": _describe(a, sides[0]), "b": _describe(b, sides[1]), "device": str(dev), "seconds": seconds}
    if "fid" in results:
        out = {"fid": results["fid"]["fid"], **out}
    return _plain(out)


def set_reference(spec: str | Path, *, features: str = "inception", n: int | None = None,
                  resolution: int = 64, crop: str = "auto", limit: int | None = None,
                  selection: tuple[int | None, int | None] | None = None,
                  device: str | torch.device = "auto", batch_size: int = 64,
                  progress: StageProgress | None = None, label: str = "") -> Reference:
    """The features and statistics of one image source or statistics file (see :func:`evaluate_sets`)."""
    from ..data.cache import prepare
    text = str(spec)
    if text.lower().endswith(".npz"):  # checked first: an .npz is also a zip file
        if selection is not None:
            raise FaceganError(f"{text} is a statistics file: a range of images applies to image sources only")
        return load(text, features)
    data_cfg = data_config(text, resolution=resolution, crop=crop, limit=limit)
    suffix = f" {label}" if label else ""
    data = prepare(data_cfg, progress=_stage(progress, f"preparing{suffix}"))
    return reference(data, features, n, selection=selection, device=device, batch_size=batch_size,
                     progress=_stage(progress, f"features{suffix}"))


def data_config(source: str, *, resolution: int = 64, crop: str = "auto", limit: int | None = None) -> DataConfig:
    """A validated DataConfig for ``source`` (limits checked as everywhere else)."""
    values = {"data.source": source, "data.resolution": resolution, "data.crop": crop, "data.limit": limit}
    return Config().with_overrides({k: v for k, v in values.items() if v is not None}).data


def _describe(spec, ref: Reference) -> dict:
    keys = ("source", "resolution", "crop", "selection", "count", "kept", "data_key", "features")
    out = {"spec": str(spec), **{k: ref.meta[k] for k in keys if k in ref.meta}}
    out["stats"] = str(ref.path) if ref.path else None
    out["reused"] = ref.reused
    if "seconds" in ref.meta:  # how long the features took when they were computed (maybe earlier)
        out["feature_seconds"] = ref.meta["seconds"]
    return out


# -- helpers -----------------------------------------------------------------------------------------

def _stage(progress: StageProgress | None, stage: str):
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def _check_counts(**values) -> None:
    minimum = {"n": 2, "batch_size": 1, "neighbour_k": 1}
    for name, value in values.items():
        if value is None and name == "n":
            continue
        lo = minimum.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise FaceganError(f"{name}: got {value!r}; allowed: a whole number >= {lo}")


def _csv(table) -> bytes:
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def _plain(obj):
    """``obj`` with numpy scalars and arrays turned into JSON's numbers and lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj
