"""``python -m facegan …``: the command line over the same core the dashboard uses.

Every command builds one validated :class:`Config` (preset + ``--set key=value`` + shortcut flags),
then calls into the package. Bad input of any kind exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .config import Config, help_table
from .errors import FaceganError, printable
from .presets import DEFAULT_PRESET, PRESETS, from_preset, preset

# -- shared options ----------------------------------------------------------------------------------

def _add_config_args(p: argparse.ArgumentParser, *, data_required: bool = False, data: bool = True) -> None:
    g = p.add_argument_group("configuration")
    g.add_argument("--preset", default=None, help=f"starting configuration: {', '.join(PRESETS)} "
                   f"(default {DEFAULT_PRESET}, or the --config file's)")
    g.add_argument("--config", metavar="FILE", help="a config.json to start from (e.g. a run's)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. --set model.latent_dim=128 (repeatable)")
    if data:  # (a command whose source is its positional argument has no --data)
        g.add_argument("--data", required=data_required, metavar="SOURCE",
                       help="'synthetic', a folder or .zip of images, or celeba:PATH / ffhq:PATH")
    g.add_argument("--resolution", type=int, metavar="R", help="32, 64 or 128")
    g.add_argument("--crop", help="auto, center, face or none")
    g.add_argument("--limit", type=int, metavar="N", help="use only the first N images")


def typed_overrides(args: argparse.Namespace) -> list[str]:
    """The ``key=value`` settings a command line gives: its --set pairs, then its shortcut options."""
    shortcuts = {"data.source": args.data, "data.resolution": args.resolution, "data.crop": args.crop,
                 "data.limit": args.limit}
    for name in ("epochs", "batch_size", "seed", "device", "run_dir"):  # present on some commands only
        if getattr(args, name, None) is not None:
            shortcuts[{"batch_size": "optim.batch_size"}.get(name, f"run.{name}")] = getattr(args, name)
    return list(args.overrides) + [f"{k}={v}" for k, v in shortcuts.items() if v is not None]


def config_from_args(args: argparse.Namespace) -> Config:
    overrides = typed_overrides(args)
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as f:
                base = Config.from_json(f.read())
        except OSError as e:
            raise FaceganError(f"cannot read config file {args.config}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise FaceganError(f"config file {args.config} is not text (a config.json is UTF-8 JSON)") from None
        if args.preset:
            raise FaceganError("give either --preset or --config, not both")
        return base.with_overrides(overrides)
    return from_preset(args.preset or DEFAULT_PRESET, overrides)


def _progress_bar(desc: str, unit: str = "img"):
    """A tqdm bar on stderr (hidden when stderr is not a terminal) as a ``progress(done, total)``."""
    from tqdm import tqdm
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return progress


# -- commands ----------------------------------------------------------------------------------------

def cmd_prepare(args) -> int:
    from .data.cache import prepare
    cfg = config_from_args(args)
    data = prepare(cfg.data, progress=_progress_bar("preparing"))
    s = data.summary()
    if args.json:
        print(json.dumps(s))
        return 0
    print(f"{data.source}: kept {s['kept']} images at {s['resolution']} px (crop {s['crop']}), "
          f"skipped {s['skipped_total']}")
    for reason, n in sorted(s["skipped"].items(), key=lambda kv: -kv[1]):
        print(f"  skipped {n:>6}  {reason}: e.g. {', '.join(s['examples'].get(reason, [])[:3])}")
    print(f"cache: {s['cache']} ({'reused' if s['reused'] else 'built'} in {s['seconds']:.1f} s)")
    return 0


def cmd_data_preview(args) -> int:
    import numpy as np

    from .data.cache import prepare
    from .images import grid, save_png
    cfg = config_from_args(args)
    data = prepare(cfg.data, progress=_progress_bar("preparing"))
    n = min(args.n, data.kept)
    idx = np.sort(np.random.default_rng(args.seed).choice(data.kept, n, replace=False)) \
        if args.seed is not None else np.arange(n)
    save_png(grid(data.images[idx]), args.out, scale=args.scale)
    print(f"wrote {args.out}: {n} of {data.kept} prepared images from {data.source}")
    return 0


def cmd_curate(args) -> int:
    from .data.cache import prepare
    from .data.curate import curate, selection
    from .data.subset import write_subset
    from .io import atomic_write_json
    args.data = args.source
    cfg = config_from_args(args)
    if cfg.data.subset:
        raise FaceganError("data.subset: curate looks at the whole data set (its image numbers are what a subset "
                           "names); leave data.subset out")
    if args.clusters is not None and args.clusters < 1:
        raise FaceganError(f"--clusters: got {args.clusters}; allowed: a whole number of 1 or more")
    keep_clusters = _id_list(args.keep_clusters, "--keep-clusters") if args.keep_clusters else None
    for out in (args.out, args.subset):
        if out and _out_folder(out):
            raise FaceganError(f"--out/--subset: got the folder {out}; allowed: a .json file to write")
    data = prepare(cfg.data, progress=_progress_bar("preparing"))
    cur = curate(data, args.clusters, device=args.device, progress=_progress_bar("embedding"))
    if args.out:
        _write_out(args.out, atomic_write_json, args.out, cur.to_json(), None)
    print(cur.summary())
    if args.out:
        print(f"wrote {args.out}")
    if args.subset:
        keep = selection(cur, keep_clusters=keep_clusters, drop_outliers=args.drop_outliers,
                         drop_duplicates=args.drop_duplicates)
        parts = [f"clusters {', '.join(map(str, keep_clusters))}" if keep_clusters else "all clusters"]
        parts += ["outliers dropped"] * args.drop_outliers + ["near-duplicates dropped"] * args.drop_duplicates
        _write_out(args.subset, write_subset, args.subset, data.key, data.kept, keep, "; ".join(parts))
        print(f"wrote {args.subset}: keeps {len(keep)} of {data.kept} images ({'; '.join(parts)}); train on them "
              f"with --set data.subset={args.subset}")
    elif keep_clusters or args.drop_outliers or args.drop_duplicates:
        raise FaceganError("--keep-clusters, --drop-outliers and --drop-duplicates choose what a subset file keeps: "
                           "give --subset FILE.json to write it")
    return 0


def _id_list(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise FaceganError(f"{option}: got {text!r}; allowed: cluster numbers separated by commas, "
                           "e.g. 1,2,5") from None


def cmd_config(args) -> int:
    if args.fields:
        print(help_table())
        return 0
    print(config_from_args(args).to_json())
    return 0


def cmd_presets(args) -> int:
    for p in PRESETS.values():
        print(f"{p.name:<12} {p.summary}")
    return 0


def cmd_train(args) -> int:
    import signal

    from tqdm import tqdm

    from .training import distributed
    from .training.run_dir import RunDir
    from .training.trainer import Control, resume_config, train
    if args.resume:
        if not args.run_dir:
            raise FaceganError("--resume needs --run-dir, the run folder to continue")
        run = RunDir.open(args.run_dir)
        # The options as typed (a re-typed command with --resume added is fine): resume_config refuses
        # the ones that would change the run.
        base = run.config()
        typed = (config_from_args(args) if args.config else base.with_overrides(
            preset(args.preset).overrides if args.preset else {}).with_overrides(typed_overrides(args)))
        cfg = resume_config(run, typed)
    else:
        cfg = config_from_args(args)
    control = Control()
    bar = None

    def on_event(kind: str, rec: dict) -> None:
        nonlocal bar
        if kind == "start":
            print(f"run folder: {rec['run_dir']}  ({rec['images']} images, {rec['steps_per_epoch']} steps/epoch, "
                  f"{rec['device']})", file=sys.stderr)
            bar = tqdm(total=rec["total_steps"], initial=rec["step"], unit="step", disable=None, dynamic_ncols=True)
        elif kind == "log" and bar is not None:
            bar.update(rec["step"] - bar.n)
            bar.set_postfix(epoch=rec["epoch"], D=f"{rec['loss_d']:.3f}", G=f"{rec['loss_g']:.3f}",
                            img_s=f"{rec['images_per_s']:.0f}")
        elif kind == "warning":
            (bar.write if bar is not None else print)(f"warning: {rec['message']}")
        elif kind == "metrics" and bar is not None:
            bar.write(f"epoch {rec['epoch']}: FID {rec['fid']:.2f}, KID {rec['kid']:.4f} ({rec['features']}, "
                      f"n={rec['n']}){'  new best' if rec['best'] else ''}")
        elif kind == "epoch" and bar is not None:
            bar.update(rec["step"] - bar.n)
            bar.write(f"epoch {rec['epoch']} done in {rec['epoch_seconds']:.1f} s: {rec['sample_path']}")

    def first_interrupt(signum, frame):  # the first Ctrl-C stops cleanly with a checkpoint; a second kills
        print("\nstopping after this step (Ctrl-C again to abort)...", file=sys.stderr)
        control.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGINT, first_interrupt)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 PID`: a checkpoint now, training goes on (not on Windows)
        signal.signal(signal.SIGUSR1, lambda signum, frame: control.request_checkpoint())
    try:
        result = train(cfg, resume=args.run_dir if args.resume else None, control=control, on_event=on_event,
                       prepare_progress=_progress_bar("preparing"))
    finally:
        if bar is not None:
            bar.close()
        distributed.teardown()
    if distributed.env_rank() != 0:  # under torchrun rank 0 reports for all
        return 0
    verb = "stopped" if result.stopped else "finished"
    print(f"{verb} at epoch {result.epochs_done}, step {result.step}: {result.run_dir}")
    if args.json:
        print(json.dumps({"run_dir": str(result.run_dir), "epochs": result.epochs_done, "step": result.step,
                          "stopped": result.stopped}))
    return 0


def cmd_arch(args) -> int:
    from .models.summary import architecture, format_architecture
    arch = architecture(config_from_args(args))
    print(json.dumps(arch) if args.json else format_architecture(arch).rstrip("\n"))
    return 0


# -- generating from a trained run -------------------------------------------------------------------

def _write_out(out, fn, *args):
    """``fn(*args)``, which writes ``out``: an unwritable --out is bad input, not a bug."""
    try:
        return fn(*args)
    except OSError as e:
        raise FaceganError(f"cannot write {out}: {e.strerror or e}") from None


def _out_folder(out: str) -> bool:
    """Whether ``--out`` names a folder (ends in / or is one) rather than a PNG file; a file's folder, or
    a new folder's parent, must exist (a typo should not grow a tree of folders)."""
    from pathlib import Path
    path = Path(out).expanduser()
    folder = out.endswith(("/", "\\")) or path.is_dir()
    parent = path.parent if not folder or not path.is_dir() else path
    if not parent.is_dir():
        raise FaceganError(f"--out: the folder {parent} does not exist; create it first or write somewhere that "
                           "exists (a .png path for a grid, a folder ending in / for single images)")
    return folder


def cmd_sample(args) -> int:
    from .generate import check_truncation, generate, latents, load_generator, write_sample_files
    from .images import grid, save_png
    check_truncation(args.truncation)
    folder = _out_folder(args.out)
    G, cfg, info = load_generator(args.run, args.checkpoint, args.device)
    z = latents(args.n, cfg.model.latent_dim, args.seed, args.truncation)
    if folder:
        write_sample_files(G, z, args.out, args.scale)
        what = f"{args.n} PNG files (000000.png …)"
    else:
        _write_out(args.out, save_png, grid(generate(G, z)), args.out, args.scale)
        what = f"{args.n} faces"
    print(f"wrote {args.out}: {what} at {cfg.data.resolution} px, seed {args.seed}"
          + (f", truncation {args.truncation:g}" if args.truncation != 1 else "")
          + f", from {info['checkpoint']} (epoch {info['epoch']}, {'EMA' if info['ema'] else 'G'} weights)")
    return 0


def cmd_interpolate(args) -> int:
    from .generate import generate, load_generator
    from .images import grid, save_png
    from .visual.interpolate import interpolation_latents
    if _out_folder(args.out):
        raise FaceganError(f"--out: got the folder {args.out}; allowed: a .png file to write the figure to")
    G, cfg, info = load_generator(args.run, args.checkpoint, args.device)
    z = interpolation_latents(args.mode, args.steps, args.rows, cfg.model.latent_dim, args.seed, args.slerp,
                              args.truncation)
    images = generate(G, z)
    _write_out(args.out, save_png, grid(images, ncols=args.steps), args.out, args.scale)
    shape = f"{args.rows} paths of {args.steps}" if args.mode == "1d" else f"a {args.steps}x{args.steps} grid"
    print(f"wrote {args.out}: {shape} ({'slerp' if args.slerp else 'lerp'}, seed {args.seed}) from "
          f"{info['checkpoint']} (epoch {info['epoch']})")
    return 0


def cmd_gif(args) -> int:
    from .training.run_dir import RunDir
    from .visual.gif import write_training_gif
    run = RunDir.open(args.run)
    out = _write_out(args.out or run.gif_path, write_training_gif, run, args.out)
    n = len(run.samples())
    print(f"wrote {out}: {n} epoch grid{'s' if n != 1 else ''}")
    return 0


def cmd_export(args) -> int:
    from pathlib import Path

    from .export import export_generator
    out = _write_out(args.out, export_generator, args.run, args.out, args.checkpoint)
    which = f" ({args.checkpoint} checkpoint)" if Path(args.run).is_dir() else ""
    print(f"wrote {out}: the generator of {args.run}{which}")
    return 0


def cmd_directions(args) -> int:
    import time

    from .generate import load_generator
    from .visual import directions as dirs
    if _out_folder(args.out):
        raise FaceganError(f"--out: got the folder {args.out}; allowed: an .npz file to write the directions to")
    G, cfg, info = load_generator(args.run, args.checkpoint, args.device)
    dirs.check_k(args.k, cfg.model.latent_dim)
    start = time.perf_counter()
    found = dirs.find_directions(G, args.k, args.samples, args.seed)
    seconds = time.perf_counter() - start
    dirs.save(found, args.out)
    print(f"wrote {args.out}: {found.k} directions ('directions', {found.k} x {cfg.model.latent_dim}, orthonormal "
          f"rows), found from {found.samples:,} latents (seed {args.seed}) in {seconds:.1f} s; along them lies "
          f"{found.variance.sum():.0%} of the variation of G's first layer; from {info['checkpoint']} "
          f"(epoch {info['epoch']})")
    return 0


def cmd_video(args) -> int:
    from .generate import check_truncation, generate, latents, load_generator
    from .visual import video
    fmt = video.check_out(args.out)
    if _out_folder(args.out):
        raise FaceganError(f"--out: got the folder {args.out}; allowed: a .gif, .webp or .mp4 file")
    frames = video.frame_count(args.seconds, args.fps)
    check_truncation(args.truncation)
    G, cfg, info = load_generator(args.run, args.checkpoint, args.device)
    keys = latents(video.check_faces(args.faces), cfg.model.latent_dim, args.seed, args.truncation)
    images = generate(G, video.loop_latents(keys, frames))
    out = video.write_video(images, args.out, args.fps, args.size)
    size = args.size or video.SIZE[fmt]
    print(f"wrote {out}: {frames} frames ({frames / args.fps:.1f} s at {args.fps} fps), {size} x {size} px, a "
          f"loop through {args.faces} faces (seed {args.seed}) from {info['checkpoint']} (epoch {info['epoch']})")
    return 0


def cmd_project(args) -> int:
    from .generate import load_generator
    from .visual import project as pj
    pj.check_steps(args.steps)
    pj.check_out(args.out)
    photo = pj.read_photo_file(args.photo)
    G, cfg, info = load_generator(args.run, args.checkpoint, args.device)
    found = pj.find_face(photo)
    target = pj.crop(photo, found.box, cfg.data.resolution)
    bar = _progress_bar("finding the face", unit="step")
    result = pj.project(G, target, args.steps, seed=args.seed, progress=bar)
    pj.write_projection(G, result, args.out, seed=args.seed, scale=args.scale)
    print(("face found" if found.found else "no face found: used the centre square") + f"; wrote {args.out}: "
          f"crop.png, result.png, latent.npy, morph.png; pixel MSE {result.mse:.4f} after {len(result.losses)} "
          f"steps in {result.seconds:.1f} s, from {info['checkpoint']} (epoch {info['epoch']})")
    return 0


def _add_generator_args(p: argparse.ArgumentParser, images: bool = True) -> None:
    """RUN, --checkpoint, --seed, --device; with ``images``, also --scale and --truncation."""
    p.add_argument("run", metavar="RUN", help="a run folder, a .pt checkpoint or an exported .safetensors")
    p.add_argument("--checkpoint", default="last", help="for a run folder: last, best, epoch_N or a .pt "
                   "path (default last)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents; the same seed gives the same "
                   "faces (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    if images:
        p.add_argument("--scale", type=int, default=1, choices=range(1, 9), metavar="K",
                       help="enlarge the image K times (pixels stay sharp)")
        _add_truncation_arg(p)


def _add_truncation_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="variety against quality: latents scaled toward the mean by PSI in (0, 1]; lower "
                        "gives faces nearer the average face, fewer odd ones (default 1: off)")


# -- evaluation: fid, evaluate, stats ----------------------------------------------------------------

def _stage_bars():
    """One tqdm bar per stage, as a ``progress(stage, done, total)``."""
    bars = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = _progress_bar(stage)
        bars[stage](done, total)
    return progress


def _image_range(text: str | None, option: str):
    """'START:STOP' (either may be empty; negative counts from the end) -> (start, stop), or None."""
    if text is None:
        return None
    start, sep, stop = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError:
        raise FaceganError(f"{option}: got {text!r}; allowed: START:STOP image positions, e.g. :5000 or "
                           f"5000: (write {option}=-5000: for a negative start)") from None


def _metric_lines(metrics: dict) -> list[str]:
    lines = []
    for name, result in metrics.items():
        values = {k: v for k, v in result.items() if k not in ("warning", "n_real", "n_fake")}
        lines.append(f"{name}: " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in values.items()))
    return lines


def cmd_fid(args) -> int:
    from .metrics.evaluate import evaluate_sets
    out = evaluate_sets(args.a, args.b, features=args.features, n=args.n, metrics=args.metrics,
                        resolution=args.resolution, crop=args.crop, limit=args.limit,
                        selections=(_image_range(args.slice_a, "--slice-a"),
                                    _image_range(args.slice_b, "--slice-b")),
                        seed=args.seed, device=args.device, batch_size=args.batch_size, progress=_stage_bars())
    if args.json:
        print(json.dumps(out))
        return 0
    if "fid" in out:
        print(f"FID: {out['fid']:.4f}")
    for line in _metric_lines({k: v for k, v in out["metrics"].items() if k != "fid"}):
        print(line)
    for note in out["warnings"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"({out['features']} features, {out['n_a']} vs {out['n_b']} images, {out['seconds']['total']:.1f} s)")
    return 0


def cmd_evaluate(args) -> int:
    from .metrics.evaluate import data_config, evaluate_run
    data_cfg = None
    if args.data:  # the resolution is the generator's; evaluate_run sets it
        data_cfg = data_config(args.data, crop=args.crop or "auto", limit=args.limit)
    elif args.crop or args.limit:
        raise FaceganError("--crop and --limit apply to --data; without it the run's own data is used as it was")
    out = evaluate_run(args.run, data_cfg, n=args.n, metrics=args.metrics, features=args.features,
                       checkpoint=args.checkpoint, seed=args.seed, truncation=args.truncation,
                       device=args.device,
                       batch_size=args.batch_size, tsne_max=args.tsne, progress=_stage_bars())
    if args.json:
        print(json.dumps(out))
        return 0
    for line in _metric_lines(out["metrics"]):
        print(line)
    for note in out["warnings"]:
        print(f"note: {note}", file=sys.stderr)
    ck = out["checkpoint"]
    print(f"({out['features']} features, {out['n_real']} real vs {out['n_fake']} generated faces from "
          f"{ck['name']} (epoch {ck['epoch']}), {out['seconds']['total']:.1f} s)")
    print(f"wrote {out['files']['json']}")
    return 0


def cmd_stats(args) -> int:
    from .metrics.evaluate import set_reference
    from .metrics.reference import save
    if args.source.lower().endswith(".npz"):
        raise FaceganError("stats SOURCE takes images (a folder, zip or data source), not a statistics file")
    ref = set_reference(args.source, features=args.features, n=args.n, resolution=args.resolution,
                        crop=args.crop, limit=args.limit, selection=_image_range(args.slice, "--slice"),
                        device=args.device, batch_size=args.batch_size, progress=_stage_bars())
    _write_out(args.out, save, args.out, ref)
    if args.json:
        print(json.dumps({"out": args.out, "features": args.features, "n": ref.count,
                          "source": ref.meta.get("source"), "reused": ref.reused}))
        return 0
    print(f"wrote {args.out}: {args.features} features of {ref.count} images of {ref.meta.get('source')} "
          f"at {ref.meta.get('resolution')} px (mu, sigma, features)")
    return 0


def _add_eval_args(p: argparse.ArgumentParser, *, n_default: int | None, n_help: str) -> None:
    p.add_argument("--features", default="inception",  # checked by the metrics code, not importing torch here
                   help="feature network: inception (the standard FID network, ~0.3 s/image on a CPU) or "
                   "lite0 (EfficientNet-Lite0, ~20x faster, numbers on its own scale) (default inception)")
    p.add_argument("--n", type=int, default=n_default, help=n_help)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--batch-size", type=int, default=64, help="images per feature-network batch (default 64)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")


def _add_eval_parsers(sub) -> None:
    from .config import RESOLUTIONS
    p = sub.add_parser("fid", help="FID (and other metrics) between two image sets, like python -m pytorch_fid")
    p.add_argument("a", metavar="A", help="a folder or .zip of images, a data source ('synthetic', "
                   "'celeba:PATH'), or a statistics .npz (from the stats command or pytorch-fid)")
    p.add_argument("b", metavar="B", help="the same kinds as A")
    _add_eval_args(p, n_default=None, n_help="use at most N images of each set, a seeded random choice "
                   "(default all)")
    p.add_argument("--metrics", default="fid", help="comma-separated: fid, kid, knn, pr (default fid)")
    p.add_argument("--resolution", type=int, default=64, choices=RESOLUTIONS,
                   help="prepare images at this size first, as training sees them (default 64)")
    p.add_argument("--crop", default="auto", help="auto, center, face or none (default auto)")
    p.add_argument("--limit", type=int, metavar="N", help="read only the first N images of each source")
    p.add_argument("--slice-a", metavar="START:STOP", help="use only these image positions of A, e.g. :5000")
    p.add_argument("--slice-b", metavar="START:STOP", help="use only these image positions of B, e.g. 5000:")
    p.add_argument("--seed", type=int, default=0, help="seed of the KID subsets (default 0)")
    p.set_defaults(func=cmd_fid)

    p = sub.add_parser("evaluate", help="metrics of a trained generator against real faces, written to RUN/eval/")
    p.add_argument("run", metavar="RUN", help="a run folder, a .pt checkpoint or an exported .safetensors")
    p.add_argument("--data", metavar="SOURCE", help="real faces: 'synthetic', a folder or .zip, celeba:PATH "
                   "(default: the run's own data)")
    p.add_argument("--crop", default=None, help="with --data: auto, center, face or none (default auto)")
    p.add_argument("--limit", type=int, metavar="N", help="with --data: read only its first N images")
    _add_eval_args(p, n_default=5000, n_help="generated faces, and at most as many real ones (default 5000)")
    p.add_argument("--metrics", default="fid,kid,knn,pr", help="comma-separated: fid, kid, knn, pr "
                   "(default all four)")
    p.add_argument("--checkpoint", default="last", help="for a run folder: last, best, epoch_N or a .pt path "
                   "(default last)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    _add_truncation_arg(p)
    p.add_argument("--tsne", type=int, default=1000, metavar="N", help="samples per side in the t-SNE map; "
                   "0 skips it (default 1000)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("stats", help="save the features, mean and covariance of an image set (.npz) for fid")
    p.add_argument("source", metavar="SOURCE", help="a folder or .zip of images, or a data source")
    p.add_argument("--out", required=True, help=".npz file to write")
    _add_eval_args(p, n_default=None, n_help="use at most N images, a seeded random choice (default all)")
    p.add_argument("--resolution", type=int, default=64, choices=RESOLUTIONS,
                   help="prepare images at this size first (default 64)")
    p.add_argument("--crop", default="auto", help="auto, center, face or none (default auto)")
    p.add_argument("--limit", type=int, metavar="N", help="read only the first N images of the source")
    p.add_argument("--slice", metavar="START:STOP", help="use only these image positions, e.g. 5000:")
    p.set_defaults(func=cmd_stats)


class _Parser(argparse.ArgumentParser):
    """argparse, with what the person typed escaped in its error line (a stray control character would
    otherwise break or garble it)."""

    def error(self, message: str):
        super().error(printable(message))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m facegan", description="Face generation with DCGAN: "
                                     "prepare data, train, sample and evaluate.")
    parser.add_argument("--version", action="version", version=f"facegan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare", help="decode, crop and resize a data source into the cache")
    _add_config_args(p, data_required=True)
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("data-preview", help="save a grid of prepared images")
    _add_config_args(p, data_required=True)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    p.add_argument("--seed", type=int, default=None, help="pick a random sample with this seed "
                   "(default: the first N)")
    p.add_argument("--scale", type=int, default=1, choices=range(1, 9), metavar="K",
                   help="enlarge the grid K times (pixels stay sharp)")
    p.set_defaults(func=cmd_data_preview)

    p = sub.add_parser("curate", help="clusters, outliers and near-duplicates of a data set (EfficientNet-Lite0 "
                       "embeddings); optionally a subset file to train on the part you choose")
    p.add_argument("source", metavar="SOURCE", help="'synthetic', a folder or .zip of images, or celeba:PATH / "
                   "ffhq:PATH (prepared as training prepares it: give the same --resolution, --crop, --limit)")
    _add_config_args(p, data=False)
    p.add_argument("--clusters", type=int, default=None, metavar="K", help="how many clusters (default: the best "
                   "silhouette of 8 to 12)")
    p.add_argument("--out", metavar="FILE.json", help="write every image's cluster, the outliers and the "
                   "near-duplicate groups as JSON")
    p.add_argument("--subset", metavar="FILE.json", help="write a subset file (for --set data.subset=FILE.json) "
                   "keeping what the next three options say")
    p.add_argument("--keep-clusters", metavar="IDS", help="with --subset: keep only these clusters, e.g. 1,3")
    p.add_argument("--drop-outliers", action="store_true", help="with --subset: leave the outliers out")
    p.add_argument("--drop-duplicates", action="store_true", help="with --subset: keep one image of each "
                   "near-duplicate group")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.set_defaults(func=cmd_curate)

    p = sub.add_parser("train", help="train a GAN into a run folder (or continue one with --resume)")
    _add_config_args(p)
    p.add_argument("--epochs", type=int, help="passes over the data (run.epochs)")
    p.add_argument("--batch-size", type=int, help="images per step (optim.batch_size)")
    p.add_argument("--seed", type=int, help="seed of everything random (run.seed)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (run.device)")
    p.add_argument("--run-dir", help="the run folder (default: checkpoints/<time>-<preset>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="save a grid of faces from a trained generator")
    _add_generator_args(p)
    p.add_argument("--n", type=int, default=64, help="how many faces (default 64)")
    p.add_argument("--out", required=True, help="a .png file: one grid of the faces; a folder (ending in / or "
                   "existing): one PNG per face, 000000.png …, for pytorch-fid, clean-fid or torchmetrics")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("interpolate", help="save latent-space walks: rows of paths (1d) or a grid "
                       "spanned by four corners (2d)")
    _add_generator_args(p)
    p.add_argument("--mode", required=True, choices=("1d", "2d"), help="1d: each row a path between two "
                   "faces; 2d: a steps x steps grid between four corner faces")
    p.add_argument("--steps", type=int, default=8, help="faces along each path / grid side, ends included "
                   "(default 8)")
    p.add_argument("--rows", type=int, default=4, help="how many paths in 1d mode (default 4)")
    p.add_argument("--slerp", action="store_true", help="walk along the sphere instead of straight lines")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("directions", help="find face sliders: directions in latent space that change one "
                       "aspect of a face (GANSpace), saved as a (k, latent_dim) array in an .npz")
    _add_generator_args(p, images=False)
    p.add_argument("--k", type=int, default=10, help="how many directions (default 10)")
    p.add_argument("--samples", type=int, default=5000, help="latents whose first-layer features are "
                   "analysed (default 5000)")
    p.add_argument("--out", required=True, help=".npz file to write")
    p.set_defaults(func=cmd_directions)

    p = sub.add_parser("video", help="a looping latent walk through random faces: .gif, .webp or .mp4 "
                       "(the format from --out's extension)")
    _add_generator_args(p, images=False)
    _add_truncation_arg(p)
    p.add_argument("--faces", type=int, default=6, help="how many faces the loop passes through (default 6)")
    p.add_argument("--seconds", type=float, default=12.0, help="length of the loop (default 12)")
    p.add_argument("--fps", type=int, default=24, choices=range(1, 61), metavar="FPS",
                   help="frames per second (default 24)")
    p.add_argument("--size", type=int, default=None, help="width and height in pixels (default 720 for .mp4, "
                   "256 for .gif and .webp), faces enlarged with sharp pixels")
    p.add_argument("--out", required=True, help=".gif, .webp or .mp4 file to write")
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("project", help="find the face a generator draws most like a photo: writes OUT/crop.png, "
                       "result.png, latent.npy and morph.png")
    _add_generator_args(p, images=False)
    p.add_argument("--photo", required=True, help="a photo of a face (JPEG, PNG, WebP, BMP)")
    p.add_argument("--steps", type=int, default=200, help="search steps (default 200)")
    p.add_argument("--scale", type=int, default=1, choices=range(1, 9), metavar="K",
                   help="enlarge the written images K times (pixels stay sharp)")
    p.add_argument("--out", required=True, help="a folder for the four files (created; its parent must exist)")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("gif", help="(re)make a run's training GIF from its epoch grids")
    p.add_argument("run", metavar="RUN", help="the run folder")
    p.add_argument("--out", default=None, help="GIF file to write (default RUN/training.gif)")
    p.set_defaults(func=cmd_gif)

    p = sub.add_parser("export", help="write a run's generator (EMA weights when kept) as .safetensors")
    p.add_argument("run", metavar="RUN", help="a run folder or a .pt checkpoint")
    p.add_argument("--checkpoint", default="last", help="last, best, epoch_N or a .pt path (default last)")
    p.add_argument("--out", required=True, help=".safetensors file to write")
    p.set_defaults(func=cmd_export)

    _add_eval_parsers(sub)  # fid, evaluate, stats

    p = sub.add_parser("config", help="print the resolved configuration as JSON")
    _add_config_args(p)
    p.add_argument("--fields", action="store_true", help="list every setting with its help and limits")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("presets", help="list the presets")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("arch", help="layers of G and D with output shapes and parameter counts")
    _add_config_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_arch)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 1:
        parser.error("--n must be at least 1")
    try:
        return args.func(args)
    except FaceganError as e:
        print(f"facegan: error: {printable(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facegan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
