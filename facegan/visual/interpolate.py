"""Walks through latent space: straight or spherical paths between latents, and 2-D grids spanned by
four corner latents, as in the seed notebooks' interpolation figures.

Pure functions on latent tensors (L, 1, 1) / (N, L, 1, 1); feed the result to
:func:`facegan.generate.generate`. Endpoints and corners are reproduced exactly (weights of exactly 0
and 1), so the first and last image of a path are the two faces it connects.
"""

from __future__ import annotations

import torch

from ..errors import FaceganError

PARALLEL_EPS = 1e-6  # below this sin(angle), slerp's weights are 0/0 and a straight line is as good


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """``(1 - t) a + t b``. ``t`` a number gives ``a``'s shape; ``t`` a 1-D tensor of T values gives
    (T, *a.shape)."""
    t = _weights(t, a)
    return _mix(a, b, 1.0 - t, t)


def slerp(a: torch.Tensor, b: torch.Tensor, t, eps: float = PARALLEL_EPS) -> torch.Tensor:
    """Spherical interpolation between ``a`` and ``b`` (each taken as one flattened vector), shaped
    like :func:`lerp`'s result: the direction turns along the great circle at a constant angular
    speed while the length goes linearly from ``|a|`` to ``|b|``. For equal lengths this is
    Shoemake's slerp.

    Gaussian latents concentrate near a sphere of radius sqrt(L); a straight line between two of them
    cuts through the low-probability inside (its midpoint is ~0.71 as long), which the generator has
    rarely seen. Slerp's lengths stay between the endpoints' instead.
    """
    af, bf = a.reshape(-1).double(), b.reshape(-1).double()
    na, nb = af.norm(), bf.norm()
    if na < eps or nb < eps:
        return lerp(a, b, t)
    omega = torch.arccos(torch.clamp(af @ bf / (na * nb), -1.0, 1.0))
    so = torch.sin(omega)
    if so < eps:  # (anti)parallel: every great circle or none; fall back to the straight line
        return lerp(a, b, t)
    t = torch.as_tensor(t, dtype=torch.float64)
    length = (1.0 - t) * na + t * nb
    # Written as multiples of a and b (not of unit vectors) so that at t = 0 and 1 the weights are
    # exactly 1 and 0 (sin(omega) / sin(omega), length / |a|) and the endpoints come out bit-exact.
    wa = torch.sin((1.0 - t) * omega) / so * (length / na)
    wb = torch.sin(t * omega) / so * (length / nb)
    return _mix(a, b, wa.to(a.dtype), wb.to(a.dtype))


def path_1d(z0: torch.Tensor, z1: torch.Tensor, steps: int, spherical: bool = False) -> torch.Tensor:
    """``steps`` latents (steps, L, 1, 1) evenly spaced from ``z0`` to ``z1``, both included."""
    if steps < 2:
        raise ValueError(f"a path needs at least 2 steps (its two ends), got {steps}")
    z0, z1 = z0.reshape(-1, 1, 1), z1.reshape(-1, 1, 1)
    return (slerp if spherical else lerp)(z0, z1, _ts(steps))


def grid_2d(corners: torch.Tensor, steps: int, spherical: bool = False) -> torch.Tensor:
    """A steps x steps grid of latents (steps*steps, L, 1, 1), row-major, spanned by four corners
    (top-left, top-right, bottom-left, bottom-right) that land exactly on the grid's corners.

    Straight: the bilinear (convex) combination ``(1-u)(1-v) TL + u(1-v) TR + (1-u)v BL + uv BR``
    with u running left to right and v top to bottom. Spherical: slerp along the top and bottom rows,
    then down each column between them.
    """
    if steps < 2:
        raise ValueError(f"a grid needs at least 2 steps a side (its corners), got {steps}")
    if corners.shape[0] != 4:
        raise ValueError(f"expected 4 corner latents, got {corners.shape[0]}")
    tl, tr, bl, br = corners.reshape(4, -1, 1, 1)
    if spherical:
        u = _ts(steps)
        top, bottom = slerp(tl, tr, u), slerp(bl, br, u)
        columns = torch.stack([slerp(top[j], bottom[j], u) for j in range(steps)])  # (u, v, L, 1, 1)
        return columns.transpose(0, 1).reshape(steps * steps, -1, 1, 1)
    t = _ts(steps).to(corners.dtype)
    v, u = (w.reshape(-1, 1, 1, 1) for w in torch.meshgrid(t, t, indexing="ij"))  # row i <-> v, column j <-> u
    out = (1 - u) * (1 - v) * tl + u * (1 - v) * tr + (1 - u) * v * bl + u * v * br
    return out.reshape(steps * steps, -1, 1, 1)


def interpolation_latents(mode: str, steps: int, rows: int, latent_dim: int, seed: int,
                          spherical: bool = False, truncation: float = 1.0) -> torch.Tensor:
    """The latents of an interpolation figure, row-major. '1d': ``rows`` independent paths of
    ``steps`` latents each, between pairs of seeded latents (rows*steps latents). '2d': a steps x steps
    grid spanned by four seeded corners (``rows`` is ignored). The ends are truncated by ``truncation``
    (:func:`facegan.generate.latents`)."""
    from ..generate import latents

    if mode not in ("1d", "2d"):
        raise FaceganError(f"interpolation mode: got {mode!r}; allowed: '1d' or '2d'")
    if not 2 <= steps <= 64:
        raise FaceganError(f"interpolation steps: got {steps}; allowed: 2 to 64")
    if mode == "2d":
        return grid_2d(latents(4, latent_dim, seed, truncation), steps, spherical)
    if not 1 <= rows <= 64:
        raise FaceganError(f"interpolation rows: got {rows}; allowed: 1 to 64")
    ends = latents(2 * rows, latent_dim, seed, truncation)
    return torch.cat([path_1d(ends[2 * r], ends[2 * r + 1], steps, spherical) for r in range(rows)])


# -- helpers -----------------------------------------------------------------------------------------

def _ts(steps: int) -> torch.Tensor:
    """``steps`` evenly spaced values from exactly 0 to exactly 1."""
    return torch.arange(steps, dtype=torch.float64) / (steps - 1)


def _weights(t, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(t, dtype=like.dtype, device=like.device)


def _mix(a: torch.Tensor, b: torch.Tensor, wa: torch.Tensor, wb: torch.Tensor) -> torch.Tensor:
    """``wa * a + wb * b``; 1-D weights give one result per weight along a new first dimension."""
    wa, wb = wa.to(a.device), wb.to(a.device)
    if wa.ndim == 0:
        return wa * a + wb * b
    if wa.ndim != 1:
        raise ValueError(f"t must be a number or a 1-D tensor, got shape {tuple(wa.shape)}")
    shape = (-1,) + (1,) * a.ndim
    return wa.reshape(shape) * a + wb.reshape(shape) * b
