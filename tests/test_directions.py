"""Face sliders (GANSpace directions): orthonormal, deterministic, the method's answer on a generator whose
answer is known, cached beside the checkpoint and never trusted for other weights, names kept with them."""

import numpy as np
import pytest
import torch
from torch import nn

from facegan.errors import FaceganError
from facegan.generate import load_generator
from facegan.visual import directions as dirs

from .helpers import run_cli


class LinearG(nn.Module):
    """A 'generator' whose first block is the linear map z -> A z with A = W diag(s) Vᵀ: its features
    vary most along W's first column, which z reaches along V's first column."""

    def __init__(self, latent_dim=12, features=40, s=(9.0, 5.0, 3.0, 1.0)):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        w, _ = torch.linalg.qr(torch.randn(features, len(s), generator=g))
        v, _ = torch.linalg.qr(torch.randn(latent_dim, len(s), generator=g))
        self.v = v
        a = w @ torch.diag(torch.tensor(s)) @ v.T                      # (features, latent_dim)
        conv = nn.ConvTranspose2d(latent_dim, features, 1, bias=False)
        conv.weight.data = a.T.reshape(latent_dim, features, 1, 1).clone()
        self.latent_dim = latent_dim
        self.blocks = nn.Sequential(conv, nn.Tanh())

    def forward(self, z):
        return self.blocks(z.reshape(len(z), self.latent_dim, 1, 1))


def test_directions_are_orthonormal_and_the_same_for_the_same_seed(trained):
    G, _, _ = load_generator(trained)
    a = dirs.find_directions(G, k=5, samples=500, seed=3)
    assert a.vectors.shape == (5, G.latent_dim) and a.vectors.dtype == np.float32
    np.testing.assert_allclose(a.vectors @ a.vectors.T, np.eye(5), atol=1e-5)
    assert np.all(np.diff(a.variance) <= 0) and 0 < a.variance.sum() <= 1
    again = dirs.find_directions(G, k=5, samples=500, seed=3)
    np.testing.assert_array_equal(a.vectors, again.vectors)
    other = dirs.find_directions(G, k=5, samples=500, seed=4)
    assert not np.array_equal(a.vectors, other.vectors)


def test_on_a_linear_generator_they_are_the_latent_directions_of_its_largest_variation():
    G = LinearG()
    d = dirs.find_directions(G, k=3, samples=4000, seed=0)
    # tanh bends the map a little; the top directions still line up with V's columns, in order.
    cos = np.abs(d.vectors @ G.v.numpy())   # (3 found, 4 true)
    assert np.all(cos.argmax(1) == [0, 1, 2]) and np.all(cos.max(1) > 0.97), cos


def test_moving_along_a_direction_and_its_preview_strip():
    d = dirs.Directions(np.eye(3, 5, dtype=np.float32), np.ones(3, np.float32), "x", 10, 0)
    z = torch.zeros(2, 5, 1, 1)
    moved = dirs.move(z, d, [2.0, -1.0])
    assert moved.shape == z.shape and moved[0, :, 0, 0].tolist() == [2.0, -1.0, 0.0, 0.0, 0.0]
    assert dirs.move(torch.zeros(5), d, [0, 0, 3]).tolist() == [0, 0, 3, 0, 0]
    strip = dirs.strip(torch.ones(5), d, 1, amounts=(-3, 0, 3))
    assert strip.shape == (3, 5, 1, 1) and strip[:, 1, 0, 0].tolist() == [-2.0, 1.0, 4.0]


def test_they_are_cached_beside_the_checkpoint_and_found_again_for_other_weights(trained, monkeypatch):
    G, _, info = load_generator(trained)
    path = dirs.cache_path(info["checkpoint"])
    assert path == trained / "directions" / "last.npz" and not path.exists()
    first = dirs.directions_for(G, info["checkpoint"], k=4, samples=300)
    assert path.is_file()
    calls = []
    real_find = dirs.find_directions
    monkeypatch.setattr(dirs, "find_directions", lambda *a, **k: calls.append(1) or real_find(*a, **k))
    again = dirs.directions_for(G, info["checkpoint"], k=3, samples=300)     # fewer: read from the file
    assert calls == [] and np.array_equal(again.vectors, first.vectors[:3])
    # The file now belongs to other weights (the run trained on): found anew, not trusted.
    with torch.no_grad():
        next(G.parameters()).add_(0.01)
    changed = dirs.directions_for(G, info["checkpoint"], k=3, samples=300)
    assert calls == [1] and changed.fingerprint != first.fingerprint
    assert dirs.load(path).fingerprint == changed.fingerprint
    # A damaged file is found anew too.
    path.write_bytes(b"not an npz")
    dirs.directions_for(G, info["checkpoint"], k=3, samples=300)
    assert calls == [1, 1] and dirs.load(path).fingerprint == changed.fingerprint


def test_slider_names_stay_with_the_directions_they_name(tmp_path):
    ckpt = tmp_path / "G.safetensors"
    d = dirs.Directions(np.eye(3, 5, dtype=np.float32), np.ones(3, np.float32), "aaaa", 10, 0)
    assert dirs.load_names(ckpt, d) == ["", "", ""]
    assert dirs.save_name(ckpt, d, 1, "  smile\n ") == ["", "smile", ""]
    assert dirs.load_names(ckpt, d) == ["", "smile", ""]
    other = dirs.Directions(d.vectors, d.variance, "bbbb", 10, 0)
    assert dirs.load_names(ckpt, other) == ["", "", ""]
    with pytest.raises(FaceganError, match="slider"):
        dirs.save_name(ckpt, d, 3, "x")


def test_cli_writes_k_orthonormal_rows(trained, tmp_path):
    out = tmp_path / "sliders.npz"
    res = run_cli("directions", str(trained), "--k", "4", "--out", str(out), "--samples", "300")
    assert res.returncode == 0, res.stderr
    with np.load(out) as f:
        v = f["directions"]
    assert v.shape == (4, 100)
    np.testing.assert_allclose(v @ v.T, np.eye(4), atol=1e-5)
    assert "4 directions" in res.stdout


@pytest.mark.parametrize("args,says", [(["--k", "0"], "k: got 0"), (["--k", "101"], "k: got 101"),
                                       (["--out", "/no/such/folder/x.npz"], "/no/such/folder")])
def test_cli_bad_input_exits_2_with_one_line(trained, tmp_path, args, says):
    res = run_cli("directions", str(trained), *(["--out", str(tmp_path / "d.npz")] if "--out" not in args else []),
                  *args)
    assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
