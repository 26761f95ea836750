"""FID, KID and 1-NN of the DCGAN tutorial vs facegan after the same wall-clock training budget.

    python benchmarks/quality_budget.py [--minutes 20] [--n 2048] [--features inception] [--quick]
    python benchmarks/quality_budget.py --minutes 5 --features lite0 --n 1000 \
        --arm dcgan-paper --arm "dcgan-paper model.ema=true model.ema_decay=0.99" --arm stable-64
    python benchmarks/quality_budget.py --minutes 30 --every 5 --plot fid.png \
        --arm quick-64 --arm "quick-64 tricks.diffaugment=color,translation,cutout"
    python benchmarks/quality_budget.py --minutes 30 --every 10 --no-reference \
        --arm faces-64 --arm "faces-64 off='hashed noise'"     # a speed-up's effect on the faces

With ``--every MIN`` each arm also saves its generator every MIN minutes of its own running time (the
turns are cut to end exactly there; SIGUSR1 asks facegan for a checkpoint now and the tutorial script
for a snapshot of G, and the few seconds that takes count as that arm's running time), and every saved
generator is measured too (FID, KID, 1-NN, precision and recall): a table by minute and, with
``--plot``, a PNG of FID over running minutes, one line per arm.

Every arm is its own process, trained on the same pixels: CelebA-10k from ../shared/data (synthetic faces
when it is absent) prepared as facegan prepares it by default (the face crop for CelebA, 64 px); the
tutorial reads those images as PNG files, where its Resize + CenterCrop change nothing. The
CPU is shared with whatever else runs, so the arms are never run side by side: they take turns in slices
(SIGSTOP/SIGCONT of each arm's process group, DataLoader workers included) until each has had exactly
``--minutes`` of running wall time, and each arm's CPU seconds are printed beside it, so a changing load
falls on all arms alike. Then each is stopped gracefully (facegan's first SIGINT checkpoints; the
reference saves its G) and ``--n`` faces of each are compared with ``--n`` real faces (facegan.metrics;
the real statistics are cached by facegan.metrics.reference). The reference's G is sampled both in eval
mode (as facegan samples) and in train mode (as the tutorial's grids are); the better FID is its score.

With ``--work DIR`` the runs, snapshots and scores stay in DIR: training ends by writing DIR/trained.json,
each score is appended to DIR/scores.jsonl as it is made, and the same command run again skips what is
done (so a scoring cut short by a session's end goes on where it stopped).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from data_pipeline import CELEBA, make_images  # noqa: E402
from switches import check  # noqa: E402

from facegan.presets import RECOMMENDED_PRESET  # noqa: E402

REFERENCE = "reference (PyTorch DCGAN tutorial)"


@dataclass
class Arm:
    name: str
    argv: list[str]
    folder: Path
    proc: subprocess.Popen | None = None
    ran_s: float = 0.0
    rusage: object = None
    returncode: int | None = None
    result: dict = field(default_factory=dict)
    snapshots: list[tuple[float, Path]] = field(default_factory=list)  # (running minutes, saved generator)

    @property
    def is_reference(self) -> bool:
        return self.name == REFERENCE

    def signal_group(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)


def facegan_arm(spec: str, source: str, folder: Path, seed: int) -> Arm:
    """``spec`` is a preset name followed by key=value overrides, e.g. 'dcgan-paper model.ema=true'; an
    ``off=NAME`` among them trains with that CPU speed-up switched off (a name in switches.CHANGES, e.g.
    "faces-64 off='hashed noise'"), to see whether it changes the faces."""
    preset, *words = shlex.split(spec)
    off = [check(w.removeprefix("off=")) for w in words if w.startswith("off=")]
    overrides = [w for w in words if not w.startswith("off=")]
    command = [str(HERE / "switches.py"), *off, "--"] if off else ["-m", "facegan"]
    argv = [sys.executable, *command, "train", "--data", source, "--preset", preset,
            "--epochs", "100000", "--seed", str(seed), "--run-dir", str(folder / "run")]
    argv += [a for o in overrides for a in ("--set", o)]
    return Arm(f"facegan {spec}", argv, folder)


def start(arm: Arm) -> None:
    arm.folder.mkdir(parents=True, exist_ok=True)
    log = open(arm.folder / "log.txt", "wb")
    # Its own session, so SIGSTOP/SIGCONT reach its DataLoader workers too; stopped at once, so no arm
    # runs before its turn.
    arm.proc = subprocess.Popen(arm.argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                env={**os.environ})
    arm.signal_group(signal.SIGSTOP)


def take_turns(arms: list[Arm], budget_s: float, slice_s: float, every_s: float | None = None) -> None:
    """Run one arm at a time, ``slice_s`` each in turn, until every arm has run ``budget_s``; with
    ``every_s``, a turn also ends at each multiple of ``every_s`` of the arm's running time, where the
    arm saves its generator (:func:`snapshot`; the last mark is the end of the budget, saved by
    :func:`stop`)."""
    while any(a.ran_s < budget_s for a in arms):
        for arm in arms:
            left = budget_s - arm.ran_s
            if left <= 0:
                continue
            if arm.proc.poll() is not None:
                raise SystemExit(f"{arm.name} exited early (status {arm.proc.returncode}); see {arm.folder}/log.txt")
            mark = (len(arm.snapshots) + 1) * every_s if every_s else None
            turn = min(slice_s, left, mark - arm.ran_s) if mark and mark < budget_s else min(slice_s, left)
            t0 = time.perf_counter()
            arm.signal_group(signal.SIGCONT)
            time.sleep(max(turn, 0.0))
            arm.signal_group(signal.SIGSTOP)
            arm.ran_s += time.perf_counter() - t0
            if mark and mark < budget_s and arm.ran_s >= mark - 0.05:
                snapshot(arm, mark / 60)
        done = min(a.ran_s for a in arms)
        print(f"  {time.strftime('%H:%M:%S')} every arm has run {done / 60:.1f} of {budget_s / 60:.1f} min",
              file=sys.stderr, flush=True)


def snapshot(arm: Arm, minutes: float, timeout_s: float = 300) -> None:
    """Have the (stopped) arm save its generator now, keep a copy, and stop it again; the time it ran
    meanwhile is added to its running time."""
    if arm.is_reference:
        saved = arm.folder / f"G.snapshot-{len(arm.snapshots) + 1}.pt"
        done = saved.with_suffix(".json")
        ready = done.exists
    else:
        saved = arm.folder / "run" / "checkpoints" / "last.pt"
        before = _identity(saved)
        ready = lambda: _identity(saved) not in (before, None)  # noqa: E731 (a new file renamed into place)
    t0 = time.perf_counter()
    arm.signal_group(signal.SIGCONT)
    arm.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while not ready():
        if arm.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{arm.name} saved no generator at {minutes:g} min; see {arm.folder}/log.txt")
        time.sleep(0.05)
    arm.signal_group(signal.SIGSTOP)
    arm.ran_s += time.perf_counter() - t0
    keep = arm.folder / "snapshots" / f"min{minutes:07.2f}{saved.suffix}"
    keep.parent.mkdir(exist_ok=True)
    shutil.copy2(saved, keep)
    if arm.is_reference:
        shutil.copy2(done, keep.with_suffix(".json"))
    arm.snapshots.append((minutes, keep))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
        return st.st_ino, st.st_mtime_ns
    except OSError:
        return None


def stop(arm: Arm, timeout_s: float = 300) -> None:
    """Let ``arm`` finish its step and save (SIGINT to its main process only), then reap it."""
    arm.signal_group(signal.SIGCONT)
    arm.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, rusage = os.wait4(arm.proc.pid, os.WNOHANG)
        if pid:
            arm.rusage, arm.returncode = rusage, os.waitstatus_to_exitcode(status)
            arm.proc.returncode = arm.returncode
            return
        if time.monotonic() > deadline:
            arm.signal_group(signal.SIGKILL)
            raise SystemExit(f"{arm.name} did not stop within {timeout_s:.0f} s; see {arm.folder}/log.txt")
        time.sleep(0.2)


def generated_features(arm: Arm, n: int, features: str, seed: int, saved: Path | None = None,
                       modes: tuple[str, ...] = ("eval", "train")) -> dict[str, np.ndarray]:
    """{sampling mode: features of n generated faces}; latents from facegan.generate.latents(seed). The
    arm's final generator, or the one ``saved`` (a snapshot). facegan samples in eval mode; the tutorial's
    G in each of ``modes``."""
    from facegan.generate import generate, latents, load_generator
    from facegan.images import to_uint8
    from facegan.metrics.features import extract
    z = latents(n, 100, seed)
    if not arm.is_reference:
        G, cfg, info = load_generator(saved or arm.folder / "run", "last")
        arm.result.update(steps=info["step"], ema=info["ema"])
        z = latents(n, cfg.model.latent_dim, seed)
        return {"eval": extract((generate(G, z[i:i + 256]) for i in range(0, n, 256)), features, device="cpu",
                                total=n)}
    from reference_dcgan import Generator
    G = Generator()
    saved = saved or arm.folder / "G.pt"
    G.load_state_dict(torch.load(saved, map_location="cpu"))
    arm.result.update(steps=json.loads(saved.with_suffix(".json").read_text())["iterations"], ema=False)
    out = {}
    if "eval" in modes:
        out["eval"] = extract((generate(G.eval(), z[i:i + 256]) for i in range(0, n, 256)), features,
                              device="cpu", total=n)
    if "train" not in modes:
        return out
    G.train()  # BatchNorm on the batch's own statistics, as the tutorial's netG(fixed_noise) grids

    def train_mode_batches():
        with torch.no_grad():
            for i in range(0, n, 128):
                yield to_uint8(G(z[i:i + 128]))
    out["train"] = extract(train_mode_batches(), features, device="cpu", total=n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="running wall time of each arm (default 20)")
    ap.add_argument("--n", type=int, default=2048, help="generated and real faces per metric (default 2048)")
    ap.add_argument("--features", default="inception", help="inception (default) or lite0")
    ap.add_argument("--arm", action="append", default=None, metavar="SPEC",
                    help=f"a facegan arm: preset [key=value ...] (repeatable; default {RECOMMENDED_PRESET!r}, "
                         "the recommended preset)")
    ap.add_argument("--slice", type=float, default=20.0, help="seconds per turn (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=float, metavar="MIN", help="also save and measure each arm's generator "
                    "every MIN minutes of its running time")
    ap.add_argument("--plot", type=Path, help="with --every: write a PNG of FID over running minutes here")
    ap.add_argument("--out", type=Path, help="also write the results as JSON here")
    ap.add_argument("--work", type=Path, help="keep the arms' runs, snapshots and scores in this folder (default: "
                    "a temporary one); run the same command again to finish an evaluation that was cut short")
    ap.add_argument("--quick", action="store_true", help="1 minute each, lite0 features, 256 faces")
    ap.add_argument("--no-reference", action="store_true", help="leave the tutorial out: a rerun of facegan's "
                    "arms to compare with an earlier run's table (ratios to the tutorial are then not printed)")
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.features, args.n, args.slice = 1.0, "lite0", 256, 10.0
    specs = args.arm or [RECOMMENDED_PRESET]

    t_start = time.perf_counter()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args, specs, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="quality-budget-") as tmp:
            run(args, specs, Path(tmp))
    print(f"whole benchmark {(time.perf_counter() - t_start) / 60:.1f} min; peak RSS of this (evaluating) "
          f"process {_self_rss_mib():.0f} MiB")


def run(args, specs: list[str], work: Path) -> None:
    """Train every arm (unless ``work`` holds a finished training), then score what is not scored yet."""
    from facegan.config import DataConfig
    from facegan.data.cache import prepare

    source = str(CELEBA) if CELEBA.is_file() else str(work / "jpegs" / "faces")
    if not CELEBA.is_file() and not (work / "jpegs").exists():
        make_images(work / "jpegs", 10000)
    # Everyone trains on the same pixels: the crop facegan gives this source by default (the face crop
    # for CelebA), at 64 px. The tutorial reads them as PNG files, where its Resize(64) + CenterCrop(64)
    # change nothing.
    data = prepare(DataConfig(source=source, resolution=64))
    what = (f"{'CelebA-10k' if CELEBA.is_file() else 'synthetic faces'}, {data.kept} images, 64 px, "
            f"crop {data.prep.crop!r}")
    state = work / "trained.json"
    if state.is_file():
        trained = json.loads(state.read_text())
        print(f"data: {what}; training finished earlier ({state}); scoring what is left", flush=True)
    else:
        if not args.no_reference and not (work / "pngs" / "faces").is_dir():
            write_pngs(data.images, work / "pngs")
        print(f"data: {what}; batch 128; each arm {args.minutes:g} min of running wall time in {args.slice:g} s "
              f"turns; {os.cpu_count()} CPU cores shared with other work; torch {torch.__version__}", flush=True)
        arms = [] if args.no_reference else [Arm(REFERENCE, [sys.executable, str(HERE / "reference_dcgan.py"),
                                                             str(work / "pngs"), str(work / "arm0" / "G.pt")],
                                                         work / "arm0")]
        arms += [facegan_arm(s, source, work / f"arm{i + 1}", args.seed) for i, s in enumerate(specs)]
        for arm in arms:
            start(arm)
        try:
            take_turns(arms, args.minutes * 60, args.slice, args.every * 60 if args.every else None)
            for arm in arms:
                stop(arm)
        finally:
            for arm in arms:
                if arm.proc.poll() is None:
                    arm.signal_group(signal.SIGKILL)
        bad = [a for a in arms if a.returncode != 0]
        if bad:
            raise SystemExit(f"{bad[0].name} exited with status {bad[0].returncode}; see its log.txt")
        trained = {"data": what, "minutes": args.minutes, "every": args.every, "arms": [
            {"name": a.name, "folder": str(a.folder), "ran_s": round(a.ran_s, 1),
             "cpu_s": round(a.rusage.ru_utime + a.rusage.ru_stime, 1), "peak_rss_mib": round(a.rusage.ru_maxrss / 1024),
             "snapshots": [[m, str(p)] for m, p in a.snapshots]} for a in arms]}
        state.write_text(json.dumps(trained, indent=1))
    rows, curve = score(trained, data, args, work / "scores.jsonl")
    report(rows, curve, trained, args)


def write_pngs(images: np.ndarray, root: Path) -> None:
    """The prepared images as an ImageFolder (one class folder) of lossless PNGs."""
    from PIL import Image
    out = root / "faces"
    part = root / "faces.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(np.asarray(image)).save(part / f"{i:06d}.png", compress_level=1)
    part.rename(out)


def score(trained: dict, data, args, path: Path) -> tuple[list[dict], list[dict]]:
    """Score every arm's final generator, then every snapshot (the tutorial's in both sampling modes);
    each score is appended to ``path`` as it is made, and scores already there for the same features and
    count are not made again."""
    from facegan.metrics.evaluate import compare
    from facegan.metrics.reference import from_features, reference

    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                if (r["features"], r["n"]) == (args.features, args.n):
                    done[(r["arm"], r["sampling"], r["minutes"])] = r
    t_eval = time.perf_counter()
    real = reference(data, args.features, args.n, device="cpu")
    print(f"real statistics: {real.count} faces, {args.features}, "
          f"{'cached' if real.reused else f'computed in {time.perf_counter() - t_eval:.0f} s'}", flush=True)
    names = ["fid", "kid", "knn", "precision_recall"]
    jobs = [(a, trained["minutes"], None) for a in trained["arms"]]
    jobs += sorted(((a, m, Path(p)) for a in trained["arms"] for m, p in a["snapshots"]), key=lambda j: j[1])
    for info, minutes, saved in jobs:
        arm = Arm(info["name"], [], Path(info["folder"]))
        wanted = ("eval", "train") if arm.is_reference else ("eval",)
        modes = [m for m in wanted if (arm.name, m, minutes) not in done]
        if not modes:
            continue
        t0 = time.perf_counter()
        feats = generated_features(arm, args.n, args.features, args.seed, saved, modes=tuple(modes))
        for mode, f in feats.items():
            scores, _ = compare(real, from_features(f, {"features": args.features}), names)
            r = {"arm": arm.name, "sampling": mode, "minutes": minutes, "features": args.features, "n": args.n,
                 "steps": arm.result["steps"], "ema": arm.result["ema"], **_headline(scores)}
            with open(path, "a") as fh:
                fh.write(json.dumps(r) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            done[(arm.name, mode, minutes)] = r
        print(f"  {time.strftime('%H:%M:%S')} scored {arm.name} at {minutes:g} min in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    rows, curve = [], []
    for info in trained["arms"]:
        for (name, mode, minutes), r in sorted(done.items(), key=lambda kv: kv[0][2]):
            if name != info["name"]:
                continue
            curve.append(r)
            if minutes == trained["minutes"]:
                rows.append({**r, "images_seen": r["steps"] * 128, "ran_s": info["ran_s"], "cpu_s": info["cpu_s"],
                             "peak_rss_mib": info["peak_rss_mib"]})
    return rows, curve


def report(rows: list[dict], curve: list[dict], trained: dict, args) -> None:
    print(f"\n{'arm':<58} {'G mode':<7} {'steps':>6} {'run s':>6} {'CPU s':>6} {'RSS MiB':>8} "
          f"{'FID':>8} {'KID':>8} {'1-NN':>6}")
    for r in rows:
        print(f"{r['arm']:<58} {r['sampling']:<7} {r['steps']:>6} {r['ran_s']:>6.0f} {r['cpu_s']:>6.0f} "
              f"{r['peak_rss_mib']:>8} {r['fid']:>8.2f} {r['kid']:>8.4f} {r['knn']:>6.3f}")
    ref_fids = [r["fid"] for r in rows if r["arm"] == REFERENCE]
    print(f"\n{trained['data']}; {args.features} features, {args.n} generated vs {args.n} real faces; 1-NN is the "
          "leave-one-out accuracy (0.5 is ideal). G mode: BatchNorm in eval mode (running statistics) or train "
          "mode. Peak RSS: the arm's process (the reference's largest DataLoader worker counted if larger).")
    for r in rows:
        if r["arm"] != REFERENCE and ref_fids:
            print(f"FID ratio {r['arm']} / reference (its better mode): {r['fid'] / min(ref_fids):.3f}")
    if trained["every"]:
        print(f"\nevery {trained['every']:g} min of each arm's running time ({args.features}, {args.n} vs {args.n}):")
        print(f"{'arm':<58} {'G mode':<7} {'min':>6} {'steps':>6} {'FID':>8} {'KID':>8} {'prec.':>6} {'recall':>6}")
        for r in curve:
            print(f"{r['arm']:<58} {r['sampling']:<7} {r['minutes']:>6.2f} {r['steps']:>6} {r['fid']:>8.2f} "
                  f"{r['kid']:>8.4f} {r['precision']:>6.3f} {r['recall']:>6.3f}")
        if args.plot:
            plot_fid(curve, args.plot, args.features, args.n)
            print(f"wrote {args.plot}")
    if args.out:
        args.out.write_text(json.dumps({"features": args.features, "n": args.n, "minutes": trained["minutes"],
                                        "every": trained["every"], "data": trained["data"], "rows": rows,
                                        "curve": curve}, indent=1))


def _headline(scores: dict) -> dict:
    out = {"fid": scores["fid"]["fid"], "kid": scores["kid"]["kid"], "knn": scores["knn"]["knn_accuracy"]}
    if "precision_recall" in scores:
        out.update(precision=scores["precision_recall"]["precision"], recall=scores["precision_recall"]["recall"])
    return out


def plot_fid(curve: list[dict], path: Path, features: str, n: int) -> None:
    """FID over running minutes, one line per arm (the tutorial's better sampling mode at each point)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    for arm in dict.fromkeys(r["arm"] for r in curve):
        points: dict[float, float] = {}
        for r in curve:
            if r["arm"] == arm:
                points[r["minutes"]] = min(points.get(r["minutes"], float("inf")), r["fid"])
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], marker="o", label=arm)
    ax.set_xlabel("running minutes of training (arms take turns on the same CPU)")
    ax.set_ylabel(f"FID ({features}, {n} vs {n} faces; lower is better)")
    ax.grid(alpha=0.3)
    # Under the axes: inside them the legend hid the early points, where the lines start highest.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _self_rss_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
