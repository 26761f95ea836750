"""How close facegan's training step runs to this machine's limit: peaks, FLOPs, speed, and where time goes.

    python benchmarks/roofline.py [--quick] [--preset NAME ...] [--device cpu]

In one run, on the machine it runs on:
1. the peaks: a large bf16 and fp32 matrix product (best of sizes 2048 and 4096) and a large bf16
   convolution (3x3, 256 -> 256 channels on 32x32 maps, batch 128, channels-last), in GFLOP/s;
2. for each preset: the FLOPs of one training step per image (``torch.utils.flop_counter``: convolutions and
   matrix products, the work the matrix units do), the bare step's images/s on a batch in memory (and, for
   presets whose noise layers fade out, once they have), the trainer's end to end (data source, logging,
   grids, checkpoints; its last epoch) against the bare step timed just before and just after it, and each
   as GFLOP/s and as a fraction of the bf16 matmul peak;
3. the step with each CPU speed-up of facegan switched off in turn, taking turns with the step as shipped
   (the before/after of each change, measured side by side): the weight gradient of small maps as a matrix
   product (``facegan/models/convs.py``), normal noise drawn in chunks on every thread and the noise layers'
   hashed noise fused with its addition (both ``facegan/models/layers.py``);
4. whether oneDNN ran AMX kernels for the step's convolutions (from its verbose log), the ten ops that
   took the most time (``torch.profiler``), and the floor the kernels set: the time a step spends in its
   convolutions and matrix products, and the fraction of the peak the step would reach if nothing else took
   time (``matrix_ops_fraction``); and each convolution's GFLOP/s in oneDNN alone (forward, input gradient,
   weight gradient), which says which layers hold the step back.

Prints tables; the last line is JSON: ``{"peak_bf16", "peak_fp32", "peak_conv_bf16", "amx": {name: "AMX calls/calls"},
"presets": {name: {"gflop_per_image", "images_per_s", "gflops", "fraction", "trainer_images_per_s",
"trainer_over_bare", ...}},
"changes": {...}}``. ``--quick`` (about a minute) uses fewer repetitions, 1,024 images for the trainer
and skips the profile.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent

from cpu_precision import make_step  # noqa: E402
from data_pipeline import make_images  # noqa: E402
from switches import CHANGES, switched_off  # noqa: E402
from train_throughput import trainer  # noqa: E402

from facegan.devices import amp_dtype, pick_device  # noqa: E402
from facegan.presets import RECOMMENDED_PRESET, from_preset  # noqa: E402


def best_rate(fn, flops: float, reps: int, rounds: int = 3) -> float:
    """GFLOP/s of ``fn`` (which does ``flops``), best of ``rounds`` rounds of ``reps`` calls."""
    fn(), fn()
    best = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = max(best, flops * reps / (time.perf_counter() - t0) / 1e9)
    return best


def peaks(device: torch.device, quick: bool) -> dict:
    def matmul(n: int, dtype: torch.dtype, reps: int) -> float:
        a, b = (torch.randn(n, n, dtype=dtype, device=device) for _ in range(2))
        return best_rate(lambda: a @ b, 2 * n ** 3, reps)

    x = torch.randn(128, 256, 32, 32, dtype=torch.bfloat16, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(256, 256, 3, 3, dtype=torch.bfloat16, device=device).contiguous(memory_format=torch.channels_last)
    conv_flops = 2 * 128 * 256 * 32 * 32 * 256 * 9
    r = 1 if quick else 3
    return {"peak_bf16": max(matmul(2048, torch.bfloat16, 8 * r), matmul(4096, torch.bfloat16, r + 1)),
            "peak_fp32": matmul(4096, torch.float32, r),
            "peak_conv_bf16": best_rate(lambda: F.conv2d(x, w, padding=1), conv_flops, 2 * r)}


def batch_for(cfg, device: torch.device) -> torch.Tensor:
    r = cfg.data.resolution
    return (torch.rand(cfg.optim.batch_size, 3, r, r, device=device) * 2 - 1).contiguous(
        memory_format=torch.channels_last)


def step_flops(step, real: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        step(real)
    return counter.get_total_flops() / real.shape[0]


def images_per_s(step, real: torch.Tensor, steps: int) -> float:
    """The mean rate over ``steps`` steps after two warm-up steps (a mean, like the trainer's epoch rate)."""
    step(real), step(real)
    t0 = time.perf_counter()
    for _ in range(steps):
        stats = step(real)
    float(stats["loss_d"])  # waits for the device
    return steps * real.shape[0] / (time.perf_counter() - t0)


def changes(step, real: torch.Tensor, rounds: int, per_turn: int = 3) -> dict:
    """images/s of the step as shipped and with each change off, taking turns ``per_turn`` steps at a time."""
    arms = [None, *CHANGES]
    seconds = dict.fromkeys(arms, 0.0)
    for arm in arms:  # warm-up: kernel choices for every path
        with switched_off(arm):
            step(real)
    for _ in range(rounds):
        for arm in arms:
            with switched_off(arm):
                t0 = time.perf_counter()
                for _ in range(per_turn):
                    stats = step(real)
                float(stats["loss_d"])
                seconds[arm] += time.perf_counter() - t0
    rate = {arm: per_turn * rounds * real.shape[0] / s for arm, s in seconds.items()}
    return {"shipped": rate[None], **{f"without {k}": rate[k] for k in CHANGES}}


@contextmanager
def captured_stdout():
    """oneDNN writes its verbose log to the C stdout: catch file descriptor 1 in a temporary file."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as f:
        os.dup2(f.fileno(), 1)
        out: list[str] = []
        try:
            yield out
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            f.seek(0)
            out.append(f.read().decode(errors="replace"))


def onednn_kernels(step, real: torch.Tensor) -> collections.Counter:
    """{implementation: calls} of oneDNN's (de)convolution primitives in one step."""
    with captured_stdout() as log:
        with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
            step(real)
    kernels = collections.Counter()
    for line in log[0].splitlines():
        f = line.split(",")
        if len(f) > 6 and f[2] == "primitive" and f[3] == "exec" and f[5] in ("convolution", "deconvolution"):
            kernels[f[6]] += 1
    return kernels


# The ops that do the FLOPs the step is counted for: oneDNN's convolutions (forward and both gradients) and the
# matrix products of the small-map weight gradient. Their time is a floor under the step's: with every other op
# (BatchNorm, activations, copies, the optimiser) free, the step could not beat these kernels.
# ``aten::_convolution`` is in the list because a transposed convolution's forward (all of G's layers) runs in
# oneDNN inside it with no child op the profiler sees: its self time is that kernel's (a forward convolution's
# is ``aten::mkldnn_convolution``'s, leaving ``_convolution`` some 20 us a call).
MATRIX_OPS = ("aten::_convolution", "aten::mkldnn_convolution", "aten::convolution_backward", "aten::mm",
              "aten::addmm", "aten::bmm")


def profile_step(step, real: torch.Tensor, n: int = 10, steps: int = 2) -> tuple[str, float, float]:
    """The ``n`` ops that took the most time in ``steps`` steps (a table); the seconds a step spent in all
    ops and in :data:`MATRIX_OPS` (self time on the calling thread, which waits for each op's threads)."""
    from torch.profiler import ProfilerActivity, profile
    step(real)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step(real)
    ops = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ops) / 1e6 / steps
    matrix = sum(e.self_cpu_time_total for e in ops if e.key in MATRIX_OPS) / 1e6 / steps
    return ops.table(sort_by="self_cpu_time_total", row_limit=n), total, matrix


def layer_rates(step, real: torch.Tensor, reps: int = 5) -> list[dict]:
    """GFLOP/s of each convolution of the step's G and D in oneDNN alone (``torch.nn.functional`` and
    ``aten.convolution_backward``, not facegan's small-map path), bf16 and channels-last at the step's batch
    size: forward, input gradient and weight gradient."""
    from torch import nn
    shapes: list[tuple[str, nn.Module, torch.Size]] = []
    hooks = [m.register_forward_pre_hook(lambda m, args, name=f"{net} {name}": shapes.append((name, m, args[0].shape)))
             for net, module in (("G", step.G), ("D", step.D)) for name, m in module.named_modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.no_grad():
            step.D(step.G(torch.zeros(real.shape[0], step.cfg.model.latent_dim, device=real.device)))
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for name, m, shape in shapes:
        transposed = isinstance(m, nn.ConvTranspose2d)
        s, p = m.stride[0], m.padding[0]
        x = torch.randn(shape, dtype=torch.bfloat16, device=real.device).contiguous(memory_format=torch.channels_last)
        w = m.weight.detach().to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        conv = (lambda: F.conv_transpose2d(x, w, None, s, p)) if transposed else (lambda: F.conv2d(x, w, None, s, p))
        y = conv()
        gy = torch.randn_like(y)
        small = x if transposed else y  # the map a kernel tap is applied at
        flops = 2 * small.shape[0] * small.shape[2] * small.shape[3] * w.shape[0] * w.shape[1] * w.shape[2] * w.shape[3]

        def grad(which: int):
            mask = [which == 0, which == 1, False]
            return lambda: torch.ops.aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], transposed,
                                                               [0, 0], 1, mask)
        rows.append({"layer": f"{name} {tuple(shape[1:])}", "gflop": round(flops / 1e9, 3),
                     **{k: round(best_rate(fn, flops, reps)) for k, fn in
                        (("forward", conv), ("input_grad", grad(0)), ("weight_grad", grad(1)))}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer repetitions, no profile")
    ap.add_argument("--preset", action="append", help=f"(repeatable) default: dcgan-paper and {RECOMMENDED_PRESET}")
    ap.add_argument("--images", type=int, default=None, help="images for the trainer arm (default 5120; quick 1024)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = pick_device(args.device)
    names = args.preset or ["dcgan-paper", RECOMMENDED_PRESET]
    images = args.images or (1024 if args.quick else 5120)
    steps, rounds = (4, 2) if args.quick else (20, 8)
    print(f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"device {device}, CPU capabilities: {torch.backends.cpu.get_cpu_capability()}", flush=True)

    result = peaks(device, args.quick)
    peak = result["peak_bf16"]
    print(f"peaks: bf16 matmul {peak:,.0f} GFLOP/s, fp32 matmul {result['peak_fp32']:,.0f}, "
          f"bf16 conv 3x3 {result['peak_conv_bf16']:,.0f}", flush=True)

    presets, amx = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACEGAN_CACHE_DIR"] = str(tmp / "cache")
        what = make_images(tmp / "data", images)
        for name in names:
            cfg = from_preset(name)
            step = make_step(cfg, device, amp_dtype(device, cfg.run.precision))
            real = batch_for(cfg, device)
            step(real)  # the flop count must not see first-call work
            flops = step_flops(step, real)
            row = {"gflop_per_image": flops / 1e9, "images_per_s": images_per_s(step, real, steps)}
            noisy = cfg.model.d_noise_std or cfg.model.g_noise_std
            fades = cfg.model.noise_schedule in ("linear", "off_after") and noisy
            if fades:  # the rate once the noise layers have faded out, the rest of a long run
                step.set_epoch(cfg.model.noise_epochs)
                row["images_per_s_after_noise"] = images_per_s(step, real, steps)
                step.set_epoch(0)
            row["changes"] = changes(step, real, rounds)
            kernels = onednn_kernels(step, real)
            amx[name] = {"calls": sum(kernels.values()), "amx_calls": sum(c for k, c in kernels.items() if "amx" in k),
                         "kernels": dict(kernels)}
            if not args.quick:
                row["layers"] = layer_rates(step, real)
                print(f"\n{name}: each convolution in oneDNN alone (GFLOP/s; batch {real.shape[0]}, bf16, "
                      "channels-last)")
                print(f"  {'layer (input shape)':<34} {'GFLOP':>6} {'forward':>8} {'input grad':>10} "
                      f"{'weight grad':>11}")
                for r in row["layers"]:
                    print(f"  {r['layer']:<34} {r['gflop']:>6.2f} {r['forward']:>8.0f} {r['input_grad']:>10.0f} "
                          f"{r['weight_grad']:>11.0f}")
                table, total_s, matrix_s = profile_step(step, real)
                print(f"\n{name}: the ten ops that took the most time (2 steps)\n{table}", flush=True)
                row["profiled_step_ms"], row["matrix_ops_ms"] = total_s * 1e3, matrix_s * 1e3
                row["matrix_ops_fraction"] = flops * real.shape[0] / matrix_s / 1e9 / peak
            print(f"  {name}: trainer on {what} ...", flush=True)
            # the bare step again just before and after the trainer, which it is compared with: this CPU's speed
            # drifts by several percent over minutes (the first rate and the changes' "shipped" differ by as much)
            bare = [images_per_s(step, real, steps)]
            t = trainer(name, str(tmp / "data" / "faces"), tmp / "runs", 2, images, str(device))
            bare.append(images_per_s(step, real, steps))
            row["trainer_images_per_s"], row["bare_around_trainer"] = t["last"], [round(b, 1) for b in bare]
            row["trainer_over_bare"] = t["last"] / (sum(bare) / len(bare))
            row["gflops"] = row["images_per_s"] * flops / 1e9
            row["fraction"] = row["gflops"] / peak
            row["trainer_fraction"] = t["last"] * flops / 1e9 / peak
            presets[name] = row

    print(f"\n{'preset':<14} {'GFLOP/img':>9} {'bare img/s':>10} {'GFLOP/s':>8} {'of bf16 peak':>12} "
          f"{'trainer img/s':>13} {'of peak':>8} {'trainer/bare':>12}  (bare step just before, after the trainer)")
    for name, r in presets.items():
        print(f"{name:<14} {r['gflop_per_image']:>9.3f} {r['images_per_s']:>10.1f} {r['gflops']:>8.0f} "
              f"{r['fraction']:>12.1%} {r['trainer_images_per_s']:>13.1f} {r['trainer_fraction']:>8.1%} "
              f"{r['trainer_over_bare']:>12.2f}  ({', '.join(f'{b:.1f}' for b in r['bare_around_trainer'])})")
        if "images_per_s_after_noise" in r:
            after = r["images_per_s_after_noise"]
            print(f"{'':<14} {'':>9} {after:>10.1f} {after * r['gflop_per_image']:>8.0f} "
                  f"{after * r['gflop_per_image'] / peak:>12.1%}  (bare step once the noise layers have faded out)")
    if any("matrix_ops_ms" in r for r in presets.values()):
        print("\nthe floor the kernels set: a step's time in its convolutions and matrix products (profiled), and the "
              "fraction of the bf16 peak the step would reach if nothing else took time:")
        for name, r in presets.items():
            if "matrix_ops_ms" in r:
                print(f"  {name:<14} {r['matrix_ops_ms']:.0f} ms of {r['profiled_step_ms']:.0f} ms a step: at most "
                      f"{r['matrix_ops_fraction']:.1%} of the bf16 peak")
    print("\nthe step with each change switched off (images/s, taking turns with the step as shipped):")
    for name, r in presets.items():
        c = r["changes"]
        print(f"  {name:<14} " + ", ".join(f"{k} {v:.1f}" + ("" if k == "shipped" else f" ({c['shipped'] / v:.2f}x)")
                                           for k, v in c.items()))
    print("\noneDNN convolution kernels in one step:")
    for name, a in amx.items():
        print(f"  {name:<14} {a['amx_calls']} of {a['calls']} calls on AMX kernels: "
              + ", ".join(f"{k} x{c}" for k, c in sorted(a["kernels"].items(), key=lambda kc: -kc[1])))
    result["amx"] = {name: f"{a['amx_calls']}/{a['calls']}" for name, a in amx.items()}
    result["presets"] = {n: {k: (round(v, 4) if isinstance(v, float) else
                                 {ck: round(cv, 1) for ck, cv in v.items()} if isinstance(v, dict) else v)
                             for k, v in r.items()} for n, r in presets.items()}
    result.update({k: round(result[k], 1) for k in ("peak_bf16", "peak_fp32", "peak_conv_bf16")})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
