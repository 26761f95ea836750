"""What DiffAugment costs in a training step on this machine: the bare step of a preset without it, with
``color,translation,cutout`` at p = 1 (the DiffAugment paper's setting), and with ADA's adaptive p.

    python benchmarks/augment_cost.py [--preset quick-64] [--rounds 10] [--device cpu]

The arms take turns (two steps each per round) on one batch in memory, so a changing load falls on all
alike; prints images/s of each and the cost of augmenting as a share of the plain step. The last line
is JSON: ``{"preset": …, "plain": images/s, "diffaugment": …, "adaptive": …, "cost": …, "cost_adaptive": …}``.
"""

from __future__ import annotations

import argparse
import json

import torch
from cpu_precision import make_step, take_turns  # noqa: E402

from facegan.devices import amp_dtype, pick_device  # noqa: E402
from facegan.presets import RECOMMENDED_PRESET, from_preset  # noqa: E402

POLICY = "color,translation,cutout"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default=RECOMMENDED_PRESET)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = pick_device(args.device)
    configs = {"plain": from_preset(args.preset, ["tricks.diffaugment="]),
               "diffaugment": from_preset(args.preset, [f"tricks.diffaugment={POLICY}", "tricks.augment_p=1",
                                                        "tricks.augment_adaptive=false"]),
               "adaptive": from_preset(args.preset, [f"tricks.diffaugment={POLICY}", "tricks.augment_p=0.5",
                                                     "tricks.augment_adaptive=true"])}
    batch = configs["plain"].optim.batch_size
    res = configs["plain"].data.resolution
    real = (torch.rand(batch, 3, res, res, device=device) * 2 - 1).contiguous(memory_format=torch.channels_last)
    arms = {name: make_step(cfg, device, amp_dtype(device, cfg.run.precision)) for name, cfg in configs.items()}
    seconds = take_turns(arms, real, args.rounds)
    images = 2 * args.rounds * batch
    speed = {name: images / s for name, s in seconds.items()}
    print(f"{args.preset}, batch {batch} at {res} px, device {device}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds")
    for name, s in speed.items():
        print(f"{name:<12} {s:8.1f} images/s")
    cost = seconds["diffaugment"] / seconds["plain"] - 1
    cost_adaptive = seconds["adaptive"] / seconds["plain"] - 1
    print(f"DiffAugment costs {100 * cost:.1f}% of a step ({100 * cost_adaptive:.1f}% with adaptive p)")
    print(json.dumps({"preset": args.preset, **{k: round(v, 1) for k, v in speed.items()},
                      "cost": round(cost, 4), "cost_adaptive": round(cost_adaptive, 4)}))


if __name__ == "__main__":
    main()
