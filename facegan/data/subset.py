"""A subset: which images of one prepared data set to train on, as a JSON file (``data.subset``).

Indices count the prepared images (as ``python -m facegan curate`` numbers them), so a subset belongs
to one prepared data set, named by its cache key; applied to any other it is refused, never guessed at.
The file says either which images to keep or which to drop::

    {"data_key": "81907c…", "images": 10000, "keep": [0, 5, 17, …]}
    {"data_key": "81907c…", "images": 10000, "drop": [12, 873]}
    {"data_key": …, "clusters": [{"id": 0, "indices": […]}, …], "keep_clusters": [0, 2], "drop": […]}

The last is curate's own output with ``keep_clusters`` added: the kept clusters' images, less ``drop``.
With neither ``keep`` nor ``keep_clusters`` every image is kept but those dropped. The images kept get
a key of their own (:func:`subset_key`), which is what runs, resumes and reference statistics see.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import FaceganError
from ..io import atomic_write_json

KIND = "facegan-subset"


def subset_key(data_key: str, keep: np.ndarray) -> str:
    """The key of the images ``keep`` of the prepared set ``data_key``."""
    h = hashlib.sha256(f"{data_key}|subset|".encode())
    h.update(np.asarray(keep, dtype=np.int64).tobytes())
    return h.hexdigest()[:20]


def read_subset(path: str | Path) -> dict:
    """The subset file's JSON object, or a FaceganError saying what is wrong with it."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FaceganError(f"data.subset: {path} does not exist; give a subset file written by "
                           "'python -m facegan curate --keep …' or the Data page, or leave data.subset empty") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise FaceganError(f"data.subset: cannot read {path} as JSON ({getattr(e, 'strerror', None) or e}); "
                           "give a subset file written by curate or the Data page") from None
    if not isinstance(spec, dict):
        raise FaceganError(f"data.subset: {path} holds no JSON object; give a subset file written by curate "
                           "or the Data page")
    return spec


def resolve(spec: dict, data_key: str, count: int, *, where: str = "the subset file") -> np.ndarray:
    """Sorted indices that ``spec`` keeps of the ``count`` prepared images keyed ``data_key``."""
    if spec.get("data_key") != data_key:
        theirs = spec.get("data_key")
        said = f"data set {theirs}" if theirs else "no data set (it has no data_key)"
        raise FaceganError(f"data.subset: {where} was written for {said}, not this one ({data_key}: another "
                           "source, resolution, crop or limit); run 'python -m facegan curate' on this data "
                           "and choose again")
    if spec.get("images", count) != count:
        raise FaceganError(f"data.subset: {where} counts {spec['images']} images, this data set has {count}; "
                           "run curate on this data again")
    if "keep" in spec:
        keep = _indices(spec["keep"], count, "keep", where)
    elif "keep_clusters" in spec:
        clusters = {c.get("id"): c for c in spec.get("clusters", []) if isinstance(c, dict)}
        wanted = spec["keep_clusters"]
        if not isinstance(wanted, list) or not all(w in clusters for w in wanted):
            missing = [w for w in wanted if w not in clusters] if isinstance(wanted, list) else wanted
            raise FaceganError(f"data.subset: {where} keeps cluster(s) {missing} that its 'clusters' does not "
                               f"list (it has {sorted(clusters, key=str)})")
        parts = [_indices(clusters[w].get("indices", []), count, f"cluster {w}", where) for w in wanted]
        keep = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
    else:
        keep = np.arange(count)
    if "drop" in spec:
        keep = np.setdiff1d(keep, _indices(spec["drop"], count, "drop", where))
    if len(keep) == 0:
        raise FaceganError(f"data.subset: {where} keeps no image; keep at least one")
    return keep.astype(np.int64)


def _indices(values, count: int, name: str, where: str) -> np.ndarray:
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise FaceganError(f"data.subset: '{name}' in {where} must be a list of image numbers")
    bad = [v for v in values if not 0 <= v < count]
    if bad:
        raise FaceganError(f"data.subset: {where} names image {bad[0]} in '{name}', but the data set has "
                           f"{count} images (0 to {count - 1}); run curate on this data again")
    return np.unique(np.asarray(values, dtype=np.int64))


def load_subset(path: str | Path, data_key: str, count: int) -> tuple[np.ndarray, dict]:
    """(indices kept, what a run records of the subset) for the subset file ``path``."""
    keep = resolve(read_subset(path), data_key, count, where=str(path))
    return keep, {"file": str(Path(path).resolve()), "kept": int(len(keep)), "of": count,
                  "base_key": data_key}


def write_subset(path: str | Path, data_key: str, count: int, keep, note: str = "") -> Path:
    """Write a subset file keeping the images ``keep`` of the prepared set ``data_key`` (``count`` images)."""
    keep = _indices([int(i) for i in keep], count, "keep", str(path))
    if len(keep) == 0:
        raise FaceganError("data.subset: a subset must keep at least one image")
    return atomic_write_json(path, {"kind": KIND, "data_key": data_key, "images": count, "note": note,
                                    "keep": keep.tolist()}, indent=None)
