"""Train on one cluster of CelebA-10k or on all of it, for the same minutes, and measure both against both.

    python benchmarks/curation_training.py --out DIR [--cluster 3] [--minutes 10] [--n 1250]

Curates CelebA-10k (../shared/data, or FACEGAN_CELEBA_ZIP; 64 px face crop, as training prepares it),
writes a subset file keeping cluster ``--cluster``, then trains the recommended preset twice, one run
after the other, for ``--minutes`` of wall time each (stopped by SIGINT, which checkpoints): once on
that cluster, once on the whole set. Each run's EMA generator is then measured with Inception FID on
``--n`` generated faces against ``--n`` real faces of the cluster and of the whole set (the default is
the size of cluster 3). The runs, the subset file and a 64-face grid of each run are written under
``--out`` (keep it outside the repository: CelebA's terms). The last line is JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from data_pipeline import CELEBA

from facegan.config import DataConfig
from facegan.data.cache import prepare
from facegan.data.curate import curate, selection
from facegan.data.subset import write_subset
from facegan.generate import generate, latents, load_generator
from facegan.images import grid, save_png
from facegan.metrics.evaluate import evaluate_run
from facegan.presets import RECOMMENDED_PRESET

ROOT = Path(__file__).resolve().parent.parent


def train_for(minutes: float, run_dir: Path, subset: Path | None) -> dict:
    argv = [sys.executable, "-m", "facegan", "train", "--data", f"celeba:{CELEBA}", "--preset", RECOMMENDED_PRESET,
            "--epochs", "100000", "--run-dir", str(run_dir)]
    if subset:
        argv += ["--set", f"data.subset={subset}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    time.sleep(minutes * 60)
    proc.send_signal(signal.SIGINT)  # the first one stops with a checkpoint
    if proc.wait() != 0:
        raise SystemExit(f"training {run_dir} failed ({proc.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = max((r.get("step", 0) for r in records), default=0)
    return {"steps": steps, "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the runs, the subset and the grids")
    ap.add_argument("--cluster", type=int, default=3, help="cluster id as curate numbers them (default 3)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--n", type=int, default=1250)
    args = ap.parse_args()
    if not CELEBA.is_file():
        print(f"needs CelebA-10k at {CELEBA} (or FACEGAN_CELEBA_ZIP)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    whole = DataConfig(source=f"celeba:{CELEBA}", resolution=64)
    data = prepare(whole)
    cur = curate(data)
    keep = selection(cur, keep_clusters=[args.cluster])
    subset = write_subset(args.out / f"cluster-{args.cluster}.json", data.key, data.kept, keep,
                          f"cluster {args.cluster}")
    print(f"cluster {args.cluster}: {len(keep)} of {data.kept} faces ({cur.k} clusters)")
    save_png(grid(data.images[cur.clusters[args.cluster]["typical"]]), args.out / "cluster-typical.png", scale=2)
    part = dataclasses.replace(whole, subset=str(subset))

    arms = {"cluster": subset, "whole": None}
    results = {}
    for name, sub in arms.items():
        run_dir = args.out / f"run-{name}"
        trained = train_for(args.minutes, run_dir, sub)
        G, cfg, _ = load_generator(str(run_dir), "last", "cpu")
        save_png(grid(generate(G, latents(64, cfg.model.latent_dim, 0))), args.out / f"{name}-faces.png", scale=2)
        fids = {}
        for against, data_cfg in (("cluster", part), ("whole", whole)):
            out = evaluate_run(run_dir, data_cfg, n=args.n, metrics="fid", features="inception", tsne_max=0)
            fids[against] = out["metrics"]["fid"]["fid"] if isinstance(out["metrics"]["fid"], dict) \
                else out["metrics"]["fid"]
        results[name] = {**trained, "fid_vs_cluster": fids["cluster"], "fid_vs_whole": fids["whole"]}
        print(f"trained on {name}: {trained['steps']} steps in {args.minutes:g} min ({trained['cpu_s']:.0f} CPU s); "
              f"FID vs the cluster {fids['cluster']:.1f}, vs the whole set {fids['whole']:.1f} ({args.n} vs {args.n})")
    print(json.dumps({"cluster": args.cluster, "cluster_size": len(keep), "minutes": args.minutes, "n": args.n,
                      "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
