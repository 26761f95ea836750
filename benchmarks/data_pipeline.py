"""Images/s of facegan's cached loader vs the PyTorch DCGAN tutorial's input pipeline, same images, one run.

    python benchmarks/data_pipeline.py [--quick] [--epochs 3] [--workers 2]

Reference: torchvision ImageFolder + PIL + Resize/CenterCrop/ToTensor/Normalize in a DataLoader with
worker processes (the tutorial's code). facegan: ``prepare`` (timed cold, into a fresh cache, and warm)
then ``BatchLoader`` epochs. Both read the same JPEG files (CelebA-10k from ../shared/data, or
synthetic faces written as JPEG when it is absent) at 64 px, batch 128.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

from facegan.config import DataConfig  # noqa: E402
from facegan.data.cache import prepare  # noqa: E402
from facegan.data.loader import BatchLoader  # noqa: E402

CELEBA = Path(os.environ.get("FACEGAN_CELEBA_ZIP", ROOT.parent / "shared/data/celeba-10k-89x109.zip"))


def make_images(folder: Path, limit: int) -> str:
    """Put ``limit`` JPEGs into folder/faces/ (ImageFolder wants one class folder); say what they are."""
    out = folder / "faces"
    out.mkdir(parents=True)
    if CELEBA.is_file():
        with zipfile.ZipFile(CELEBA) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[:limit]
            for n in names:
                (out / Path(n).name).write_bytes(zf.read(n))
        return f"CelebA half-size JPEGs (89x109), {len(names)} images"
    from PIL import Image

    from facegan.data.synthetic import render_face
    for i in range(limit):
        Image.fromarray(render_face(i, 128)).save(out / f"{i:06d}.jpg", quality=90)
    return f"synthetic faces written as 128 px JPEGs, {limit} images"


def reference_epoch(root: Path, workers: int, batch: int) -> tuple[float, int]:
    import torchvision.datasets as dset
    import torchvision.transforms as T
    ds = dset.ImageFolder(root=str(root), transform=T.Compose([
        T.Resize(64), T.CenterCrop(64), T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers)
    n, t0 = 0, time.perf_counter()
    for x, _ in dl:
        n += x.shape[0]
    return time.perf_counter() - t0, n


def facegan_epochs(images: np.ndarray, batch: int, epochs: int) -> tuple[float, int]:
    loader = BatchLoader(images, batch, device="cpu", flip=True, seed=0)
    n, t0 = 0, time.perf_counter()
    for e in range(epochs):
        for x in loader.epoch(e):
            n += x.shape[0]
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 images instead of 10,000")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=3, help="facegan epochs to time (default 3)")
    ap.add_argument("--workers", type=int, default=2, help="reference DataLoader workers (default 2)")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    limit = args.limit or (2000 if args.quick else 10000)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        what = make_images(tmp / "data", limit)
        print(f"data: {what}; 64 px, batch {args.batch}, {os.cpu_count()} CPU cores, torch "
              f"{torch.__version__}, {torch.get_num_threads()} threads")

        ref_s, ref_n = reference_epoch(tmp / "data", args.workers, args.batch)
        ref_rate = ref_n / ref_s

        cfg = DataConfig(source=str(tmp / "data" / "faces"), resolution=64, crop="center")
        cold = prepare(cfg, root=tmp / "cache")
        warm = prepare(cfg, root=tmp / "cache")
        assert warm.reused and warm.kept == ref_n
        fg_s, fg_n = facegan_epochs(warm.images, args.batch, args.epochs)
        fg_rate = fg_n / fg_s
        first_epoch_rate = cold.kept / (cold.seconds + fg_s / args.epochs)

    rows = [
        ("reference: ImageFolder + PIL + transforms, DataLoader "
         f"({args.workers} workers), per epoch", ref_rate),
        ("facegan: cold cache build (decode, crop, resize once)", cold.kept / cold.seconds),
        ("facegan: first epoch including the cold build", first_epoch_rate),
        ("facegan: cached loader, every later epoch", fg_rate),
    ]
    print(f"\n{'pipeline':<78} {'images/s':>12}")
    for name, rate in rows:
        print(f"{name:<78} {rate:>12,.0f}")
    print(f"\nwarm cache open: {warm.seconds * 1000:.0f} ms for {warm.kept} images")
    print(f"ratio cached loader / reference:        {fg_rate / ref_rate:8.1f}x  (goal >= 20x)")
    print(f"ratio first epoch incl. build / reference: {first_epoch_rate / ref_rate:6.1f}x")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {rss:.0f} MiB (reference workers are separate processes)")


if __name__ == "__main__":
    main()
