"""The stabilising tricks, each measured: noise schedules, label smoothing/flips/swap/real-as-fake,
the replay buffer, and instance noise reaching D's inputs."""

import math

import pytest
import torch

from facegan.models import build_networks, noise_layers
from facegan.presets import from_preset
from facegan.training import GANStep, LabelSpec, ReplayBuffer, d_labels, make_optimizers, noise_std, set_noise_epoch
from facegan.training.labels import classes

SMALL = ["model.g_width=8", "model.d_width=8", "data.resolution=32", "optim.batch_size=4"]


def tricks(*overrides):
    return from_preset("dcgan-paper", list(overrides)).tricks


def binomial_ok(hits, n, p, sds=5.0):
    """``hits`` successes in ``n`` draws is within ``sds`` binomial standard deviations of n*p
    (a correct sampler fails this about once in 1.7 million runs at 5 sd)."""
    return abs(hits - n * p) <= sds * math.sqrt(n * p * (1 - p))


# -- schedules -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("schedule,expected", [
    # epochs:      0    2.5   5     7.5   10    12.5  20    25
    ("constant",  [1.0, 1.0,  1.0,  1.0,  1.0,  1.0,  1.0,  1.0]),
    ("linear",    [1.0, 0.75, 0.5,  0.25, 0.0,  0.0,  0.0,  0.0]),
    ("cyclic",    [1.0, 0.75, 0.5,  0.25, 1.0,  0.75, 1.0,  0.5]),
    ("off_after", [1.0, 1.0,  1.0,  1.0,  0.0,  0.0,  0.0,  0.0]),
])
def test_noise_schedules(schedule, expected):
    epochs = [0, 2.5, 5, 7.5, 10, 12.5, 20, 25]
    got = [noise_std(0.2, schedule, e, 10) for e in epochs]
    assert got == pytest.approx([0.2 * x for x in expected], abs=1e-12)
    assert noise_std(0.0, schedule, 3, 10) == 0.0


def test_set_noise_epoch_sets_every_layer():
    G, D = build_networks(from_preset("dcgan-paper", SMALL + ["model.d_noise_std=0.4", "model.g_noise_std=0.2"]))
    assert set_noise_epoch(D, 5, "linear", 20) == pytest.approx(0.3)
    assert all(m.std == pytest.approx(0.3) and m.base_std == 0.4 for m in noise_layers(D))
    assert set_noise_epoch(G, 20, "off_after", 20) == 0.0
    assert all(m.std == 0.0 for m in noise_layers(G))
    assert set_noise_epoch(G, 0, "off_after", 20) == pytest.approx(0.2)  # restored from base_std


def test_step_set_epoch_applies_model_and_instance_schedules():
    cfg = from_preset("dcgan-paper", SMALL + [
        "model.d_noise_std=0.4", "model.g_noise_std=0.2", "model.noise_schedule=cyclic",
        "model.noise_epochs=4", "tricks.instance_noise_std=0.1", "tricks.instance_noise_schedule=off_after",
        "tricks.instance_noise_epochs=3"])
    G, D = build_networks(cfg)
    step = GANStep(cfg, G, D, *make_optimizers(cfg, G, D))
    got = step.set_epoch(5.0)
    assert got == pytest.approx({"noise_d": 0.3, "noise_g": 0.15, "noise_instance": 0.0})
    assert [m.std for m in noise_layers(D)] == pytest.approx([0.3] * 4)
    assert [m.std for m in noise_layers(G)] == pytest.approx([0.15] * 3)
    stats = step(torch.zeros(4, 3, 32, 32))
    assert stats["noise_d"].item() == pytest.approx(0.3) and stats["noise_instance"].item() == 0.0


def _d_inputs(cfg, epoch):
    """What D is fed during one step on an all-zero real batch (recorded by a pre-hook)."""
    torch.manual_seed(0)
    G, D = build_networks(cfg)
    step = GANStep(cfg, G, D, *make_optimizers(cfg, G, D), generator=torch.Generator().manual_seed(0))
    step.set_epoch(epoch)
    seen = []
    D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    step(torch.zeros(64, 3, 32, 32))
    return seen


def test_instance_noise_reaches_d_inputs_and_follows_its_schedule():
    cfg = from_preset("dcgan-paper", SMALL + ["tricks.instance_noise_std=0.5", "tricks.instance_noise_epochs=10"])
    real_seen = _d_inputs(cfg, epoch=0)[0]  # first D call: the real batch (separate mode)
    assert abs(real_seen.std().item() - 0.5) < 0.01 and abs(real_seen.mean().item()) < 0.01
    assert abs(_d_inputs(cfg, epoch=5)[0].std().item() - 0.25) < 0.01  # linear: half way
    assert torch.equal(_d_inputs(cfg, epoch=10)[0], torch.zeros(64, 3, 32, 32))  # decayed to 0
    off = from_preset("dcgan-paper", SMALL)
    assert torch.equal(_d_inputs(off, epoch=0)[0], torch.zeros(64, 3, 32, 32))
    # fakes (the second and third D calls: D update, G update) get noise too
    fakes = _d_inputs(cfg, epoch=0)[1:]
    clean = _d_inputs(off, epoch=0)[1:]
    for noisy, plain in zip(fakes, clean):
        assert abs((noisy - plain).std().item() - 0.5) < 0.05


# -- labels ------------------------------------------------------------------------------------------

def test_default_labels_are_hard():
    spec = LabelSpec.from_config(tricks())
    assert torch.equal(d_labels(100, True, spec), torch.ones(100))
    assert torch.equal(d_labels(100, False, spec), torch.zeros(100))
    assert spec.g_target == 1.0


@pytest.mark.parametrize("p", [0.02, 0.1, 0.3])
def test_flip_rate(p):
    spec = LabelSpec.from_config(tricks(f"tricks.flip_p={p}"))
    g = torch.Generator().manual_seed(1)
    n = 200_000
    fake = d_labels(n, False, spec, generator=g)
    real = d_labels(n, True, spec, generator=g)
    assert binomial_ok(int((fake == 1.0).sum()), n, p)   # fake shown as real
    assert binomial_ok(int((real == 0.0).sum()), n, p)   # real shown as fake
    assert set(fake.unique().tolist()) == {0.0, 1.0}


def test_no_flips_when_off():
    spec = LabelSpec.from_config(tricks())
    assert not (d_labels(100_000, False, spec, generator=torch.Generator().manual_seed(0)) != 0).any()


def test_smoothing_ranges_are_respected_and_spread():
    spec = LabelSpec.from_config(tricks("tricks.real_label=0.8,1.0", "tricks.fake_label=0.0,0.1"))
    g = torch.Generator().manual_seed(0)
    real, fake = d_labels(20_000, True, spec, generator=g), d_labels(20_000, False, spec, generator=g)
    assert 0.8 <= real.min() < 0.801 and 0.999 < real.max() <= 1.0
    assert 0.0 <= fake.min() < 0.001 and 0.099 < fake.max() <= 0.1
    # uniform: each tenth of the range holds about a tenth of the labels
    hist = torch.histc(real, bins=10, min=0.8, max=1.0)
    assert all(binomial_ok(int(h), 20_000, 0.1) for h in hist)
    one_sided = LabelSpec.from_config(tricks("tricks.real_label=0.9"))
    assert torch.allclose(d_labels(50, True, one_sided), torch.full((50,), 0.9))
    assert torch.equal(d_labels(50, False, one_sided), torch.zeros(50))


def test_swap_convention():
    spec = LabelSpec.from_config(tricks("tricks.swap_labels=true", "tricks.real_label=0.8,0.9",
                                        "tricks.fake_label=0.0,0.1"))
    assert spec.real == pytest.approx((0.1, 0.2)) and spec.fake == pytest.approx((0.9, 1.0))
    assert spec.g_target == 0.0
    g = torch.Generator().manual_seed(0)
    real, fake = d_labels(10_000, True, spec, generator=g), d_labels(10_000, False, spec, generator=g)
    assert 0.1 - 1e-6 <= real.min() and real.max() <= 0.2 + 1e-6 and real.max() > 0.19
    assert 0.9 - 1e-6 <= fake.min() and fake.max() <= 1.0 and fake.min() < 0.91
    hard = LabelSpec.from_config(tricks("tricks.swap_labels=true"))
    assert torch.equal(d_labels(10, True, hard), torch.zeros(10))
    assert torch.equal(d_labels(10, False, hard), torch.ones(10))


@pytest.mark.parametrize("fraction,n", [(0.25, 128), (0.1, 64), (0.5, 7)])
def test_real_as_fake_fraction(fraction, n):
    spec = LabelSpec.from_config(tricks(f"tricks.real_as_fake={fraction}"))
    g = torch.Generator().manual_seed(0)
    picked = torch.zeros(n)
    for _ in range(200):
        labels = d_labels(n, True, spec, generator=g)
        assert int((labels == 0.0).sum()) == round(fraction * n)  # exactly that many per batch
        picked += labels == 0.0
    assert (picked > 0).all()  # the choice is random: every position gets picked sometimes
    assert int((d_labels(n, False, spec, generator=g) == 1.0).sum()) == 0  # fakes unaffected


def test_real_as_fake_then_flip():
    spec = LabelSpec(real_as_fake=0.5, flip_p=0.5)
    g = torch.Generator().manual_seed(0)
    shown_real = torch.stack([classes(10, True, spec, generator=g) for _ in range(20_000)])
    # half are made fake, then every class flips with p=0.5: shown as real with probability 1/2
    assert binomial_ok(int(shown_real.sum()), shown_real.numel(), 0.5)


# -- replay buffer -----------------------------------------------------------------------------------

def marked(n, value):
    return torch.full((n, 3, 4, 4), float(value))


def test_replay_mixes_the_stated_fraction():
    buf = ReplayBuffer(capacity=32, fraction=0.25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(buf.mix(marked(16, -1)), marked(16, -1))  # empty: nothing to replay
    buf.push(marked(2, 7))
    assert torch.equal(buf.mix(marked(16, -1)), marked(16, -1))  # 2 stored < 4 needed
    buf.push(marked(30, 7))
    for batch in (16, 8, 5):
        out = buf.mix(marked(batch, -1))
        assert out.shape == (batch, 3, 4, 4)
        from_buffer = int((out[:, 0, 0, 0] == 7).sum())
        assert from_buffer == round(0.25 * batch)
        assert int((out[:, 0, 0, 0] == -1).sum()) == batch - from_buffer


def test_replay_returns_stored_images_at_random():
    buf = ReplayBuffer(capacity=10, fraction=0.5, generator=torch.Generator().manual_seed(0))
    buf.push(torch.arange(10.0).reshape(10, 1, 1, 1))
    seen = set()
    for _ in range(50):
        seen |= set(buf.mix(torch.full((8, 1, 1, 1), -1.0))[4:].flatten().tolist())
    assert seen == set(range(10))


def test_replay_ring_keeps_the_newest_and_detaches():
    buf = ReplayBuffer(capacity=5, fraction=1.0)
    x = torch.arange(3.0, requires_grad=True).reshape(3, 1, 1, 1)
    buf.push(x * 1)
    buf.push(torch.arange(3.0, 7.0).reshape(4, 1, 1, 1))
    assert len(buf) == 5
    assert buf.chronological().flatten().tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert not buf.images.requires_grad
    buf.push(torch.arange(10.0, 22.0).reshape(12, 1, 1, 1))  # more than capacity at once
    assert buf.chronological().flatten().tolist() == [17.0, 18.0, 19.0, 20.0, 21.0]


def test_replay_state_dict_round_trip():
    a = ReplayBuffer(capacity=6, fraction=0.5, generator=torch.Generator().manual_seed(3))
    a.push(torch.arange(4.0).reshape(4, 1, 1, 1))
    a.push(torch.arange(4.0, 9.0).reshape(5, 1, 1, 1))  # wraps around
    state = a.state_dict()
    assert all(isinstance(v, (torch.Tensor, int)) for v in state.values())
    assert state["images"].flatten().tolist() == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    b = ReplayBuffer(capacity=6, fraction=0.5, generator=torch.Generator().manual_seed(3))
    b.load_state_dict(state)
    a.generator.manual_seed(9), b.generator.manual_seed(9)
    batch = torch.full((8, 1, 1, 1), -1.0)
    assert torch.equal(a.mix(batch), b.mix(batch))
    new = torch.arange(100.0, 103.0).reshape(3, 1, 1, 1)
    a.push(new), b.push(new)
    assert torch.equal(a.chronological(), b.chronological())
    small = ReplayBuffer(capacity=4, fraction=0.5)
    small.load_state_dict(state)
    assert small.chronological().flatten().tolist() == [5.0, 6.0, 7.0, 8.0]
    empty = ReplayBuffer(capacity=4, fraction=0.5)
    empty.load_state_dict(ReplayBuffer(capacity=4, fraction=0.5).state_dict())
    assert len(empty) == 0
