"""Curation (clusters, outliers, near-duplicates) and subsets: what a subset file keeps is exactly what a
run trains on, under a key of its own, and a subset for other images is refused."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from facegan.config import DataConfig
from facegan.data import curate as C
from facegan.data import synthetic
from facegan.data.cache import prepare
from facegan.data.subset import resolve, write_subset
from facegan.errors import FaceganError
from facegan.training.checkpoint import load_checkpoint
from facegan.training.run_dir import RunDir
from facegan.training.trainer import Control, resume_config, train

from . import helpers
from .helpers import run_cli

# -- subsets -----------------------------------------------------------------------------------------

def test_resolve_keeps_drops_and_clusters():
    spec = {"data_key": "k", "images": 10}
    assert resolve({**spec, "keep": [3, 1, 3]}, "k", 10).tolist() == [1, 3]
    assert resolve({**spec, "drop": [0, 9]}, "k", 10).tolist() == list(range(1, 9))
    clusters = [{"id": 0, "indices": [0, 1, 2]}, {"id": 1, "indices": [3, 4]}, {"id": 2, "indices": [5]}]
    assert resolve({**spec, "clusters": clusters, "keep_clusters": [0, 2], "drop": [1]}, "k", 10).tolist() == [0, 2, 5]


@pytest.mark.parametrize("spec, said", [
    ({"data_key": "other", "keep": [1]}, "written for data set other"),
    ({"keep": [1]}, "no data set"),
    ({"data_key": "k", "images": 11, "keep": [1]}, "counts 11 images"),
    ({"data_key": "k", "keep": [10]}, "names image 10"),
    ({"data_key": "k", "keep": [-1]}, "names image -1"),
    ({"data_key": "k", "keep": ["3"]}, "list of image numbers"),
    ({"data_key": "k", "keep": []}, "keeps no image"),
    ({"data_key": "k", "drop": list(range(10))}, "keeps no image"),
    ({"data_key": "k", "clusters": [{"id": 0, "indices": [1]}], "keep_clusters": [4]}, "cluster(s) [4]"),
])
def test_a_subset_for_other_images_is_refused_saying_why(spec, said):
    with pytest.raises(FaceganError, match=r"data\.subset") as e:
        resolve(spec, "k", 10)
    assert said in str(e.value)


def _synthetic(n: int = 96) -> DataConfig:
    return DataConfig(source="synthetic", resolution=32, synthetic_count=n)


def test_prepare_keeps_exactly_the_subset_under_its_own_key(tmp_path):
    whole = prepare(_synthetic())
    keep = [0, 5, 6, 40, 95]
    path = write_subset(tmp_path / "s.json", whole.key, whole.kept, keep)
    part = prepare(DataConfig(**{**vars(_synthetic()), "subset": str(path)}))
    assert part.kept == 5 and np.array_equal(part.images, np.asarray(whole.images)[keep])
    assert part.key != whole.key and part.summary()["subset"]["kept"] == 5
    assert part.names == [whole.names[i] for i in keep]
    other = write_subset(tmp_path / "t.json", whole.key, whole.kept, [0, 5, 6, 40, 94])
    assert prepare(DataConfig(**{**vars(_synthetic()), "subset": str(other)})).key != part.key


def test_a_run_trains_on_the_subset_resumes_exactly_and_refuses_a_changed_one(tmp_path):
    data = prepare(helpers.tiny("synthetic_count=96").data)
    keep = list(range(0, 96, 2))  # 48 faces: 3 steps an epoch
    subset = write_subset(tmp_path / "half.json", data.key, data.kept, keep)
    extra = ("synthetic_count=96", f"subset={subset}", "epochs=3")
    whole = train(helpers.tiny(*extra, f"run_dir={tmp_path / 'whole'}"))
    run = RunDir(whole.run_dir)
    starts = [r for r in run.read_metrics() if r["kind"] == "start"]
    assert starts[0]["images"] == 48 and whole.step == 9
    assert run.meta()["data"]["subset"]["kept"] == 48 and run.config().data.subset == str(subset)

    control = Control()

    def stop_at_4(kind, record):
        if kind == "log" and record["step"] == 4:
            control.stop()
    first = train(helpers.tiny(*extra, f"run_dir={tmp_path / 'split'}"), control=control, on_event=stop_at_4)
    assert first.stopped and first.step == 4
    split = RunDir(first.run_dir)
    second = train(resume_config(split), resume=split.path)
    assert second.step == whole.step
    a = [r for r in run.read_metrics() if r["kind"] == "step"]
    b = [r for r in split.read_metrics() if r["kind"] == "step"]
    assert [(r["loss_d"], r["loss_g"]) for r in a] == [(r["loss_d"], r["loss_g"]) for r in b]
    ga, gb = load_checkpoint(run.checkpoint_path("last"))["G"], load_checkpoint(split.checkpoint_path("last"))["G"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)

    write_subset(subset, data.key, data.kept, keep[:-1])  # the file changed under the run
    with pytest.raises(FaceganError, match="images have changed"):
        train(resume_config(split, {"run.epochs": 4}), resume=split.path)
    assert split.read_metrics()[-1]["kind"] == "end"  # nothing was trained or logged


def test_the_command_line_refuses_a_subset_of_other_data(tmp_path):
    data = prepare(_synthetic(64))  # the tiny run's faces are 64 of them; this subset is for 96
    other = prepare(_synthetic(96))
    path = write_subset(tmp_path / "s.json", other.key, other.kept, [1, 2, 3])
    out = run_cli("train", *helpers.tiny_cli(), "--set", f"subset={path}", "--run-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "written for data set" in out.stderr and data.key in out.stderr
    assert not (tmp_path / "r").exists()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data_key": data.key, "keep": [70]}))
    out = run_cli("train", *helpers.tiny_cli(), "--set", f"subset={bad}", "--run-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "names image 70" in out.stderr and "64 images" in out.stderr
    out = run_cli("train", *helpers.tiny_cli(), "--set", f"subset={tmp_path / 'nope.json'}")
    assert out.returncode == 2 and "does not exist" in out.stderr


# -- curation ----------------------------------------------------------------------------------------

def _planted(folder) -> dict:
    """40 built-in faces, a mirrored and moved copy of face 3, and 2 squares of noise."""
    folder.mkdir()
    faces = synthetic.render_faces(40, 64, seed=3)
    for i, face in enumerate(faces):
        Image.fromarray(face).save(folder / f"face-{i:02d}.png")
    copy = np.pad(faces[3][:, ::-1], ((2, 0), (2, 0), (0, 0)), mode="edge")[:-2, :-2]
    Image.fromarray(copy).save(folder / "face-03x.png")
    rng = np.random.default_rng(0)
    for j in range(2):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"noise-{j}.png")
    return {"copy": "face-03x.png", "original": "face-03.png", "noise": ["noise-0.png", "noise-1.png"]}


def test_shifted_correlation_knows_a_moved_mirror_image_from_another_face():
    faces = synthetic.render_faces(4, 64, seed=1).astype(np.float32)[:, ::2, ::2]
    moved = np.roll(faces[0][:, ::-1], (1, 2), axis=(0, 1)) * 1.05
    score = C.shifted_correlation(np.stack([faces[0]] * 3), np.stack([faces[0], moved, faces[1]]))
    assert score[0] == pytest.approx(1.0, abs=1e-4)
    assert score[1] > C.DUPLICATE_CORRELATION > score[2]


def test_outliers_are_far_beyond_their_clusters_spread():
    rng = np.random.default_rng(0)
    blob = rng.normal(0, 1, (500, 8)).astype(np.float32)
    blob[[7, 300]] *= 6  # two points far out
    labels = np.zeros(500, np.int64)
    assert C.outliers(blob, labels, blob.mean(axis=0, keepdims=True)).tolist() == [7, 300]


def test_curate_finds_the_copy_and_the_noise_and_caches_its_embeddings(tmp_path):
    planted = _planted(tmp_path / "faces")
    data = prepare(DataConfig(source=str(tmp_path / "faces"), resolution=64))
    cur = C.curate(data, 3)
    names = data.names
    assert not cur.cached and cur.k == 3 and sum(c["size"] for c in cur.clusters) == data.kept
    assert sorted(i for c in cur.clusters for i in c["indices"]) == list(range(data.kept))
    assert sorted([names.index(planted["original"]), names.index(planted["copy"])]) in cur.duplicates
    assert len(cur.duplicates) == 1  # no other pair of different faces
    noise = {names.index(n) for n in planted["noise"]}
    alone = {i for c in cur.clusters if c["size"] <= 2 for i in c["indices"]}
    assert noise <= alone | set(cur.outliers)
    again = C.curate(prepare(DataConfig(source=str(tmp_path / "faces"), resolution=64)), 3)
    assert again.cached and np.array_equal(again.labels, cur.labels)

    keep = C.selection(cur, drop_outliers=True, drop_duplicates=True)
    assert names.index(planted["copy"]) not in keep and names.index(planted["original"]) in keep
    with pytest.raises(FaceganError, match="no cluster 7"):
        C.selection(cur, keep_clusters=[7])


def test_the_curate_command_writes_its_json_and_a_subset_that_trains(tmp_path):
    _planted(tmp_path / "faces")
    src = str(tmp_path / "faces")
    out = run_cli("curate", src, "--resolution", "32", "--clusters", "2", "--out", str(tmp_path / "c.json"),
                  "--subset", str(tmp_path / "s.json"), "--keep-clusters", "1", "--drop-duplicates")
    assert out.returncode == 0, out.stderr
    assert "clusters: 2" in out.stdout and "near-duplicates: 1 groups" in out.stdout
    found = json.loads((tmp_path / "c.json").read_text())
    assert {"files", "clusters", "outliers", "duplicates"} <= set(found)
    assert len(found["files"]) == 43 and found["files"][0] == "face-00.png"
    assert all({"id", "size", "indices"} <= set(c) for c in found["clusters"])
    chosen = json.loads((tmp_path / "s.json").read_text())
    biggest = set(found["clusters"][0]["indices"]) - {i for g in found["duplicates"] for i in g[1:]}
    assert set(chosen["keep"]) == biggest
    # the curate output itself is a subset file once it says which clusters to keep
    found["keep_clusters"] = [2]
    (tmp_path / "k.json").write_text(json.dumps(found))
    second = prepare(DataConfig(source=src, resolution=32, subset=str(tmp_path / "k.json")))
    assert second.kept == found["clusters"][1]["size"]
    assert set(second.names) == {found["files"][i] for i in found["clusters"][1]["indices"]}
    # and the subset the command wrote is what a run trains on
    train(helpers.tiny(f"source={src}", f"subset={tmp_path / 's.json'}", "batch_size=4", "epochs=1",
                       f"run_dir={tmp_path / 'run'}"))
    starts = [r for r in RunDir(tmp_path / "run").read_metrics() if r["kind"] == "start"]
    assert starts[0]["images"] == len(biggest) >= 4


@pytest.mark.parametrize("args, said", [
    (["--clusters", "0"], "--clusters"),
    (["--clusters", "500"], "more clusters than images"),
    (["--subset", "{tmp}/s.json", "--keep-clusters", "9"], "no cluster 9"),
    (["--keep-clusters", "1"], "give --subset"),
    (["--keep-clusters", "a,b", "--subset", "{tmp}/s.json"], "cluster numbers separated by commas"),
    (["--out", "{tmp}/missing/c.json"], "does not exist"),
    (["--set", "subset={tmp}/s.json"], "curate looks at the whole data set"),
])
def test_curate_bad_input_exits_2_with_one_line(tmp_path, args, said):
    out = run_cli("curate", "synthetic", "--set", "synthetic_count=16", "--resolution", "32",
                  *[a.format(tmp=tmp_path) for a in args])
    assert out.returncode == 2, out.stdout
    assert said in out.stderr and len(out.stderr.strip().splitlines()) == 1
