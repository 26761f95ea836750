"""fp32 vs bf16 autocast for facegan's training step on this machine (default: dcgan-paper, 64 px, batch 128).

    python benchmarks/cpu_precision.py [--rounds 3] [--device cpu] [--preset NAME]

The two arms take turns (two steps each per round) on one batch in memory, so a changing load falls on
both alike; prints images/s of each and the ratio. It is why run.precision='auto' picks bf16 on CPUs with
bf16 instructions (AVX512-BF16 or AMX; devices.amp_dtype) and fp32 on the others.
"""

from __future__ import annotations

import argparse
import time

import torch

from facegan.devices import channels_last, pick_device  # noqa: E402
from facegan.models import build_networks  # noqa: E402
from facegan.presets import from_preset  # noqa: E402
from facegan.training.step import GANStep, make_optimizers  # noqa: E402


def make_step(cfg, device: torch.device, dtype: torch.dtype | None) -> GANStep:
    G, D = build_networks(cfg)
    fmt = torch.channels_last if channels_last(device) else torch.contiguous_format
    G.to(device, memory_format=fmt)
    D.to(device, memory_format=fmt)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    return GANStep(cfg, G, D, opt_g, opt_d, device, generator=torch.Generator().manual_seed(0), amp_dtype=dtype)


def take_turns(arms: dict[str, GANStep], real: torch.Tensor, rounds: int) -> dict[str, float]:
    """Seconds each step spent on ``2 * rounds`` steps of ``real``, the arms taking turns two steps at a
    time (after two warm-up steps each), so a changing load falls on all of them alike."""
    for step in arms.values():  # warm-up
        step(real), step(real)
    seconds = dict.fromkeys(arms, 0.0)
    for _ in range(rounds):
        for name, step in arms.items():
            t0 = time.perf_counter()
            step(real)
            float(step(real)["loss_d"])  # waits for the device
            seconds[name] += time.perf_counter() - t0
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--preset", default="dcgan-paper", help="its networks, resolution and batch size")
    args = ap.parse_args()
    cfg, device = from_preset(args.preset), pick_device(args.device)
    b, r = cfg.optim.batch_size, cfg.data.resolution
    real = (torch.rand(b, 3, r, r, device=device) * 2 - 1).contiguous(memory_format=torch.channels_last)
    arms = {"fp32": make_step(cfg, device, None), "bf16 autocast": make_step(cfg, device, torch.bfloat16)}
    seconds = take_turns(arms, real, args.rounds)
    images = 2 * args.rounds * b
    print(f"{args.preset} ({r} px, batch {b}), device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for name, s in seconds.items():
        print(f"{name:<14} {images / s:8.1f} images/s")
    print(f"bf16 / fp32 speed: {seconds['fp32'] / seconds['bf16 autocast']:.2f}x")


if __name__ == "__main__":
    main()
