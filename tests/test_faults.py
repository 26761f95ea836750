"""Faults done for real: SIGKILLed training processes, write failures and full disks."""

import pytest

from facegan.training.run_check import check_run

from .killing import MODES, kill_and_resume


@pytest.mark.slow
def test_sigkill_at_random_instants_then_resume(tmp_path):
    """One kill of each kind (a random instant, inside a checkpoint write, at an epoch end's grid, in a
    metrics append); after each the folder is consistent, and the last resume finishes the run."""
    result = kill_and_resume(tmp_path / "run", kills=len(MODES), seed=8)
    assert [k.mode for k in result.kills] == list(MODES)
    assert sum(k.resumed for k in result.kills) >= 1  # a resume was killed too
    final = check_run(tmp_path / "run", epochs=result.epochs)
    assert final.ok and final.temporaries == []  # resumes removed the half-written files
    assert final.last_epoch == result.epochs and final.logged_steps == final.last_step == 4 * result.epochs


def test_the_check_finds_damage(tmp_path):
    """check_run is what the kill tests trust: it must see a duplicated step, a torn checkpoint and a
    missing epoch."""
    from facegan.training.run_dir import RunDir
    from facegan.training.trainer import train

    from .test_trainer import tiny
    run = RunDir(train(tiny(tmp_path, extra=["epochs=2"])).run_dir)
    assert check_run(run.path, epochs=2).ok
    lines = run.metrics_path.read_text().splitlines(keepends=True)
    run.metrics_path.write_text("".join(lines[:3] + lines[2:]))
    assert any("logged twice" in p for p in check_run(run.path).problems)
    run.metrics_path.write_text("".join(lines))
    ckpt = run.checkpoint_path(2).read_bytes()
    run.checkpoint_path(2).write_bytes(ckpt[: len(ckpt) // 3])
    assert any("epoch_0002.pt does not load" in p for p in check_run(run.path).problems)
    assert any("expected 3" in p for p in check_run(run.path, epochs=3).problems)


# -- write failures: a full disk at the N-th write ----------------------------------------------------

def _enospc_at(n: int, real):
    import errno
    calls = {"n": 0}

    def write(*args, **kw):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]) if args else "")
        return real(*args, **kw)
    return write


@pytest.mark.parametrize("target", ["checkpoint", "grid", "metrics"])
def test_a_full_disk_stops_the_run_with_a_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, target):
    from facegan.errors import FaceganError
    from facegan.training import checkpoint as ck
    from facegan.training import trainer as tr
    from facegan.training.checkpoint import load_checkpoint
    from facegan.training.run_dir import RunDir
    from facegan.training.trainer import resume_config, train

    from .test_trainer import tiny
    cfg = tiny(tmp_path, extra=["epochs=3"])  # 6 steps an epoch
    train(tiny(tmp_path, "one", extra=["epochs=1"]))  # the data cache exists: only the run's writes fail
    if target == "checkpoint":  # the epoch-1 checkpoint is written (once: epoch_0001.pt links to it), epoch 2's fails
        monkeypatch.setattr(ck, "atomic_write_bytes", _enospc_at(2, ck.atomic_write_bytes))
    elif target == "grid":      # epoch 2's grid
        monkeypatch.setattr(tr, "save_png", _enospc_at(2, tr.save_png))
    else:                       # the 10th record (start, 6 steps, epoch, checkpoint): a step of epoch 2
        monkeypatch.setattr(RunDir, "log", _enospc_at(10, RunDir.log))
    with pytest.raises(FaceganError, match=r"could not write to the run folder \(No space left on device"):
        train(cfg)
    run = RunDir(cfg.run.run_dir)
    before = load_checkpoint(run.checkpoint_path("last"))
    assert before["epoch"] == 1 and before["step"] == 6  # the previous checkpoint, whole
    assert check_run(run.path).ok
    assert not list(run.checkpoints_dir.glob(".*.tmp"))  # the failed write left nothing half-written
    monkeypatch.undo()  # space freed: resume finishes the run
    result = train(resume_config(run), resume=run.path)
    assert (result.epochs_done, result.step) == (3, 18)
    assert check_run(run.path, epochs=3).ok


def test_a_full_disk_through_the_command_line_is_one_line_exit_2(tmp_path):
    """A real tiny file system when this user may mount one (root in CI containers); skipped otherwise."""
    import shutil
    import subprocess
    import sys

    from .helpers import ROOT
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not shutil.which("mount") or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(mnt)],
                                                   capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        # one checkpoint of this run is ~950 KB: the second cannot be written beside the first
        res = subprocess.run([sys.executable, "-m", "facegan", "train", "--data", "synthetic", "--resolution", "32",
                              "--epochs", "3", "--batch-size", "16", "--run-dir", str(mnt / "run"), "--set",
                              "synthetic_count=64", "--set", "g_width=8", "--set", "d_width=8",
                              "--set", "keep_checkpoints=2"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert lines[-1].startswith("facegan: error: could not write to the run folder (No space left")
        assert "Traceback" not in res.stderr
        from facegan.training.checkpoint import load_checkpoint
        assert load_checkpoint(mnt / "run" / "checkpoints" / "last.pt")["epoch"] == 1
        assert check_run(mnt / "run").ok
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_checkpoint_on_an_epochs_last_step_does_not_log_its_end_twice(tmp_path):
    """Found by the soak: last.pt saved at an epoch's last step, before the epoch's end, shares its step
    with the epoch record; the resume redoes the epoch end, so the trim must drop that record."""
    from facegan.training.run_dir import RunDir
    run = RunDir(tmp_path)
    for r in [{"kind": "step", "epoch": 3, "step": 12}, {"kind": "epoch", "epoch": 3, "step": 12},
              {"kind": "metrics", "epoch": 3, "step": 12}, {"kind": "step", "epoch": 4, "step": 13}]:
        run.log(r)
    assert run.trim_metrics(12, epochs_done=2) == 3
    assert run.read_metrics() == [{"kind": "step", "epoch": 3, "step": 12}]
