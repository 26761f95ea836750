"""Streamlit caches around facegan's readers: every page re-runs on each click (and the Train page every
second or two while training), so files are read again only when they have changed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import streamlit as st

from facegan.config import Config, DataConfig
from facegan.runs import RunInfo, list_runs
from facegan.training.run_dir import RunDir


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st_ = path.stat()
        return st_.st_mtime_ns, st_.st_size
    except OSError:
        return 0, 0


def _ckpt_stamp(run_path: str | Path, which: str) -> tuple[int, int]:
    """The time stamp of checkpoint ``which`` ('last', 'best', 'epoch_0003': a stem in the run's
    checkpoints folder), so a cache entry dies when the file is rewritten."""
    return _stamp(RunDir(run_path).checkpoints_dir / f"{which}.pt")


def metrics(run_path: str | Path) -> list[dict]:
    """Every record of a run's metrics.jsonl (re-read only when the file changed)."""
    p = Path(run_path)
    return _metrics(str(p), _stamp(p / "metrics.jsonl"))


@st.cache_data(max_entries=16, show_spinner=False)
def _metrics(path: str, stamp) -> list[dict]:
    return RunDir(path).read_metrics()


def runs(root: str | Path) -> list[RunInfo]:
    """:func:`facegan.runs.list_runs` of ``root``, re-read when a run folder, its log or its
    checkpoints change."""
    root = Path(root)
    sig = []
    if root.is_dir():
        for p in sorted(root.iterdir()):
            if (p / "config.json").is_file():
                sig.append((p.name, _stamp(p / "config.json"), _stamp(p / "metrics.jsonl"),
                            _stamp(p / "checkpoints"), _stamp(p / "samples"), _stamp(p / "training.gif")))
    return _runs(str(root), tuple(sig))


@st.cache_data(max_entries=8, show_spinner=False, ttl=3600)
def _runs(root: str, sig) -> list[RunInfo]:
    return list_runs(root)


def generator(run_path: str | Path, which: str):
    """(G, cfg, info) of a run's checkpoint, on the CPU; kept while the checkpoint file is unchanged."""
    return _generator(str(run_path), which, _ckpt_stamp(run_path, which))


@st.cache_resource(max_entries=3, show_spinner="Loading the generator…")
def _generator(run_path: str, which: str, stamp):
    from facegan.generate import load_generator
    return load_generator(run_path, which, device="cpu")


@st.cache_data(max_entries=32, show_spinner=False)
def faces(run_path: str, which: str, stamp, n: int, seed: int, truncation: float = 1.0) -> np.ndarray:
    """``n`` faces of seed ``seed`` (latents truncated by ``truncation``) as uint8 (n, R, R, 3)."""
    from facegan.generate import generate, latents
    G, cfg, _ = _generator(run_path, which, stamp)
    return generate(G, latents(n, cfg.model.latent_dim, seed, truncation))


def faces_for(run_path: str | Path, which: str, n: int, seed: int, truncation: float = 1.0) -> np.ndarray:
    return faces(str(run_path), which, _ckpt_stamp(run_path, which), n, seed, truncation)


def images_from(run_path: str | Path, which: str, z: np.ndarray) -> np.ndarray:
    """The faces of latents ``z`` (N, latent_dim[, 1, 1]) as uint8 (N, R, R, 3)."""
    return _images_from(str(run_path), which, _ckpt_stamp(run_path, which), np.asarray(z, np.float32))


@st.cache_data(max_entries=64, show_spinner=False)
def _images_from(run_path: str, which: str, stamp, z: np.ndarray) -> np.ndarray:
    import torch

    from facegan.generate import generate
    G, _, _ = _generator(run_path, which, stamp)
    return generate(G, torch.from_numpy(z))


def directions(run_path: str | Path, which: str, k: int = 10):
    """(the face sliders of a checkpoint, the checkpoint file they belong to): see
    :func:`facegan.visual.directions.directions_for` (cached beside the checkpoint, found in seconds)."""
    return _directions(str(run_path), which, _ckpt_stamp(run_path, which), k)


@st.cache_resource(max_entries=4, show_spinner="Finding the face sliders (a few seconds, once per checkpoint)…")
def _directions(run_path: str, which: str, stamp, k: int):
    from facegan.visual.directions import directions_for
    G, _, info = _generator(run_path, which, stamp)
    return directions_for(G, info["checkpoint"], k), info["checkpoint"]


def walk_video(run_path: str | Path, which: str, faces: int, seconds: float, fmt: str, seed: int,
               truncation: float) -> bytes:
    """A looping latent walk through ``faces`` faces as ``fmt`` ('.gif', '.webp', '.mp4') bytes."""
    return _walk_video(str(run_path), which, _ckpt_stamp(run_path, which), faces, seconds, fmt, seed, truncation)


@st.cache_data(max_entries=4, show_spinner="Making the video…")
def _walk_video(run_path: str, which: str, stamp, faces: int, seconds: float, fmt: str, seed: int,
                truncation: float) -> bytes:
    from facegan.generate import generate, latents
    from facegan.visual import video
    G, cfg, _ = _generator(run_path, which, stamp)
    z = video.loop_latents(latents(faces, cfg.model.latent_dim, seed, truncation), video.frame_count(seconds))
    return video.video_bytes(generate(G, z), fmt)


@st.cache_data(max_entries=4, show_spinner="Reading the photo…")
def photo_and_face(data: bytes, name: str):
    """(the photo as uint8 RGB, where its face is): decoded and searched once per upload, not on every
    click of the page (a large photo takes a second or two)."""
    from facegan.visual import project as pj
    photo = pj.read_photo(data, name)
    return photo, pj.find_face(photo)


@st.cache_data(max_entries=8, show_spinner=False)
def builtin_faces(n: int, resolution: int, seed: int) -> np.ndarray:
    """The first ``n`` built-in faces of ``seed`` (uint8 images)."""
    from facegan.data.synthetic import render_faces
    return render_faces(n, resolution, seed)


@st.cache_data(max_entries=16, show_spinner=False)
def walk(run_path: str, which: str, stamp, mode: str, steps: int, rows: int, seed: int,
         spherical: bool, truncation: float = 1.0) -> np.ndarray:
    from facegan.generate import generate
    from facegan.visual.interpolate import interpolation_latents
    G, cfg, _ = _generator(run_path, which, stamp)
    z = interpolation_latents(mode, steps, rows, cfg.model.latent_dim, seed, spherical, truncation)
    return generate(G, z)


def walk_for(run_path: str | Path, which: str, mode: str, steps: int, rows: int, seed: int,
             spherical: bool, truncation: float = 1.0) -> np.ndarray:
    return walk(str(run_path), which, _ckpt_stamp(run_path, which), mode, steps, rows, seed, spherical,
                truncation)


def training_gif(run_path: str | Path) -> bytes | None:
    """The run's training.gif, or one made from its epoch grids when it has none yet."""
    run = RunDir(run_path)
    if run.gif_path.is_file():
        return run.gif_path.read_bytes()
    samples = run.samples()
    if not samples:
        return None
    return _gif(tuple((e, str(p), _stamp(p)) for e, p in samples))


@st.cache_data(max_entries=4, show_spinner="Making the training GIF…")
def _gif(frames) -> bytes:
    from facegan.visual.gif import gif_bytes
    return gif_bytes([(e, Path(p)) for e, p, _ in frames])


@st.cache_data(max_entries=16, show_spinner=False)
def architecture(model_and_resolution: str) -> dict:
    """:func:`facegan.models.summary.architecture` of a config's networks (cached on the settings that
    shape them)."""
    from facegan.models.summary import architecture as arch
    return arch(Config.from_json(model_and_resolution))


def architecture_of(cfg: Config) -> dict:
    # Only the data resolution and the model section shape the networks.
    d = {"preset": cfg.preset, "data": {"resolution": cfg.data.resolution}, "model": cfg.to_dict()["model"]}
    return architecture(json.dumps(d, sort_keys=True))


def prepared(data_cfg: DataConfig):
    """The prepared data set of ``data_cfg`` (built first if it is not in the cache), kept open."""
    return _prepared(json.dumps(dataclasses.asdict(data_cfg), sort_keys=True))


@st.cache_resource(max_entries=2, show_spinner="Opening the prepared faces…")
def _prepared(data_json: str):
    from facegan.config import Config
    from facegan.data.cache import prepare
    return prepare(Config.from_dict({"data": json.loads(data_json)}).data)


def demo_run():
    """(the demo generator as a RunInfo, None), or (None, why it cannot be shown): see facegan.demo."""
    from facegan.demo import demo_path
    return _demo_run(_stamp(demo_path()))


@st.cache_resource(max_entries=1, show_spinner=False)
def _demo_run(stamp):
    from facegan.demo import demo_run as load
    return load()


def real_count(run_path: str | Path, data_cfg: DataConfig | None = None) -> int:
    """How many faces the run's own prepared data set (or ``data_cfg``'s) holds."""
    return len(prepared(data_cfg or RunDir.open(run_path).config().data).images)


def real_images(run_path: str | Path, indices, data_key: str | None = None,
                data_cfg: DataConfig | None = None) -> np.ndarray | None:
    """Images ``indices`` of the run's own prepared data set (or ``data_cfg``'s, as an evaluation indexes
    them), or None when that data set is not the one ``data_key`` names (it changed since)."""
    data = prepared(data_cfg or RunDir.open(run_path).config().data)
    if data_key is not None and data.key != data_key:
        return None
    return np.asarray(data.images[np.asarray(indices, dtype=np.int64)])


def generated_images(run_path: str | Path, which: str, n: int, seed: int, indices,
                     truncation: float = 1.0) -> np.ndarray:
    """The generated faces ``indices`` of an evaluation that drew ``n`` latents from ``seed`` with
    ``truncation``."""
    from facegan.generate import generate, latents
    G, cfg, _ = generator(run_path, which)
    z = latents(int(n), cfg.model.latent_dim, int(seed), truncation)[np.asarray(indices, dtype=np.int64)]
    return generate(G, z)
