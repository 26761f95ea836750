"""Leave-one-out 1-nearest-neighbour two-sample test (Lopez-Paz & Oquab 2017; Xu et al. 2018).

Pool the real samples (label "real") and the generated ones (label "generated"); classify every sample
by the label of its nearest *other* pooled sample (Euclidean distance in feature space) and report how
often that is right. About 0.5 means the two sets are mixed as if drawn from one distribution; 1.0 means
every sample sits next to its own kind (the generator is easy to tell apart); well below 0.5 means
generated samples sit right on top of real ones (e.g. copies of training images).

``knn_p_value`` is the two-sided exact binomial test of the number of correct classifications against
chance (p = 0.5), ``scipy.stats.binomtest``. (The leave-one-out decisions are not independent, so read
it as a guide, as in Lopez-Paz & Oquab.)

Ties: a sample whose nearest real and nearest generated neighbours are at exactly the same distance is
classified as real — the same as ``argmin`` over the pool with real samples first. With continuous
features exact ties do not happen; duplicated rows are where they can. ``knn_ties`` counts them.

Distances come from :func:`facegan.metrics.distances.sq_dist_chunks`: memory O(chunk × (N + M)), e.g.
1024 × 20,000 float64 = 164 MB for 10,000 samples a side.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from ..errors import FaceganError
from .distances import DEFAULT_CHUNK, as_features, check_same_width, sq_dist_chunks


def nn_predictions(real, fake, *, chunk: int = DEFAULT_CHUNK) -> tuple[np.ndarray, int]:
    """(N + M,) bool "classified as real" for the pooled samples (real first), and the number of ties."""
    real = as_features(real, "real", min_rows=1)
    fake = as_features(fake, "generated", min_rows=1)
    check_same_width(real, fake)
    n_real = real.shape[0]
    pooled = np.concatenate([real, fake])
    del real, fake
    as_real = np.empty(pooled.shape[0], dtype=bool)
    ties = 0
    for rows, block in sq_dist_chunks(pooled, chunk=chunk):
        to_real = block[:, :n_real].min(axis=1)
        to_fake = block[:, n_real:].min(axis=1)
        as_real[rows] = to_real <= to_fake
        ties += int(np.count_nonzero((to_real == to_fake) & np.isfinite(to_real)))
    return as_real, ties


def knn(real, fake, *, chunk: int = DEFAULT_CHUNK) -> dict:
    """{"knn_accuracy", "knn_real_accuracy", "knn_fake_accuracy", "knn_p_value", "knn_ties", "n_real",
    "n_fake"}."""
    n_real, n_fake = len(real), len(fake)      # inputs validated (and copied) once, in nn_predictions
    if n_real + n_fake < 3:
        raise FaceganError("the 1-NN test needs at least 3 samples in all")
    as_real, ties = nn_predictions(real, fake, chunk=chunk)
    real_correct = int(np.count_nonzero(as_real[:n_real]))
    fake_correct = int(np.count_nonzero(~as_real[n_real:]))
    correct, total = real_correct + fake_correct, n_real + n_fake
    return {
        "knn_accuracy": correct / total,
        "knn_real_accuracy": real_correct / n_real,
        "knn_fake_accuracy": fake_correct / n_fake,
        "knn_p_value": float(binomtest(correct, total, 0.5, alternative="two-sided").pvalue),
        "knn_ties": ties,
        "n_real": int(n_real),
        "n_fake": int(n_fake),
    }
