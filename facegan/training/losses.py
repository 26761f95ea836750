"""Adversarial losses on D's logits, and the gradient penalties on D.

Every loss takes raw logits: BCE goes through ``binary_cross_entropy_with_logits`` (log-sum-exp
inside), never a sigmoid followed by BCELoss, which saturates to log(0) once D is confident.
Logits are upcast to float32 so the losses stay exact under bf16 autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def d_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor,
           real_targets: torch.Tensor | None = None,
           fake_targets: torch.Tensor | None = None) -> torch.Tensor:
    """D's loss, the real and fake halves each averaged over their batch and then added (as in DCGAN):

    - ``bce``: BCE(real, real_targets) + BCE(fake, fake_targets); targets default to 1 and 0;
    - ``hinge``: mean relu(1 - real) + mean relu(1 + fake);
    - ``wgan``: mean fake - mean real (the critic's negated Wasserstein estimate).
    """
    real, fake = real_logits.float(), fake_logits.float()
    if kind == "bce":
        rt = torch.ones_like(real) if real_targets is None else real_targets.to(real.dtype)
        ft = torch.zeros_like(fake) if fake_targets is None else fake_targets.to(fake.dtype)
        return F.binary_cross_entropy_with_logits(real, rt) + F.binary_cross_entropy_with_logits(fake, ft)
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "wgan":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(kind: str, fake_logits: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """G's loss on D's logits for its fakes.

    - ``bce``: the non-saturating loss BCE(fake, target), i.e. -log D(G(z)) for target 1; ``target``
      is 0 under the swapped label convention;
    - ``hinge`` and ``wgan``: -mean fake.
    """
    fake = fake_logits.float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.full_like(fake, target))
    if kind in ("hinge", "wgan"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}")


def _input_grads(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """d(sum of D(x)) / dx, kept differentiable so the penalty can train D. Summing is exact per
    image only when D treats images independently (no BatchNorm across the batch)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
    return grad.flatten(1)


def r1_penalty(D: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): mean over real images of ||grad_x D(x)||^2. The loss term is
    ``gamma / 2`` times this (see :func:`penalty_scale`)."""
    return _input_grads(D, real).square().sum(1).mean()


def wgan_gp_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                    alpha: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): mean of (||grad D(x_hat)|| - 1)^2 at the interpolates
    ``x_hat = real + alpha * (fake - real)``; ``alpha`` is (N, 1, 1, 1), uniform in [0, 1]."""
    x_hat = torch.lerp(real.detach(), fake.detach().to(real.dtype), alpha.to(real.dtype))
    return (_input_grads(D, x_hat).norm(2, dim=1) - 1.0).square().mean()


def penalty_scale(kind: str, weight: float, every: int) -> float:
    """Factor on the penalty in D's loss. R1 uses StyleGAN2's convention ``gamma / 2`` with
    ``gamma = weight``; WGAN-GP uses ``weight`` (lambda). Applied lazily, every ``every``-th D step
    only, the term is scaled by ``every`` so that its average strength stays the same (StyleGAN2's
    lazy regularisation; unlike StyleGAN2, Adam's lr and betas are left as configured)."""
    if kind == "r1":
        return weight / 2.0 * every
    if kind == "wgan-gp":
        return weight * every
    raise ValueError(f"unknown gradient penalty {kind!r}")
