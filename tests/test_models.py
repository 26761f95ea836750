"""The networks: shapes at every resolution and preset, the DCGAN tutorial architecture, weight
init, and every model switch of the configuration reaching the layers."""

import math
import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from facegan.models import (
    EMA,
    Discriminator,
    GaussianNoise,
    Generator,
    architecture,
    build_networks,
    format_architecture,
)
from facegan.presets import PRESETS, from_preset

from .helpers import compile_without_a_compiler

SMALL = ["model.g_width=8", "model.d_width=8"]


def small(preset="dcgan-paper", *overrides):
    return from_preset(preset, SMALL + list(overrides))


def convs(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def count(net, kind):
    return sum(isinstance(m, kind) for m in net.modules())


# -- shapes ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("upsample", ["transpose", "resize"])
def test_output_shapes_every_resolution(resolution, upsample):
    cfg = small("dcgan-paper", f"data.resolution={resolution}", f"model.g_upsample={upsample}",
                "model.latent_dim=16")
    G, D = build_networks(cfg)
    fake = G(torch.randn(3, 16))
    assert fake.shape == (3, 3, resolution, resolution)
    assert fake.abs().max() <= 1.0  # tanh output
    assert G(torch.randn(3, 16, 1, 1)).shape == fake.shape  # both latent layouts
    assert D(fake).shape == (3,)
    # depth follows the resolution: 4 -> resolution doubles log2(resolution/4) times
    n = int(math.log2(resolution)) - 2
    assert len(convs(G)) == n + 1 and len(convs(D)) == n + 1


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_output_shapes_every_preset(preset):
    cfg = small(preset)
    r = cfg.data.resolution
    G, D = build_networks(cfg)
    z = torch.randn(2, cfg.model.latent_dim)
    assert G(z).shape == (2, 3, r, r)
    assert D(G(z)).shape == (2,)
    assert r == {"dcgan-paper": 64, "stable-64": 64, "quick-64": 64, "faces-64": 64, "first-faces": 32,
                 "faces-128": 128}[preset]


def test_64px_is_the_pytorch_dcgan_tutorial():
    # The tutorial's networks (ngf = ndf = 64, nz = 100), written out independently.
    ngf = ndf = 64
    tut_g = nn.Sequential(
        nn.ConvTranspose2d(100, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
    tut_d = nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))  # the tutorial's Sigmoid is folded into the loss

    def signature(net):
        out = []
        for m in net.modules():
            if next(m.children(), None) is not None:
                continue
            entry = [type(m).__name__, [tuple(p.shape) for p in m.parameters()]]
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                entry += [m.kernel_size, m.stride, m.padding, m.bias is None]
            if isinstance(m, nn.LeakyReLU):
                entry.append(m.negative_slope)
            out.append(entry)
        return out

    G, D = build_networks(from_preset("dcgan-paper"))
    assert signature(G) == signature(tut_g)
    assert signature(D) == signature(tut_d)
    assert sum(p.numel() for p in G.parameters()) == 3_576_704
    assert sum(p.numel() for p in D.parameters()) == 2_765_568
    assert count(D, nn.Sigmoid) == 0


def test_32_and_128_px_have_one_layer_fewer_and_more():
    widths = {}
    for r in (32, 64, 128):
        G, D = build_networks(from_preset("dcgan-paper", [f"data.resolution={r}"]))
        widths[r] = ([c.out_channels for c in convs(G)], [c.out_channels for c in convs(D)])
    assert widths[32] == ([256, 128, 64, 3], [64, 128, 256, 1])
    assert widths[64] == ([512, 256, 128, 64, 3], [64, 128, 256, 512, 1])
    assert widths[128] == ([1024, 512, 256, 128, 64, 3], [64, 128, 256, 512, 1024, 1])


def test_latent_dim_and_widths_are_configurable():
    G, D = build_networks(from_preset("dcgan-paper", ["data.resolution=32", "model.latent_dim=7",
                                                      "model.g_width=5", "model.d_width=6"]))
    assert convs(G)[0].in_channels == 7
    assert [c.out_channels for c in convs(G)] == [20, 10, 5, 3]
    assert [c.out_channels for c in convs(D)] == [6, 12, 24, 1]


def test_weight_init():
    torch.manual_seed(0)
    G, D = build_networks(from_preset("dcgan-paper"))  # full width: enough weights for tight statistics
    for net in (G, D):
        w = torch.cat([c.weight.flatten() for c in convs(net)])
        assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
        assert all(c.bias is None for c in convs(net))
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        bw = torch.cat([b.weight for b in bns])
        assert abs(bw.mean().item() - 1.0) < 3e-3 and abs(bw.std().item() - 0.02) < 3e-3
        assert all(torch.all(b.bias == 0) for b in bns)


# -- switches ----------------------------------------------------------------------------------------

def is_spectral(m):
    return parametrize.is_parametrized(m, "weight") and any(
        type(p).__name__ == "_SpectralNorm" for p in m.parametrizations.weight)


@pytest.mark.parametrize("norm", ["batch", "spectral", "none"])
def test_d_norm(norm):
    G, D = build_networks(small("dcgan-paper", f"model.d_norm={norm}"))
    n_convs = len(convs(D))
    assert sum(is_spectral(c) for c in convs(D)) == (n_convs if norm == "spectral" else 0)
    # BatchNorm on every hidden layer but the first, only for 'batch'
    assert count(D, nn.BatchNorm2d) == (n_convs - 2 if norm == "batch" else 0)
    assert not any(is_spectral(c) for c in convs(G))


def test_g_spectral_keeps_batchnorm():
    G, _ = build_networks(small("dcgan-paper", "model.g_spectral=true"))
    assert all(is_spectral(c) for c in convs(G))
    assert count(G, nn.BatchNorm2d) == len(convs(G)) - 1
    # transposed convs are normalised along their output channels
    assert all(c.parametrizations.weight[0].dim == 1 for c in convs(G))
    G2, _ = build_networks(small("dcgan-paper", "model.g_spectral=true", "model.g_upsample=resize"))
    assert all(is_spectral(c) for c in convs(G2))


def test_resize_upsampling_has_no_transposed_conv():
    G, _ = build_networks(small("dcgan-paper", "model.g_upsample=resize"))
    assert count(G, nn.ConvTranspose2d) == 0
    assert count(G, nn.Upsample) == len(convs(G)) - 1
    assert all(m.mode == "nearest" and m.scale_factor == 2 for m in G.modules() if isinstance(m, nn.Upsample))
    assert all(c.kernel_size == (3, 3) for c in convs(G)[1:])
    G2, _ = build_networks(small("dcgan-paper"))
    assert count(G2, nn.ConvTranspose2d) == len(convs(G2)) and count(G2, nn.Upsample) == 0


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_dropout_present_iff_enabled(p):
    _, D = build_networks(small("dcgan-paper", f"model.d_dropout={p}"))
    drops = [m for m in D.modules() if isinstance(m, nn.Dropout2d)]
    assert len(drops) == (len(convs(D)) - 1 if p else 0)  # after every hidden layer, not the logit
    assert all(d.p == p for d in drops)
    assert count(D, nn.Dropout) == 0


def _modules_in_order(net):
    return [m for m in net.modules() if next(m.children(), None) is None or is_spectral(m)]


@pytest.mark.parametrize("d_std,g_std", [(0.0, 0.0), (0.2, 0.0), (0.0, 0.3), (0.2, 0.3)])
def test_noise_layers_present_iff_enabled(d_std, g_std):
    G, D = build_networks(small("dcgan-paper", f"model.d_noise_std={d_std}", f"model.g_noise_std={g_std}"))
    d_noise = [m for m in D.modules() if isinstance(m, GaussianNoise)]
    g_noise = [m for m in G.modules() if isinstance(m, GaussianNoise)]
    assert len(d_noise) == (len(convs(D)) if d_std else 0)          # before every D conv
    assert len(g_noise) == (len(convs(G)) - 1 if g_std else 0)      # before every G conv but the first
    assert all(m.std == d_std for m in d_noise) and all(m.std == g_std for m in g_noise)
    # each noise layer sits right before a conv (after the upsample in 'resize' G)
    for net, n in ((D, d_noise), (G, g_noise)):
        seq = _modules_in_order(net)
        for layer in n:
            assert isinstance(seq[seq.index(layer) + 1], (nn.Conv2d, nn.ConvTranspose2d))


def test_gaussian_noise_only_in_training():
    layer = GaussianNoise(0.5)
    x = torch.zeros(20_000)
    torch.manual_seed(0)
    y = layer.train()(x)
    assert abs(y.std().item() - 0.5) < 0.02
    assert torch.equal(layer.eval()(x), x)
    layer.train().std = 0.0
    assert torch.equal(layer(x), x)
    layer.std = 2.0
    assert abs(layer(x).std().item() - 2.0) < 0.08
    assert layer.base_std == 0.5


def test_networks_accept_a_batch_in_eval_mode_with_noise_and_dropout():
    G, D = build_networks(small("stable-64", "model.g_noise_std=0.1", "model.d_dropout=0.5"))
    G.eval(), D.eval()
    z = torch.randn(2, 100)
    assert torch.equal(G(z), G(z)) and torch.equal(D(G(z)), D(G(z)))  # nothing random in eval


# -- architecture view -------------------------------------------------------------------------------

def test_architecture_matches_networks():
    cfg = small("faces-128")
    state = torch.random.get_rng_state()
    arch = architecture(cfg)
    assert torch.equal(torch.random.get_rng_state(), state)  # caller's RNG untouched
    G, D = build_networks(cfg)
    for key, net in (("generator", G), ("discriminator", D)):
        a = arch[key]
        total = sum(p.numel() for p in net.parameters())
        assert a["params"] == a["trainable_params"] == total
        assert sum(layer["params"] for layer in a["layers"]) == total
        assert all(layer["output_shape"] is not None for layer in a["layers"])
    g_layers = arch["generator"]["layers"]
    assert arch["generator"]["input_shape"] == [100, 1, 1]
    assert g_layers[0]["output_shape"] == [128, 4, 4]
    assert g_layers[-1] == {"name": "blocks.b128.act", "type": "Tanh", "output_shape": [3, 128, 128], "params": 0}
    d_layers = arch["discriminator"]["layers"]
    assert arch["discriminator"]["input_shape"] == [3, 128, 128]
    assert d_layers[-1]["type"] == "Conv2d+SN" and d_layers[-1]["output_shape"] == [1, 1, 1]
    assert [layer["output_shape"] for layer in d_layers if layer["name"].endswith(".conv")] == [
        [8, 64, 64], [16, 32, 32], [32, 16, 16], [64, 8, 8], [128, 4, 4], [1, 1, 1]]


def test_format_architecture():
    arch = architecture(from_preset("dcgan-paper"))
    text = format_architecture(arch)
    lines = text.splitlines()
    assert lines[0].startswith("generator (64 px), input [100, 1, 1]")
    assert any("blocks.b8.conv" in ln and "ConvTranspose2d" in ln and "[256, 8, 8]" in ln
               and ln.endswith("2,097,152") for ln in lines)
    assert any(ln.split() == ["total", "3,576,704"] for ln in lines)
    assert any(ln.split() == ["total", "2,765,568"] for ln in lines)
    # fixed width: within one table, every row ends at the same column
    table = lines[1: lines.index("")]
    assert len({len(ln) for ln in table if not ln.strip().startswith("-") and ln.split()[-1][0].isdigit()}) == 1


# -- EMA -----------------------------------------------------------------------------------------------

def test_ema_update_math():
    G = Generator(resolution=32, latent_dim=4, width=4)
    ema = EMA(G, decay=0.9, warmup=False)
    before = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
        for b in G.buffers():
            b.add_(3)
    ema.update(G)
    for avg, old, p in zip(ema.model.parameters(), before, G.parameters()):
        assert torch.allclose(avg, 0.9 * old + 0.1 * p, atol=1e-6)
        assert avg.data_ptr() != p.data_ptr() and not avg.requires_grad
    for avg, b in zip(ema.model.buffers(), G.buffers()):
        assert torch.equal(avg, b)  # buffers copied, not averaged
    ema.update(G)  # a second step moves another 10 % of the remaining distance
    for avg, old, p in zip(ema.model.parameters(), before, G.parameters()):
        assert torch.allclose(avg, 0.81 * old + 0.19 * p, atol=1e-6)
    assert not ema.model.training


def test_ema_warm_up_lets_early_weights_count_little():
    G = Generator(resolution=32, latent_dim=4, width=4)
    ema = EMA(G, decay=0.999)
    init = [p.detach().clone() for p in ema.model.parameters()]
    seen = []
    for n in range(2000):
        seen.append(ema.current_decay())
        if n == 0:
            with torch.no_grad():
                for p in G.parameters():
                    p.add_(1.0)
        ema.update(G)
    assert seen[:3] == pytest.approx([0.1, 2 / 11, 3 / 12]) and seen[-1] == pytest.approx(2000 / 2009)
    assert seen == sorted(seen)
    # G jumped by 1 at the first update and stayed: the average has forgotten the initial weights (their
    # share is the product of the decays, 9!·2000!/2009! ≈ 7e-25; without warm-up 0.999^2000 = 0.135).
    for avg, old, p in zip(ema.model.parameters(), init, G.parameters()):
        assert torch.allclose(avg, p, atol=1e-5) and not torch.allclose(avg, old, atol=0.5)
    assert ema.updates == 2000
    ema.updates = 10_000
    assert ema.current_decay() == 0.999  # the ramp ends at the configured decay


def test_ema_follows_spectral_generator():
    G = Generator(resolution=32, latent_dim=4, width=4, spectral=True)
    ema = EMA(G, decay=0.0)  # decay 0: the copy equals G after each update
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(2)
    ema.update(G)
    G.eval()
    z = torch.randn(3, 4)
    assert torch.allclose(ema.model(z), G(z), atol=1e-6)


def test_discriminator_outputs_logits_not_probabilities():
    D = Discriminator(resolution=32, width=4, norm="none")
    with torch.no_grad():
        for c in convs(D):
            c.weight.fill_(0.5)
    assert D(torch.ones(1, 3, 32, 32)).item() > 1.0  # a probability could not exceed 1


def test_randn_as_keeps_shape_device_and_memory_layout():
    from facegan.models.layers import randn_as
    torch.manual_seed(0)
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.zeros(8, 16, 12, 10).contiguous(memory_format=fmt)
        n = randn_as(x)
        assert n.shape == x.shape and n.dtype == x.dtype
        assert n.is_contiguous(memory_format=fmt)
        assert abs(float(n.mean())) < 0.05 and abs(float(n.std()) - 1) < 0.05
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x = torch.zeros(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    assert torch.equal(randn_as(x, g1), randn_as(x, g2))


# -- CPU speed paths: they must compute what torch.nn does -----------------------------------------------

@pytest.mark.parametrize("kind,c_in,c_out,k,s,p,size", [
    ("conv", 64, 128, 4, 2, 1, 8),      # D's last strided layer: 8x8 -> 4x4
    ("conv", 128, 1, 4, 1, 0, 4),       # D's output: 4x4 -> one logit
    ("conv", 32, 64, 4, 1, 3, 1),       # 'resize' G's first layer: 1x1 -> 4x4
    ("convT", 32, 128, 4, 1, 0, 1),     # G's first layer: z -> 4x4
    ("convT", 128, 64, 4, 2, 1, 4),     # G's first strided layer: 4x4 -> 8x8
])
@pytest.mark.parametrize("amp", [False, True])
def test_small_map_convolutions_compute_what_torch_nn_does(kind, c_in, c_out, k, s, p, size, amp):
    from facegan.models import convs as fast
    torch.manual_seed(0)
    ref = (nn.Conv2d if kind == "conv" else nn.ConvTranspose2d)(c_in, c_out, k, s, p, bias=False)
    new = (fast.Conv2d if kind == "conv" else fast.ConvTranspose2d)(c_in, c_out, k, s, p, bias=False)
    new.load_state_dict(ref.state_dict())
    x = torch.randn(6, c_in, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
    results = []
    for m in (ref, new):
        x.grad = None
        with torch.autocast("cpu", torch.bfloat16, enabled=amp):
            y = m(x)
            # R1 and WGAN-GP differentiate a gradient: the weight gradient must flow through it too.
            gx, = torch.autograd.grad(y.float().square().sum(), x, create_graph=True)
            (y.float().sum() + gx.float().square().sum()).backward()
        results.append((y.detach().float(), x.grad.clone(), m.weight.grad.clone(), type(y.grad_fn).__name__))
    (y_ref, gx_ref, gw_ref, _), (y_new, gx_new, gw_new, backward) = results
    assert backward == "_SmallMapConvBackward"  # the fast path ran (torch.nn's would be ConvolutionBackward0)
    assert torch.equal(y_new, y_ref) and torch.equal(gx_new, gx_ref)
    # The weight gradient is the same sum in another order: rounding only (bf16 inputs, fp32 sums).
    assert float((gw_new - gw_ref).norm() / gw_ref.norm()) < (1e-3 if amp else 1e-5)


def test_big_map_convolutions_take_torch_nns_path():
    from facegan.models import convs as fast
    m = fast.Conv2d(8, 16, 4, 2, 1, bias=False)
    y = m(torch.randn(2, 8, 32, 32, requires_grad=True))
    assert type(y.grad_fn).__name__ == "ConvolutionBackward0"


def test_large_normal_draws_are_the_same_on_any_thread_count_and_look_normal():
    from facegan.models.layers import CHUNK, randn_as
    x = torch.zeros(4 * CHUNK // 1024, 1, 32, 32)  # four chunks
    threads = torch.get_num_threads()
    draws = []
    for n in (1, 2):
        torch.set_num_threads(n)
        try:
            draws.append(randn_as(x, torch.Generator().manual_seed(7)))
        finally:
            torch.set_num_threads(threads)
    assert torch.equal(draws[0], draws[1])
    flat = draws[0].reshape(4, -1)
    assert abs(float(flat.mean())) < 0.01 and abs(float(flat.std()) - 1) < 0.01
    # every chunk is its own stream: no two are alike
    assert max(abs(float(torch.corrcoef(flat)[i, j])) for i in range(4) for j in range(i + 1, 4)) < 0.01
    assert not torch.equal(randn_as(x, torch.Generator().manual_seed(8)), draws[0])


# -- The noise layers' hashed noise (facegan/models/layers.py) ---------------------------------------------

def test_hashed_noise_compiled_equals_its_formula_and_is_standard_normal():
    from facegan.models import layers
    key, flat = torch.tensor([5, -7], dtype=torch.int32), torch.zeros(1_000_003)  # an odd size: a scalar tail
    z = layers.hashed_noise(flat, key, torch.tensor(1.0))
    assert layers.hashed_noise.compiled is not None and not layers.hashed_noise.failed
    torch.testing.assert_close(z, layers.hashed_noise_add(flat, key, torch.tensor(1.0)), rtol=0, atol=1e-5)
    assert torch.equal(z, layers.hashed_noise(flat, key.clone(), torch.tensor(1.0)))  # a function of the key
    assert abs(float(z.mean())) < 0.005 and abs(float(z.std()) - 1) < 0.005
    # the distribution, not only its moments: quantiles of N(0, 1) within 5 standard errors of a sample
    # quantile, sqrt(q (1 - q) / n) / pdf(x_q)
    normal, n = torch.distributions.Normal(0.0, 1.0), 500_000
    q = torch.tensor([0.001, 0.025, 0.16, 0.5, 0.84, 0.975, 0.999])
    x_q = normal.icdf(q)
    se = (q * (1 - q) / n).sqrt() / normal.log_prob(x_q).exp()
    assert ((torch.quantile(z[:n], q) - x_q).abs() < 5 * se).all()
    # neighbours are unrelated, and so are the streams of keys that differ in one word, either one
    assert abs(float(torch.corrcoef(torch.stack([z[:-1], z[1:]]))[0, 1])) < 0.005
    for other_key in ([6, -7], [5, -8]):
        other = layers.hashed_noise(flat, torch.tensor(other_key, dtype=torch.int32), torch.tensor(1.0))
        for a, b in ((z, other), (z.abs(), other.abs()), (z[1:], other[:-1])):
            assert abs(float(torch.corrcoef(torch.stack([a, b]))[0, 1])) < 0.005, other_key
        assert float((z == other).float().mean()) < 1e-4


def test_noise_layers_add_hashed_noise_from_the_global_rng_keeping_layout_and_gradient(monkeypatch):
    from facegan.models import layers
    x = torch.randn(64, 32, 16, 16, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    assert x.numel() >= layers.HASHED_MIN
    torch.manual_seed(3)
    y = layers.add_noise(x, 0.5)
    assert type(y.grad_fn).__name__ == "_NoiseAddBackward"  # the hashed path ran
    assert y.dtype == x.dtype and y.is_contiguous(memory_format=torch.channels_last)
    assert abs(float((y - x).detach().float().std()) - 0.5) < 0.01
    torch.manual_seed(3)
    assert torch.equal(layers.add_noise(x, 0.5), y)  # the seeded global RNG decides the noise
    assert not torch.equal(layers.add_noise(x, 0.5), y)  # and moves on
    # the gradient is the incoming one, also when differentiated again (R1 and WGAN-GP do)
    (g,) = torch.autograd.grad((y.float() ** 2).sum(), x, create_graph=True)
    torch.testing.assert_close(g.float(), 2 * y.detach().float(), rtol=0.01, atol=0.01)
    (gg,) = torch.autograd.grad(g.float().sum(), x)
    assert float(gg.float().abs().sum()) > 0
    small = torch.randn(2, 3, 8, 8, requires_grad=True)
    assert type(layers.add_noise(small, 0.5).grad_fn).__name__ == "AddBackward0"  # PyTorch's normals


def test_a_failed_noise_compile_warns_once_and_draws_seeded_normals(monkeypatch):
    from facegan.compiled import Fused
    from facegan.models import layers
    monkeypatch.setattr(torch, "compile", compile_without_a_compiler)
    shipped = layers.hashed_noise  # a fresh copy of its wiring, so the module's own is left as it is
    fused = Fused(shipped.fn, shipped.name, dynamic=shipped.dynamic, fallback=shipped.fallback)
    flat, key, std = torch.zeros(400_000), torch.tensor([1, 2], dtype=torch.int32), torch.tensor(2.0)
    with pytest.warns(UserWarning, match="hashed noise runs uncompiled.*no C\\+\\+ compiler"):
        z = fused(flat, key, std)
    assert fused.failed and abs(float(z.std()) - 2) < 0.02 and abs(float(z.mean())) < 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(fused(flat, key, std), z)  # the key still decides the values
