"""A 2-D t-SNE map of real and generated features, for plotting (not a registry metric: it is a table).

PCA first to at most ``pca_dims`` dimensions (fewer when there are fewer samples or features), then
``sklearn.manifold.TSNE(2, init='pca', random_state=seed)``. t-SNE needs a perplexity below the number
of samples; it is lowered to ``(n − 1) / 3`` when that is smaller (the usual rule: three standard
deviations of neighbours must fit). t-SNE keeps neighbourhoods, not distances: clusters and overlap are
meaningful, the distance between far clusters and cluster sizes are not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FaceganError
from .distances import as_features, check_same_width


def effective_perplexity(perplexity: float, n: int) -> float:
    """``perplexity``, lowered to ``(n − 1) / 3`` for small ``n``."""
    return float(min(perplexity, (n - 1) / 3))


def tsne_table(real, fake, *, perplexity: float = 30, seed: int = 0, pca_dims: int = 50) -> pd.DataFrame:
    """One row per sample: columns ``x``, ``y``, ``kind`` ('real'/'generated'), ``index`` (row in its set).

    Rows are the real samples in order, then the generated ones. The same inputs and seed give the same
    table.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    real = as_features(real, "real", min_rows=1)
    fake = as_features(fake, "generated", min_rows=1)
    check_same_width(real, fake)
    if not perplexity > 0:
        raise FaceganError(f"perplexity: expected a positive number, got {perplexity!r}")
    if isinstance(pca_dims, bool) or not isinstance(pca_dims, (int, np.integer)) or pca_dims < 2:
        raise FaceganError(f"pca_dims: expected a whole number ≥ 2, got {pca_dims!r}")
    pooled = np.concatenate([real, fake])
    n, d = pooled.shape
    if n < 4:
        raise FaceganError(f"t-SNE needs at least 4 samples in all, got {n}")
    if d < 2:
        raise FaceganError("t-SNE needs feature vectors with at least 2 dimensions")
    dims = min(int(pca_dims), n, d)
    if dims < d:
        pooled = PCA(n_components=dims, svd_solver="full").fit_transform(pooled)
    xy = TSNE(n_components=2, init="pca", perplexity=effective_perplexity(perplexity, n),
              random_state=seed).fit_transform(pooled)
    return pd.DataFrame({
        "x": xy[:, 0].astype(np.float64),
        "y": xy[:, 1].astype(np.float64),
        "kind": ["real"] * real.shape[0] + ["generated"] * fake.shape[0],
        "index": np.concatenate([np.arange(real.shape[0]), np.arange(fake.shape[0])]).astype(np.int64),
    })
