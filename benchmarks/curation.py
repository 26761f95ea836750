"""How well `python -m facegan curate` finds foreign images and near-copies, and how long it takes.

    python benchmarks/curation.py [--grids DIR]

Builds, in a temporary folder, CelebA-10k (../shared/data, or FACEGAN_CELEBA_ZIP) with two kinds of
planted images, and curates it as training would prepare it (celeba layout: face crop, 64 px):

- 300 built-in (synthetic) cartoon faces, drawn at 64 px and padded onto an 89x109 canvas where the face
  crop finds them. Goal: >= 95% of them in clusters of their own (clusters where they are the majority)
  or among the outliers, with <= 1% of the CelebA faces put there with them.
- 50 near-copies of CelebA faces, each mirrored, 5% brighter, moved 2 px (of 89) and saved as JPEG at
  quality 60. Goal: >= 95% in a duplicate group with their original; untouched faces put in any
  duplicate group <= 0.5%.

Then times curate on CelebA-10k itself (the zip, 64 px face crop) with a fresh cache: embeddings not
cached, then cached (goal <= 10 s). ``--grids DIR`` also writes each cluster's most typical faces, the
outliers and the duplicate groups of CelebA-10k as PNGs there (CelebA's terms: keep them out of the
repository). The last line is JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from data_pipeline import CELEBA
from PIL import Image

from facegan.config import DataConfig
from facegan.data import synthetic
from facegan.data.curate import curate
from facegan.data.sources import FACE_CENTRE_Y
from facegan.images import grid, save_png

WIDTH, HEIGHT, FACE_FRACTION = 89, 109, 0.6


def make_mix(out: Path, n_synthetic: int = 300, n_copies: int = 50, seed: int = 0) -> dict[str, list]:
    """out/celeba/*.jpg (all of CelebA-10k), out/synthetic/*.png, out/copies/copy-of-*.jpg."""
    rng = np.random.default_rng(seed)
    for sub in ("celeba", "synthetic", "copies"):
        (out / sub).mkdir(parents=True)
    with zipfile.ZipFile(CELEBA) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))
        for n in names:
            (out / "celeba" / Path(n).name).write_bytes(zf.read(n))
    copies = []
    for i in sorted(rng.choice(len(names), n_copies, replace=False).tolist()):
        stem = Path(names[i]).stem
        a = np.asarray(Image.open(out / "celeba" / f"{stem}.jpg").convert("RGB"), np.float32)[:, ::-1]
        a = np.clip(a * 1.05, 0, 255)
        a = np.pad(a, ((2, 0), (2, 0), (0, 0)), mode="edge")[:-2, :-2]  # moved 2 px down and right
        buf = io.BytesIO()
        Image.fromarray(a.astype(np.uint8)).save(buf, "JPEG", quality=60)
        (out / "copies" / f"copy-of-{stem}.jpg").write_bytes(buf.getvalue())
        copies.append((f"copies/copy-of-{stem}.jpg", f"celeba/{stem}.jpg"))
    side = round(FACE_FRACTION * WIDTH)
    left, top = round(WIDTH / 2 - side / 2), round(FACE_CENTRE_Y * HEIGHT - side / 2)
    for j in range(n_synthetic):
        face = Image.fromarray(synthetic.render_face(j, 64, seed=7)).resize((side, side), Image.Resampling.BICUBIC)
        canvas = np.pad(np.asarray(face), ((top, HEIGHT - top - side), (left, WIDTH - left - side), (0, 0)),
                        mode="edge")
        Image.fromarray(canvas).save(out / "synthetic" / f"synthetic-{j:03d}.png")
    return {"copies": copies}


def prepared(source: str):
    from facegan.data.cache import prepare
    return prepare(DataConfig(source=source, resolution=64))


def mix_scores(cur, names: list[str], copies: list[tuple[str, str]]) -> dict:
    syn = np.array([n.startswith("synthetic/") for n in names])
    real = ~syn
    labels = cur.labels
    theirs = [c["id"] for c in cur.clusters if syn[labels == c["id"]].sum() > real[labels == c["id"]].sum()]
    there = np.isin(labels, theirs)
    there[cur.outliers] = True
    index = {n: i for i, n in enumerate(names)}
    group_of = {i: set(g) for g in cur.duplicates for i in g}
    found = sum(index[o] in group_of.get(index[c], ()) for c, o in copies)
    planted = {index[c] for c, _ in copies} | {index[o] for _, o in copies}
    untouched = [i for i in range(len(names)) if real[i] and i not in planted]
    false = sum(i in group_of for i in untouched)
    return {"synthetic_there": int((there & syn).sum()), "synthetic": int(syn.sum()),
            "synthetic_share": float((there & syn).sum() / syn.sum()),
            "celeba_there": int((there & real).sum()), "celeba": int(real.sum()),
            "celeba_share": float((there & real).sum() / real.sum()),
            "synthetic_clusters": theirs, "outliers": len(cur.outliers),
            "copies_found": found, "copies": len(copies), "copies_share": found / len(copies),
            "untouched_in_groups": false, "untouched": len(untouched), "false_share": false / len(untouched),
            "k": cur.k}


def write_grids(cur, images: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [images[c["typical"]] for c in cur.clusters]
    save_png(grid(np.concatenate(rows), ncols=len(rows[0])), folder / "clusters.png", scale=2)
    if cur.outliers:
        save_png(grid(images[cur.outliers[:32]]), folder / "outliers.png", scale=2)
    if cur.duplicates:
        pairs = [images[g[:2]] for g in cur.duplicates[:16]]
        save_png(grid(np.concatenate(pairs), ncols=8), folder / "duplicates.png", scale=2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grids", type=Path, help="write CelebA-10k's cluster, outlier and duplicate grids here")
    args = ap.parse_args()
    if not CELEBA.is_file():
        print(f"needs CelebA-10k at {CELEBA} (or FACEGAN_CELEBA_ZIP)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="facegan-curation-") as tmp:
        os.environ["FACEGAN_CACHE_DIR"] = str(Path(tmp) / "cache")  # nothing cached before this run
        t0 = time.perf_counter()
        data = prepared(f"celeba:{CELEBA}")
        t1 = time.perf_counter()
        cur = curate(data)
        t2 = time.perf_counter()
        again = curate(prepared(f"celeba:{CELEBA}"))
        t3 = time.perf_counter()
        assert again.cached and again.k == cur.k
        timing = {"images": data.kept, "prepare_s": t1 - t0, "uncached_s": t2 - t1, "cached_s": t3 - t2,
                  "uncached_embeddings_s": cur.seconds["embeddings"],
                  "cached_embeddings_s": again.seconds["embeddings"]}
        print(cur.summary())
        print(f"CelebA-10k: prepared in {timing['prepare_s']:.1f} s; curate {timing['uncached_s']:.1f} s with "
              f"embeddings computed, {timing['cached_s']:.1f} s with them cached (goal <= 10 s)")
        if args.grids:
            write_grids(cur, np.asarray(data.images), args.grids)
            print(f"wrote {args.grids}/clusters.png, outliers.png, duplicates.png")

        mix = Path(tmp) / "mix"
        planted = make_mix(mix)
        mixed = prepared(f"celeba:{mix}")
        result = curate(mixed)
        print(result.summary())
        scores = mix_scores(result, mixed.names, planted["copies"])
        print(f"synthetic faces in their own clusters {scores['synthetic_clusters']} or outliers: "
              f"{scores['synthetic_there']}/{scores['synthetic']} ({100 * scores['synthetic_share']:.1f}%, "
              "goal >= 95%), "
              f"CelebA faces put there with them: {scores['celeba_there']}/{scores['celeba']} "
              f"({100 * scores['celeba_share']:.2f}%, goal <= 1%)")
        print(f"near-copies in a group with their original: {scores['copies_found']}/{scores['copies']} "
              f"({100 * scores['copies_share']:.0f}%, goal >= 95%); untouched faces in a duplicate group: "
              f"{scores['untouched_in_groups']}/{scores['untouched']} ({100 * scores['false_share']:.2f}%, "
              "goal <= 0.5%)")
        print(json.dumps({"timing": timing, "mix": scores, "celeba": {
            "k": cur.k, "sizes": [c["size"] for c in cur.clusters], "outliers": len(cur.outliers),
            "duplicate_groups": len(cur.duplicates)}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
