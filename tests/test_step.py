"""The training step: gradients reach every parameter in every configuration, the switches reach
D and the losses, and a seeded run repeats exactly (and resumes exactly)."""

import copy

import pytest
import torch
from torch.nn.utils import parametrize

from facegan.models import build_networks
from facegan.presets import from_preset
from facegan.training import GANStep, make_optimizers
from facegan.training import step as step_module

SMALL = ["model.g_width=8", "model.d_width=8", "optim.batch_size=4"]
B = 4

VARIANTS = {
    "dcgan-paper": ("dcgan-paper", []),
    "stable-64": ("stable-64", []),
    "faces-128": ("faces-128", []),
    "wgan-gp": ("dcgan-paper", ["data.resolution=32", "optim.loss=wgan", "optim.gp=wgan-gp",
                                "model.d_norm=none", "optim.betas_d=0.0,0.9"]),
    "hinge+r1": ("dcgan-paper", ["data.resolution=32", "optim.loss=hinge", "optim.gp=r1",
                                 "model.d_norm=spectral"]),
    "joint": ("dcgan-paper", ["data.resolution=32", "optim.d_batch=joint"]),
    "d_steps=2": ("dcgan-paper", ["data.resolution=32", "optim.d_steps=2", "optim.lr_d=4e-4"]),
    "everything": ("stable-64", ["data.resolution=32", "model.g_spectral=true", "model.g_noise_std=0.1",
                                 "model.g_upsample=resize", "model.d_dropout=0.2",
                                 "tricks.instance_noise_std=0.1", "tricks.real_label=0.8,1.0",
                                 "tricks.fake_label=0.0,0.1", "tricks.real_as_fake=0.25",
                                 "tricks.swap_labels=true", "optim.gp=r1", "optim.gp_every=2"]),
}


def make(name, *extra, seed=0, generator_seed=0):
    preset, overrides = VARIANTS[name]
    cfg = from_preset(preset, SMALL + overrides + list(extra))
    torch.manual_seed(seed)
    G, D = build_networks(cfg)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    step = GANStep(cfg, G, D, opt_g, opt_d, "cpu", generator=torch.Generator().manual_seed(generator_seed))
    return cfg, step


def reals(cfg, n=B, seed=123):
    r = cfg.data.resolution
    return torch.rand(n, 3, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", list(VARIANTS))
def test_gradients_reach_every_parameter(name):
    cfg, step = make(name)
    def params():
        return {n: p for net in (step.G, step.D) for n, p in net.named_parameters(prefix=type(net).__name__)}

    before = {n: p.detach().clone() for n, p in params().items()}
    stats = step(reals(cfg))
    for net in (step.G, step.D):
        for n, p in net.named_parameters():
            assert p.requires_grad, n
            assert p.grad is not None, f"{type(net).__name__}.{n} got no gradient"
            assert torch.isfinite(p.grad).all(), n
            assert p.grad.abs().max() > 0, f"{type(net).__name__}.{n} got an all-zero gradient"
    after = params()
    assert all(not torch.equal(before[n], after[n]) for n in before)  # both optimizers stepped
    for k, v in stats.items():
        assert isinstance(v, torch.Tensor) and v.dim() == 0 and torch.isfinite(v), k
    expected = {"loss_d", "d_real", "d_fake", "grad_norm_d", "loss_g", "d_fake_g", "grad_norm_g",
                "noise_d", "noise_g", "noise_instance"} | ({"gp"} if cfg.optim.gp != "none" else set())
    assert set(stats) == expected


def test_stats_are_the_documented_quantities():
    cfg, step = make("dcgan-paper", "data.resolution=32")
    logits = []
    step.D.register_forward_hook(lambda m, a, out: logits.append(out.detach()))
    stats = step(reals(cfg))
    real_logits, fake_logits, g_logits = logits
    assert stats["d_real"].item() == pytest.approx(torch.sigmoid(real_logits).mean().item())
    assert stats["d_fake"].item() == pytest.approx(torch.sigmoid(fake_logits).mean().item())
    assert stats["d_fake_g"].item() == pytest.approx(torch.sigmoid(g_logits).mean().item())
    grads = torch.cat([p.grad.flatten() for p in step.G.parameters()])
    # G's gradients were taken before its optimizer stepped; Adam leaves .grad untouched
    assert stats["grad_norm_g"].item() == pytest.approx(grads.norm().item(), rel=1e-5)
    # D's gradients are still those of its own update: G's update (frozen D) added none
    d_grads = torch.cat([p.grad.flatten() for p in step.D.parameters()])
    assert stats["grad_norm_d"].item() == pytest.approx(d_grads.norm().item(), rel=1e-5)
    cfg, step = make("wgan-gp")
    logits.clear()
    step.D.register_forward_hook(lambda m, a, out: logits.append(out.detach()))
    stats = step(reals(cfg))
    assert stats["d_real"].item() == pytest.approx(logits[0].mean().item())  # raw logit, no sigmoid


def test_seeded_run_is_deterministic():
    def run(seed, generator_seed, name="everything"):
        cfg, step = make(name, "tricks.replay_fraction=0.5", seed=seed, generator_seed=generator_seed)
        losses = [step(reals(cfg, seed=i)) for i in range(3)]
        return losses, [p.detach().clone() for p in list(step.G.parameters()) + list(step.D.parameters())]

    (l1, p1), (l2, p2) = run(0, 0), run(0, 0)
    for a, b in zip(l1, l2):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))
    # both seeds matter: the global one (init, noise layers, dropout) and the step's generator
    # (latents, labels, instance noise, replay picks)
    for seeds in ((1, 0), (0, 1)):
        assert not torch.equal(l1[0]["loss_g"], run(*seeds)[0][0]["loss_g"])
    # with hard labels and no noise, the generator only draws the latents
    plain = [run(0, g, name="joint")[0][0]["loss_g"] for g in (0, 0, 1)]
    assert torch.equal(plain[0], plain[1]) and not torch.equal(plain[0], plain[2])


def test_resume_from_state_dicts_repeats_the_run():
    extra = ["tricks.replay_fraction=0.5", "optim.gp_every=3", "model.ema=true"]
    cfg, a = make("everything", *extra)
    for i in range(2):
        a(reals(cfg, seed=i))
    saved = copy.deepcopy({"G": a.G.state_dict(), "D": a.D.state_dict(), "opt_g": a.opt_g.state_dict(),
                           "opt_d": a.opt_d.state_dict(), "step": a.state_dict(),
                           "rng": torch.random.get_rng_state()})
    expected = a(reals(cfg, seed=2))

    _, b = make("everything", *extra, seed=99, generator_seed=99)
    b.G.load_state_dict(saved["G"]), b.D.load_state_dict(saved["D"])
    b.opt_g.load_state_dict(saved["opt_g"]), b.opt_d.load_state_dict(saved["opt_d"])
    b.load_state_dict(saved["step"])
    torch.random.set_rng_state(saved["rng"])
    got = b(reals(cfg, seed=2))
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    for x, y in zip(a.ema.model.parameters(), b.ema.model.parameters()):
        assert torch.equal(x, y)


def test_d_steps_per_g_step():
    cfg, step = make("d_steps=2")
    sizes = []
    step.D.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
    step(reals(cfg))
    step(reals(cfg))
    assert step.opt_d.state[next(step.D.parameters())]["step"].item() == 4
    assert step.opt_g.state[next(step.G.parameters())]["step"].item() == 2
    assert sizes == [B] * 5 * 2  # per call: 2 x (real, fake) for D, 1 fake for G


def test_joint_batch_passes_real_and_fake_together():
    cfg, step = make("joint")
    sizes = []
    step.D.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
    step(reals(cfg))
    assert sizes == [2 * B, B]
    cfg, step = make("dcgan-paper", "data.resolution=32")
    sizes = []
    step.D.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
    step(reals(cfg))
    assert sizes == [B, B, B]


def test_make_optimizers_ttur():
    cfg = from_preset("dcgan-paper", SMALL + ["optim.lr_g=1e-4", "optim.lr_d=4e-4", "optim.betas_g=0.0,0.99",
                                              "optim.betas_d=0.5,0.9"])
    G, D = build_networks(cfg)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    assert opt_g.param_groups[0]["lr"] == 1e-4 and opt_g.param_groups[0]["betas"] == (0.0, 0.99)
    assert opt_d.param_groups[0]["lr"] == 4e-4 and opt_d.param_groups[0]["betas"] == (0.5, 0.9)
    assert {id(p) for p in opt_g.param_groups[0]["params"]} == {id(p) for p in G.parameters()}
    assert {id(p) for p in opt_d.param_groups[0]["params"]} == {id(p) for p in D.parameters()}


def _capture_losses(monkeypatch):
    seen = {"d": [], "g": []}
    d_loss, g_loss = step_module.d_loss, step_module.g_loss

    def d_spy(kind, r, f, rt=None, ft=None):
        seen["d"].append((kind, rt, ft))
        return d_loss(kind, r, f, rt, ft)

    def g_spy(kind, f, target=1.0):
        seen["g"].append((kind, target))
        return g_loss(kind, f, target)

    monkeypatch.setattr(step_module, "d_loss", d_spy)
    monkeypatch.setattr(step_module, "g_loss", g_spy)
    return seen


def test_label_tricks_reach_the_losses(monkeypatch):
    seen = _capture_losses(monkeypatch)
    cfg, step = make("dcgan-paper", "data.resolution=32", "tricks.swap_labels=true",
                     "tricks.real_label=0.9", "tricks.real_as_fake=0.25")
    step(reals(cfg, n=8))
    (kind, real_t, fake_t), = seen["d"]
    assert kind == "bce"
    # swapped: real -> 1 - 0.9 = 0.1, fake -> 1; a quarter of the real batch is labelled fake
    assert sorted(real_t.tolist()) == pytest.approx([0.1] * 6 + [1.0] * 2)
    assert fake_t.tolist() == [1.0] * 8
    assert seen["g"] == [("bce", 0.0)]
    seen["d"].clear(), seen["g"].clear()
    cfg, step = make("hinge+r1")
    step(reals(cfg))
    assert seen["d"] == [("hinge", None, None)] and seen["g"] == [("hinge", 1.0)]


def test_lazy_penalty_every_k_d_steps(monkeypatch):
    calls = []
    r1 = step_module.r1_penalty
    monkeypatch.setattr(step_module, "r1_penalty", lambda D, x: calls.append(len(calls)) or r1(D, x))
    cfg, step = make("hinge+r1", "optim.gp_every=3", "optim.d_steps=2")
    # calls cover D steps (0, 1), (2, 3), (4, 5), (6, 7): the penalty runs at D steps 0, 3 and 6
    gps = [step(reals(cfg, seed=i))["gp"] for i in range(4)]
    assert len(calls) == 3
    assert torch.equal(gps[1], gps[2])  # call 2 computed none: it reports the latest value
    assert not torch.equal(gps[0], gps[1]) and not torch.equal(gps[2], gps[3])
    assert step.d_steps_done == 8


def test_penalty_is_scaled_into_d_loss(monkeypatch):
    # a penalty of exactly 1 adds penalty_scale * grad(1) = 0 to the gradients, so use one whose
    # gradient is known: the sum of D's first conv weight
    def fake_penalty(D, x):
        return next(D.parameters()).sum()

    monkeypatch.setattr(step_module, "r1_penalty", fake_penalty)
    grads = {}
    for every in (1, 4):
        cfg, step = make("hinge+r1", "optim.gp_weight=2.0", f"optim.gp_every={every}", "optim.lr_d=0")
        w = next(step.D.parameters())
        with torch.no_grad():
            step.D(reals(cfg))  # keep spectral norm's power iteration identical to the no-penalty run
        step(reals(cfg))
        grads[every] = w.grad.clone()
    cfg, plain = make("hinge+r1", "optim.gp=none", "optim.lr_d=0")
    with torch.no_grad():
        plain.D(reals(cfg))
    plain(reals(cfg))
    base = next(plain.D.parameters()).grad
    assert torch.allclose(grads[1] - base, torch.full_like(base, 1.0), atol=1e-5)   # 2 / 2 * 1
    assert torch.allclose(grads[4] - base, torch.full_like(base, 4.0), atol=1e-5)   # 2 / 2 * 4


def test_spectral_norm_keeps_top_singular_value_near_one():
    # a high lr moves the weights a lot; spectral norm's one power iteration per forward must keep up
    cfg, step = make("stable-64", "data.resolution=32", "model.g_spectral=true", "optim.lr_d=1e-3",
                     "optim.lr_g=1e-3")
    with torch.no_grad():  # raw weights far from norm 1, so only the normalisation can bring them there
        for net in (step.G, step.D):
            for name, p in net.named_parameters():
                if name.endswith("original"):
                    p.mul_(10.0)
    for i in range(5):
        step(reals(cfg, seed=i))
    step.G.eval(), step.D.eval()
    checked = 0
    with torch.no_grad():
        for net in (step.D, step.G):
            for m in net.modules():
                if parametrize.is_parametrized(m):
                    dim = m.parametrizations.weight[0].dim
                    w = m.weight.movedim(dim, 0).flatten(1)
                    sigma = torch.linalg.matrix_norm(w, ord=2).item()
                    original = m.parametrizations.weight.original
                    raw = torch.linalg.matrix_norm(original.movedim(dim, 0).flatten(1), ord=2).item()
                    assert abs(sigma - 1.0) < 0.03, (type(net).__name__, sigma)
                    assert raw > 1.5  # the raw weight is not normalised by itself
                    checked += 1
    assert checked == 4 + 4


def test_replay_buffer_reaches_d(monkeypatch):
    cfg, step = make("dcgan-paper", "data.resolution=32", "tricks.replay_capacity=64",
                     "tricks.replay_fraction=0.5")
    seen = []
    step.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    step(reals(cfg))
    assert len(step.replay) == B
    stored = step.replay.chronological().clone()
    assert torch.equal(stored, seen[1])  # the first fakes, all new, were stored
    seen.clear()
    step(reals(cfg))
    fake_batch = seen[1]
    replayed = [any(torch.equal(img, old) for old in stored) for img in fake_batch]
    assert replayed == [False, False, True, True]
    assert len(step.replay) == 2 * B


def test_ema_is_updated_and_used_for_sampling():
    cfg, step = make("stable-64", "data.resolution=32", "model.ema_decay=0.5")
    assert step.g_eval is step.ema.model
    start = [p.detach().clone() for p in step.ema.model.parameters()]
    step(reals(cfg))
    for avg, old, p in zip(step.ema.model.parameters(), start, step.G.parameters()):
        assert torch.allclose(avg, 0.1 * old + 0.9 * p, atol=1e-6)  # first update: warm-up decay 1/10
    assert step.ema.updates == 1 and step.state_dict()["ema_updates"] == 1
    _, plain = make("dcgan-paper", "data.resolution=32")
    assert plain.ema is None and plain.g_eval is plain.G


def test_d_is_trainable_again_after_g_update():
    cfg, step = make("dcgan-paper", "data.resolution=32")
    step(reals(cfg))
    assert all(p.requires_grad for p in step.D.parameters())


@pytest.mark.parametrize("name", ["everything", "wgan-gp", "joint"])
def test_bf16_autocast_hook(name):
    cfg, plain = make(name)
    step = GANStep(cfg, plain.G, plain.D, plain.opt_g, plain.opt_d, "cpu", torch.Generator().manual_seed(0),
                   amp_dtype=torch.bfloat16)
    dtypes = []
    step.D.register_forward_hook(lambda m, a, out: dtypes.append(out.dtype))
    stats = step(reals(cfg))
    assert torch.bfloat16 in dtypes  # D really ran under autocast
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in stats.values())
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in step.G.parameters())
    with pytest.raises(ValueError, match="GradScaler"):
        GANStep(cfg, plain.G, plain.D, plain.opt_g, plain.opt_d, amp_dtype=torch.float16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_step_never_waits_for_the_device():
    cfg = from_preset("stable-64", SMALL + ["data.resolution=32", "model.g_noise_std=0.1", "model.d_dropout=0.1",
                                            "tricks.instance_noise_std=0.1", "tricks.real_as_fake=0.25",
                                            "tricks.replay_fraction=0.5", "optim.gp=r1"])
    torch.manual_seed(0)
    G, D = build_networks(cfg)
    G.cuda(), D.cuda()
    step = GANStep(cfg, G, D, *make_optimizers(cfg, G, D), "cuda", generator=torch.Generator().manual_seed(0))
    assert step.rng.device.type == "cuda"
    real = reals(cfg).cuda()
    step(real)  # first call: lazy allocations
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            stats = step(real)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert all(v.device.type == "cuda" for v in stats.values())
