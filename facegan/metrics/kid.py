"""Kernel Inception Distance (Bińkowski et al. 2018), as StyleGAN2-ADA and torch-fidelity compute it.

KID is the unbiased estimate of the squared maximum mean discrepancy (MMD²) between the two feature
sets under the cubic polynomial kernel ``k(x, y) = (x·y / D + 1)³``, averaged over random subsets.
Unlike FID it has no bias from the sample size, so values from different sample counts are comparable.

Subsets: ``subsets`` times, ``subset_size`` real rows and ``subset_size`` generated rows are drawn
without replacement (independently each time) from ``numpy.random.default_rng(seed)`` — real first,
then generated, see :func:`subset_indices`. ``kid`` is the mean of the per-subset MMD², ``kid_std``
their standard deviation (population, ddof = 0, as torch-fidelity). When a side has fewer than
``subset_size`` samples the smaller size is used and the result says so. When both sides have exactly
that many samples every subset holds all of them, so ``kid_std`` is 0.
"""

from __future__ import annotations

import warnings
from typing import Iterator

import numpy as np

from ..errors import FaceganError
from .distances import as_features, check_same_width


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(len(x), len(y)) matrix of ``(x·y / D + 1)³``, float64."""
    k = np.asarray(x, dtype=np.float64) @ np.asarray(y, dtype=np.float64).T
    k /= x.shape[1]
    k += 1.0
    k **= 3
    return k


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² (Gretton et al. 2012, eq. 3) between samples ``x`` (m, D) and ``y`` (n, D).

    ``Σ_{i≠j} k(xᵢ,xⱼ) / m(m−1) + Σ_{i≠j} k(yᵢ,yⱼ) / n(n−1) − 2 Σ_{i,j} k(xᵢ,yⱼ) / mn``; may be
    slightly negative when the two distributions are the same.
    """
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise FaceganError(f"MMD needs at least 2 samples on each side, got {m} and {n}")
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * kxy.sum() / (m * n))


def subset_indices(n_real: int, n_fake: int, subsets: int, subset_size: int,
                   seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The ``(real_rows, fake_rows)`` index pairs :func:`kid` uses, in order (reproducible by seed)."""
    rng = np.random.default_rng(seed)
    for _ in range(subsets):
        real_rows = rng.choice(n_real, size=subset_size, replace=False)
        fake_rows = rng.choice(n_fake, size=subset_size, replace=False)
        yield real_rows, fake_rows


def kid(real, fake, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
    """{"kid", "kid_std", "subsets", "subset_size", "n_real", "n_fake"} (+ "warning" if subsets shrank)."""
    real = as_features(real, "real", min_rows=2)
    fake = as_features(fake, "generated", min_rows=2)
    check_same_width(real, fake)
    for name, value in (("subsets", subsets), ("subset_size", subset_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise FaceganError(f"{name}: expected a positive whole number, got {value!r}")
    if subset_size < 2:
        raise FaceganError(f"subset_size: KID needs at least 2 samples per subset, got {subset_size}")
    n_real, n_fake = real.shape[0], fake.shape[0]
    size = min(int(subset_size), n_real, n_fake)
    mmds = np.array([mmd2_unbiased(real[r], fake[f])
                     for r, f in subset_indices(n_real, n_fake, int(subsets), size, seed)])
    out: dict = {"kid": float(mmds.mean()), "kid_std": float(mmds.std()), "subsets": int(subsets),
                 "subset_size": int(size), "n_real": int(n_real), "n_fake": int(n_fake)}
    if size < subset_size:
        msg = (f"KID subsets of {size} samples instead of {subset_size}: only {n_real} real and {n_fake} "
               f"generated samples were given; the estimate is noisier (but not biased).")
        warnings.warn(msg, stacklevel=2)
        out["warning"] = msg
    return out
