"""The numbers of a generator's model card: Inception FID, KID, precision and recall against CelebA-10k,
in the two ways the quality issue asks for, and a memorisation check.

    python benchmarks/demo_quality.py checkpoints/demo/celeba-64.safetensors \
        [--data ../shared/data/celeba-10k-89x109.zip] [--n 5000] [--small 2000] [--pairs /tmp/pairs.png]

1. ``--n`` generated faces (latents of seed 0) against all of the data set's faces, prepared as the
   generator's own training prepared them (its config's crop and resolution): FID, KID, precision and
   recall (k = 3).
2. The first ``--small`` of those against the seeded choice of ``--small`` real faces that
   ``python -m facegan evaluate --n SMALL`` takes (FID), beside the
   floor of that measurement: FID between two disjoint sets of ``--small`` real faces (the first and
   the second ``--small`` of the data set).
3. Memorisation: the nearest real face (Inception features, Euclidean) of the first 16 generated faces,
   against how near real faces are to each other (each of the first 1,000 real faces' nearest other real
   face). Generated faces much nearer to a real face than real faces are to each other would be copies.
   ``--pairs`` writes the 16 pairs as a picture (generated left, nearest real right) to look at; it
   holds CelebA faces, so it is never committed.

The real features are cached (facegan.metrics.reference), so a second run costs only the generated
side. The last line is JSON with every number.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

from facegan.data.cache import prepare  # noqa: E402
from facegan.demo import CELEBA_DEFAULT  # noqa: E402
from facegan.generate import generate, latents, load_generator  # noqa: E402
from facegan.images import grid, save_png  # noqa: E402
from facegan.metrics.evaluate import compare  # noqa: E402
from facegan.metrics.features import extract  # noqa: E402
from facegan.metrics.neighbours import nearest_real  # noqa: E402
from facegan.metrics.reference import from_features, reference, select  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("generator", help="a run folder, checkpoint or exported .safetensors")
    ap.add_argument("--data", default=str(CELEBA_DEFAULT), help="the CelebA zip or folder it learned from")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--pairs", type=Path, help="write the 16 nearest pairs as a PNG here (outside the repo)")
    args = ap.parse_args()
    t0 = time.perf_counter()

    G, cfg, info = load_generator(args.generator, device="cpu")
    data = prepare(dataclasses.replace(cfg.data, source=f"celeba:{args.data}", limit=None))
    real = reference(data, "inception", None)  # every face of the data set
    z = latents(args.n, cfg.model.latent_dim, seed=0)
    fake_feats = extract((generate(G, z[i:i + 256]) for i in range(0, args.n, 256)), "inception", total=args.n)
    fake = from_features(fake_feats, {"features": "inception"})
    full, _ = compare(real, fake, ["fid", "kid", "precision_recall"])

    chosen, _ = select(data.kept, args.small)  # the seeded choice evaluate uses, from the features at hand
    small_real = from_features(real.features[chosen], {"features": "inception"})
    small_fake = from_features(fake_feats[:args.small], {"features": "inception"})
    small, _ = compare(small_real, small_fake, ["fid"])
    a = from_features(real.features[:args.small], {"features": "inception"})
    b = from_features(real.features[args.small:2 * args.small], {"features": "inception"})
    floor, _ = compare(a, b, ["fid"])

    idx, dist = nearest_real(fake_feats[:16], real.features, 1)
    _, real_dist = nearest_real(real.features[:1000], real.features, 2)  # [:, 0] is the face itself
    pairs = {"generated_to_nearest_real": [round(float(d), 2) for d in dist[:, 0]],
             "real_to_nearest_other_real_median": round(float(np.median(real_dist[:, 1])), 2),
             "real_to_nearest_other_real_min": round(float(real_dist[:, 1].min()), 2)}
    if args.pairs:
        faces = generate(G, z[:16])
        tiles = np.stack([t for i in range(16) for t in (faces[i], data.images[real.indices[idx[i, 0]]])])
        save_png(grid(tiles, ncols=8), args.pairs, 2)

    out = {"generator": str(args.generator), "epoch": info["epoch"], "step": info["step"], "ema": info["ema"],
           "data": str(args.data), "crop": data.prep.crop, "real_faces": real.count, "generated": args.n,
           "fid": full["fid"]["fid"], "kid": full["kid"]["kid"],
           "precision": full["precision_recall"]["precision"], "recall": full["precision_recall"]["recall"],
           f"fid_{args.small}_vs_{args.small}": small["fid"]["fid"],
           f"fid_floor_real_{args.small}_vs_{args.small}": floor["fid"]["fid"], **pairs,
           "seconds": round(time.perf_counter() - t0, 1)}
    print(f"{args.n} generated vs all {real.count} real faces ({data.prep.crop} crop, {data.prep.resolution} px): "
          f"FID {out['fid']:.2f}, KID {out['kid']:.4f}, precision {out['precision']:.3f}, recall {out['recall']:.3f}")
    print(f"{args.small} vs {args.small}: FID {small['fid']['fid']:.2f} (two disjoint sets of real faces: "
          f"{floor['fid']['fid']:.2f})")
    print(f"nearest real face of 16 generated ones: {min(pairs['generated_to_nearest_real']):.2f} to "
          f"{max(pairs['generated_to_nearest_real']):.2f}; real faces to their nearest other real face: "
          f"median {pairs['real_to_nearest_other_real_median']:.2f}, "
          f"least {pairs['real_to_nearest_other_real_min']:.2f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
