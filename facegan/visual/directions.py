"""Face sliders: directions in a generator's latent space that each change one aspect of a face, found
without labels as GANSpace does (Härkönen et al. 2020, "GANSpace: Discovering Interpretable GAN
Controls", the recipe it gives for generators without a style network, such as BigGAN and DCGAN):

1. draw N latents z_j and record an early layer's activations y_j = F(z_j), flattened;
2. PCA of the y_j: their mean μ and top-k principal axes V (D × k);
3. carry the axes back to the latent space by least squares: with each sample's coordinates
   x_j = Vᵀ (y_j − μ), U = argmin_U Σ_j ‖U x_j − z_j‖², so that U x is the latent whose features lie
   at x along those axes. The columns of U are the directions.

facegan then makes them orthonormal (Gram–Schmidt in order of explained variance: the first is kept,
each next one loses only what it shares with those before) and gives each a sign (its largest component
positive), so a slider's value is a distance in units of z's own spread: z ~ N(0, I) has standard
deviation 1 along any unit vector, and −3 … +3 covers 99.7% of faces. The early layer is G's first block
(4 × 4 maps after its activation): the layer where pose, shape and overall colour are still laid out
coarsely, as GANSpace found for BigGAN's first layers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import FaceganError
from ..io import atomic_write_bytes
from ..training.run_dir import owning_run

SAMPLES = 5000   # latents whose activations the PCA sees: 4,096 numbers each at width 32; ~2 s on a CPU
SEED = 0
MAX_K = 50
FILE_FORMAT = "facegan-directions"


@dataclass(frozen=True)
class Directions:
    """k unit directions in latent space, the generator they were found for, and how."""

    vectors: np.ndarray       # (k, latent_dim) float32, orthonormal rows, most variance first
    variance: np.ndarray      # (k,) the share of the layer's variance along each PCA axis
    fingerprint: str          # of the generator's weights (:func:`fingerprint`)
    samples: int
    seed: int

    @property
    def k(self) -> int:
        return len(self.vectors)


def fingerprint(G: nn.Module) -> str:
    """16 hex digits that change when any weight or buffer of ``G`` does: what a cached file is checked
    against, so directions found for one checkpoint are never shown for another."""
    h = hashlib.sha256()
    for name, t in sorted(G.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def check_k(k: int, latent_dim: int) -> int:
    if not (isinstance(k, int) and 1 <= k <= min(MAX_K, latent_dim)):
        raise FaceganError(f"k: got {k}; allowed: a whole number from 1 to {min(MAX_K, latent_dim)} "
                           "(how many sliders to find)")
    return k


@torch.no_grad()
def find_directions(G: nn.Module, k: int = 10, samples: int = SAMPLES, seed: int = SEED,
                    batch: int = 500) -> Directions:
    """The top ``k`` GANSpace directions of ``G`` (see the module's docstring) from ``samples`` latents
    drawn with ``seed``: the same arguments give the same directions."""
    latent_dim = G.latent_dim
    check_k(k, latent_dim)
    if samples < 2 * k:
        raise FaceganError(f"samples: got {samples}; allowed: at least {2 * k} for {k} directions")
    first = next(iter(G.blocks))  # the generator's first block: its 4x4 maps
    device = next(G.parameters()).device
    z = torch.randn(samples, latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    feats = []
    was_training = G.training
    G.eval()
    try:
        for i in range(0, samples, batch):
            y = first(z[i:i + batch].reshape(-1, latent_dim, 1, 1).to(device))
            feats.append(y.reshape(len(y), -1).float().cpu())
    finally:
        G.train(was_training)
    y = torch.cat(feats).double()
    y -= y.mean(0)
    # PCA of the centred features by a randomized SVD (Halko et al. 2011): only the top k axes are needed,
    # and a full SVD of 5,000 x 4,096 numbers takes a minute on a CPU where this takes a second. Its random
    # start is drawn from ``seed`` so the same arguments give the same axes.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        _, s, v = torch.svd_lowrank(y, q=min(k + 10, *y.shape), niter=6)
    axes = v[:, :k]                                           # (D, k): the top principal axes
    x = y @ axes                                              # (N, k) coordinates along them
    u = torch.linalg.lstsq(x, z.double()).solution.T          # (latent_dim, k): U x ≈ z
    q, r = torch.linalg.qr(u)                                 # Gram–Schmidt, in order
    q = q * torch.sign(torch.diagonal(r))                     # keep each direction's own orientation
    vectors = q.T
    flip = torch.sign(vectors.gather(1, vectors.abs().argmax(1, keepdim=True)))
    vectors = (vectors * flip).float().numpy()
    variance = (s[:k] ** 2 / y.square().sum()).float().numpy()
    return Directions(vectors, variance, fingerprint(G), int(samples), int(seed))


def move(z: torch.Tensor, directions: Directions, amounts) -> torch.Tensor:
    """``z`` — one latent (latent_dim[, 1, 1]) or a batch (N, latent_dim[, 1, 1]) — moved by ``amounts[i]``
    along direction i (in units of z's standard deviation); directions without an amount stay at 0."""
    a = np.zeros(directions.k, np.float32)
    given = np.asarray(amounts, np.float32).reshape(-1)[:directions.k]
    a[:len(given)] = given
    step = torch.from_numpy(a @ directions.vectors).to(z.dtype)
    axis = 0 if z.dim() in (1, 3) else 1  # where the latent's numbers run
    shape = [1] * z.dim()
    shape[axis] = -1
    return z + step.reshape(shape)


def strip(z: torch.Tensor, directions: Directions, i: int, amounts=(-3, -2, -1, 0, 1, 2, 3)) -> torch.Tensor:
    """Latents for a preview strip: one face ``z`` (latent_dim[, 1, 1]) moved along direction ``i`` by each
    of ``amounts``, as (len(amounts), latent_dim, 1, 1)."""
    base = z.reshape(-1)
    v = torch.from_numpy(directions.vectors[i])
    return torch.stack([base + float(a) * v for a in amounts]).reshape(len(amounts), -1, 1, 1)


# -- files -------------------------------------------------------------------------------------------

def save(d: Directions, path: str | Path) -> Path:
    """Write ``d`` as an .npz: ``directions`` (k, latent_dim), ``variance`` (k,), and its provenance."""
    import io
    buf = io.BytesIO()
    np.savez(buf, directions=d.vectors, variance=d.variance,
             meta=np.array(json.dumps({"format": FILE_FORMAT, "fingerprint": d.fingerprint,
                                       "samples": d.samples, "seed": d.seed})))
    path = Path(path).expanduser()
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as e:
        raise FaceganError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def load(path: str | Path) -> Directions:
    """A file written by :func:`save`; a :class:`FaceganError` for anything else."""
    path = Path(path).expanduser()
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            vectors = np.asarray(f["directions"], np.float32)
            variance = np.asarray(f["variance"], np.float32)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise FaceganError(f"{path} is not a directions file written by facegan ({e})") from None
    if meta.get("format") != FILE_FORMAT or vectors.ndim != 2 or variance.shape != (len(vectors),):
        raise FaceganError(f"{path} is not a directions file written by facegan")
    return Directions(vectors, variance, str(meta.get("fingerprint")), int(meta.get("samples", 0)),
                      int(meta.get("seed", 0)))


# -- cached beside the checkpoint, with the names people give them ----------------------------------

def cache_path(checkpoint: str | Path) -> Path:
    """Where the directions of a checkpoint file are kept: RUN/directions/<stem>.npz for a checkpoint in
    a run, a ``directions`` folder beside any other generator file."""
    checkpoint = Path(checkpoint).expanduser()
    return (owning_run(checkpoint) or checkpoint.parent) / "directions" / f"{checkpoint.stem}.npz"


def directions_for(G: nn.Module, checkpoint: str | Path, k: int = 10, samples: int = SAMPLES,
                   seed: int = SEED) -> Directions:
    """The directions of generator ``G`` loaded from ``checkpoint``: read from the cache when the file
    there was found for these very weights (same fingerprint) with at least ``k`` directions, the same
    ``samples`` and ``seed``; else found now and cached (a cache that cannot be written is skipped:
    finding them again takes seconds). A damaged or foreign cache file is never trusted."""
    path = cache_path(checkpoint)
    fp = fingerprint(G)
    try:
        cached = load(path)
        if cached.fingerprint == fp and cached.k >= k and (cached.samples, cached.seed) == (samples, seed):
            return Directions(cached.vectors[:k], cached.variance[:k], fp, samples, seed)
    except FaceganError:
        pass
    found = find_directions(G, k, samples, seed)
    try:
        path.parent.mkdir(exist_ok=True)
        save(found, path)
    except (OSError, FaceganError):
        pass
    return found


def names_path(checkpoint: str | Path) -> Path:
    return cache_path(checkpoint).with_suffix(".names.json")


def load_names(checkpoint: str | Path, d: Directions) -> list[str]:
    """The names people gave ``d``'s sliders ('' where none), kept only while they describe these very
    directions (the same generator weights)."""
    try:
        saved = json.loads(names_path(checkpoint).read_text(encoding="utf-8"))
        names = [str(n) for n in saved["names"]] if saved.get("fingerprint") == d.fingerprint else []
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        names = []
    return (names + [""] * d.k)[:d.k]


def save_name(checkpoint: str | Path, d: Directions, i: int, name: str) -> list[str]:
    """Name slider ``i`` (at most 40 characters; '' removes the name) and keep it with the run."""
    if not 0 <= i < d.k:
        raise FaceganError(f"slider: got {i}; allowed: 0 to {d.k - 1}")
    names = load_names(checkpoint, d)
    names[i] = " ".join(str(name).split())[:40]
    path = names_path(checkpoint)
    try:
        path.parent.mkdir(exist_ok=True)
        atomic_write_bytes(path, json.dumps({"fingerprint": d.fingerprint, "names": names}, indent=1).encode())
    except OSError as e:
        raise FaceganError(f"cannot save the slider's name in {path}: {e.strerror or e}") from None
    return names
