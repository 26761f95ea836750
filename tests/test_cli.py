import json
import time

import numpy as np
import pytest
from PIL import Image

from .helpers import run_cli


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_prepare_json_then_reuse(tmp_path):
    args = ["prepare", "--data", "synthetic", "--resolution", "32", "--limit", "48", "--json"]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    out = _last_json(first.stdout)
    assert out["kept"] == 48 and out["skipped"] == {} and out["reused"] is False
    second = _last_json(run_cli(*args).stdout)
    assert second["reused"] is True and second["cache"] == out["cache"]


def test_prepare_human_output_names_skip_reasons(tmp_path):
    (tmp_path / "ok.png").write_bytes(b"")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "good.png")
    res = run_cli("prepare", "--data", str(tmp_path), "--resolution", "32")
    assert res.returncode == 0, res.stderr
    assert "kept 1 images" in res.stdout and "empty" in res.stdout and "ok.png" in res.stdout


@pytest.mark.parametrize("args, fragment", [
    (["prepare", "--data", "/no/such/place"], "does not exist"),
    (["prepare", "--data", "synthetic", "--resolution", "48"], "data.resolution: got 48"),
    (["prepare", "--data", "synthetic", "--set", "ema_decay=2"], "model.ema_decay: got 2.0"),
    (["prepare", "--data", "synthetic", "--set", "bogus"], "key=value"),
    (["config", "--preset", "nope"], "preset: got 'nope'"),
    (["config", "--config", "/no/such.json"], "cannot read config file"),
])
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, fragment):
    res = run_cli(*args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr


def test_argparse_errors_also_exit_2():
    res = run_cli("prepare")
    assert res.returncode == 2 and "--data" in res.stderr and "Traceback" not in res.stderr


def test_control_characters_typed_into_a_command_are_escaped_in_its_one_error_line():
    # \x1e and \n both split a line for str.splitlines(); a terminal would show a broken message
    for junk in ("\x1e0", "a\nb", "\x1b[2J"):
        res = run_cli("presets", junk)
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert lines[-1].startswith("python -m facegan: error: unrecognized arguments:"), res.stderr
        assert repr(junk)[1:-1] in lines[-1]
    res = run_cli("prepare", "--data", "/no/\x1b[31mred")  # facegan's own message quotes the path
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "\x1b" not in res.stderr


def test_a_folder_with_a_plain_configuration_is_not_a_run_to_resume(tmp_path):
    (tmp_path / "config.json").write_text(run_cli("config").stdout)
    res = run_cli("train", "--resume", "--run-dir", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "not a facegan run folder" in res.stderr and "--config" in res.stderr


def test_a_retyped_command_resumes_and_a_changed_setting_is_refused_by_name(tmp_path):
    """Up arrow, add --resume: the same options are the run's own and are accepted; an option that would
    change the run is one line naming the field, the run's value and the given one."""
    command = ["train", "--data", "synthetic", "--resolution", "32", "--epochs", "1", "--run-dir", str(tmp_path / "r"),
               "--set", "synthetic_count=64", "--set", "g_width=8", "--set", "d_width=8", "--batch-size", "16"]
    first = run_cli(*command)
    assert first.returncode == 0, first.stderr
    again = run_cli(*command, "--resume", "--epochs", "2")
    assert again.returncode == 0 and "finished at epoch 2" in again.stdout, again.stderr
    changed = run_cli(*command, "--resume", "--epochs", "3", "--batch-size", "32", "--preset", "dcgan-paper")
    assert changed.returncode == 2 and len(changed.stderr.strip().splitlines()) == 1, changed.stderr
    assert "optim.batch_size to 32 (the run has 16)" in changed.stderr and "Traceback" not in changed.stderr
    other = run_cli(*command, "--resume", "--preset", "stable-64")
    assert other.returncode == 2 and "model.d_norm to 'spectral' (the run has 'batch')" in other.stderr


def test_all_bad_source_exit_2(tmp_path):
    (tmp_path / "a.jpg").write_text("not a jpeg")
    res = run_cli("prepare", "--data", str(tmp_path))
    assert res.returncode == 2 and "no usable image" in res.stderr and "Traceback" not in res.stderr


def test_data_preview_writes_a_grid(tmp_path):
    out = tmp_path / "grid.png"
    res = run_cli("data-preview", "--data", "synthetic", "--resolution", "32", "--limit", "64",
                  "--n", "16", "--out", str(out), "--scale", "2")
    assert res.returncode == 0, res.stderr
    img = Image.open(out)
    assert img.size == (2 * (4 * 34 + 2), 2 * (4 * 34 + 2))


def test_config_prints_a_loadable_config_and_fields(tmp_path):
    res = run_cli("config", "--preset", "stable-64", "--set", "latent_dim=64")
    cfg = json.loads(res.stdout)
    assert cfg["preset"] == "stable-64" and cfg["model"]["latent_dim"] == 64
    path = tmp_path / "c.json"
    path.write_text(res.stdout)
    again = json.loads(run_cli("config", "--config", str(path), "--resolution", "32").stdout)
    assert again["model"]["latent_dim"] == 64 and again["data"]["resolution"] == 32
    assert "model.latent_dim" in run_cli("config", "--fields").stdout
    assert "stable-64" in run_cli("presets").stdout


@pytest.mark.slow
def test_prepare_celeba_keeps_10000_and_reuses_fast(celeba_zip):
    args = ["prepare", "--data", str(celeba_zip), "--resolution", "64", "--json"]
    t0 = time.perf_counter()
    first = run_cli(*args)
    t_first = time.perf_counter() - t0
    assert first.returncode == 0, first.stderr
    out = _last_json(first.stdout)
    assert out["kept"] == 10000 and out["skipped_total"] == 0 and out["crop"] == "face"
    second = _last_json(run_cli(*args).stdout)
    assert second["reused"] and second["kept"] == 10000
    # Wall-clock ratios are the benchmarks' business; this only checks the reuse skipped the decoding.
    assert second["seconds"] < out["seconds"]
    print(f"celeba prepare: built in {out['seconds']} s ({t_first:.1f} s with start-up), "
          f"reused in {second['seconds']} s")
