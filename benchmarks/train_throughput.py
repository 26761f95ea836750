"""Training images/s at 64 px, batch 128: the PyTorch DCGAN tutorial vs facegan's trainer vs the bare step.

    python benchmarks/train_throughput.py [--images 5120] [--epochs 2] [--quick] [--skip-stable]

Each arm runs in a process of its own, one after another, on the same JPEGs (CelebA from
../shared/data, synthetic faces when it is absent), each for ``--epochs`` epochs over ``--images`` images:

(a) reference: the tutorial's loop and exact networks (benchmarks/reference_dcgan.py): ImageFolder +
    transforms in a DataLoader with 2 workers, Sigmoid + BCELoss, ``.item()`` every step;
(b) facegan's trainer with the ``dcgan-paper`` preset, end to end from the data source: cache build on
    first use, run folder, metrics.jsonl every ``log_every`` steps, a grid and a checkpoint every epoch;
(c) the limit: facegan's training step for the same preset on one batch already in memory, no loader,
    no logging, no grids, no checkpoints.

Rates are over the last epoch (steady state: workers started, cache built, kernels warm) and over the
whole run (everything included). b/a and b/c use the last-epoch rates. The ``stable-64`` preset (spectral
norm, noise layers, replay buffer, EMA) is measured like (b). Memory: every 0.1 s while an arm runs, the
resident set (VmRSS) and proportional set (Pss: shared pages divided among the processes sharing them) of
the arm's process and all its descendants (the tutorial's DataLoader workers) are summed; the peaks of
those sums are reported. The RSS sum counts pages a forked worker shares with its parent twice; the PSS
sum does not.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) summed over ``pid``'s process tree, in KiB (0 for a process already gone)."""
    rss = pss = 0
    for p in process_tree(pid):
        try:
            rss += int(next(line for line in Path(f"/proc/{p}/status").read_text().splitlines()
                            if line.startswith("VmRSS:")).split()[1])
            pss += int(next(line for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
                            if line.startswith("Pss:")).split()[1])
        except (OSError, StopIteration):
            pass
    return rss, pss


def run_arm(name: str, work: Path, args) -> dict:
    """Arm ``name`` in a process of its own; its result and the peaks of its process tree's memory."""
    cmd = [sys.executable, __file__, "--arm", name, "--work", str(work), "--images", str(args.images),
           "--epochs", str(args.epochs), "--device", args.device]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    while proc.poll() is None:
        rss, pss = _memory_kib(proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    out = proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"arm {name} failed ({proc.returncode})")
    return {**json.loads(out.strip().splitlines()[-1]), "rss": peak_rss / 1024, "pss": peak_pss / 1024}


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


ARMS = {
    "a": ("(a) reference: PyTorch DCGAN tutorial", lambda w, a: reference(w / "data", a.epochs)),
    "b": ("(b) facegan trainer, dcgan-paper",
          lambda w, a: trainer("dcgan-paper", str(w / "data" / "faces"), w / "runs", a.epochs, a.images, a.device)),
    "c": ("(c) bare facegan step, dcgan-paper, batch in memory",
          lambda w, a: bare_step("dcgan-paper", a.images // 128, a.device)),
    "stable": ("facegan trainer, stable-64",
               lambda w, a: trainer("stable-64", str(w / "data" / "faces"), w / "runs", a.epochs, a.images, a.device)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5120, help="images in the data set (default 5120)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per arm (default 2; the last is the steady one)")
    ap.add_argument("--quick", action="store_true", help="1,024 images, 2 epochs")
    ap.add_argument("--skip-stable", action="store_true", help="leave out the stable-64 arm")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--arm", choices=tuple(ARMS), help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.arm:  # a child: one arm, its result as JSON on the last line
        os.environ["FACEGAN_CACHE_DIR"] = str(Path(args.work) / "cache")
        print(json.dumps(ARMS[args.arm][1](Path(args.work), args)))
        return
    if args.quick:
        args.images = 1024
    if args.images < 256 or args.epochs < 1:
        ap.error("--images must be at least 256 (two batches) and --epochs at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        what = make_images(tmp / "data", args.images)
        print(f"data: {what}; 64 px, batch 128, {args.epochs} epoch(s) of {args.images} images per arm; "
              f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"device {pick_device(args.device)}", flush=True)
        rows = {}
        for key in [k for k in ARMS if not (k == "stable" and args.skip_stable)]:
            print(f"  running {ARMS[key][0]} ...", flush=True)
            rows[key] = {**run_arm(key, tmp, args), "name": ARMS[key][0]}

    print(f"\n{'arm':<54} {'last epoch':>11} {'whole run':>10} {'seconds':>8} {'peak RSS':>9} {'peak PSS':>9}")
    for r in rows.values():
        print(f"{r['name']:<54} {r['last']:>11,.1f} {r['all']:>10,.1f} {r['seconds']:>8.1f} "
              f"{r['rss']:>5,.0f} MiB {r['pss']:>5,.0f} MiB")
    print("(images/s; memory: peaks of the sums over each arm's process and its workers, read every 0.1 s)")
    a, b, c = rows["a"], rows["b"], rows["c"]
    print(f"\nb/a = {b['last'] / a['last']:.2f}  (goal >= 1.5; whole runs {b['all'] / a['all']:.2f})")
    print(f"b/c = {b['last'] / c['last']:.2f}  (goal >= 0.95)")
    print(json.dumps({k: {"last": r["last"], "all": r["all"], "rss_mib": r["rss"], "pss_mib": r["pss"]}
                      for k, r in rows.items()}))


if __name__ == "__main__":
    main()
