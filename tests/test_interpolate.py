import math

import pytest
import torch

from facegan.errors import FaceganError
from facegan.generate import latents
from facegan.visual.interpolate import grid_2d, interpolation_latents, lerp, path_1d, slerp

L = 100


def _gauss(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, L, 1, 1, generator=torch.Generator().manual_seed(seed))


def _angle(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.reshape(-1).double(), b.reshape(-1).double()
    return math.acos(max(-1.0, min(1.0, float(a @ b / (a.norm() * b.norm())))))


# -- lerp and slerp ----------------------------------------------------------------------------------

def test_lerp_known_values_and_shapes():
    a, b = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    assert torch.equal(lerp(a, b, 0.25), torch.tensor([1.0, 1.0]))
    many = lerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert many.shape == (3, 2)
    assert torch.equal(many, torch.tensor([[0.0, 2.0], [2.0, 0.0], [4.0, -2.0]]))


def test_slerp_known_values_on_the_unit_circle():
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    for t in (0.0, 1 / 3, 0.5, 0.8, 1.0):
        expected = torch.tensor([math.cos(t * math.pi / 2), math.sin(t * math.pi / 2)])
        torch.testing.assert_close(slerp(e1, e2, t), expected)
    # the same arc scaled: slerp of two vectors of length 3 stays on the circle of radius 3
    torch.testing.assert_close(slerp(3 * e1, 3 * e2, 0.5), torch.tensor([3 / math.sqrt(2)] * 2))
    torch.testing.assert_close(slerp(e1, torch.tensor([-0.5, math.sqrt(3) / 2]), 0.5),
                               torch.tensor([0.5, math.sqrt(3) / 2]))  # half of 120 degrees
    # unequal lengths: the direction still turns evenly, the length goes linearly from 1 to 3
    torch.testing.assert_close(slerp(e1, 3 * e2, 0.5), torch.tensor([math.sqrt(2), math.sqrt(2)]))
    torch.testing.assert_close(slerp(e1, 3 * e2, 0.25), 1.5 * torch.tensor([math.cos(math.pi / 8),
                                                                             math.sin(math.pi / 8)]))


def test_slerp_endpoints_exact_and_batched_shape():
    a, b = _gauss(2)
    ts = torch.linspace(0, 1, 7)
    out = slerp(a, b, ts)
    assert out.shape == (7, L, 1, 1) and out.dtype == a.dtype
    assert torch.equal(out[0], a) and torch.equal(out[-1], b)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)


def test_slerp_falls_back_to_lerp_when_parallel():
    a = _gauss(1)[0]
    for b in (2.5 * a, -a, a * (1 + 1e-9)):
        torch.testing.assert_close(slerp(a, b, 0.3), lerp(a, b, 0.3))
    zero = torch.zeros_like(a)
    torch.testing.assert_close(slerp(zero, a, 0.5), 0.5 * a)  # no 0/0 for a zero vector
    assert torch.isfinite(slerp(a, a, 0.5)).all()


def test_slerp_keeps_gaussian_latent_norms_between_the_endpoints():
    z = _gauss(80, seed=1)
    ts = torch.linspace(0, 1, 11)
    for a, b in zip(z[0::2], z[1::2]):
        lo, hi = sorted([float(a.norm()), float(b.norm())])
        norms = slerp(a, b, ts).reshape(len(ts), -1).norm(dim=1)
        assert (norms >= lo - 1e-4).all() and (norms <= hi + 1e-4).all()
        torch.testing.assert_close(norms, (1 - ts) * a.norm() + ts * b.norm())
        # ...where the straight line sags towards the origin (its midpoint is about 1/sqrt(2) as long)
        assert float(lerp(a, b, 0.5).norm()) < 0.8 * float(slerp(a, b, 0.5).norm())


def test_progress_is_monotone():
    a, b = _gauss(2, seed=2)
    ts = torch.linspace(0, 1, 9)
    dist = [float((p - a).norm()) for p in lerp(a, b, ts)]
    assert all(x < y for x, y in zip(dist, dist[1:]))
    angles = [_angle(p, a) for p in slerp(a, b, ts)]
    assert all(x < y for x, y in zip(angles, angles[1:]))
    assert angles[-1] == pytest.approx(_angle(a, b), abs=1e-6)


# -- paths and grids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spherical", [False, True])
def test_path_1d_shape_endpoints_and_even_spacing(spherical):
    z0, z1 = _gauss(2, seed=3)
    path = path_1d(z0, z1, 6, spherical=spherical)
    assert path.shape == (6, L, 1, 1)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    # even steps: equal distances along a line, equal angles along an arc
    gaps = ([_angle(p, q) for p, q in zip(path, path[1:])] if spherical
            else [float((q - p).norm()) for p, q in zip(path, path[1:])])
    assert max(gaps) - min(gaps) < 1e-4 * max(gaps)


def test_path_1d_accepts_flat_and_batched_latents():
    z0, z1 = _gauss(2, seed=4)
    expected = path_1d(z0, z1, 4)
    assert torch.equal(path_1d(z0.reshape(-1), z1.reshape(-1), 4), expected)
    assert torch.equal(path_1d(z0[None], z1[None], 4), expected)
    with pytest.raises(ValueError):
        path_1d(z0, z1, 1)


@pytest.mark.parametrize("spherical", [False, True])
def test_grid_2d_corners_land_exactly(spherical):
    corners = _gauss(4, seed=5)
    for steps in (2, 3, 5):
        g = grid_2d(corners, steps, spherical=spherical).reshape(steps, steps, L, 1, 1)
        assert torch.equal(g[0, 0], corners[0]) and torch.equal(g[0, -1], corners[1])
        assert torch.equal(g[-1, 0], corners[2]) and torch.equal(g[-1, -1], corners[3])


def test_grid_2d_is_bilinear():
    corners = _gauss(4, seed=6)
    tl, tr, bl, br = corners
    g = grid_2d(corners, 5)
    assert g.shape == (25, L, 1, 1)
    g = g.reshape(5, 5, L, 1, 1)
    torch.testing.assert_close(g[2, 2], corners.mean(0))  # the centre weighs all four equally
    torch.testing.assert_close(g[0], path_1d(tl, tr, 5))  # top row, left to right
    torch.testing.assert_close(g[-1], path_1d(bl, br, 5))
    torch.testing.assert_close(g[:, 0], path_1d(tl, bl, 5))  # left column, top to bottom
    torch.testing.assert_close(g[1, 3], 0.75 * 0.25 * tl + 0.75 * 0.75 * tr + 0.25 * 0.25 * bl + 0.25 * 0.75 * br)
    same = grid_2d(tl.expand(4, L, 1, 1), 4)  # convex: weights sum to one
    torch.testing.assert_close(same, tl.expand(16, L, 1, 1))


def test_grid_2d_spherical_slerps_rows_then_columns():
    corners = _gauss(4, seed=7)
    g = grid_2d(corners, 4, spherical=True).reshape(4, 4, L, 1, 1)
    torch.testing.assert_close(g[0], path_1d(corners[0], corners[1], 4, spherical=True))
    torch.testing.assert_close(g[-1], path_1d(corners[2], corners[3], 4, spherical=True))
    torch.testing.assert_close(g[:, 2], path_1d(g[0, 2], g[-1, 2], 4, spherical=True))
    lo = float(corners.reshape(4, -1).norm(dim=1).min())
    assert float(g.reshape(16, -1).norm(dim=1).min()) > lo - 1e-4  # no sag towards the origin


# -- whole figures -----------------------------------------------------------------------------------

def test_interpolation_latents_1d_rows_are_independent_paths():
    z = interpolation_latents("1d", steps=5, rows=3, latent_dim=L, seed=9, spherical=False)
    assert z.shape == (15, L, 1, 1)
    ends = latents(6, L, 9)
    for r in range(3):
        assert torch.equal(z[5 * r], ends[2 * r]) and torch.equal(z[5 * r + 4], ends[2 * r + 1])
    assert torch.equal(z, interpolation_latents("1d", 5, 3, L, 9, False))
    assert not torch.equal(z, interpolation_latents("1d", 5, 3, L, 10, False))
    zs = interpolation_latents("1d", 5, 3, L, 9, True)
    assert torch.equal(zs[0], z[0]) and not torch.equal(zs[2], z[2])


def test_interpolation_latents_2d_grid():
    z = interpolation_latents("2d", steps=4, rows=99, latent_dim=L, seed=2, spherical=True)
    assert z.shape == (16, L, 1, 1)
    c = latents(4, L, 2)
    assert torch.equal(z[0], c[0]) and torch.equal(z[3], c[1]) and torch.equal(z[12], c[2]) \
        and torch.equal(z[15], c[3])


@pytest.mark.parametrize("mode, steps, rows", [("3d", 4, 2), ("1d", 1, 2), ("2d", 65, 1), ("1d", 4, 0)])
def test_interpolation_latents_bad_input(mode, steps, rows):
    with pytest.raises(FaceganError):
        interpolation_latents(mode, steps, rows, L, 0, False)
