"""Find a face like this photo: the crop (a face found, or the centre square said so), the search (its loss
falls; a face G drew itself is found again), stopping early, the files written, and bad photos refused."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from facegan.errors import FaceganError
from facegan.generate import generate, load_generator
from facegan.visual import project as pj

from .helpers import CELEBA_ZIP, run_cli


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def test_a_face_drawn_by_the_generator_is_found_again(trained):
    G, cfg, _ = load_generator(trained)
    target = generate(G, torch.randn(1, G.latent_dim, 1, 1, generator=torch.Generator().manual_seed(99)))[0]
    result = pj.project(G, target, 300, seed=0)
    assert result.losses[-1] < result.losses[0]
    assert result.mse < 0.002, result.mse
    assert result.image.shape == target.shape == (32, 32, 3) and result.z.shape == (1, G.latent_dim, 1, 1)


def test_a_search_stops_early_with_the_best_so_far(trained):
    G, _, _ = load_generator(trained)
    target = np.full((32, 32, 3), 128, np.uint8)

    def stop_at_5(step, steps):
        if step == 5:
            raise pj.Stopped

    result = pj.project(G, target, 100, progress=stop_at_5, perceptual=0)
    assert result.stopped and len(result.losses) == 5
    assert result.mse == pytest.approx(pj.pixel_mse(result.image, target))


def test_no_face_means_the_centre_square():
    photo = np.zeros((60, 100, 3), np.uint8)
    crop = pj.find_face(photo)
    assert not crop.found and crop.box == (20.0, 0.0, 80.0, 60.0)
    assert pj.crop(photo, crop.box, 32).shape == (32, 32, 3)
    with pytest.raises(FaceganError, match="not inside"):
        pj.crop(photo, (50, 0, 150, 100), 32)


def test_a_celeba_face_is_found_and_cropped_as_the_training_data_was():
    if not CELEBA_ZIP.is_file():
        pytest.skip(f"CelebA sample not found at {CELEBA_ZIP}")
    with zipfile.ZipFile(CELEBA_ZIP) as z:
        name = sorted(n for n in z.namelist() if n.endswith(".jpg"))[0]
        photo = pj.read_photo(z.read(name))
    crop = pj.find_face(photo)
    h, w = photo.shape[:2]
    left, top, right, bottom = crop.box
    # The training crop of an aligned CelebA image: a square of 0.6 of the width, centred across, its centre
    # at 121/218 of the height.
    assert crop.found
    assert abs((right - left) - 0.6 * w) < 0.15 * w
    assert abs((left + right) / 2 - w / 2) < 0.05 * w and abs((top + bottom) / 2 - 121 / 218 * h) < 0.05 * h


def test_steps_and_out_are_checked_before_anything_runs(tmp_path):
    with pytest.raises(FaceganError, match="steps: got 0"):
        pj.check_steps(0)
    with pytest.raises(FaceganError, match="does not exist"):
        pj.check_out(tmp_path / "no" / "such")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FaceganError, match="is a file"):
        pj.check_out(tmp_path / "file")
    assert pj.check_out(tmp_path / "new") == tmp_path / "new"


@pytest.mark.parametrize("data,says", [(b"not an image at all", "cannot be used"),
                                       (png(np.zeros((1, 1, 3), np.uint8)), "smaller than 16 pixels"),
                                       (b"", "cannot be used")])
def test_bad_photos_are_refused_saying_what_is_wrong(data, says):
    with pytest.raises(FaceganError, match=says):
        pj.read_photo(data, "photo.jpg")


def test_a_photo_over_the_limit_is_refused_unread(tmp_path):
    big = tmp_path / "big.jpg"
    with open(big, "wb") as f:
        f.truncate(40 * 2**20)
    with pytest.raises(FaceganError, match="40 MB; allowed: up to 25 MB"):
        pj.read_photo_file(big)


def test_cli_writes_the_four_files_and_refuses_bad_input(trained, tmp_path):
    photo = tmp_path / "me.png"
    photo.write_bytes(png(np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)))
    out = tmp_path / "found"
    res = run_cli("project", str(trained), "--photo", str(photo), "--out", str(out), "--steps", "20")
    assert res.returncode == 0, res.stderr
    assert "no face found: used the centre square" in res.stdout
    assert sorted(p.name for p in out.iterdir()) == ["crop.png", "latent.npy", "morph.png", "result.png"]
    assert Image.open(out / "result.png").size == Image.open(out / "crop.png").size == (32, 32)
    assert np.load(out / "latent.npy").shape == (100,)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for args, says in (([str(text)], "cannot be used"),
                       ([str(photo), "--out", str(tmp_path / "no" / "such")], "does not exist")):
        full = ["project", str(trained), "--photo", *args]
        if "--out" not in args:
            full += ["--out", str(tmp_path / "x")]
        res = run_cli(*full)
        assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
