import json

import numpy as np
import pandas as pd
import pytest

from facegan.cli import main
from facegan.data.cache import prepare
from facegan.errors import FaceganError
from facegan.metrics import evaluate as ev
from facegan.metrics import reference as rf
from facegan.metrics.evaluate import compare, data_config, evaluate_run
from facegan.metrics.features import extract
from facegan.metrics.reference import from_features, reference, select

from .helpers import CELEBA_ZIP, run_cli

HALF = 200  # images per half: lite0 takes ~20 ms each on one CPU thread


@pytest.fixture(scope="module")
def real_data():
    """400 real faces: the CelebA sample when it is there, the synthetic faces otherwise."""
    source = str(CELEBA_ZIP) if CELEBA_ZIP.is_file() else "synthetic"
    return prepare(data_config(source, resolution=64, limit=2 * HALF))


@pytest.fixture(scope="module")
def halves(real_data):
    first = reference(real_data, "lite0", selection=(None, HALF), device="cpu")
    second = reference(real_data, "lite0", selection=(HALF, None), device="cpu")
    return first, second


@pytest.fixture
def extract_calls(monkeypatch):
    """Counts feature extractions, wherever evaluation asks for them."""
    calls = []

    def counting(images, name, **kw):
        out = extract(images, name, **kw)
        calls.append(len(out))
        return out
    monkeypatch.setattr(rf, "extract", counting)
    monkeypatch.setattr(ev, "extract", counting)
    return calls


# -- the metrics on known cases ----------------------------------------------------------------------

def test_fid_of_a_set_with_itself_is_zero(halves):
    first, _ = halves
    assert first.features.shape == (HALF, 1280)
    results, notes = compare(first, first, ["fid"])
    assert results["fid"]["fid"] < 1e-6 and results["fid"]["n_real"] == HALF
    assert any("fewer than 2048" in n for n in notes)  # small-sample warnings are kept, not printed


def test_two_halves_of_one_data_set_mix(halves):
    """1-NN accuracy of 2 x 200 samples from one distribution: 0.5 in expectation. Were the 400
    leave-one-out decisions independent its s.d. would be sqrt(0.25 / 400) = 0.025; they are not (a
    close pair decides both its members), so the tolerance is 0.1, four binomial s.d."""
    first, second = halves
    assert not set(first.indices) & set(second.indices)
    results, _ = compare(first, second, ["fid", "knn"])
    assert abs(results["knn"]["knn_accuracy"] - 0.5) <= 0.1


def test_noise_is_far_from_faces(halves):
    first, second = halves
    noise = np.random.default_rng(0).integers(0, 256, (HALF // 2, 64, 64, 3), dtype=np.uint8)
    fake = from_features(extract(noise, "lite0", device="cpu"), {"features": "lite0"})
    far, _ = compare(first, fake, ["fid", "knn"])
    near, _ = compare(first, second, ["fid"])
    assert far["fid"]["fid"] > 3 * near["fid"]["fid"]
    assert far["knn"]["knn_accuracy"] >= 0.98  # every sample's nearest neighbour is its own kind


# -- reference statistics ----------------------------------------------------------------------------

def test_selection_is_fixed_and_within_range():
    idx, name = select(100, 10)
    assert np.array_equal(idx, select(100, 10)[0]) and name == "all-n10" and np.all(np.diff(idx) > 0)
    idx, name = select(100, 10, (50, None))
    assert idx.min() >= 50 and name == "50-100-n10"
    assert np.array_equal(select(100, None, (-10, None))[0], np.arange(90, 100))
    with pytest.raises(FaceganError, match="empty"):
        select(100, None, (60, 40))


def test_reference_statistics_are_cached(real_data, extract_calls, tmp_path):
    first = reference(real_data, "lite0", 16, device="cpu", root=tmp_path)
    again = reference(real_data, "lite0", 16, device="cpu", root=tmp_path)
    assert extract_calls == [16] and again.reused and not first.reused and again.path == first.path
    np.testing.assert_array_equal(again.features, first.features)
    np.testing.assert_array_equal(again.indices, first.indices)
    with np.load(first.path) as z:
        assert z["features"].dtype == np.float32 and z["mu"].dtype == np.float64 and z["sigma"].shape == (1280, 1280)
        assert json.loads(str(z["meta"]))["data_key"] == real_data.key
    reference(real_data, "lite0", 17, device="cpu", root=tmp_path)  # another count: another entry
    first.path.write_bytes(b"not a zip")  # a damaged entry is recomputed, not trusted
    reference(real_data, "lite0", 16, device="cpu", root=tmp_path)
    assert extract_calls == [16, 17, 16]


def test_evaluate_run_writes_results_and_reuses_the_real_side(trained, extract_calls):
    out = evaluate_run(trained, n=48, features="lite0", tsne_max=30, neighbour_count=5, device="cpu")
    assert extract_calls == [48, 48]  # real, then generated
    assert set(out["metrics"]) == {"fid", "kid", "knn", "precision_recall"}
    assert (out["n_real"], out["n_fake"], out["features"]) == (48, 48, "lite0")
    saved = json.loads(open(out["files"]["json"]).read())
    assert saved["metrics"] == out["metrics"] and saved["checkpoint"]["name"] == "last"
    eval_dir = trained / "eval"
    assert [str(p) for p in eval_dir.glob("*.json")] == [out["files"]["json"]]
    assert out["files"]["json"].startswith(str(eval_dir / "last-lite0-n48-"))

    tsne = pd.read_csv(out["files"]["tsne"])
    assert len(tsne) == 60 and set(tsne["kind"]) == {"real", "generated"}
    assert tsne.loc[tsne.kind == "real", "index"].isin(out_reference_indices(out)).all()
    assert tsne.loc[tsne.kind == "generated", "index"].between(0, 29).all()
    pairs = pd.read_csv(out["files"]["neighbours"])
    assert len(pairs) == 15 and pairs["real_index"].between(0, 63).all() and (pairs["distance"] >= 0).all()

    second = evaluate_run(trained, n=48, features="lite0", checkpoint="epoch_0001", tsne_max=0,
                          neighbour_count=0, device="cpu")
    assert extract_calls == [48, 48, 48]  # only the generated faces of the second checkpoint
    assert second["reference"]["reused"] and "tsne" not in second["files"]
    assert second["checkpoint"]["name"] == "epoch_0001"


def out_reference_indices(out):
    with np.load(out["reference"]["path"]) as z:
        return set(z["indices"].tolist())


# -- the command line --------------------------------------------------------------------------------

def test_cli_fid_json():
    r = run_cli("fid", "synthetic", "synthetic", "--features", "lite0", "--limit", "64", "--slice-a", ":32",
                "--slice-b", "32:", "--metrics", "fid,knn", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["fid"] > 0 and (out["n_a"], out["n_b"], out["features"]) == (32, 32, "lite0")
    assert 0 <= out["metrics"]["knn"]["knn_accuracy"] <= 1


def test_cli_stats_then_fid(tmp_path, capsys):
    stats = tmp_path / "synthetic.npz"
    assert main(["stats", "synthetic", "--limit", "32", "--features", "lite0", "--out", str(stats)]) == 0
    with np.load(stats) as z:
        assert z["features"].shape == (32, 1280) and z["mu"].shape == (1280,)
    capsys.readouterr()
    assert main(["fid", str(stats), "synthetic", "--limit", "32", "--features", "lite0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["fid"] < 1e-6 and out["n_a"] == out["n_b"] == 32


def test_pytorch_fid_statistics_give_fid_only(tmp_path, capsys):
    """A file holding only mu and sigma (pytorch-fid's format) is read as Inception statistics."""
    x = np.random.default_rng(0).normal(size=(8, 2048))
    np.savez(tmp_path / "pf.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False))
    stats = rf.load(tmp_path / "pf.npz", "inception")
    assert stats.features is None and stats.count is None and stats.meta["features"] == "inception"
    with pytest.raises(FaceganError, match="not lite0"):
        rf.load(tmp_path / "pf.npz", "lite0")
    assert main(["fid", str(tmp_path / "pf.npz"), str(tmp_path / "pf.npz"), "--metrics", "knn"]) == 2
    assert "mean and covariance only" in capsys.readouterr().err


def test_cli_evaluate(trained, capsys):
    assert main(["evaluate", str(trained), "--features", "lite0", "--n", "32", "--tsne", "0", "--device", "cpu",
                 "--truncation", "0.7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = json.loads(open(out["files"]["json"]).read())
    assert set(saved["metrics"]) == {"fid", "kid", "knn", "precision_recall"} and saved["n_fake"] == 32
    assert saved["truncation"] == saved["settings"]["truncation"] == 0.7


@pytest.mark.parametrize("args, says", [
    (["fid", "/no/such/folder", "synthetic", "--features", "lite0"], "does not exist"),
    (["fid", "synthetic", "synthetic", "--features", "vgg"], "features: got 'vgg'"),
    (["fid", "synthetic", "synthetic", "--metrics", "fid,bogus"], "metrics: got 'bogus'"),
    (["fid", "synthetic", "synthetic", "--slice-a", "5"], "--slice-a: got '5'"),
    (["fid", "synthetic", "synthetic", "--features", "lite0", "--limit", "8", "--slice-a", "9:"], "is empty"),
    (["fid", "BAD.npz", "synthetic"], "cannot read the statistics file"),
    (["fid", "/no/such.npz", "synthetic"], "no statistics file"),
    (["evaluate", "/no/such/run"], "no run folder or checkpoint"),
    (["evaluate", "RUN", "--checkpoint", "epoch_99", "--features", "lite0"], "no checkpoint 'epoch_0099'"),
    (["evaluate", "RUN", "--n", "1", "--features", "lite0"], "n: got 1"),
    (["evaluate", "RUN", "--truncation", "0", "--features", "lite0"], "truncation: got 0"),
    (["stats", "BAD.npz", "--out", "x.npz"], "not a statistics file"),
])
def test_bad_input_exits_2_with_one_line(args, says, trained, tmp_path, capsys):
    bad = tmp_path / "BAD.npz"
    bad.write_bytes(b"garbage")
    args = [str(bad) if a == "BAD.npz" else str(trained) if a == "RUN" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("facegan: error: ") and err.count("\n") == 1 and says in err, err
