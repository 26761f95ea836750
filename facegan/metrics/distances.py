"""Pairwise squared Euclidean distances, a block of rows at a time.

The one place where feature-space distances are computed (used by :mod:`.knn`,
:mod:`.precision_recall` and :mod:`.neighbours`). A full 20,000 × 20,000 distance matrix would take
3.2 GB, so callers walk it in blocks of ``chunk`` rows: memory is O(chunk × N) on top of the inputs.

Numerics: ``‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b`` in float64, after shifting both sets by the same vector
(the mean of the reference set: distances do not change, and the norms, hence the cancellation
error, get much smaller); results are clipped at 0. Identical rows therefore come out as a tiny number
(≈ 1e-13 × the squared norm) or exactly 0, not always exactly 0.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import FaceganError

DEFAULT_CHUNK = 1024


def as_features(x, name: str = "features", *, min_rows: int = 1) -> np.ndarray:
    """``x`` as a finite float64 (N, D) matrix, or a :class:`FaceganError` saying what is wrong."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise FaceganError(f"{name}: expected a 2-D array (samples, features), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise FaceganError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if arr.shape[0] < min_rows:
        raise FaceganError(f"{name}: need at least {min_rows} samples, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise FaceganError(f"{name}: feature vectors are empty (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise FaceganError(f"{name}: contains NaN or infinite values")
    return arr


def check_same_width(a: np.ndarray, b: np.ndarray, names: tuple[str, str] = ("real", "generated")) -> None:
    if a.shape[1] != b.shape[1]:
        raise FaceganError(f"{names[0]} features have {a.shape[1]} dimensions but {names[1]} have {b.shape[1]}")


def check_chunk(chunk) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise FaceganError(f"chunk: expected a positive whole number of rows, got {chunk!r}")
    return int(chunk)


def sq_dist_chunks(a: np.ndarray, b: np.ndarray | None = None, *,
                   chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(rows, block)`` with ``block[i, j] = ‖a[rows][i] − b[j]‖²`` (float64, ≥ 0).

    With ``b=None`` the distances are within ``a`` and each sample's distance to itself is ``+inf``
    (so "nearest other sample" is a plain ``min``/``argmin`` over the block). Each block is a fresh
    (≤ chunk, len(b)) array the caller may modify.
    """
    chunk = check_chunk(chunk)
    a = as_features(a, "a")
    self_pairs = b is None
    b = a if self_pairs else as_features(b, "b")
    check_same_width(a, b, ("a", "b"))
    shift = b.mean(axis=0)
    a = a - shift
    b = a if self_pairs else b - shift
    a_sq = np.einsum("ij,ij->i", a, a)
    b_sq = a_sq if self_pairs else np.einsum("ij,ij->i", b, b)
    for start in range(0, a.shape[0], chunk):
        rows = slice(start, min(start + chunk, a.shape[0]))
        block = a[rows] @ b.T
        block *= -2.0
        block += a_sq[rows, None]
        block += b_sq[None, :]
        np.maximum(block, 0.0, out=block)
        if self_pairs:
            i = np.arange(block.shape[0])
            block[i, start + i] = np.inf
        yield rows, block


def kth_neighbour_sq_dist(x: np.ndarray, k: int, *, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """(N,) squared distance from each row of ``x`` to its k-th nearest *other* row of ``x``."""
    x = as_features(x)
    if not 1 <= k < x.shape[0]:
        raise FaceganError(f"k = {k} needs at least {k + 1} samples in a set, got {x.shape[0]}")
    out = np.empty(x.shape[0])
    for rows, block in sq_dist_chunks(x, chunk=chunk):
        out[rows] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return out
