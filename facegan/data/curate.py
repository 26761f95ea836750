"""Know a data set before training on it: clusters, outliers and near-duplicates of its prepared images.

Every image is described by EfficientNet-Lite0's ImageNet features (the ``lite0`` network of
:mod:`facegan.metrics.features`) of the image and of its mirror image, averaged (training mirrors
faces anyway, so a face and its mirror image are the same face here) and scaled to unit length:

    e(x) = f̄ / ‖f̄‖,   f̄ = (f(x) + f(flip x)) / 2

They are computed once per prepared data set and kept beside it (``embeddings-lite0-vN.npy``). The
analysis runs on their first :data:`PCA_DIMS` principal components (:func:`reduce`: 84% of the variance
of CelebA-10k's, and the same clusters of the benchmark's cartoon faces as all 1,280 dimensions in a
third of the time).

- **Clusters**: k-means on the embeddings; k is the user's, or the one of :data:`K_RANGE` with the best
  silhouette (on a fixed sample of :data:`SILHOUETTE_SAMPLE` images). Faces have no natural grouping in
  these features (silhouette 0.10 at k=2 falling to 0.04 at k=10 on CelebA-10k, so it would always pick
  the smallest k tried); the range is set where a cluster is one style of face that a person can check
  in one grid (at k < 8, k-means put the 300 cartoon faces of the benchmark in with thousands of photos).
- **Outliers**: an image whose distance to its nearest cluster centre is far beyond its cluster's own
  spread, ``d > median_c + OUTLIER_Z · 1.4826 · MAD_c`` (a robust z-score per cluster). Chosen over an
  IsolationForest because it reads the clusters the user sees, needs no contamination rate, and on
  CelebA-10k with 300 cartoon faces mixed in it flags what a person would (benchmarks/curation.py).
- **Near-duplicates**: each image's :data:`NEIGHBOURS` nearest embeddings are its candidates; a pair is
  a near-copy when the 32×32 colour pictures correlate ≥ :data:`DUPLICATE_CORRELATION` with one of them
  moved up to :data:`SHIFT` pixels and mirrored or not (:func:`shifted_correlation`); groups are the
  connected pairs. Neither an embedding threshold nor a 64-bit DCT hash could decide on its own: on
  CelebA-10k with 50 near-copies (mirrored, JPEG quality 60, 5% brighter, moved 2 px), copies' cosine was
  0.78 to 0.98 against a median of 0.87 for each face's nearest other face, and their hashes 6 to 24 bits
  apart; the moved correlation put every copy at ≥ 0.978 and 18 of ~10,000 untouched faces at ≥ 0.97.
  Grey pictures were worse for drawn faces: 24 of 4,000 built-in faces, alike in shape but not in hair
  or skin colour, passed 0.96 in grey, 2 in colour at 0.97.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import FaceganError
from ..io import atomic_write_bytes

Progress = Callable[[int, int], None]

NETWORK = "lite0"
K_RANGE = range(8, 13)
SILHOUETTE_SAMPLE = 3000
OUTLIER_Z = 3.5
PCA_DIMS = 128
NEIGHBOURS = 16              # near-duplicate candidates: each image's nearest embeddings
ROUGH_CORRELATION = 0.8      # 8x8 colour thumbnails: near-copies measured >= 0.86
SHIFT = 2                    # pixels (of 32) a copy may have moved
DUPLICATE_CORRELATION = 0.97
TYPICAL = 8  # images per cluster listed as its most typical (nearest its centre)


@dataclass
class Curation:
    """What curate found in one prepared data set. Indices count its prepared images."""

    data_key: str
    source: str
    files: list[str] | None
    k: int
    silhouette: dict[int, float]         # k -> score, for each k tried (empty when the user chose k)
    labels: np.ndarray                   # cluster id of each image (1 to k)
    clusters: list[dict]                 # {"id", "size", "indices", "typical"}, largest first
    outliers: list[int]
    duplicates: list[list[int]]
    seconds: dict[str, float] = field(default_factory=dict)
    cached: bool = False                 # the embeddings were read from the cache

    def to_json(self) -> dict:
        """The JSON ``curate --out`` writes; with ``keep_clusters`` added it is a subset file too."""
        return {"data_key": self.data_key, "images": len(self.labels), "source": self.source,
                "files": self.files, "k": self.k, "silhouette": {str(k): v for k, v in self.silhouette.items()},
                "clusters": self.clusters, "outliers": self.outliers, "duplicates": self.duplicates}

    def summary(self) -> str:
        n = len(self.labels)
        sizes = ", ".join(str(c["size"]) for c in self.clusters)
        dup = sum(len(g) for g in self.duplicates)
        how = "chosen" if not self.silhouette else f"best silhouette {self.silhouette[self.k]:.3f} of k in " \
            f"{min(self.silhouette)}..{max(self.silhouette)}"
        return "\n".join([
            f"{self.source}: {n} images",
            f"  clusters: {self.k} ({how}); sizes {sizes}",
            f"  outliers: {len(self.outliers)} ({100 * len(self.outliers) / n:.1f}%)",
            f"  near-duplicates: {len(self.duplicates)} groups, {dup} images",
            f"  time: embeddings {self.seconds.get('embeddings', 0):.1f} s"
            f"{' (cached)' if self.cached else ''}, analysis {self.seconds.get('analysis', 0):.1f} s"])


# -- embeddings --------------------------------------------------------------------------------------

def embeddings(data, *, device: str = "auto", progress: Progress | None = None) -> tuple[np.ndarray, bool]:
    """(unit-length flip-averaged lite0 embeddings (N, 1280) float32, whether they came from the cache)
    of the prepared data set ``data`` (a :class:`~facegan.data.cache.PreparedData`, the whole set)."""
    from ..metrics.features import FEATURES_VERSION, extract
    if data.subset:
        raise ValueError("embeddings are kept for a whole prepared data set, not a subset of it")
    path = data.path / f"embeddings-{NETWORK}-v{FEATURES_VERSION}.npy"
    try:
        emb = np.load(path)
        if emb.shape[0] == data.kept and emb.dtype == np.float32:
            return emb, True
    except (OSError, ValueError):
        pass
    n = data.kept
    both = (lambda done, total: progress(done, 2 * n)) if progress else None
    f = extract(data.images, NETWORK, device=device, progress=both)
    mirrored = (data.images[i:i + 64, :, ::-1] for i in range(0, n, 64))
    f += extract(mirrored, NETWORK, device=device, total=n,
                 progress=(lambda done, total: progress(n + done, 2 * n)) if progress else None)
    emb = (f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, emb)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:  # a read-only cache still curates, it just computes again next time
        pass
    return emb, False


def reduce(emb: np.ndarray, dims: int = PCA_DIMS, *, seed: int = 0) -> np.ndarray:
    """``emb`` projected on its first ``dims`` principal components (fewer when there are fewer images)."""
    from sklearn.decomposition import PCA
    dims = min(dims, len(emb), emb.shape[1])
    if dims < 2:
        return emb - emb.mean(axis=0)
    return PCA(dims, svd_solver="randomized", random_state=seed).fit_transform(emb).astype(np.float32)


# -- clusters and outliers ---------------------------------------------------------------------------

def cluster(emb: np.ndarray, k: int | None = None, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, dict]:
    """(labels, centres, k, {k: silhouette}) of k-means on ``emb``; k from :data:`K_RANGE` by silhouette
    when not given (the dict is then filled, else empty)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    n = len(emb)
    if k is not None and not 1 <= k <= n:
        raise FaceganError(f"curate: --clusters {k} is more clusters than images ({n}); give 1 to {n}")

    def fit(kk: int) -> KMeans:
        return KMeans(n_clusters=kk, n_init=1, random_state=seed).fit(emb)  # k-means++ starts
    scores: dict[int, float] = {}
    if k is None:
        tried = [kk for kk in K_RANGE if kk < n]
        if not tried:  # two images or fewer: one cluster
            k = 1
        else:
            rng = np.random.default_rng(seed)
            sample = rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False)
            fits = {}
            for kk in tried:
                fits[kk] = fit(kk)
                labels = fits[kk].labels_[sample]
                scores[kk] = float(silhouette_score(emb[sample], labels)) if len(set(labels)) > 1 else -1.0
            k = max(scores, key=lambda kk: (scores[kk], -kk))
            return fits[k].labels_.astype(np.int64), fits[k].cluster_centers_, k, scores
    model = fit(k)
    return model.labels_.astype(np.int64), model.cluster_centers_, k, scores


def outliers(emb: np.ndarray, labels: np.ndarray, centres: np.ndarray, z: float = OUTLIER_Z) -> np.ndarray:
    """Indices whose distance to their cluster's centre exceeds the cluster's median distance by more than
    ``z`` robust standard deviations (1.4826 · median absolute deviation)."""
    d = np.linalg.norm(emb - centres[labels], axis=1)
    out = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < 5:  # too few to have a spread of their own
            continue
        dc = d[members]
        med = np.median(dc)
        mad = 1.4826 * np.median(np.abs(dc - med))
        out.append(members[dc > med + z * max(mad, 1e-6)])
    return np.sort(np.concatenate(out)) if out else np.empty(0, np.int64)


# -- near-duplicates ---------------------------------------------------------------------------------

def thumbnails(images: np.ndarray, sides: tuple[int, ...], *, chunk: int = 2048) -> list[np.ndarray]:
    """Each uint8 (N, R, R, 3) image as float32 (N, side, side, 3) block means, one array per side in
    ``sides`` (R a multiple of each)."""
    import torch
    import torch.nn.functional as F
    n, r = len(images), images.shape[1]
    out = [np.empty((n, s, s, 3), np.float32) for s in sides]
    for start in range(0, n, chunk):  # a memory map is read a piece at a time
        x = torch.from_numpy(np.array(images[start:start + chunk])).permute(0, 3, 1, 2).float()
        for o, s in zip(out, sides):
            o[start:start + len(x)] = F.avg_pool2d(x, r // s).permute(0, 2, 3, 1).numpy()
    return out


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = x.reshape(len(x), -1)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def _window_sums(x, w: int):
    """Sums of every w x w window of each (H, W) map in ``x`` (P, H, W), from its integral image."""
    import torch.nn.functional as F
    i = F.pad(x.double().cumsum(1).cumsum(2), (1, 0, 1, 0))
    return (i[:, w:, w:] - i[:, :-w, w:] - i[:, w:, :-w] + i[:, :-w, :-w]).float()


def shifted_correlation(a: np.ndarray, b: np.ndarray, *, shift: int = SHIFT, border: int = 4) -> np.ndarray:
    """For (P, S, S, 3) colour image pairs: the best correlation of ``a``'s centre (``border`` pixels in
    from each edge, all three channels) with the same-sized window of ``b`` or of ``b`` mirrored, moved up
    to ``shift`` pixels each way. 1 for the same picture moved a little, mirrored, brighter or
    re-compressed."""
    import torch
    import torch.nn.functional as F
    # plain NCHW: grouped convolutions with channels-last weights take a path ~4x slower
    a = torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    b = torch.from_numpy(np.ascontiguousarray(b.transpose(0, 3, 1, 2)))
    p, c, s = a.shape[:3]
    w = s - 2 * border
    centre = a[:, :, border:s - border, border:s - border]
    centre = centre - centre.mean(dim=(1, 2, 3), keepdim=True)
    centre = (centre / centre.flatten(1).norm(dim=1).clamp_min(1e-6).view(p, 1, 1, 1)).contiguous()
    best = torch.full((p,), -1.0)
    for other in (b, b.flip(3)):
        win = other[:, :, border - shift:s - border + shift, border - shift:s - border + shift].contiguous()
        # one group per pair: each a's centre is slid over its own b only
        dot = F.conv2d(win.reshape(1, p * c, *win.shape[2:]), centre, groups=p)[0]
        total, total_sq = _window_sums(win.sum(dim=1), w), _window_sums((win * win).sum(dim=1), w)
        norm = (total_sq - total * total / (c * w * w)).clamp_min(0).sqrt().clamp_min(1e-6)
        best = torch.maximum(best, (dot / norm).flatten(1).max(dim=1).values)
    return best.numpy()


def duplicates(images: np.ndarray, emb: np.ndarray, *, neighbours: int = NEIGHBOURS,
               threshold: float = DUPLICATE_CORRELATION, block: int = 1024, chunk: int = 4096) -> list[list[int]]:
    """Groups (each sorted, largest group first) of images that are near-copies of each other; ``emb``
    (embeddings or their reduction) finds each image's candidates, the nearest ``neighbours``."""
    n = len(emb)
    k = min(neighbours, n - 1)
    if k < 1:
        return []
    pairs = []
    half_sq = 0.5 * np.einsum("ij,ij->i", emb, emb)
    for start in range(0, n, block):  # the whole similarity matrix of 10,000 images would be 400 MB
        sim = emb[start:start + block] @ emb.T - half_sq  # ranks as -distance² does, row by row
        rows = np.arange(len(sim))
        sim[rows, rows + start] = -np.inf
        near = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        a = np.repeat(rows + start, k)
        pairs.append(np.stack([np.minimum(a, near.ravel()), np.maximum(a, near.ravel())], axis=1))
    pairs = np.unique(np.concatenate(pairs), axis=0)
    # a cheap first look (8x8 colour, either way round) drops the pairs that are plainly different ...
    small, big = thumbnails(images, (8, 32))
    t, tm = _unit_rows(small), _unit_rows(small[:, :, ::-1])
    a, b = pairs[:, 0], pairs[:, 1]
    rough = np.maximum(np.einsum("ij,ij->i", t[a], t[b]), np.einsum("ij,ij->i", t[a], tm[b]))
    pairs = pairs[rough >= ROUGH_CORRELATION]
    # ... and the 32x32 pictures, allowed to move a little, decide
    score = np.concatenate([shifted_correlation(big[pairs[i:i + chunk, 0]], big[pairs[i:i + chunk, 1]])
                            for i in range(0, len(pairs), chunk)] or [np.empty(0, np.float32)])
    pairs = pairs[score >= threshold]
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for a, b in pairs.tolist():
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in np.unique(pairs).tolist():
        groups.setdefault(root(i), []).append(i)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


# -- all of it ---------------------------------------------------------------------------------------

def curate(data, k: int | None = None, *, device: str = "auto", seed: int = 0,
           progress: Progress | None = None) -> Curation:
    """Clusters, outliers and near-duplicates of the prepared data set ``data`` (the whole set)."""
    t0 = time.perf_counter()
    emb, cached = embeddings(data, device=device, progress=progress)
    t1 = time.perf_counter()
    emb = reduce(emb, seed=seed)
    labels, centres, k, scores = cluster(emb, k, seed=seed)
    # clusters numbered 1, 2, ... largest first: the page, the summary, the JSON and --keep-clusters all
    # show a person the same number
    order = sorted(range(k), key=lambda c: (-int(np.sum(labels == c)), c))
    renumber = np.empty(k, np.int64)
    renumber[order] = np.arange(k)
    labels, centres = renumber[labels], centres[order]
    dist = np.linalg.norm(emb - centres[labels], axis=1)
    clusters = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        typical = members[np.argsort(dist[members], kind="stable")[:TYPICAL]]
        clusters.append({"id": c + 1, "size": int(len(members)), "indices": members.tolist(),
                         "typical": typical.tolist()})
    out = outliers(emb, labels, centres)
    out = out[np.argsort(-dist[out], kind="stable")]  # the most unusual first
    dups = duplicates(data.images, emb)
    return Curation(data.key, data.source, data.names, k, scores, labels + 1, clusters, out.tolist(), dups,
                    {"embeddings": t1 - t0, "analysis": time.perf_counter() - t1}, cached)


def selection(cur: Curation, *, keep_clusters=None, drop_outliers: bool = False,
              drop_duplicates: bool = False) -> np.ndarray:
    """Sorted indices of the images kept: those of ``keep_clusters`` (default all), less the outliers
    with ``drop_outliers``, less all but the first image of each near-duplicate group with
    ``drop_duplicates``."""
    known = {c["id"] for c in cur.clusters}
    wanted = known if keep_clusters is None else set(keep_clusters)
    if wanted - known:
        raise FaceganError(f"curate: no cluster {sorted(wanted - known)[0]}; the clusters are 1 to {cur.k}")
    keep = np.isin(cur.labels, sorted(wanted))
    if drop_outliers:
        keep[cur.outliers] = False
    if drop_duplicates:
        for group in cur.duplicates:
            keep[group[1:]] = False
    return np.flatnonzero(keep)
