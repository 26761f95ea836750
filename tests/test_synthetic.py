"""The built-in synthetic faces: deterministic, the right shape, varied, and face-like."""

import threading

import numpy as np
import pytest
from PIL import Image

from facegan.data import synthetic
from facegan.data.synthetic import render_face

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@pytest.fixture(scope="module")
def faces32() -> np.ndarray:
    """200 faces at 32 px as float32, (200, 32, 32, 3); about half a second to draw."""
    return np.stack([render_face(i, 32, seed=0) for i in range(200)]).astype(np.float32)


def _region(images: np.ndarray, top: float, bottom: float, left: float, right: float) -> np.ndarray:
    n = images.shape[1]
    return images[:, round(top * n):round(bottom * n), round(left * n):round(right * n)]


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_shape_and_dtype(resolution):
    img = render_face(3, resolution)
    assert img.shape == (resolution, resolution, 3)
    assert img.dtype == np.uint8


@pytest.mark.parametrize("resolution", [8, 48, 100])
def test_other_resolutions_work(resolution):
    assert render_face(0, resolution, seed=5).shape == (resolution, resolution, 3)


@pytest.mark.parametrize("resolution", [4, 0, 10_000])
def test_unsupported_resolution_is_refused(resolution):
    with pytest.raises(ValueError):
        render_face(0, resolution)


def test_version_is_a_positive_int():
    assert isinstance(synthetic.GENERATOR_VERSION, int) and synthetic.GENERATOR_VERSION >= 1


def test_same_arguments_same_pixels():
    a = render_face(17, 64, seed=3)
    np.random.seed(123)  # global RNG state must not matter
    b = render_face(17, 64, seed=3)
    assert np.array_equal(a, b)


def test_seed_and_index_change_the_face():
    base = render_face(17, 64, seed=3).astype(int)
    for other in (render_face(18, 64, seed=3), render_face(17, 64, seed=4)):
        assert np.abs(base - other).mean() > 10


def test_global_rng_untouched():
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    render_face(1, 32)
    assert np.random.random() == expected


def test_order_and_threads_do_not_matter():
    indices = list(range(12))
    forward = {i: render_face(i, 32, seed=9) for i in indices}
    backward = {i: render_face(i, 32, seed=9) for i in reversed(indices)}
    threaded: dict[int, np.ndarray] = {}

    def work(part):
        for i in part:
            threaded[i] = render_face(i, 32, seed=9)

    threads = [threading.Thread(target=work, args=(indices[k::3],)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in indices:
        assert np.array_equal(forward[i], backward[i])
        assert np.array_equal(forward[i], threaded[i])


def test_no_two_faces_identical(faces32):
    assert len({f.tobytes() for f in faces32}) == len(faces32)


def test_faces_differ_from_each_other(faces32):
    # Mean absolute pixel difference over many pairs: about 70 for this set, 0 for a collapsed one.
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(faces32), (2, 500))
    keep = i != j
    pair = np.abs(faces32[i[keep]] - faces32[j[keep]]).mean(axis=(1, 2, 3))
    assert pair.mean() > 40
    assert np.percentile(pair, 5) > 15


def test_skin_tones_span_light_to_dark(faces32):
    # The patch between the eyes and the mouth is mostly skin.
    skin = np.median(_region(faces32 @ LUMA, 0.5, 0.6, 0.42, 0.58).reshape(len(faces32), -1), axis=1)
    assert np.percentile(skin, 10) < 90
    assert np.percentile(skin, 90) > 160


def test_hair_colours_vary(faces32):
    # Above the forehead: hair for most faces (skin when bald). Count coarse colour bins.
    hair = np.median(_region(faces32, 0.06, 0.14, 0.4, 0.6).reshape(len(faces32), -1, 3), axis=1)
    assert len({tuple(c) for c in (hair // 64).astype(int)}) >= 8


def test_a_face_is_drawn_in_the_middle(faces32):
    centre = _region(faces32, 0.35, 0.7, 0.35, 0.65).mean(axis=(1, 2))
    corners = np.concatenate([_region(faces32, 0, 0.12, 0, 0.12), _region(faces32, 0, 0.12, 0.88, 1)],
                             axis=2).mean(axis=(1, 2))
    assert np.abs(centre - corners).sum(axis=1).mean() > 60


def test_faces_are_structured_not_noise(faces32):
    # Faces are smooth, nearly mirror-symmetric, and have eyes darker than the cheeks below them;
    # noise (about 85 for both differences) or a featureless blob fails these.
    neighbours = np.abs(np.diff(faces32, axis=2)).mean()
    mirror = np.abs(faces32 - faces32[:, :, ::-1]).mean()
    assert neighbours < 20
    assert mirror < 40
    luma = faces32 @ LUMA
    eyes = _region(luma, 0.40, 0.47, 0.3, 0.7).mean(axis=(1, 2))
    cheeks = _region(luma, 0.50, 0.58, 0.3, 0.7).mean(axis=(1, 2))
    assert (cheeks - eyes).mean() > 8
    assert (eyes < cheeks).mean() > 0.65


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4])
def test_resolutions_draw_the_same_face(index):
    small = render_face(index, 32).astype(np.float32)
    big = Image.fromarray(render_face(index, 128)).resize((32, 32), Image.Resampling.BOX)
    other = render_face(index + 100, 32).astype(np.float32)
    diff = np.abs(small - np.asarray(big, np.float32)).mean()
    assert diff < 5
    assert diff < np.abs(small - other).mean() / 4
