"""Nearest real samples of generated ones, in feature space: the memorisation check.

A generated face whose nearest real face is far closer than real faces are to each other may be a copy
of a training image; showing the pairs side by side lets a person judge.
"""

from __future__ import annotations

import numpy as np

from ..errors import FaceganError
from .distances import DEFAULT_CHUNK, as_features, check_same_width, sq_dist_chunks


def nearest_real(fake, real, k: int = 1, chunk: int = DEFAULT_CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest real rows of each generated row: ``(indices (M, k) int64, distances (M, k))``.

    Distances are Euclidean (not squared), float64, ascending along each row; equal distances are
    ordered by the lower real index (which of several equally distant candidates makes it into the k
    at the boundary is unspecified).
    """
    fake = as_features(fake, "generated", min_rows=1)
    real = as_features(real, "real", min_rows=1)
    check_same_width(real, fake)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= real.shape[0]:
        raise FaceganError(f"k: expected a whole number from 1 to {real.shape[0]} (the real samples), "
                           f"got {k!r}")
    k = int(k)
    indices = np.empty((fake.shape[0], k), dtype=np.int64)
    sq = np.empty((fake.shape[0], k), dtype=np.float64)
    for rows, block in sq_dist_chunks(fake, real, chunk=chunk):
        if k < block.shape[1]:
            cand = np.argpartition(block, k - 1, axis=1)[:, :k]
        else:
            cand = np.broadcast_to(np.arange(block.shape[1]), block.shape)
        cand_d = np.take_along_axis(block, cand, axis=1)
        order = np.lexsort((cand, cand_d), axis=1)   # by distance, then index
        indices[rows] = np.take_along_axis(cand, order, axis=1)
        sq[rows] = np.take_along_axis(cand_d, order, axis=1)
    return indices, np.sqrt(sq)
