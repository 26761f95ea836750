import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegan.config import DataConfig
from facegan.data.cache import prepare
from facegan.data.decode import IMAGE_EXTENSIONS
from facegan.data.sources import FACE_CENTRE_Y, FolderSource, crop_box, open_source, resolve_prep
from facegan.errors import FaceganError

from .badfiles import make_bad_corpus, zip_corpus


def _save(path: Path, array: np.ndarray, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kw)
    return path


def _halves(w: int, h: int) -> np.ndarray:
    """Top half red, bottom half blue: where a crop lands shows in its colours."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, :, 0] = 255
    a[h // 2:, :, 2] = 255
    return a


def test_crop_boxes():
    assert crop_box(89, 109, "center", 0.6) == (0.0, 10.0, 89.0, 99.0)
    assert crop_box(200, 100, "center", 0.6) == (50.0, 0.0, 150.0, 100.0)
    assert crop_box(89, 109, "none", 0.6) == (0.0, 0.0, 89.0, 109.0)
    left, top, right, bottom = crop_box(178, 218, "face", 0.6)
    assert right - left == pytest.approx(0.6 * 178) and bottom - top == pytest.approx(0.6 * 178)
    assert (top + bottom) / 2 == pytest.approx(FACE_CENTRE_Y * 218)
    # A face square that would leave the image is shifted back inside, never shrunk.
    assert crop_box(100, 60, "face", 1.0) == (20.0, 0.0, 80.0, 60.0)


def test_folder_source_crops_resizes_and_walks_recursively(tmp_path):
    _save(tmp_path / "a" / "portrait.png", _halves(40, 80))
    _save(tmp_path / "b" / "c" / "landscape.jpg", np.full((30, 90, 3), 200, np.uint8), quality=95)
    (tmp_path / "notes.txt").write_text("not a face")
    data = prepare(DataConfig(source=str(tmp_path), resolution=32, crop="center"))
    assert data.images.shape == (2, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.skipped == {"not-an-image-file": 1}
    portrait = data.images[0].astype(int)  # sorted: a/portrait.png first
    assert portrait[:14, :, 0].min() > 200 and portrait[:14, :, 2].max() < 40   # top of crop: red
    assert portrait[18:, :, 2].min() > 200 and portrait[18:, :, 0].max() < 40   # bottom: blue
    assert np.abs(data.images[1].astype(int) - 200).max() <= 3
    squashed = prepare(DataConfig(source=str(tmp_path), resolution=32, crop="none")).images[0]
    assert squashed[:, :, 0].astype(int).mean() == pytest.approx(127, abs=10)  # half red, half blue


def test_layouts_pick_their_default_crop(tmp_path):
    _save(tmp_path / "img_align_celeba" / "000001.jpg", _halves(89, 109))
    _save(tmp_path / "ffhq" / "00000" / "00000.png", _halves(64, 64))
    celeba = open_source(DataConfig(source=str(tmp_path / "img_align_celeba")))
    assert celeba.layout == "celeba" and resolve_prep(DataConfig(), celeba).crop == "face"
    forced = open_source(DataConfig(source=f"celeba:{tmp_path / 'ffhq'}"))
    assert forced.layout == "celeba"
    ffhq = open_source(DataConfig(source=str(tmp_path / "ffhq")))
    assert ffhq.layout == "ffhq" and resolve_prep(DataConfig(), ffhq).crop == "center"
    assert resolve_prep(DataConfig(crop="none"), celeba).crop == "none"


def test_limit_takes_the_first_n_in_name_order(tmp_path):
    for i in range(5):
        _save(tmp_path / f"{i:03d}.png", np.full((20, 20, 3), 40 * i, np.uint8))
    data = prepare(DataConfig(source=str(tmp_path), resolution=32, limit=3))
    assert data.kept == 3
    assert [int(x.mean()) for x in data.images] == [0, 40, 80]


def _expected_counts(expect: dict[str, str]) -> tuple[int, Counter]:
    kept = sum(v == "kept" for v in expect.values())
    return kept, Counter(v for v in expect.values() if v != "kept")


def test_bad_files_in_a_folder_are_converted_or_skipped_and_counted(tmp_path):
    expect = make_bad_corpus(tmp_path / "bad")
    images = {k: v for k, v in expect.items() if Path(k).suffix.lower() in IMAGE_EXTENSIONS}
    kept, reasons = _expected_counts(images)
    data = prepare(DataConfig(source=str(tmp_path / "bad"), resolution=32))
    assert data.kept == kept
    skipped = dict(data.skipped)
    others = skipped.pop("not-an-image-file", 0)
    assert skipped == dict(reasons)
    assert others == len(expect) - len(images)
    assert all(len(ex) >= 1 for ex in data.examples.values())


def test_bad_files_in_a_zip(tmp_path):
    corpus = tmp_path / "bad"
    members = zip_corpus(corpus, make_bad_corpus(corpus), tmp_path / "bad.zip")
    archive = tmp_path / "bad.zip"
    expect_zip = {k: v for k, v in members.items() if Path(k).suffix.lower() in IMAGE_EXTENSIONS}
    kept, reasons = _expected_counts(expect_zip)
    data = prepare(DataConfig(source=str(archive), resolution=32))
    assert data.kept == kept
    skipped = dict(data.skipped)
    skipped.pop("not-an-image-file", None)
    assert skipped == dict(reasons)


def test_a_source_with_no_usable_image_gives_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FaceganError, match=r"no image files .* found nothing"):
        prepare(DataConfig(source=str(tmp_path / "empty")))
    bad = tmp_path / "allbad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"")
    (bad / "b.png").write_text("hello")
    with pytest.raises(FaceganError) as err:
        prepare(DataConfig(source=str(bad)))
    msg = str(err.value)
    assert "no usable image" in msg and str(bad) in msg and "2 image files" in msg
    with pytest.raises(FaceganError, match="does not exist"):
        prepare(DataConfig(source=str(tmp_path / "nowhere")))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FaceganError, match="not a zip"):
        prepare(DataConfig(source=str(tmp_path / "file.txt")))
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(FaceganError):
        prepare(DataConfig(source=str(tmp_path / "broken.zip")))


def test_synthetic_source_is_the_default_and_limit_caps_it():
    data = prepare(DataConfig(resolution=32, synthetic_count=40, limit=24))
    assert data.kept == 24 and data.images.shape == (24, 32, 32, 3)
    assert data.skipped == {}


def test_fingerprint_follows_content(tmp_path):
    _save(tmp_path / "a.png", np.zeros((20, 20, 3), np.uint8))
    before = FolderSource(tmp_path, "images").fingerprint()
    assert FolderSource(tmp_path, "images").fingerprint() == before
    _save(tmp_path / "a.png", np.ones((20, 20, 3), np.uint8))
    os.utime(tmp_path / "a.png", ns=(1, 1))
    assert FolderSource(tmp_path, "images").fingerprint() != before


def test_celeba_half_size_zip_keeps_faces_centred(celeba_zip):
    data = prepare(DataConfig(source=str(celeba_zip), resolution=64, limit=256))
    assert data.kept == 256 and data.prep.crop == "face"
    mean = data.images.astype(np.float32).mean(axis=0)
    # Aligned faces: the centre of the average face is skin (bright, reddish), not background.
    centre = mean[24:40, 24:40]
    assert centre[..., 0].mean() > centre[..., 2].mean() + 10
