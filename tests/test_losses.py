"""Losses on logits and the gradient penalties, against independent formulas and autograd."""

import math

import pytest
import torch
from torch import nn

from facegan.training import d_loss, g_loss, penalty_scale, r1_penalty, wgan_gp_penalty


def softplus(x):
    return torch.log1p(torch.exp(x))


LOGITS_R = torch.tensor([2.0, -0.5, 0.3])
LOGITS_F = torch.tensor([-1.0, 0.7, 0.0, 1.5])


def test_bce_d_loss_formula():
    # -[t log s(x) + (1 - t) log(1 - s(x))] = softplus(x) - t x, averaged per half, halves added
    tr, tf = torch.tensor([0.9, 1.0, 0.8]), torch.tensor([0.0, 0.1, 0.05, 0.0])
    expected = (softplus(LOGITS_R) - tr * LOGITS_R).mean() + (softplus(LOGITS_F) - tf * LOGITS_F).mean()
    assert d_loss("bce", LOGITS_R, LOGITS_F, tr, tf).item() == pytest.approx(expected.item(), rel=1e-6)
    hard = softplus(-LOGITS_R).mean() + softplus(LOGITS_F).mean()
    assert d_loss("bce", LOGITS_R, LOGITS_F).item() == pytest.approx(hard.item(), rel=1e-6)


def test_bce_works_on_logits_without_saturating():
    # A sigmoid + BCELoss would give inf / zero gradients here; on logits the loss stays exact.
    big = torch.tensor([200.0], requires_grad=True)
    loss = d_loss("bce", -big, big)  # D sure of the wrong answer on both halves
    assert loss.item() == pytest.approx(400.0)
    loss.backward()
    assert big.grad.item() == pytest.approx(2.0)  # d/dbig of softplus(big) twice
    assert g_loss("bce", torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_non_saturating_g_loss():
    assert g_loss("bce", LOGITS_F).item() == pytest.approx(softplus(-LOGITS_F).mean().item(), rel=1e-6)
    # swapped convention: G wants D to say 0
    assert g_loss("bce", LOGITS_F, 0.0).item() == pytest.approx(softplus(LOGITS_F).mean().item(), rel=1e-6)
    x = torch.tensor([-8.0], requires_grad=True)
    g_loss("bce", x).backward()
    assert x.grad.item() < -0.99  # strong gradient when D rejects the fake (the point of -log D)


def test_hinge_and_wgan():
    hinge_d = torch.relu(1 - LOGITS_R).mean() + torch.relu(1 + LOGITS_F).mean()
    assert d_loss("hinge", LOGITS_R, LOGITS_F).item() == pytest.approx(hinge_d.item())
    assert d_loss("wgan", LOGITS_R, LOGITS_F).item() == pytest.approx((LOGITS_F.mean() - LOGITS_R.mean()).item())
    for kind in ("hinge", "wgan"):
        assert g_loss(kind, LOGITS_F).item() == pytest.approx(-LOGITS_F.mean().item())
    with pytest.raises(ValueError):
        d_loss("lsgan", LOGITS_R, LOGITS_F)


def test_losses_are_float32_under_bf16_logits():
    assert d_loss("bce", LOGITS_R.bfloat16(), LOGITS_F.bfloat16()).dtype == torch.float32
    assert g_loss("hinge", LOGITS_F.bfloat16()).dtype == torch.float32


def tiny_d():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 4, 3, 2, 1),
                         nn.Softplus(), nn.Flatten(), nn.Linear(4 * 2 * 2, 1), nn.Flatten(0))


def param_grads(loss, D):
    """d loss / d params; parameters the loss does not reach (the last bias, for a penalty on
    input gradients) count as zero."""
    grads = torch.autograd.grad(loss, list(D.parameters()), allow_unused=True, retain_graph=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, D.parameters())]


def per_image_grad(D, x):
    """The gradient of D at one image, computed alone (batch of 1), via autograd.functional."""
    return torch.autograd.functional.jacobian(lambda v: D(v.unsqueeze(0))[0], x, create_graph=True)


def test_r1_matches_independent_autograd():
    D = tiny_d()
    real = torch.randn(5, 3, 8, 8)
    expected = torch.stack([per_image_grad(D, x).square().sum() for x in real]).mean()
    got = r1_penalty(D, real)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    # and the penalty trains D: its parameter gradients agree as well
    g_got, g_exp = param_grads(got, D), param_grads(expected, D)
    assert any(g.abs().sum() > 0 for g in g_got)
    for a, b in zip(g_got, g_exp):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


def test_wgan_gp_matches_independent_autograd():
    D = tiny_d()
    real, fake = torch.randn(6, 3, 8, 8), torch.randn(6, 3, 8, 8)
    alpha = torch.rand(6, 1, 1, 1)
    norms = [per_image_grad(D, r + a * (f - r)).flatten().norm() for r, f, a in zip(real, fake, alpha)]
    expected = torch.stack([(n - 1) ** 2 for n in norms]).mean()
    got = wgan_gp_penalty(D, real, fake, alpha)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    g_got, g_exp = param_grads(got, D), param_grads(expected, D)
    assert any(g.abs().sum() > 0 for g in g_got)
    for a, b in zip(g_got, g_exp):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)
    # the interpolates matter: other mixing weights give another value
    assert wgan_gp_penalty(D, real, fake, 1 - alpha).item() != pytest.approx(expected.item(), rel=1e-3)


def test_penalties_on_a_linear_critic_in_closed_form():
    # D(x) = <w, x>: the gradient is w everywhere, so R1 = |w|^2 and WGAN-GP = (|w| - 1)^2.
    lin = nn.Sequential(nn.Flatten(), nn.Linear(12, 1, bias=False), nn.Flatten(0))
    w = lin[1].weight.detach()
    x, y = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    assert r1_penalty(lin, x).item() == pytest.approx(w.square().sum().item(), rel=1e-6)
    assert wgan_gp_penalty(lin, x, y, torch.rand(4, 1, 1, 1)).item() == pytest.approx(
        (w.norm().item() - 1) ** 2, rel=1e-5)
    with torch.no_grad():
        lin[1].weight.div_(lin[1].weight.norm())
    assert wgan_gp_penalty(lin, x, y, torch.rand(4, 1, 1, 1)).item() == pytest.approx(0.0, abs=1e-10)


def test_penalty_scale_convention():
    assert penalty_scale("r1", 10.0, 1) == 5.0          # gamma / 2
    assert penalty_scale("r1", 10.0, 16) == 80.0        # lazy: times the interval
    assert penalty_scale("wgan-gp", 10.0, 1) == 10.0
    assert penalty_scale("wgan-gp", 10.0, 4) == 40.0
    assert math.isclose(penalty_scale("r1", 0.2, 3), 0.3)
