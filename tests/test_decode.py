import errno
import os
import pickle
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from facegan.data.decode import (
    IMAGE_EXTENSIONS,
    MAX_FILE_BYTES,
    MAX_PIXELS,
    REASONS,
    SkipImage,
    decode_image,
    read_file,
    to_rgb,
)
from facegan.errors import FaceganError

from .badfiles import (
    BAND,
    MARK,
    NON_UTF8_NAME,
    SKIN,
    corpus_bytes,
    encode,
    make_bad_corpus,
    png_bytes,
    reference_picture,
    zip_corpus,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, make_bad_corpus(folder)


def _outcome(path, **kw):
    try:
        img = decode_image(read_file(path), **kw)
    except SkipImage as e:
        return e.reason
    assert img.mode == "RGB"
    return np.asarray(img)


def _decoded(corpus) -> dict:
    folder, expect = corpus
    return {name: _outcome(folder / name) for name in expect}


def _close(a: np.ndarray, colour, tol=12) -> bool:
    return bool(np.abs(a.astype(int) - np.array(colour)).max() <= tol)


def test_every_corpus_file_gives_its_expected_outcome(corpus):
    folder, expect = corpus
    assert len(expect) >= 15 and set(expect.values()) <= {"kept"} | set(REASONS)
    got = {name: "kept" if isinstance(r, np.ndarray) else r for name, r in _decoded(corpus).items()}
    assert got == expect


def test_kept_images_look_right(corpus):
    out = _decoded(corpus)
    ref = reference_picture().astype(int)
    for name in ("good.jpg", "good.png", "good.webp", "good.bmp", "UPPER_CASE.JPEG"):
        assert out[name].shape == ref.shape
        assert np.abs(out[name] - ref).mean() < 4, name

    gray = out["gray.jpg"].astype(int)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()

    cmyk = out["cmyk.jpg"]
    assert _close(cmyk[:, :16], (255, 0, 0), 40) and _close(cmyk[:, -16:], (0, 0, 255), 40)

    # 16-bit grey keeps its left-to-right ramp instead of saturating to white.
    ramp = out["gray16.png"][..., 0].astype(int)
    assert (ramp == ramp[0]).all() and (np.diff(ramp[0]) >= 0).all()
    assert ramp[0, 0] == 0 and ramp[0, -1] == 255 and abs(ramp[0, 20] - 131) <= 2
    assert (out["gray16.png"] == ramp[..., None]).all()

    rgb16 = out["rgb16.png"].astype(int)
    assert rgb16[0, 0, 0] == 0 and rgb16[0, -1, 0] == 255 and (np.diff(rgb16[0, :, 0]) > 0).all()
    assert (rgb16[..., 1] == 0).all() and (abs(rgb16[..., 2] - 156) <= 1).all()

    # Transparent pixels become white (BACKGROUND), whatever colour they hold underneath.
    for name, right in (("palette_transparent.png", (255, 0, 0)), ("rgba.png", (0, 200, 0)),
                        ("gray_alpha.png", (50, 50, 50))):
        assert _close(out[name][:, :20], (255, 255, 255), 0), name
        assert _close(out[name][:, 20:], right, 0), name

    bilevel = out["bilevel.png"]
    assert set(np.unique(bilevel)) == {0, 255}
    assert _close(bilevel[-1], (255, 255, 255), 0) and _close(bilevel[0], (0, 0, 0), 0)

    for name in ("animated_gif.png", "animated.gif", "animated.webp"):
        assert _close(out[name], (255, 0, 0), 2), name  # the first frame


@pytest.mark.parametrize("name, turns", [("exif_rotated_6.jpg", -1), ("exif_rotated_8.jpg", 1)])
def test_exif_orientation_makes_the_picture_upright(corpus, name, turns):
    folder, _ = corpus
    out = _outcome(folder / name)
    upright = np.rot90(reference_picture(), turns)  # 6: turn clockwise to view, 8: anticlockwise
    assert out.shape == upright.shape == (40, 48, 3)
    assert np.abs(out.astype(int) - upright).mean() < 4
    if turns == -1:  # band along the right, mark in the top-right corner
        assert _close(out[20:, -4:], BAND, 20) and _close(out[:4, -4:], MARK, 20)
    else:            # band along the left, mark in the bottom-left corner
        assert _close(out[:20, :4], BAND, 20) and _close(out[-4:, :4], MARK, 20)
    assert _close(out[20:30, 20:30], SKIN, 12)


def test_corpus_decodes_the_same_from_four_threads(corpus):
    folder, expect = corpus
    serial = _decoded(corpus)
    names = list(expect) * 4
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: _outcome(folder / n), names))
    for name, got in zip(names, results):
        want = serial[name]
        assert type(got) is type(want), name
        assert np.array_equal(got, want) if isinstance(want, np.ndarray) else got == want


def test_decoding_leaves_pillow_settings_alone(corpus):
    before = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)
    _decoded(corpus)
    assert (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS) == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# -- size limits --------------------------------------------------------------------------------------

def test_the_pixel_limit_is_checked_before_any_pixel_data_is_read():
    # A header claiming 48 megapixels and no pixel data at all: decoding would say 'truncated'.
    with pytest.raises(SkipImage) as e:
        decode_image(png_bytes(8000, 6000, 1, 0, None))
    assert e.value.reason == "too-large" and 8000 * 6000 > MAX_PIXELS
    good = encode(Image.fromarray(reference_picture()), "PNG")
    with pytest.raises(SkipImage, match="too-large"):
        decode_image(good, max_pixels=40 * 48 - 1)
    assert decode_image(good, max_pixels=40 * 48).size == (40, 48)


@pytest.mark.parametrize("action", ["always", "error", "ignore"])
def test_headers_between_pillows_warning_and_error_limits_are_too_large(action):
    # 100 megapixels: past Image.MAX_IMAGE_PIXELS (Pillow warns inside Image.open) but under twice
    # it (Pillow raises). Whatever the warnings filter does with it, the answer is the same.
    bomb = png_bytes(10_000, 10_000, 1, 0, None)
    with warnings.catch_warnings(record=True) as caught:  # single-threaded test: fine here
        warnings.simplefilter(action)
        with pytest.raises(SkipImage) as e:
            decode_image(bomb)
    assert e.value.reason == "too-large"
    if action == "always":
        assert [w.category for w in caught] == [Image.DecompressionBombWarning]


def test_min_size_applies_to_either_side():
    img = Image.new("RGB", (64, 20), "white")
    for fmt in ("PNG", "JPEG"):
        data = encode(img, fmt)
        assert decode_image(data, min_size=20).size == (64, 20)
        with pytest.raises(SkipImage, match="too-small"):
            decode_image(data, min_size=21)


def test_bad_arguments_are_programming_errors():
    data = encode(Image.new("RGB", (32, 32)), "PNG")
    with pytest.raises(ValueError):
        decode_image(data, min_size=0)
    with pytest.raises(ValueError):
        decode_image(data, keep_side=0)


# -- keep_side (JPEG draft decoding) -----------------------------------------------------------------

@pytest.mark.parametrize("keep", [1, 16, 37, 62, 63, 64, 100, 150, 151, 300, 1000])
def test_keep_side_shrinks_jpegs_but_never_below_keep_side(keep):
    data = encode(Image.new("RGB", (500, 300), (200, 120, 90)), "JPEG", quality=90)
    img = decode_image(data, keep_side=keep, min_size=1)
    assert img.mode == "RGB" and min(img.size) >= min(keep, 300)
    # The largest reduction that keeps both sides >= keep is used; sides round up.
    scale = max((s for s in (8, 4, 2) if 500 // s >= keep and 300 // s >= keep), default=1)
    assert img.size == (-(-500 // scale), -(-300 // scale))
    assert _close(np.asarray(img), (200, 120, 90), 6)


def test_keep_side_never_goes_below_min_size():
    data = encode(Image.new("RGB", (256, 256), "gray"), "JPEG")
    assert decode_image(data, keep_side=8, min_size=16).size == (32, 32)
    assert decode_image(data, keep_side=8, min_size=40).size == (64, 64)


def test_keep_side_with_exif_rotation_stays_upright():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(reference_picture(320, 400)), "JPEG", quality=95, exif=exif.tobytes())
    img = decode_image(data, keep_side=80)
    assert img.size == (100, 80)  # stored 320x400, reduced by 4 (both sides >= 80), then turned
    expected = np.asarray(Image.fromarray(np.rot90(reference_picture(320, 400), -1)).reduce(4))
    assert np.abs(np.asarray(img).astype(int) - expected).mean() < 6


def test_keep_side_does_not_touch_other_formats():
    for fmt in ("PNG", "WEBP", "BMP"):
        assert decode_image(encode(Image.new("RGB", (500, 300)), fmt), keep_side=40).size == (500, 300)


# -- colour modes ---------------------------------------------------------------------------------------

def _ramp(dtype, top) -> np.ndarray:
    return np.tile(np.linspace(0, top, 40), (8, 1)).astype(dtype)


@pytest.mark.parametrize("img, left, right", [
    (Image.fromarray(_ramp(np.uint16, 65535)), 0, 255),                              # I;16
    (Image.frombytes("I;16B", (40, 8), _ramp(">u2", 65535).tobytes()), 0, 255),       # big-endian
    (Image.fromarray(_ramp(np.uint16, 32768)), 0, 128),                               # stays dim
    (Image.fromarray(_ramp(np.int32, 65535)), 0, 255),                                # I, 16-bit data
    (Image.fromarray(_ramp(np.int32, 200)), 0, 200),                                  # I, 8-bit data
    (Image.fromarray(_ramp(np.float32, 1.0)), 0, 255),                                # F in 0..1
    (Image.fromarray(_ramp(np.float32, 255.0)), 0, 255),                              # F in 0..255
    (Image.fromarray(_ramp(np.float32, 2.0) - 1), 0, 255),                            # F, stretched
])
def test_deep_greyscale_is_scaled_not_clipped(img, left, right):
    out = np.asarray(to_rgb(img)).astype(int)
    assert out.shape == (8, 40, 3) and (out == out[..., :1]).all()
    assert abs(out[0, 0, 0] - left) <= 1 and abs(out[0, -1, 0] - right) <= 1
    assert (np.diff(out[0, :, 0]) >= 0).all() and len(np.unique(out)) > 30


@pytest.mark.parametrize("img, colour", [
    (Image.new("YCbCr", (4, 4), (76, 85, 255)), (255, 0, 0)),
    (Image.new("CMYK", (4, 4), (0, 255, 255, 0)), (255, 0, 0)),
    (Image.new("L", (4, 4), 77), (77, 77, 77)),
    (Image.new("1", (4, 4), 1), (255, 255, 255)),
    (Image.new("LA", (4, 4), (0, 0)), (255, 255, 255)),
    (Image.new("RGBA", (4, 4), (0, 0, 255, 128)), (127, 127, 255)),
    (Image.new("PA", (4, 4), (0, 0)), (255, 255, 255)),
])
def test_other_modes_become_rgb(img, colour):
    assert _close(np.asarray(to_rgb(img)), colour, 2)


def test_colour_key_transparency_is_composited():
    for mode, key in (("RGB", (10, 20, 30)), ("L", 7)):
        img = Image.new(mode, (4, 4), key)
        img.info["transparency"] = key
        assert _close(np.asarray(to_rgb(img)), (255, 255, 255), 0)


# -- read_file -----------------------------------------------------------------------------------------

def _read_reason(path) -> str:
    with pytest.raises(SkipImage) as e:
        read_file(path)
    return e.value.reason


def test_read_file_reasons(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    assert _read_reason(tmp_path / "folder.jpg") == "not-a-file"
    (tmp_path / "empty.png").write_bytes(b"")
    assert _read_reason(tmp_path / "empty.png") == "empty"
    assert _read_reason(tmp_path / "missing.png") == "unreadable"
    with open(tmp_path / "huge.png", "wb") as f:  # sparse: no disk space, no reading
        f.truncate(MAX_FILE_BYTES + 1)
    assert _read_reason(tmp_path / "huge.png") == "too-large"
    (tmp_path / "ok.png").write_bytes(b"abc")
    assert read_file(str(tmp_path / "ok.png")) == b"abc" == read_file(os.fsencode(tmp_path / "ok.png"))


def test_permission_denied_is_unreadable(tmp_path, monkeypatch):
    # chmod 000 does not stop root (the corpus allows for that), so fake the refusal instead.
    def denied(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))

    (tmp_path / "locked.jpg").write_bytes(b"data")
    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(SkipImage) as e:
        read_file(tmp_path / "locked.jpg")
    assert (e.value.reason, e.value.detail) == ("unreadable", "Permission denied")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_read_file_does_not_hang_on_a_named_pipe(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    assert _read_reason(tmp_path / "pipe.jpg") == "not-a-file"


def test_decode_image_rejects_empty_bytes():
    with pytest.raises(SkipImage, match="empty"):
        decode_image(b"")


# -- SkipImage and constants ----------------------------------------------------------------------------

def test_skip_image_carries_reason_and_detail_and_pickles():
    e = SkipImage("truncated", "cut after 10 bytes")
    assert isinstance(e, FaceganError) and (e.reason, e.detail) == ("truncated", "cut after 10 bytes")
    assert str(e) == "truncated: cut after 10 bytes"
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), back.reason, back.detail, str(back)) == (SkipImage, e.reason, e.detail, str(e))
    assert str(SkipImage("empty")) == f"empty: {REASONS['empty']}"
    with pytest.raises(ValueError):
        SkipImage("no-such-reason")


def test_constants():
    assert IMAGE_EXTENSIONS == {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
    assert all(k == k.lower() and v for k, v in REASONS.items())


# -- fuzzing: anything but SkipImage is a bug ---------------------------------------------------------

_FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])
_SEEDS = {name: corpus_bytes()[name][0] for name in ("good.jpg", "good.png", "good.webp", "good.bmp",
                                                       "animated_gif.png")}


def _decodes_or_skips(data: bytes):
    try:
        img = decode_image(data, max_pixels=2_000_000)
    except SkipImage as e:
        assert e.reason in REASONS
    else:
        assert img.mode == "RGB" and min(img.size) >= 16


@_FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_only_ever_skip(data):
    _decodes_or_skips(data)


@_FUZZ
@given(st.sampled_from(sorted(_SEEDS)), st.data())
def test_corrupted_images_only_ever_decode_or_skip(name, draw):
    data = bytearray(_SEEDS[name])
    for _ in range(draw.draw(st.integers(1, 6))):
        pos = draw.draw(st.integers(0, len(data) - 1))
        data[pos] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(0, len(data)))
    _decodes_or_skips(bytes(data[:cut]) if draw.draw(st.booleans()) else bytes(data))


def test_zipped_corpus_members_decode_like_the_files(corpus, tmp_path):
    folder, expect = corpus
    members = zip_corpus(folder, expect, tmp_path / "bad.zip")
    assert "dangling.jpg" not in members and "good.jpg" in members
    if NON_UTF8_NAME in expect:
        assert members["face-\ufffd.jpg"] == "kept"
    with zipfile.ZipFile(tmp_path / "bad.zip") as zf:
        assert sorted(zf.namelist()) == sorted(members)
        for member, outcome in members.items():
            data = zf.read(member)
            try:
                got = "kept" if decode_image(data) else None
            except SkipImage as e:
                got = e.reason
            assert got == outcome, member
