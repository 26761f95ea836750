"""DiffAugment and the adaptive p: each op's documented effect, gradients through every op, the policy
field, and the step applying it to everything D sees."""

import math
import warnings

import pytest
import torch

from facegan.compiled import Fused
from facegan.errors import ConfigError
from facegan.models import build_networks
from facegan.presets import from_preset
from facegan.training import GANStep, augment, make_optimizers
from facegan.training.augment import ADA_INTERVAL, AdaptiveP, color, diff_augment, shift_and_cut

from .helpers import compile_without_a_compiler, run_cli

N, H = 64, 32


def uniform_from(seed: int, n: int = N):
    g = torch.Generator().manual_seed(seed)
    return lambda *shape: torch.rand(n, *shape, generator=g)


def test_an_empty_policy_is_the_identity():
    x = torch.randn(N, 3, H, H)
    assert torch.equal(diff_augment(x, (), uniform_from(0)), x)
    cfg = from_preset("dcgan-paper", ["tricks.diffaugment="])
    G, D = build_networks(cfg)
    assert GANStep(cfg, G, D, *make_optimizers(cfg, G, D)).augment_p is None


def test_color_is_brightness_then_saturation_then_contrast():
    """The folded expression against the three steps written out as DiffAugment's reference code does."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, 3, H, H, generator=g, dtype=torch.float64) * 2 - 1
    b, s, c = (torch.rand(8, 1, 1, 1, generator=g, dtype=torch.float64) for _ in range(3))
    b, s, c = b - 0.5, s * 2, c + 0.5
    y = x + b
    y = (y - y.mean(dim=1, keepdim=True)) * s + y.mean(dim=1, keepdim=True)
    y = (y - y.mean(dim=(1, 2, 3), keepdim=True)) * c + y.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(color(x, b, s, c), y, rtol=0, atol=1e-12)


def test_color_factors_have_their_documented_ranges():
    # A flat grey image: saturation and contrast have nothing to scale, so the output is x + b.
    flat = torch.full((2000, 3, 4, 4), 0.1)
    shift = (diff_augment(flat, ("color",), uniform_from(2, 2000)) - flat)[:, 0, 0, 0]
    assert -0.5 <= shift.min() < -0.49 and 0.49 < shift.max() < 0.5
    # Two grey halves: saturation still does nothing; contrast scales the gap around the mean by c.
    halves = torch.full((2000, 3, 4, 4), -0.3)
    halves[:, :, :, 2:] = 0.3
    out = diff_augment(halves, ("color",), uniform_from(3, 2000))
    factor = (out[:, 0, 0, 2] - out[:, 0, 0, 0]) / 0.6
    assert 0.5 <= factor.min() < 0.51 and 1.49 < factor.max() < 1.5


def test_translation_moves_content_by_at_most_an_eighth_and_fills_with_zeros():
    x = torch.zeros(2000, 3, H, H)
    x[:, :, 16, 16] = 1.0  # one bright pixel in the middle
    out = diff_augment(x, ("translation",), uniform_from(4, 2000))
    assert torch.equal(out.sum(dim=(2, 3)), torch.ones(2000, 3))  # moved, never lost or doubled
    where = out[:, 0].flatten(1).argmax(dim=1)
    dy, dx = where // H - 16, where % H - 16
    radius = H // 8
    assert dy.abs().max() == dx.abs().max() == radius  # every shift up to 1/8 of the side, no further
    assert set(dy.tolist()) == set(range(-radius, radius + 1))
    # What comes in from outside is zero: a full image of ones loses exactly the uncovered border.
    ones = torch.ones(N, 3, H, H)
    u = uniform_from(5)
    moved = diff_augment(ones, ("translation",), u)
    u = uniform_from(5)
    sy = (u(1, 1).view(-1) * (2 * radius + 1)).floor() - radius
    sx = (u(1, 1).view(-1) * (2 * radius + 1)).floor() - radius
    kept = (H - sy.abs()) * (H - sx.abs())
    assert torch.equal(moved[:, 0].sum(dim=(1, 2)), kept)


def test_cutout_zeroes_exactly_one_half_size_square_per_image():
    out = diff_augment(torch.ones(500, 3, H, H), ("cutout",), uniform_from(6, 500))
    zero = out[:, 0] == 0
    assert torch.equal(out[:, 0], out[:, 2])  # the same square in every channel
    assert (zero.sum(dim=(1, 2)) == (H // 2) ** 2).all()
    rows, cols = zero.any(dim=2), zero.any(dim=1)
    assert (rows.sum(dim=1) == H // 2).all() and (cols.sum(dim=1) == H // 2).all()  # a square, not a scatter
    tops = rows.float().argmax(dim=1)
    assert tops.min() == 0 and tops.max() == H - H // 2  # anywhere it fits wholly inside


def test_translation_and_cutout_in_one_gather_equal_each_alone():
    x = torch.randn(N, 3, H, H)
    g = torch.Generator().manual_seed(7)
    dy, dx = torch.randint(-4, 5, (N,), generator=g), torch.randint(-4, 5, (N,), generator=g)
    top, left = torch.randint(0, 17, (N,), generator=g), torch.randint(0, 17, (N,), generator=g)
    zero = torch.zeros(N, dtype=torch.long)
    both = shift_and_cut(x, dy, dx, (top, left, (16, 16)))
    assert torch.equal(both, shift_and_cut(shift_and_cut(x, dy, dx), zero, zero, (top, left, (16, 16))))


@pytest.mark.parametrize("ops", [("color",), ("translation",), ("cutout",), ("color", "translation", "cutout")])
def test_gradients_pass_through_every_op(ops):
    """Exact gradients (finite differences agree) with the random draws held fixed, so G learns through
    the augmentation; channels-last input as the trainer gives it."""
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: diff_augment(t, ops, uniform_from(8, 4)), (x,))
    y = diff_augment(x, ops, uniform_from(8, 4))
    (grad,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)
    assert grad.abs().sum() > 0


def test_the_uncompiled_transform_is_twice_differentiable(monkeypatch):
    """The function itself, as a penalty on the raw input would need (the compiled kernel is
    differentiable once; R1 and WGAN-GP differentiate D at its augmented input, so training needs no more)."""
    monkeypatch.setattr(augment, "fused_transform", augment.transform)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    ops = ("color", "translation", "cutout")
    assert torch.autograd.gradgradcheck(lambda t: diff_augment(t, ops, uniform_from(8, 4)), (x,))


def test_the_compiled_augmentation_computes_what_the_uncompiled_does(monkeypatch):
    """Values and gradients of the fused kernel against the eager function, on the trainer's layout, with
    every op and a p that skips some images; both differ at most by float rounding."""
    x = torch.randn(16, 3, 16, 16).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    ops, p = ("color", "translation", "cutout"), torch.tensor(0.5)
    fused = Fused(augment.transform, "DiffAugment")
    outs, grads = [], []
    for fn in (augment.transform, fused):
        monkeypatch.setattr(augment, "fused_transform", fn)
        y = diff_augment(x, ops, uniform_from(11, 16), p)
        (g,) = torch.autograd.grad((y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum(), x)
        outs.append(y.detach()), grads.append(g)
    assert fused.compiled is not None and not fused.failed
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=1e-5)


def test_a_failed_compile_warns_once_and_runs_uncompiled(monkeypatch):
    monkeypatch.setattr(torch, "compile", compile_without_a_compiler)
    fused = Fused(augment.transform, "DiffAugment")
    x = torch.randn(4, 3, 8, 8)
    # Brightness +0.25, saturation and contrast factors of one: x + 0.25.
    draws = {"brightness": torch.full((4, 1, 1, 1), 0.75), "saturation": torch.full((4, 1, 1, 1), 0.5),
             "contrast": torch.full((4, 1, 1, 1), 0.5)}
    with pytest.warns(UserWarning, match="uncompiled.*no C\\+\\+ compiler"):
        y = fused(x, draws, None)
    assert fused.failed and torch.equal(y, x + 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(fused(x, draws, None), x + 0.25)


def test_p_applies_each_op_to_that_share_of_images():
    x = torch.randn(4000, 3, 8, 8)
    assert torch.equal(diff_augment(x, ("translation", "cutout"), uniform_from(9, 4000), torch.tensor(0.0)), x)
    out = diff_augment(x, ("cutout",), uniform_from(9, 4000), torch.tensor(0.3))
    changed = (out != x).flatten(1).any(dim=1).sum().item()
    assert abs(changed - 1200) <= 5 * math.sqrt(4000 * 0.3 * 0.7)


def test_adaptive_p_moves_toward_the_target_and_resumes():
    ada = AdaptiveP(0.5, target=0.6, speed=1000, global_batch=10, device=torch.device("cpu"), adaptive=True)
    step = 10 * ADA_INTERVAL / 1000
    sure = torch.ones(10)  # D calls every real image real: r_t = 1 > 0.6, so p rises
    for _ in range(ADA_INTERVAL - 1):
        ada.observe(sure)
    assert ada.p.item() == 0.5  # p moves once per interval
    ada.observe(sure)
    assert ada.p.item() == pytest.approx(0.5 + step)
    unsure = torch.tensor([1.0] * 5 + [-1.0] * 5)  # r_t = 0 < 0.6: p falls
    for _ in range(2 * ADA_INTERVAL):
        ada.observe(unsure)
    assert ada.p.item() == pytest.approx(0.5 - step)
    for _ in range(1000):
        ada.observe(unsure)
    assert ada.p.item() == 0.0  # clamped to [0, 1]
    ada.observe(sure)
    again = AdaptiveP(0.9, 0.6, 1000, 10, torch.device("cpu"), adaptive=True)
    again.load_state_dict(ada.state_dict())
    for _ in range(ADA_INTERVAL - 1):
        again.observe(sure), ada.observe(sure)
    assert again.p.item() == ada.p.item() == pytest.approx(step)
    fixed = AdaptiveP(0.7, 0.6, 1000, 10, torch.device("cpu"), adaptive=False)
    for _ in range(ADA_INTERVAL):
        fixed.observe(sure)
    assert fixed.p.item() == pytest.approx(0.7)


class Recorder(torch.nn.Module):
    """D, remembering every batch it is shown."""

    def __init__(self, D):
        super().__init__()
        self.D, self.seen = D, []

    def forward(self, x):
        self.seen.append(x.detach().float().clone())
        return self.D(x)


def test_the_step_augments_reals_and_fakes_in_both_updates():
    cfg = from_preset("dcgan-paper", ["resolution=32", "batch_size=8", "g_width=8", "d_width=8",
                                      "tricks.diffaugment=cutout", "precision=fp32"])
    G, D = build_networks(cfg)
    step = GANStep(cfg, G, Recorder(D), *make_optimizers(cfg, G, D), generator=torch.Generator().manual_seed(0))
    step(torch.rand(8, 3, 32, 32) * 0.5 + 0.25)  # reals with no zero of their own
    real, fake, fake_in_g = step.D.seen  # D's update (reals, fakes), then G's update
    for batch in (real, fake, fake_in_g):
        assert ((batch[:, 0] == 0).sum(dim=(1, 2)) >= 16 * 16).all()
    assert ((real[:, 0] == 0).sum(dim=(1, 2)) == 16 * 16).all()


@pytest.mark.parametrize("override, field", [
    ("tricks.diffaugment=color,zoom", "tricks.diffaugment"),
    ("tricks.diffaugment=color,color", "tricks.diffaugment"),
    ("tricks.augment_p=1.5", "tricks.augment_p"),
    ("tricks.augment_target=-0.1", "tricks.augment_target"),
])
def test_bad_augmentation_settings_name_the_field(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        from_preset("quick-64", [override])
    proc = run_cli("train", "--data", "synthetic", "--set", override, "--epochs", "1")
    assert proc.returncode == 2 and field in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
