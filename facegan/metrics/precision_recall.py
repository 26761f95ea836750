"""Improved precision and recall (Kynkäänniemi et al. 2019), k = 3 by default.

Each set's "manifold" is the union of balls around its samples, each ball's radius being the distance to
that sample's k-th nearest other sample of the same set. Precision is the fraction of generated samples
inside the real manifold (within the radius of at least one real sample: are the fakes realistic?);
recall is the fraction of real samples inside the generated manifold (is the variety of the real data
covered?). A point exactly on a radius counts as inside (``≤``, as the reference implementation).

Distances are computed in blocks (:func:`facegan.metrics.distances.sq_dist_chunks`) and compared
squared; memory O(chunk × max(N, M)).
"""

from __future__ import annotations

import numpy as np

from ..errors import FaceganError
from .distances import DEFAULT_CHUNK, as_features, check_same_width, kth_neighbour_sq_dist, sq_dist_chunks


def manifold_coverage(points, support, support_sq_radii, *, chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """(len(points),) bool: is each point within the radius of at least one ``support`` sample?"""
    inside = np.empty(np.asarray(points).shape[0], dtype=bool)
    for rows, block in sq_dist_chunks(points, support, chunk=chunk):
        inside[rows] = (block <= support_sq_radii[None, :]).any(axis=1)
    return inside


def precision_recall(real, fake, *, k: int = 3, chunk: int = DEFAULT_CHUNK) -> dict:
    """{"precision", "recall", "k", "n_real", "n_fake"}."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise FaceganError(f"k: expected a positive whole number, got {k!r}")
    real = as_features(real, "real", min_rows=k + 1)
    fake = as_features(fake, "generated", min_rows=k + 1)
    check_same_width(real, fake)
    real_radii = kth_neighbour_sq_dist(real, int(k), chunk=chunk)
    fake_radii = kth_neighbour_sq_dist(fake, int(k), chunk=chunk)
    precision = manifold_coverage(fake, real, real_radii, chunk=chunk).mean()
    recall = manifold_coverage(real, fake, fake_radii, chunk=chunk).mean()
    return {"precision": float(precision), "recall": float(recall), "k": int(k),
            "n_real": int(real.shape[0]), "n_fake": int(fake.shape[0])}
