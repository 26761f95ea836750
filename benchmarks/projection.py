"""Find a face like this photo, measured: for N held-out CelebA faces (spread over the last 1,000 images of
the CelebA-10k sample, which the demo generator trained on too: there is no other CelebA here), the pixel
MSE of the face found against the photo's crop, next to the mean MSE of 200 random faces of the same
generator against it, and the seconds per photo.

    python benchmarks/projection.py [--generator checkpoints/demo/celeba-64.safetensors] [--n 20] [--steps 200]

Prints one row per photo and a JSON summary on the last line. Run it alone: the seconds depend on the CPU
being free.
"""

from __future__ import annotations

import argparse
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from facegan.generate import generate, latents, load_generator
from facegan.visual import project as pj

ROOT = Path(__file__).resolve().parents[1]
CELEBA = Path(os.environ.get("FACEGAN_CELEBA_ZIP", ROOT.parent / "shared/data/celeba-10k-89x109.zip"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", default=str(ROOT / "checkpoints/demo/celeba-64.safetensors"))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--steps", type=int, default=pj.STEPS)
    args = ap.parse_args()
    G, cfg, info = load_generator(args.generator, device="cpu")
    random_faces = generate(G, latents(200, cfg.model.latent_dim, 123))
    with zipfile.ZipFile(CELEBA) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith(".jpg"))[-1000:]
        picked = names[:: len(names) // args.n][: args.n]
        rows = []
        for name in picked:
            photo = pj.read_photo(z.read(name), name)
            crop = pj.find_face(photo)
            target = pj.crop(photo, crop.box, cfg.data.resolution)
            p = pj.project(G, target, args.steps)
            rnd = float(np.mean([pj.pixel_mse(r, target) for r in random_faces]))
            rows.append({"photo": name, "face_found": crop.found, "mse": p.mse, "random_mse": rnd,
                         "ratio": p.mse / rnd, "seconds": p.seconds})
            r = rows[-1]
            print(f"{name}  face {'found' if crop.found else 'not found'}  MSE {r['mse']:.4f}  random "
                  f"{r['random_mse']:.4f}  ratio {r['ratio']:.3f}  {r['seconds']:.1f} s", flush=True)
    ratios = [r["ratio"] for r in rows]
    summary = {"generator": args.generator, "epoch": info["epoch"], "photos": len(rows), "steps": args.steps,
               "faces_found": sum(r["face_found"] for r in rows), "ratio_median": float(np.median(ratios)),
               "ratio_max": float(np.max(ratios)), "below_half": sum(x < 0.5 for x in ratios),
               "seconds_median": float(np.median([r["seconds"] for r in rows]))}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
