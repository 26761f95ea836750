"""Training images/s at 64 px, batch 128: the PyTorch DCGAN tutorial vs facegan's trainer vs the bare step.

    python benchmarks/train_throughput.py [--images 5120] [--epochs 2] [--quick] [--skip-stable]

All arms run in this one process, one after another, on the same JPEGs (CelebA from ../shared/data,
synthetic faces when it is absent), each for ``--epochs`` epochs over ``--images`` images:

(a) reference: the tutorial's loop and exact networks (benchmarks/reference_dcgan.py): ImageFolder +
    transforms in a DataLoader with 2 workers, Sigmoid + BCELoss, ``.item()`` every step;
(b) facegan's trainer with the ``dcgan-paper`` preset, end to end from the data source: cache build on
    first use, run folder, metrics.jsonl every ``log_every`` steps, a grid and a checkpoint every epoch;
(c) the limit: facegan's training step for the same preset on one batch already in memory, no loader,
    no logging, no grids, no checkpoints.

Rates are over the last epoch (steady state: workers started, cache built, kernels warm) and over the
whole run (everything included). b/a and b/c use the last-epoch rates. The ``stable-64`` preset (spectral
norm, noise layers, replay buffer, EMA) is measured like (b). Peak RSS: the process's high-water mark
after each arm (resource.getrusage), and the tutorial's DataLoader workers' (RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from data_pipeline import make_images  # noqa: E402
from reference_dcgan import Tutorial, dataloader  # noqa: E402

from facegan.devices import amp_dtype, channels_last, pick_device  # noqa: E402
from facegan.models import build_networks  # noqa: E402
from facegan.presets import from_preset  # noqa: E402
from facegan.training.step import GANStep, make_optimizers  # noqa: E402
from facegan.training.trainer import train  # noqa: E402


def rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def reference(root: Path, epochs: int) -> dict:
    t0 = time.perf_counter()
    tut, dl = Tutorial(), dataloader(root)
    marks, images = [], 0
    for e in range(epochs):
        for n in tut.steps(dl, num_epochs=1):
            images += n
        marks.append((time.perf_counter(), images))
    torch.use_deterministic_algorithms(False)  # the tutorial's setting must not leak into the next arm
    return _rates(t0, marks)


def trainer(preset: str, source: str, runs: Path, epochs: int, limit: int, device: str) -> dict:
    cfg = from_preset(preset, [f"data.source={source}", f"data.limit={limit}", "data.crop=center",
                               f"run.epochs={epochs}", f"run.runs_root={runs}", f"run.device={device}"])
    t0, marks = time.perf_counter(), []
    steps_per_epoch = limit // cfg.optim.batch_size  # the loader drops the last partial batch

    def on_event(kind: str, rec: dict) -> None:
        if kind == "epoch":
            marks.append((time.perf_counter(), rec["step"] * cfg.optim.batch_size))

    result = train(cfg, on_event=on_event)
    assert result.epochs_done == epochs and result.step == epochs * steps_per_epoch, result
    return _rates(t0, marks)


def bare_step(preset: str, steps: int, device: str) -> dict:
    cfg = from_preset(preset)
    dev = pick_device(device)
    G, D = build_networks(cfg)
    fmt = torch.channels_last if channels_last(dev) else torch.contiguous_format
    G.to(dev, memory_format=fmt)
    D.to(dev, memory_format=fmt)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    step = GANStep(cfg, G, D, opt_g, opt_d, dev, generator=torch.Generator().manual_seed(0),
                   amp_dtype=amp_dtype(dev, cfg.run.precision))
    b = cfg.optim.batch_size
    real = (torch.rand(b, 3, 64, 64, device=dev) * 2 - 1).contiguous(memory_format=fmt)
    for _ in range(2):  # warm-up: first-call allocations and kernel choices
        step(real)
    t0 = time.perf_counter()
    for _ in range(steps):
        stats = step(real)
    float(stats["loss_d"])  # wait for the device
    seconds = time.perf_counter() - t0
    return {"last": steps * b / seconds, "all": steps * b / seconds, "images": steps * b, "seconds": seconds}


def _rates(t0: float, marks: list[tuple[float, int]]) -> dict:
    (t_prev, n_prev), (t_end, n_end) = (marks[-2] if len(marks) > 1 else (t0, 0)), marks[-1]
    return {"last": (n_end - n_prev) / (t_end - t_prev), "all": n_end / (t_end - t0),
            "images": n_end, "seconds": t_end - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5120, help="images in the data set (default 5120)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per arm (default 2; the last is the steady one)")
    ap.add_argument("--quick", action="store_true", help="1,024 images, 2 epochs")
    ap.add_argument("--skip-stable", action="store_true", help="leave out the stable-64 arm")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    if args.quick:
        args.images = 1024
    if args.images < 256 or args.epochs < 1:
        ap.error("--images must be at least 256 (two batches) and --epochs at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACEGAN_CACHE_DIR"] = str(tmp / "cache")  # a first use, and nothing left behind
        what = make_images(tmp / "data", args.images)
        source = str(tmp / "data" / "faces")
        print(f"data: {what}; 64 px, batch 128, {args.epochs} epoch(s) of {args.images} images per arm; "
              f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"device {pick_device(args.device)}", flush=True)
        rows = []

        def arm(name: str, fn, *a) -> dict:
            print(f"  running {name} ...", flush=True)
            r = fn(*a)
            r.update(name=name, rss=rss_mib())
            rows.append(r)
            return r

        a = arm("(a) reference: PyTorch DCGAN tutorial", reference, tmp / "data", args.epochs)
        a["rss_workers"] = rss_mib(resource.RUSAGE_CHILDREN)
        b = arm("(b) facegan trainer, dcgan-paper", trainer, "dcgan-paper", source, tmp / "runs",
                args.epochs, args.images, args.device)
        c = arm("(c) bare facegan step, dcgan-paper, batch in memory", bare_step, "dcgan-paper",
                args.images // 128, args.device)
        if not args.skip_stable:
            arm("facegan trainer, stable-64", trainer, "stable-64", source, tmp / "runs", args.epochs,
                args.images, args.device)

    print(f"\n{'arm':<54} {'last epoch':>11} {'whole run':>10} {'seconds':>8} {'peak RSS':>9}")
    for r in rows:
        print(f"{r['name']:<54} {r['last']:>11,.1f} {r['all']:>10,.1f} {r['seconds']:>8.1f} "
              f"{r['rss']:>6,.0f} MiB")
    print(f"(images/s; peak RSS is this process's high-water mark so far; the tutorial's DataLoader workers "
          f"peaked at {a['rss_workers']:,.0f} MiB)")
    print(f"\nb/a = {b['last'] / a['last']:.2f}  (goal >= 1.5; whole runs {b['all'] / a['all']:.2f})")
    print(f"b/c = {b['last'] / c['last']:.2f}  (goal >= 0.95)")


if __name__ == "__main__":
    main()
