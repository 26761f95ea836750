"""The time an epoch end spends writing its checkpoint: streamed into the file against serialised in memory first.

    python benchmarks/checkpoint_write.py [--preset NAME] [--rounds N] [--folder DIR]

Builds the preset's networks, optimisers and step, trains a few steps on random images so that its replay
buffer is full, and writes the checkpoint the trainer would (networks, optimisers, the step's state, RNG
states) into ``--folder`` (default: a temporary folder; point it at the disk runs are written to), the two
ways taking turns: facegan's ``save_checkpoint`` (``torch.save`` streamed into the atomic writer's temporary
file, then fsync and rename) and the way it wrote checkpoints before (``torch.save`` into memory, then
``atomic_write_bytes`` of those bytes). Prints the size, each way's median and best milliseconds and the ratio.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_precision import make_step  # noqa: E402

from facegan.devices import amp_dtype, pick_device  # noqa: E402
from facegan.io import atomic_write_bytes  # noqa: E402
from facegan.presets import RECOMMENDED_PRESET, from_preset  # noqa: E402
from facegan.training.checkpoint import rng_state, save_checkpoint  # noqa: E402


def in_memory_first(path: Path, payload: dict) -> None:
    """The reference: the whole checkpoint serialised into memory, then written atomically."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default=RECOMMENDED_PRESET)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--folder", default=None)
    args = ap.parse_args()
    cfg = from_preset(args.preset)
    device = pick_device("cpu")
    step = make_step(cfg, device, amp_dtype(device, cfg.run.precision))
    r = cfg.data.resolution
    real = (torch.rand(cfg.optim.batch_size, 3, r, r) * 2 - 1).contiguous(memory_format=torch.channels_last)
    fill = -(-cfg.tricks.replay_capacity // cfg.optim.batch_size) + 1 if cfg.tricks.replay_capacity else 1
    for _ in range(fill):
        step(real)
    payload = {"config": cfg.to_dict(), "epoch": 1, "batch": 0, "step": fill, "G": step.G.state_dict(),
               "D": step.D.state_dict(), "opt_g": step.opt_g.state_dict(), "opt_d": step.opt_d.state_dict(),
               "step_state": step.state_dict(), "rng": rng_state()}
    arms = {"streamed (save_checkpoint)": save_checkpoint, "in memory first (before)": in_memory_first}
    ms: dict[str, list[float]] = {name: [] for name in arms}
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        path = Path(tmp) / "last.pt"
        for fn in arms.values():  # warm-up: the file exists, as it does after an epoch's first checkpoint
            fn(path, payload)
        for _ in range(args.rounds):
            for name, fn in arms.items():
                t0 = time.perf_counter()
                fn(path, payload)
                ms[name].append((time.perf_counter() - t0) * 1e3)
        size = path.stat().st_size
    print(f"{args.preset}: checkpoint of {size / 1e6:.1f} MB (replay buffer of {cfg.tricks.replay_capacity} images), "
          f"{args.rounds} writes each, taking turns")
    for name, values in ms.items():
        print(f"  {name:<28} median {statistics.median(values):6.0f} ms, best {min(values):6.0f} ms")
    a, b = (statistics.median(v) for v in ms.values())
    print(f"  streamed / in memory first: {a / b:.2f}")


if __name__ == "__main__":
    main()
