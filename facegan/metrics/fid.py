"""Fréchet Inception Distance (Heusel et al. 2017), as pytorch-fid computes it.

FID fits a Gaussian to each feature set and measures the Fréchet (2-Wasserstein) distance between them:
``‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁Σ₂)^½)``.

pytorch-fid takes ``scipy.linalg.sqrtm`` of the non-symmetric product Σ₁Σ₂ (slow, and it can go complex or
fail when the product is singular). Here ``tr((Σ₁Σ₂)^½)`` is the sum of the square roots of the
eigenvalues of the symmetric positive semi-definite matrix ``Σ₁^½ Σ₂ Σ₁^½`` (which has the same
eigenvalues as Σ₁Σ₂), found with ``eigh``/``eigvalsh``. Eigenvalues below the numerical-rank tolerance
(largest × D × machine epsilon, the rule of ``numpy.linalg.matrix_rank``) are treated as exact zeros,
so rank-deficient covariances (N ≤ D) do not add √(rounding noise) for each null direction. The result
matches pytorch-fid to ~1e-7 relative and a low-rank exact formula to ~1e-15.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import FaceganError
from .distances import as_features, check_same_width

#: Below this many samples per side the covariance of 2048-d Inception features is rank-deficient and
#: FID is noticeably biased upwards (the bias shrinks like 1/N).
MIN_SAMPLES = 2048


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of the rows of ``features``, float64, covariance with N − 1."""
    x = as_features(features, "features", min_rows=2)
    mu = x.mean(axis=0)
    sigma = np.cov(x, rowvar=False)
    return mu, np.atleast_2d(sigma)


def _psd_eigvals(mat: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric PSD matrix, with numerical-rank noise (and negatives) set to 0."""
    w = np.linalg.eigvalsh(mat)
    tol = max(float(w.max()), 0.0) * mat.shape[0] * np.finfo(np.float64).eps
    w[w <= tol] = 0.0
    return w


def _psd_sqrt(mat: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (tiny/negative eigenvalues set to 0)."""
    w, v = np.linalg.eigh(mat)
    tol = max(float(w.max()), 0.0) * mat.shape[0] * np.finfo(np.float64).eps
    w = np.where(w > tol, w, 0.0)
    return (v * np.sqrt(w)) @ v.T


def _check_stats(mu, sigma, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise FaceganError(f"{name} statistics: mean has shape {mu.shape} but covariance {sigma.shape}; "
                           f"expected (D,) and (D, D)")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise FaceganError(f"{name} statistics contain NaN or infinite values")
    return mu, sigma


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); ≥ 0 (rounding clamped away)."""
    mu1, sigma1 = _check_stats(mu1, sigma1, "first")
    mu2, sigma2 = _check_stats(mu2, sigma2, "second")
    if mu1.shape != mu2.shape:
        raise FaceganError(f"statistics have different feature sizes: {mu1.shape[0]} and {mu2.shape[0]}")
    sigma1 = (sigma1 + sigma1.T) / 2
    sigma2 = (sigma2 + sigma2.T) / 2
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) / 2
    tr_covmean = float(np.sqrt(_psd_eigvals(middle)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff) + float(np.trace(sigma1)) + float(np.trace(sigma2)) - 2.0 * tr_covmean
    return max(value, 0.0)


def _small_sample_warning(n_real: int | None, n_fake: int | None) -> str | None:
    small = [f"{n} {side}" for n, side in ((n_real, "real"), (n_fake, "generated"))
             if n is not None and n < MIN_SAMPLES]
    if not small:
        return None
    return (f"FID from only {' and '.join(small)} samples (fewer than {MIN_SAMPLES}): the covariance "
            f"estimate is poor (rank-deficient when there are no more samples than feature dimensions) "
            f"and FID is biased upwards at small sample counts; compare only values computed with the "
            f"same numbers of samples.")


def fid_from_stats(mu_real, sigma_real, mu_fake, sigma_fake, *, n_real: int | None = None,
                   n_fake: int | None = None) -> dict:
    """FID result from precomputed statistics (e.g. cached dataset statistics).

    ``n_real``/``n_fake``, when given, are reported and checked for the small-sample warning.
    """
    out: dict = {"fid": frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake)}
    if n_real is not None:
        out["n_real"] = int(n_real)
    if n_fake is not None:
        out["n_fake"] = int(n_fake)
    msg = _small_sample_warning(n_real, n_fake)
    if msg:
        warnings.warn(msg, stacklevel=2)
        out["warning"] = msg
    return out


def fid(real, fake) -> dict:
    """{"fid", "n_real", "n_fake"} (plus "warning" below 2048 samples per side) for two feature sets."""
    real = as_features(real, "real", min_rows=2)
    fake = as_features(fake, "generated", min_rows=2)
    check_same_width(real, fake)
    return fid_from_stats(*feature_stats(real), *feature_stats(fake), n_real=real.shape[0],
                          n_fake=fake.shape[0])
