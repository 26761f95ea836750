import io
import os
import shlex

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from facegan.config import Config
from facegan.errors import FaceganError
from facegan.export import export_generator
from facegan.generate import generate, latents, load_generator, nearby
from facegan.images import grid, png_bytes
from facegan.models import build_networks
from facegan.models.sampling import sample
from facegan.presets import from_preset
from facegan.training.checkpoint import CheckpointError
from facegan.training.trainer import train

from . import helpers
from .helpers import STEPS_PER_EPOCH, run_cli

TINY = [*helpers.TINY, "epochs=1"]
R = 32


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny real runs (a few seconds together): plain, and one that keeps an EMA generator."""
    root = tmp_path_factory.mktemp("gen-runs")
    for name, extra in (("plain", []), ("ema", ["ema=true"])):
        train(from_preset("dcgan-paper", TINY + extra + [f"run_dir={root / name}"]))
    return {"plain": root / "plain", "ema": root / "ema"}


def _ckpt(run) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def _grid_shape(n: int, ncols: int | None = None, scale: int = 1) -> tuple[int, int]:
    h, w, _ = grid(np.zeros((n, R, R, 3), np.uint8), ncols).shape
    return h * scale, w * scale


# -- load_generator, latents, generate ---------------------------------------------------------------

def test_run_folder_pt_and_safetensors_give_identical_images(runs, tmp_path):
    run = runs["plain"]
    z = latents(8, 100, seed=3)
    G, cfg, info = load_generator(run)
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    assert cfg.data.resolution == R and cfg.model.g_width == 8
    assert info == {"epoch": 1, "step": STEPS_PER_EPOCH, "checkpoint": str(run / "checkpoints" / "last.pt"),
                    "ema": False}
    images = generate(G, z)
    assert images.shape == (8, R, R, 3) and images.dtype == np.uint8

    out = export_generator(run, tmp_path / "G.safetensors")
    sources = [(run, "last"), (run, 1), (run, "epoch_1"), (run, str(run / "checkpoints" / "last.pt")),
               (run / "checkpoints" / "last.pt", "last"), (out, "last")]
    for source, which in sources:
        G2, cfg2, info2 = load_generator(source, which)
        assert cfg2 == cfg and (info2["epoch"], info2["step"]) == (1, STEPS_PER_EPOCH)
        assert np.array_equal(generate(G2, z), images), (source, which)
        torch.testing.assert_close(sample(G2, z), sample(G, z), rtol=0, atol=0)


def test_loaded_generator_redraws_the_runs_own_epoch_grid(runs):
    for run in runs.values():
        G, _, _ = load_generator(run)
        drawn = grid(generate(G, _ckpt(run)["fixed_z"]))
        assert np.array_equal(drawn, _png(run / "samples" / "epoch_0001.png"))


def test_ema_weights_are_chosen_when_the_run_kept_them(runs, tmp_path):
    ckpt = _ckpt(runs["ema"])
    G, cfg, info = load_generator(runs["ema"])
    assert cfg.model.ema and info["ema"] is True
    for k, v in G.state_dict().items():
        assert torch.equal(v, ckpt["step_state"]["ema"][k]), k
    raw, _ = build_networks(cfg)
    raw.load_state_dict(ckpt["G"])
    z = latents(4, 100, 0)
    assert not torch.equal(sample(G, z), sample(raw, z))  # the EMA lags G: different weights, images

    out = export_generator(runs["ema"], tmp_path / "ema.safetensors")
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "facegan-generator" and meta["ema"] == "true"
    assert (meta["epoch"], meta["step"]) == ("1", str(STEPS_PER_EPOCH)) and Config.from_json(meta["config"]) == cfg
    G2, _, info2 = load_generator(out)
    assert info2["ema"] is True and torch.equal(sample(G2, z), sample(G, z))

    assert load_generator(runs["plain"])[2]["ema"] is False


def test_latents_and_images_are_a_function_of_the_seed(runs):
    G, _, _ = load_generator(runs["plain"])
    a, b = latents(6, 100, 7), latents(6, 100, 7)
    assert a.shape == (6, 100, 1, 1) and torch.equal(a, b)
    assert not torch.equal(a, latents(6, 100, 8))
    torch.manual_seed(123)  # the global RNG plays no part
    assert np.array_equal(generate(G, latents(6, 100, 7)), generate(G, a, batch=4))
    assert not torch.equal(sample(G, latents(6, 100, 8)), sample(G, a))


def test_load_generator_errors_name_the_problem(runs, tmp_path):
    with pytest.raises(FaceganError, match="not a facegan run folder"):
        load_generator(tmp_path)
    with pytest.raises(FaceganError, match="no run folder or checkpoint"):
        load_generator(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"no checkpoint 'best'; available: epoch_0001, last"):
        load_generator(runs["plain"], "best")
    with pytest.raises(CheckpointError, match="neither a run folder"):
        load_generator(runs["plain"] / "config.json")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        load_generator(tmp_path / "empty.pt")
    data = export_generator(runs["plain"], tmp_path / "G.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        load_generator(tmp_path / "cut.safetensors")


# -- the commands ------------------------------------------------------------------------------------

def _ok(res):
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wrote "), res.stdout
    return lines[0]


def _fails_cleanly(res, fragment: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr
    return lines[0]


def test_cli_sample_writes_a_grid_of_the_expected_size(runs, tmp_path):
    out = tmp_path / "grid.png"
    _ok(run_cli("sample", str(runs["ema"]), "--n", "6", "--seed", "5", "--scale", "2", "--out", str(out),
                "--device", "cpu"))
    img = _png(out)
    assert img.shape[:2] == _grid_shape(6, scale=2)
    G, _, _ = load_generator(runs["ema"])
    expected = grid(generate(G, latents(6, 100, 5)))
    assert np.array_equal(img[::2, ::2], expected)  # nearest-neighbour enlargement of the same faces


@pytest.mark.parametrize("args, n, ncols", [
    (["--mode", "1d", "--steps", "5", "--rows", "3", "--slerp"], 15, 5),
    (["--mode", "2d", "--steps", "4", "--scale", "3"], 16, 4),
])
def test_cli_interpolate_writes_rows_or_a_grid(runs, tmp_path, args, n, ncols):
    out = tmp_path / "walk.png"
    _ok(run_cli("interpolate", str(runs["plain"]), *args, "--out", str(out)))
    scale = 3 if "--scale" in args else 1
    assert _png(out).shape[:2] == _grid_shape(n, ncols, scale)


def test_cli_gif_rebuilds_the_training_gif(runs, tmp_path):
    out = tmp_path / "training.gif"
    line = _ok(run_cli("gif", str(runs["plain"]), "--out", str(out)))
    assert "1 epoch grid" in line
    with Image.open(out) as im:
        assert im.format == "GIF" and im.size == _png(runs["plain"] / "samples" / "epoch_0001.png").shape[1::-1]


def test_cli_export_then_sample_from_the_export(runs, tmp_path):
    st = tmp_path / "G.safetensors"
    _ok(run_cli("export", str(runs["ema"]), "--out", str(st)))
    with safe_open(str(st), framework="pt") as f:
        assert f.metadata()["format"] == "facegan-generator"
    out = tmp_path / "from-export.png"
    line = _ok(run_cli("sample", str(st), "--n", "4", "--seed", "2", "--out", str(out), "--device", "cpu"))
    assert "EMA" in line
    G, _, _ = load_generator(runs["ema"])
    assert np.array_equal(_png(out), grid(generate(G, latents(4, 100, 2))))


def _truncated(runs, tmp_path):
    data = (runs["plain"] / "checkpoints" / "last.pt").read_bytes()
    path = tmp_path / "half.pt"
    path.write_bytes(data[: len(data) // 2])
    return [str(path)]


def _other_width(runs, tmp_path):
    """A 32 px checkpoint whose G weights are those of a wider generator than its config says."""
    ckpt = _ckpt(runs["plain"])
    wide, _ = build_networks(from_preset("dcgan-paper", TINY + ["g_width=16"]))
    ckpt["G"] = wide.state_dict()
    path = tmp_path / "wide.pt"
    torch.save(ckpt, path)
    return [str(path)]


@pytest.mark.parametrize("make, fragment", [
    (lambda runs, tmp: [str(runs["plain"]), "--checkpoint", "epoch_7"], "available: epoch_0001, last"),
    (_truncated, "damaged"),
    (_other_width, "do not fit"),
], ids=["missing", "truncated", "other-architecture"])
def test_cli_unusable_checkpoints_exit_2_with_one_line(runs, tmp_path, make, fragment):
    _fails_cleanly(run_cli("sample", *make(runs, tmp_path), "--out", str(tmp_path / "x.png")), fragment)
    assert not (tmp_path / "x.png").exists()


class _RunsCode:
    """Unpickling this runs a shell command: what a malicious .pt file would carry."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_cli_refuses_a_checkpoint_that_would_run_code(runs, tmp_path):
    marker = tmp_path / "code-ran"
    ckpt = _ckpt(runs["plain"])
    ckpt["G"]["payload"] = _RunsCode(f"touch {shlex.quote(str(marker))}")
    evil = tmp_path / "evil.pt"
    torch.save(ckpt, evil)
    line = _fails_cleanly(run_cli("sample", str(evil), "--out", str(tmp_path / "x.png")), "refused")
    assert "could run code" in line
    assert not marker.exists()


# -- truncation and single-image files ---------------------------------------------------------------

def test_truncation_scales_the_latents_toward_the_mean_and_one_is_off():
    z = latents(8, 100, seed=4)
    assert torch.equal(latents(8, 100, seed=4, truncation=1.0), z)
    torch.testing.assert_close(latents(8, 100, seed=4, truncation=0.5), z * 0.5, rtol=0, atol=0)
    for bad in (0, -0.5, 1.01, float("nan")):
        with pytest.raises(FaceganError, match="truncation: got"):
            latents(8, 100, seed=4, truncation=bad)


def test_faces_near_one_face_share_its_latent_up_to_the_spread():
    z = latents(1, 100, seed=4)[0]
    near = nearby(z, 200, 0.3, seed=1)
    assert near.shape == (200, 100, 1, 1)
    d = (near - z).reshape(200, -1)
    assert abs(d.std().item() - 0.3) < 0.01 and abs(d.mean().item()) < 0.01
    assert torch.equal(nearby(z, 3, 0.0, seed=1)[2], z) and torch.equal(nearby(z, 200, 0.3, 1), near)
    assert not torch.equal(nearby(z, 200, 0.3, 2), near)
    for bad, says in (((3, -0.1, 1), "spread: got -0.1"), ((0, 0.3, 1), "n: got 0")):
        with pytest.raises(FaceganError, match=says):
            nearby(z, *bad)


def test_a_face_is_enlarged_sharp_or_smooth():
    face = np.zeros((4, 4, 3), np.uint8)
    face[:, 2:] = 255
    sharp = np.asarray(Image.open(io.BytesIO(png_bytes(face, scale=4))))
    smooth = np.asarray(Image.open(io.BytesIO(png_bytes(face, scale=4, smooth=True))))
    assert sharp.shape == smooth.shape == (16, 16, 3)
    assert set(np.unique(sharp)) == {0, 255}              # repeated pixels: only the two colours
    assert len(np.unique(smooth[:, 6:10])) > 2            # Lanczos: a soft edge between them


def test_truncated_faces_are_nearer_the_average_face(runs):
    G, _, _ = load_generator(runs["ema"])
    mean_face = sample(G, torch.zeros(1, 100, 1, 1))
    spread = {psi: (sample(G, latents(32, 100, 1, psi)) - mean_face).abs().mean().item() for psi in (1.0, 0.5, 0.1)}
    assert spread[1.0] > spread[0.5] > spread[0.1]


def test_cli_sample_into_a_folder_writes_one_png_per_face(runs, tmp_path):
    out = tmp_path / "faces"
    _ok(run_cli("sample", str(runs["ema"]), "--n", "5", "--seed", "3", "--truncation", "0.7",
                "--out", f"{out}/", "--device", "cpu"))
    assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(5)]
    G, _, _ = load_generator(runs["ema"])
    want = generate(G, latents(5, 100, 3, 0.7))
    for i in range(5):
        assert np.array_equal(_png(out / f"{i:06d}.png"), want[i])
    # An existing folder without the trailing slash is a folder too; files already there are never replaced.
    before = (out / "000000.png").read_bytes()
    _fails_cleanly(run_cli("sample", str(runs["ema"]), "--n", "2", "--out", str(out)), "already holds 000000.png")
    assert (out / "000000.png").read_bytes() == before


@pytest.mark.parametrize("args, fragment", [
    (["--truncation", "0"], "truncation: got 0"),
    (["--truncation", "1.5"], "truncation: got 1.5"),
    (["--out", "{tmp}/missing/grid.png"], "--out: the folder"),
    (["--out", "{tmp}/missing/deeper/"], "--out: the folder"),
])
def test_cli_sample_bad_options_exit_2_naming_them(runs, tmp_path, args, fragment):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "x.png")]
    _fails_cleanly(run_cli("sample", str(runs["plain"]), *args), fragment)
    assert not (tmp_path / "missing").exists() and not (tmp_path / "x.png").exists()
