"""The torchrun launcher (facegan.launcher) with 2 gloo CPU processes: finish, stop, failure."""

import pytest

from facegan import launcher
from facegan.presets import from_preset

TINY = ["resolution=32", "batch_size=16", "device=cpu", "synthetic_count=64", "g_width=8", "d_width=8",
        "sample_count=4", "log_every=1"]


def tiny(*more):
    return from_preset("dcgan-paper", [*TINY, *more])


@pytest.mark.slow
def test_a_launched_run_finishes_and_its_progress_is_read_from_the_run_folder(tmp_path):
    proc = launcher.launch(tiny("epochs=1"), tmp_path / "run", 2, tmp_path / "staging")
    assert proc.wait(240) == 0
    progress = launcher.read_progress(tmp_path / "run")
    assert (progress["step"], progress["epoch"]) == (4, 1)
    assert set(progress["losses"]) >= {"loss_d", "loss_g"}
    assert progress["latest_grid"].endswith("samples/epoch_0001.png")
    assert "finished at epoch 1, step 4" in launcher.log_tail(tmp_path / "staging" / launcher.LOG_NAME)


@pytest.mark.slow
def test_stop_ends_a_launched_run_with_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = launcher.launch(tiny("epochs=200"), run, 2, tmp_path / "staging")
    assert launcher.wait_until(lambda: launcher.read_progress(run)["step"] > 0, 240)
    launcher.stop(proc, timeout=60)
    assert (run / "checkpoints" / "last.pt").is_file()
    assert "stopped at epoch" in launcher.log_tail(tmp_path / "staging" / launcher.LOG_NAME, 200)


@pytest.mark.slow
def test_a_failing_launch_gives_the_error_line_from_the_log(tmp_path):
    proc = launcher.launch(tiny("epochs=1", "data.source=/nonexistent/x"), tmp_path / "run", 2, tmp_path / "s")
    assert proc.wait(240) != 0
    line = launcher.error_line(launcher.log_tail(tmp_path / "s" / launcher.LOG_NAME, 200))
    assert line and "/nonexistent/x" in line
