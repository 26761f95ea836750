"""Latent-walk videos: the frame count the length asks for, a loop that closes (its last frame is its first),
each key face reached, and the three formats written whole; bad input named."""

import numpy as np
import pytest
import torch
from PIL import Image

from facegan.errors import FaceganError
from facegan.generate import latents
from facegan.visual import video

from .helpers import run_cli


def test_the_loop_starts_and_ends_on_the_first_face_and_passes_every_key():
    keys = latents(4, 100, seed=2)
    z = video.loop_latents(keys, video.frame_count(2.0, fps=6))   # 13 frames, 12 steps: 3 per face
    assert z.shape == (13, 100, 1, 1)
    assert torch.equal(z[0], keys[0]) and torch.equal(z[-1], keys[0])
    for i in range(4):
        torch.testing.assert_close(z[3 * i], keys[i], rtol=0, atol=1e-6)
    steps = (z[1:] - z[:-1]).reshape(12, -1).norm(dim=1)
    assert steps.max() < 3 * steps.min()   # even pace: no jump anywhere on the loop
    with pytest.raises(FaceganError, match="at least 2"):
        video.loop_latents(keys[:1], 10)


def frames(n=9, size=8) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    out[-1] = out[0]
    return out


@pytest.mark.parametrize("ext", [".gif", ".webp", ".mp4"])
def test_each_format_is_written_with_every_frame(tmp_path, ext):
    if ext == ".mp4" and not video.has_mp4():
        pytest.skip("imageio-ffmpeg is not installed")
    out = video.write_video(frames(), tmp_path / f"walk{ext}", fps=12, size=64)
    if ext == ".mp4":
        import imageio_ffmpeg
        assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 9
        reader = imageio_ffmpeg.read_frames(str(out))
        meta = next(reader)
        assert meta["size"] == (64, 64) and meta["fps"] == 12
        return
    with Image.open(out) as im:
        assert im.n_frames == 9 and im.size == (64, 64) and im.info.get("loop") == 0
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
        im.seek(8)
        last = np.asarray(im.convert("RGB"))
    if ext == ".gif":
        assert np.array_equal(first, last)
    else:  # lossy WebP codes each frame a little differently
        assert np.abs(first.astype(int) - last.astype(int)).mean() < 2
    if ext == ".gif":  # nearest-neighbour enlargement: 8 x 8 blocks of one colour (up to the palette)
        assert len(np.unique(first[:8, :8].reshape(-1, 3), axis=0)) == 1


@pytest.mark.parametrize("out,says", [("walk.avi", "allowed: a file ending in .gif, .webp, .mp4"),
                                      ("missing/walk.gif", "does not exist")])
def test_cli_refuses_a_bad_out_in_one_line(tmp_path, out, says):
    res = run_cli("video", "synthetic-run-not-needed", "--out", str(tmp_path / out))
    assert res.returncode == 2 and says in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_cli_writes_a_loop(trained, tmp_path):
    out = tmp_path / "walk.gif"
    res = run_cli("video", str(trained), "--out", str(out), "--faces", "3", "--seconds", "1", "--fps", "6",
                  "--size", "32")
    assert res.returncode == 0, res.stderr
    assert "7 frames" in res.stdout
    with Image.open(out) as im:
        assert im.n_frames == 7
    for bad, says in ((["--faces", "1"], "faces: got 1"), (["--seconds", "0"], "seconds: got 0.0")):
        res = run_cli("video", str(trained), "--out", str(out), *bad)
        assert res.returncode == 2 and says in res.stderr, res.stderr
