"""Inception (FID) features per image on this machine: facegan's CPU network and what it was chosen over.

    python benchmarks/inception_speed.py [--n 64] [--rounds 3] [--fid-n 512]

Each variant turns the same ``--n`` prepared faces (CelebA-10k at 64 px from ../shared/data, built-in faces
when it is absent) into 2048-d pool3 features; the best of ``--rounds`` rounds, in ms per image:

- facegan: ``facegan.metrics.features.extract(..., "inception", device="cpu")``: the TorchScript file with
  BatchNorm folded into the convolutions, channels-last throughout, 8 images a pass;
- the plain TorchScript file ``default_1.pt``, 64 images a pass (facegan's preprocessing in front);
- pytorch-fid's ``InceptionV3`` module as ``python -m pytorch_fid`` runs it (batch 50), the file's weights
  mapped under its names as benchmarks/fid_speed.py does;
- facegan's network under bf16 autocast.

Then how far bf16 would move an FID: the features of ``--fid-n`` faces in fp32 and in bf16, the FID of
their first half against their second half from each, and the relative difference. The largest feature
difference of each variant from the plain file is printed beside its time. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from data_pipeline import CELEBA
from fid_speed import load_torchscript, offline_pytorch_fid

from facegan.config import DataConfig
from facegan.data.cache import prepare
from facegan.metrics.features import extract, network, preprocess
from facegan.metrics.fid import feature_stats, frechet_distance


def best_ms(fn, n: int, rounds: int) -> tuple[float, np.ndarray]:
    """(best ms per image over ``rounds`` calls of ``fn()``, its features); one call first to warm up."""
    fn()
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times) / n, np.asarray(out, dtype=np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=64, help="faces each variant is timed on (default 64)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fid-n", type=int, default=512, help="faces of the bf16 FID check (default 512)")
    args = ap.parse_args()
    source = f"celeba:{CELEBA}" if CELEBA.is_file() else "synthetic"
    data = prepare(DataConfig(source=source, resolution=64))
    images = np.asarray(data.images[:max(args.n, args.fid_n)])
    few = images[:args.n]
    x = torch.from_numpy(few)
    plain = load_torchscript()

    def run_plain():
        with torch.inference_mode():
            return torch.cat([plain(preprocess(part, "inception")) for part in x.split(64)])

    def run_pytorch_fid():
        with torch.inference_mode():
            return torch.cat([pf(part.permute(0, 3, 1, 2).float() / 256)[0].flatten(1) for part in x.split(50)])

    def run_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16), torch.inference_mode():
            net = network("inception", "cpu")
            return torch.cat([net.module(preprocess(part, "inception")).float() for part in x.split(net.chunk)])

    from pytorch_fid.inception import InceptionV3
    with offline_pytorch_fid():
        pf = InceptionV3([3], resize_input=True, normalize_input=True).eval()
    rows = {}
    ms, reference = best_ms(run_plain, args.n, args.rounds)
    rows["plain file, 64 a pass"] = (ms, 0.0)
    for name, fn in (("facegan (folded, channels-last, 8 a pass)", lambda: extract(few, "inception", device="cpu")),
                     ("pytorch-fid's module, batch 50", run_pytorch_fid),
                     ("facegan's network under bf16 autocast", run_bf16)):
        ms, feats = best_ms(fn, args.n, args.rounds)
        rows[name] = (ms, float(np.abs(feats - reference).max()))
    print(f"{args.n} faces of {data.source} at 64 px, best of {args.rounds} rounds; {os.cpu_count()} CPU cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| {'variant':<44} | ms/image | max |feature - plain file's| |")
    print(f"|{'-' * 46}|---------:|---:|")
    for name, (ms, diff) in rows.items():
        print(f"| {name:<44} | {ms:>8.1f} | {diff:.1e} |")

    half = args.fid_n // 2
    fp32 = extract(images[:2 * half], "inception", device="cpu")
    x = torch.from_numpy(images[:2 * half])
    bf16 = run_bf16()
    fids = [frechet_distance(*feature_stats(f[:half]), *feature_stats(f[half:])) for f in (fp32, bf16.numpy())]
    rel = abs(fids[1] - fids[0]) / fids[0]
    print(f"FID of {half} vs {half} of these faces: fp32 features {fids[0]:.4f}, bf16 {fids[1]:.4f} "
          f"(relative difference {rel:.1e})")
    print(json.dumps({"ms_per_image": {k: v[0] for k, v in rows.items()},
                      "max_feature_diff": {k: v[1] for k, v in rows.items()},
                      "bf16_fid_relative_change": rel, "n": args.n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
