"""The metric mathematics against independent implementations: pytorch-fid, closed forms, brute-force loops
and scipy's cdist. Everything here runs on small random feature matrices (no feature network)."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import binomtest

from facegan.errors import FaceganError
from facegan.metrics import METRICS, compute
from facegan.metrics.distances import kth_neighbour_sq_dist, sq_dist_chunks
from facegan.metrics.fid import MIN_SAMPLES, feature_stats, fid, fid_from_stats, frechet_distance
from facegan.metrics.kid import kid, mmd2_unbiased, subset_indices
from facegan.metrics.knn import knn, nn_predictions
from facegan.metrics.neighbours import nearest_real
from facegan.metrics.precision_recall import precision_recall
from facegan.metrics.tsne import effective_perplexity, tsne_table


def rng(seed=0):
    return np.random.default_rng(seed)


def pytorch_fid_distance(mu1, s1, mu2, s2):
    from pytorch_fid.fid_score import calculate_frechet_distance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # scipy's deprecation of sqrtm(disp=...)
        return float(calculate_frechet_distance(mu1, s1, mu2, s2))


def gaussian_pair(seed, d, n, scale=1.1, shift=0.1, rank=None):
    """Two (n, d) samples; with ``rank`` the data lie in a rank-dimensional subspace (singular covariance
    however many samples)."""
    g = rng(seed)
    a = g.normal(size=(n, d)) * 3
    b = g.normal(size=(n, d)) * 3 * scale + shift
    if rank is not None:
        basis = g.normal(size=(rank, d))
        a = g.normal(size=(n, rank)) @ basis
        b = (g.normal(size=(n, rank)) * scale) @ basis + shift
    return a, b


# --------------------------------------------------------------------------------------------- distances

@pytest.mark.parametrize("chunk", [1, 7, 1024])
def test_sq_dist_chunks_match_cdist(chunk):
    a, b = rng(1).normal(size=(23, 5)), rng(2).normal(size=(31, 5))
    full = np.empty((23, 31))
    seen = []
    for rows, block in sq_dist_chunks(a, b, chunk=chunk):
        assert block.shape[0] <= chunk
        full[rows] = block
        seen.append(rows.start)
    assert seen == list(range(0, 23, chunk))
    np.testing.assert_allclose(full, cdist(a, b, "sqeuclidean"), rtol=1e-12, atol=1e-12)


def test_sq_dist_chunks_within_one_set_excludes_self():
    a = rng(3).normal(size=(17, 4))
    full = np.vstack([block for _, block in sq_dist_chunks(a, chunk=5)])
    expected = cdist(a, a, "sqeuclidean")
    np.fill_diagonal(expected, np.inf)
    np.testing.assert_allclose(full, expected, rtol=1e-12, atol=1e-12)


def test_sq_dist_chunks_stay_accurate_far_from_the_origin():
    # ‖a‖² + ‖b‖² − 2ab loses ~1e-16 × ‖a‖² absolute: with an offset of 1e6 that is ~1e-4 on distances of
    # ~10, unless both sets are shifted first (which the helper does).
    g = rng(4)
    a, b = g.normal(size=(40, 5)) + 1e6, g.normal(size=(30, 5)) + 1e6
    full = np.vstack([block for _, block in sq_dist_chunks(a, b, chunk=16)])
    np.testing.assert_allclose(full, cdist(a, b, "sqeuclidean"), rtol=1e-7)


def test_kth_neighbour_sq_dist_brute_force():
    x = rng(5).normal(size=(29, 3))
    d = cdist(x, x, "sqeuclidean")
    np.fill_diagonal(d, np.inf)
    for k in (1, 3, 28):
        np.testing.assert_allclose(kth_neighbour_sq_dist(x, k, chunk=4), np.sort(d, axis=1)[:, k - 1],
                                   rtol=1e-12, atol=1e-12)
    with pytest.raises(FaceganError, match="at least 30 samples"):
        kth_neighbour_sq_dist(x, 29)


def test_bad_inputs_are_refused():
    good = np.zeros((5, 3))
    with pytest.raises(FaceganError, match="2-D"):
        knn(np.zeros(5), good)
    with pytest.raises(FaceganError, match="NaN"):
        knn(np.full((5, 3), np.nan), good)
    with pytest.raises(FaceganError, match="dimensions"):
        knn(np.zeros((5, 4)), good)
    with pytest.raises(FaceganError, match="chunk"):
        knn(good + 1, good, chunk=0)


# --------------------------------------------------------------------------------------------------- FID

def test_feature_stats_mean_and_unbiased_covariance():
    x = rng(6).normal(size=(50, 4)).astype(np.float32)
    mu, sigma = feature_stats(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    assert mu.shape == (4,) and sigma.shape == (4, 4)
    x64 = x.astype(np.float64)
    centred = x64 - x64.sum(axis=0) / 50
    np.testing.assert_allclose(mu, x64.sum(axis=0) / 50, rtol=1e-12)
    np.testing.assert_allclose(sigma, centred.T @ centred / 49, rtol=1e-10, atol=1e-14)
    assert feature_stats(x[:, :1])[1].shape == (1, 1)


@pytest.mark.parametrize("seed, d, n, scale, shift, rank", [
    (0, 8, 500, 1.1, 0.1, None),       # full rank
    (1, 8, 500, 1.0, 0.0, None),       # same distribution: small value
    (2, 64, 20, 1.1, 0.1, None),       # N < D: rank-deficient
    (3, 300, 50, 1.0, 0.01, None),     # N < D
    (4, 64, 64, 0.7, 1.0, None),       # N = D
    (5, 40, 400, 1.3, 0.2, 6),         # singular even with N > D
])
def test_frechet_distance_equals_pytorch_fid(seed, d, n, scale, shift, rank):
    a, b = gaussian_pair(seed, d, n, scale, shift, rank)
    stats = (*feature_stats(a), *feature_stats(b))
    assert frechet_distance(*stats) == pytest.approx(pytorch_fid_distance(*stats), rel=1e-6)


@pytest.mark.slow
def test_frechet_distance_equals_pytorch_fid_inception_size():
    a, b = gaussian_pair(7, 2048, 300, 1.05, 0.05)           # 2048-d, rank 299: the small-run case
    stats = (*feature_stats(a), *feature_stats(b))
    assert frechet_distance(*stats) == pytest.approx(pytorch_fid_distance(*stats), rel=1e-6)


def exact_low_rank_fid(a, b):
    """With S = XᵀX (X the centred data / √(N−1)), tr √(S₁S₂) = nuclear norm of X₁X₂ᵀ (an N₁ × N₂ SVD)."""
    x1 = (a - a.mean(0)) / math.sqrt(len(a) - 1)
    x2 = (b - b.mean(0)) / math.sqrt(len(b) - 1)
    diff = a.mean(0) - b.mean(0)
    return diff @ diff + (x1 ** 2).sum() + (x2 ** 2).sum() - 2 * np.linalg.svd(x1 @ x2.T, compute_uv=False).sum()


@pytest.mark.parametrize("d, n", [(64, 20), (300, 50), (200, 30)])
def test_frechet_distance_exact_for_rank_deficient_covariances(d, n):
    # pytorch-fid is only ~5e-8 relative here (each null direction adds √rounding); we drop them.
    a, b = gaussian_pair(d + n, d, n)
    with pytest.warns(UserWarning):
        value = fid(a, b)["fid"]
    assert value == pytest.approx(exact_low_rank_fid(a, b), rel=1e-12)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    # Commuting covariances: FID = ‖μ₁ − μ₂‖² + Σ (√a − √b)².
    va, vb = np.array([1.0, 4.0, 9.0, 0.0]), np.array([4.0, 1.0, 9.0, 2.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 0.0, 3.0])
    expected = 1 + 4 + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(va), mu2, np.diag(vb)) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(0.0, 4.0, 3.0, 1.0) == pytest.approx(9 + 1, rel=1e-12)    # 1-D, scalars


@pytest.mark.parametrize("d, n", [(10, 500), (100, 30)])
def test_frechet_distance_of_identical_statistics_is_zero(d, n):
    # Rounding makes the raw value ±1e-13 (negative for about half of these seeds): it is clamped at 0.
    for seed in range(6):
        mu, sigma = feature_stats(rng(seed).normal(size=(n, d)) * 5)
        value = frechet_distance(mu, sigma, mu, sigma)
        assert 0.0 <= value < 1e-9 * np.trace(sigma)


def test_fid_is_symmetric_and_matches_fid_from_stats():
    a, b = gaussian_pair(9, 12, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ab, ba = fid(a, b), fid(b, a)
        from_stats = fid_from_stats(*feature_stats(a), *feature_stats(b), n_real=300, n_fake=300)
    assert ab["fid"] == pytest.approx(ba["fid"], rel=1e-10)
    assert from_stats == ab
    assert fid_from_stats(*feature_stats(a), *feature_stats(b)).keys() == {"fid"}


def test_fid_warns_about_small_samples():
    a, b = gaussian_pair(10, 4, 300)
    with pytest.warns(UserWarning, match="biased"):
        result = fid(a, b)
    assert "2048" in result["warning"] and "300 real" in result["warning"]
    assert result["n_real"] == 300 and result["n_fake"] == 300
    json.dumps(result)


def test_fid_does_not_warn_from_2048_samples():
    a, b = gaussian_pair(11, 4, MIN_SAMPLES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fid(a, b)
    assert set(result) == {"fid", "n_real", "n_fake"}
    assert type(result["fid"]) is float and type(result["n_real"]) is int


def test_fid_refuses_mismatched_statistics():
    with pytest.raises(FaceganError, match="feature sizes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(FaceganError, match=r"\(D, D\)"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))


# --------------------------------------------------------------------------------------------------- KID

def brute_kernel(x, y):
    return (sum(xi * yi for xi, yi in zip(x, y)) / len(x) + 1.0) ** 3


def brute_mmd2(x, y):
    m, n = len(x), len(y)
    kxx = sum(brute_kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(brute_kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(brute_kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_mmd2_unbiased_equals_double_loop():
    g = rng(12)
    x, y = g.normal(size=(9, 4)), g.normal(size=(13, 4)) + 0.5
    assert mmd2_unbiased(x, y) == pytest.approx(brute_mmd2(x.tolist(), y.tolist()), abs=1e-10)


def test_kid_equals_double_loop_on_the_same_subsets():
    g = rng(13)
    real, fake = g.normal(size=(40, 3)), g.normal(size=(30, 3)) * 1.5
    result = kid(real, fake, subsets=5, subset_size=12, seed=7)
    per_subset = [brute_mmd2(real[r].tolist(), fake[f].tolist())
                  for r, f in subset_indices(40, 30, 5, 12, seed=7)]
    assert len(set(map(float, per_subset))) == 5                  # really different subsets
    assert result["kid"] == pytest.approx(np.mean(per_subset), abs=1e-10)
    assert result["kid_std"] == pytest.approx(np.std(per_subset), abs=1e-10)
    assert (result["subsets"], result["subset_size"], result["n_real"], result["n_fake"]) == (5, 12, 40, 30)
    assert "warning" not in result


def test_kid_subsets_are_drawn_without_replacement_and_seeded():
    pairs = list(subset_indices(50, 20, 3, 20, seed=1))
    assert all(len(set(r)) == 20 and len(set(f)) == 20 and f.max() < 20 and r.max() < 50 for r, f in pairs)
    again = list(subset_indices(50, 20, 3, 20, seed=1))
    assert all((r1 == r2).all() and (f1 == f2).all() for (r1, f1), (r2, f2) in zip(pairs, again))
    real, fake = rng(14).normal(size=(60, 3)), rng(15).normal(size=(60, 3))
    assert kid(real, fake, subsets=4, subset_size=20, seed=1) == kid(real, fake, subsets=4, subset_size=20, seed=1)
    assert kid(real, fake, subsets=4, subset_size=20, seed=1) != kid(real, fake, subsets=4, subset_size=20, seed=2)


def test_kid_uses_the_smaller_side_and_says_so():
    real, fake = rng(16).normal(size=(80, 3)), rng(17).normal(size=(25, 3))
    with pytest.warns(UserWarning, match="subsets of 25 samples instead of 100"):
        result = kid(real, fake, subsets=3, subset_size=100)
    assert result["subset_size"] == 25 and "25 generated" in result["warning"]
    json.dumps(result)


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
    g = rng(18)
    real, same, other = g.normal(size=(400, 8)), g.normal(size=(400, 8)), g.normal(size=(400, 8)) * 1.5 + 0.5
    alike = kid(real, same, subsets=20, subset_size=200)
    apart = kid(real, other, subsets=20, subset_size=200)
    assert abs(alike["kid"]) < 3 * alike["kid_std"] + 1e-3
    assert apart["kid"] > 10 * max(alike["kid"], alike["kid_std"])


# ---------------------------------------------------------------------------------------------- 1-NN test

def brute_knn(real, fake):
    pooled = np.concatenate([real, fake])
    labels = np.r_[np.ones(len(real), bool), np.zeros(len(fake), bool)]
    d = cdist(pooled, pooled)
    np.fill_diagonal(d, np.inf)
    return labels[d.argmin(axis=1)], labels


@pytest.mark.parametrize("seed, n, m, d", [(0, 30, 30, 5), (1, 17, 40, 3), (2, 50, 9, 16)])
def test_knn_equals_cdist_brute_force(seed, n, m, d):
    g = rng(seed)
    real, fake = g.normal(size=(n, d)), g.normal(size=(m, d)) * 1.2 + 0.3
    predicted, labels = brute_knn(real, fake)
    as_real, ties = nn_predictions(real, fake, chunk=8)
    np.testing.assert_array_equal(as_real, predicted)
    correct = int((predicted == labels).sum())
    result = knn(real, fake, chunk=8)
    assert result == {
        "knn_accuracy": correct / (n + m),
        "knn_real_accuracy": (predicted[:n]).mean(),
        "knn_fake_accuracy": (~predicted[n:]).mean(),
        "knn_p_value": binomtest(correct, n + m, 0.5).pvalue,
        "knn_ties": 0, "n_real": n, "n_fake": m,
    }


def test_knn_chunk_size_does_not_change_the_result():
    g = rng(19)
    real, fake = g.normal(size=(70, 6)), g.normal(size=(55, 6)) + 0.2
    results = [knn(real, fake, chunk=c) for c in (1, 13, 64, 1024)]
    assert all(r == results[0] for r in results)


def test_knn_separable_sets_score_one():
    g = rng(20)
    real, fake = g.normal(size=(60, 4)), g.normal(size=(45, 4)) + 20
    result = knn(real, fake)
    assert result["knn_accuracy"] == result["knn_real_accuracy"] == result["knn_fake_accuracy"] == 1.0
    assert result["knn_p_value"] < 1e-20


def test_knn_same_distribution_is_near_half():
    # Under the null, correct ~ Binomial(600, ½) (roughly; leave-one-out decisions are mildly dependent):
    # sd 0.0204, so ±0.08 is four standard deviations.
    g = rng(21)
    real, fake = g.normal(size=(300, 8)), g.normal(size=(300, 8))
    result = knn(real, fake)
    assert abs(result["knn_accuracy"] - 0.5) < 4 * 0.5 / math.sqrt(600)
    assert result["knn_p_value"] > 1e-4


def test_knn_copies_of_real_samples_score_below_half():
    g = rng(22)
    real = g.normal(size=(100, 8))
    result = knn(real, real + g.normal(size=real.shape) * 1e-3)
    assert result["knn_accuracy"] == 0.0


def test_knn_ties_go_to_real_and_are_counted():
    # Every coordinate and the shared shift are exact binary fractions, so the tie is exact: real[1] is
    # 3 away from both real[0] and its duplicate fake[0].
    real = np.array([[0.0, 0.0], [3.0, 0.0]])
    fake = np.array([[0.0, 0.0], [100.0, 100.0]])
    as_real, ties = nn_predictions(real, fake)
    np.testing.assert_array_equal(as_real, [False, True, True, True])
    assert ties == 1
    assert knn(real, fake)["knn_ties"] == 1


# ------------------------------------------------------------------------------------- precision / recall

def brute_precision_recall(real, fake, k):
    def radii(x):
        d = cdist(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]
    cross = cdist(fake, real)
    precision = (cross <= radii(real)[None, :]).any(axis=1).mean()
    recall = (cross.T <= radii(fake)[None, :]).any(axis=1).mean()
    return precision, recall


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_equals_cdist_brute_force(k):
    g = rng(23 + k)
    real, fake = g.normal(size=(60, 4)), g.normal(size=(45, 4)) * 1.3 + 0.4
    result = precision_recall(real, fake, k=k, chunk=7)
    precision, recall = brute_precision_recall(real, fake, k)
    assert 0 < precision < 1 and 0 < recall < 1                     # a case that tells them apart
    assert (result["precision"], result["recall"], result["k"]) == (precision, recall, k)


def test_precision_recall_identical_sets_score_one():
    x = rng(27).normal(size=(80, 6))
    result = precision_recall(x, x.copy())
    assert (result["precision"], result["recall"]) == (1.0, 1.0)


def test_precision_recall_far_apart_sets_score_zero():
    g = rng(28)
    result = precision_recall(g.normal(size=(50, 3)), g.normal(size=(50, 3)) + 100)
    assert (result["precision"], result["recall"]) == (0.0, 0.0)


def test_precision_recall_half_the_modes():
    # Ten well-separated modes; the generator produces samples from only five: realistic but half the variety.
    g = rng(29)
    centres = np.array([[100.0 * i, 0.0] for i in range(10)])
    real = np.concatenate([c + g.normal(size=(150, 2)) for c in centres])
    fake = np.concatenate([c + g.normal(size=(150, 2)) for c in centres[:5]])
    result = precision_recall(real, fake)
    assert result["precision"] > 0.95
    assert 0.45 < result["recall"] <= 0.5
    swapped = precision_recall(fake, real)
    assert (swapped["precision"], swapped["recall"]) == (result["recall"], result["precision"])


def test_precision_recall_counts_a_point_on_the_radius_as_inside():
    # Exact binary arithmetic: each real point's 1st-neighbour radius is 1; fake[0] is exactly 1 from real[0].
    real = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    fake = np.array([[0.0, 1.0], [0.0, 50.0]])
    assert precision_recall(real, fake, k=1)["precision"] == 0.5


def test_precision_recall_needs_more_samples_than_k():
    with pytest.raises(FaceganError, match="at least 4 samples"):
        precision_recall(np.zeros((3, 2)), np.ones((10, 2)), k=3)


# ---------------------------------------------------------------------------------------- nearest real

@pytest.mark.parametrize("k, chunk", [(1, 5), (3, 5), (4, 1024), (20, 3)])
def test_nearest_real_equals_brute_force(k, chunk):
    g = rng(30)
    real, fake = g.normal(size=(20, 5)), g.normal(size=(13, 5))
    indices, distances = nearest_real(fake, real, k=k, chunk=chunk)
    d = cdist(fake, real)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    assert indices.dtype == np.int64 and indices.shape == distances.shape == (13, k)
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_allclose(distances, np.take_along_axis(d, order, axis=1), rtol=1e-10)


def test_nearest_real_finds_copies():
    g = rng(31)
    real = g.normal(size=(200, 16))
    perm = g.permutation(200)[:50]
    indices, distances = nearest_real(real[perm] + 1e-4 * g.normal(size=(50, 16)), real)
    np.testing.assert_array_equal(indices[:, 0], perm)
    assert distances.max() < 1e-3


def test_nearest_real_ties_by_lower_index():
    real = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [5.0, 5.0]])
    indices, distances = nearest_real(np.zeros((1, 2)), real, k=3)
    np.testing.assert_array_equal(indices, [[0, 1, 2]])
    np.testing.assert_allclose(distances, [[1.0, 1.0, 1.0]])
    with pytest.raises(FaceganError, match="from 1 to 4"):
        nearest_real(np.zeros((1, 2)), real, k=5)
    # 40 exact ties behind 5 far points: the order within the ties is by index, whichever branch sorts.
    real = np.concatenate([np.full((5, 20), 9.0), np.eye(20), -np.eye(20)])
    for k, expected in ((40, list(range(5, 45))), (45, list(range(5, 45)) + list(range(5)))):
        indices, distances = nearest_real(np.zeros((1, 20)), real, k=k)
        assert indices[0].tolist() == expected
        assert (distances[0, :40] == 1.0).all()


# ------------------------------------------------------------------------------------------------- t-SNE

def test_tsne_table_shape_columns_and_determinism():
    g = rng(32)
    real, fake = g.normal(size=(40, 80)), g.normal(size=(25, 80))
    table = tsne_table(real, fake, seed=3)
    assert list(table.columns) == ["x", "y", "kind", "index"]
    assert len(table) == 65
    assert table["kind"].tolist() == ["real"] * 40 + ["generated"] * 25
    assert table["index"].tolist() == list(range(40)) + list(range(25))
    assert np.isfinite(table[["x", "y"]].to_numpy()).all()
    pd.testing.assert_frame_equal(table, tsne_table(real, fake, seed=3))


def test_tsne_keeps_separated_clusters_apart():
    g = rng(33)
    real, fake = g.normal(size=(60, 20)), g.normal(size=(60, 20)) + 15
    table = tsne_table(real, fake)
    xy = table[["x", "y"]].to_numpy()
    assert knn(xy[:60], xy[60:])["knn_accuracy"] == 1.0
    within = max(cdist(xy[:60], xy[:60]).max(), cdist(xy[60:], xy[60:]).max())
    between = np.linalg.norm(xy[:60].mean(0) - xy[60:].mean(0))
    assert between > within / 2


def test_tsne_small_inputs_lower_the_perplexity():
    assert effective_perplexity(30, 1000) == 30
    assert effective_perplexity(30, 10) == 3
    table = tsne_table(rng(34).normal(size=(6, 3)), rng(35).normal(size=(4, 3)))
    assert len(table) == 10
    with pytest.raises(FaceganError, match="at least 4"):
        tsne_table(np.zeros((1, 3)), np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------- registry

def test_registry_computes_every_metric_with_json_results():
    g = rng(36)
    real, fake = g.normal(size=(120, 6)), g.normal(size=(100, 6)) + 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = compute(["fid", "kid", "knn", "precision_recall"], real, fake, subset_size=50, subsets=7,
                          k=2, chunk=32)
    assert set(results) == {"fid", "kid", "knn", "precision_recall"}
    assert results["kid"]["subset_size"] == 50 and results["kid"]["subsets"] == 7
    assert results["precision_recall"]["k"] == 2
    for result in results.values():
        for key, value in result.items():
            assert type(value) in (int, float) or key == "warning", (key, type(value))
    json.dumps(results)
    assert results["knn"] == knn(real, fake)
    with pytest.raises(FaceganError, match="unknown metric"):
        compute(["nope"], real, fake)


def test_registered_metrics_describe_themselves():
    compute([], np.zeros((2, 2)), np.zeros((2, 2)))          # loads every metric module
    assert {"fid", "kid", "knn", "precision_recall"} <= set(METRICS)
    assert METRICS["fid"].better == "lower" and METRICS["kid"].better == "lower"
    assert METRICS["knn"].better == "closer to 0.5" and METRICS["precision_recall"].better == "higher"
    for name, metric in METRICS.items():
        assert metric.name == name
        assert len(metric.title.split()) >= 2 and len(metric.explain) > 40
