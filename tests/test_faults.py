"""Faults done for real: SIGKILLed training processes, write failures and full disks."""

import pytest

from facegan.training.run_check import check_run
from facegan.training.run_dir import RunDir

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

# Set this to the reason when a machine the tests must pass on cannot mount a tmpfs (the test of the real
# full file system then skips there, and the ENOSPC-inside-the-write tests below carry the guarantee).
CANNOT_MOUNT_BECAUSE: str | None = None


def _enospc_at(n: int, real):
    import errno
    calls = {"n": 0}

    def write(*args, **kw):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(errno.ENOSPC, "No space left on device", str(args[0]) if args else "")
        return real(*args, **kw)
    return write


def _enospc_in_fsync(n: int, pattern: str):
    """``os.fsync`` failing with ENOSPC from its n-th call on a file whose name matches ``pattern``: the
    temporary file of an atomic write then exists and holds the data, and only the write's own clean-up
    can remove it (a file system that is full reports it on write or fsync)."""
    import errno
    import fnmatch
    import os
    real = os.fsync
    calls = {"n": 0}

    def fsync(fd):
        try:
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            name = ""
        if fnmatch.fnmatch(name, pattern):
            calls["n"] += 1
            if calls["n"] >= n:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)
    return fsync


@pytest.mark.parametrize("target", ["checkpoint", "grid", "metrics"])
def test_a_full_disk_stops_the_run_with_a_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, target):
    import os

    from facegan.errors import FaceganError
    from facegan.training.checkpoint import load_checkpoint
    from facegan.training.trainer import resume_config, train

    from .test_trainer import tiny
    cfg = tiny(tmp_path, extra=["epochs=3"])  # 6 steps an epoch
    train(tiny(tmp_path, "one", extra=["epochs=1"]))  # the data cache exists: only the run's writes fail
    if target == "checkpoint":  # epoch 1's checkpoint is written (once: epoch_0001.pt links to it), epoch 2's fails
        monkeypatch.setattr(os, "fsync", _enospc_in_fsync(2, ".last.pt.*.tmp"))
    elif target == "grid":      # epoch 2's grid
        monkeypatch.setattr(os, "fsync", _enospc_in_fsync(2, ".epoch_*.png.*.tmp"))
    else:                       # the 10th record (start, 6 steps, epoch, checkpoint): a step of epoch 2
        monkeypatch.setattr(RunDir, "log", _enospc_at(10, RunDir.log))
    with pytest.raises(FaceganError, match=r"could not write to the run folder \(No space left on device"):
        train(cfg)
    run = RunDir(cfg.run.run_dir)
    before = load_checkpoint(run.checkpoint_path("last"))
    assert before["epoch"] == 1 and before["step"] == 6  # the previous checkpoint, whole
    check = check_run(run.path)  # a temporary file left behind is one of its problems
    assert check.ok and check.temporaries == [], check.problems
    monkeypatch.undo()  # space freed: resume finishes the run
    result = train(resume_config(run), resume=run.path)
    assert (result.epochs_done, result.step) == (3, 18)
    assert check_run(run.path, epochs=3).ok


def test_a_disk_that_fills_while_a_checkpoint_streams_in_raises_the_oserror_and_keeps_the_old_file(
        tmp_path, monkeypatch):
    """torch.save writes the checkpoint into the temporary file as it serialises; a write that fails half way
    (here the 2nd MB) is reported as the OSError it is, not as the zip writer's RuntimeError, and leaves the
    previous checkpoint whole and no temporary file."""
    import errno
    import io

    import torch

    from facegan import io as fio
    from facegan.training.checkpoint import load_checkpoint, save_checkpoint
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1, "w": torch.zeros(10)})
    real_fdopen = fio.os.fdopen

    class Filling(io.RawIOBase):
        def __init__(self, f):
            self.f, self.n = f, 0

        def writable(self):
            return True

        def write(self, b):
            self.n += len(b)
            if self.n > 1 << 20:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(b)

        def fileno(self):
            return self.f.fileno()

        def close(self):
            self.f.close()
            super().close()

    monkeypatch.setattr(fio.os, "fdopen", lambda fd, mode: Filling(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(1 << 20)})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_a_full_disk_through_the_command_line_is_one_line_exit_2(tmp_path):
    """A real tiny file system when this user may mount one (root in CI containers); skipped otherwise, but
    not under CI unless CANNOT_MOUNT_BECAUSE says why."""
    import os
    import shutil
    import subprocess
    import sys

    from .helpers import ROOT
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = shutil.which("mount") and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs",
                                                        str(mnt)], capture_output=True).returncode == 0
    if not mounted:
        if os.environ.get("CI") == "true" and not CANNOT_MOUNT_BECAUSE:
            pytest.fail("CI could not mount a tmpfs for the real full-disk test; if this machine never can, set "
                        "CANNOT_MOUNT_BECAUSE in tests/test_faults.py to say why")
        pytest.skip(f"cannot mount a tmpfs here{f' ({CANNOT_MOUNT_BECAUSE})' if CANNOT_MOUNT_BECAUSE else ''}")
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


def test_a_kill_after_a_checkpoint_on_an_epochs_last_step_logs_that_epochs_end_once(tmp_path):
    """Found by the soak: last.pt taken on an epoch's last step, then the epoch's grid and record written,
    then a SIGKILL as the epoch-end checkpoint begins. The resume starts at that last step, so it must
    trim the epoch record it is about to write again."""
    result = kill_and_resume(tmp_path / "run", kills=1, modes=("epoch-end",), seed=3)
    assert [k.mode for k in result.kills] == ["epoch-end"]
    records = RunDir(tmp_path / "run").read_metrics()
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == list(range(1, result.epochs + 1))
    assert check_run(tmp_path / "run", epochs=result.epochs).ok


def test_a_resume_after_sigkill_trains_exactly_what_an_unbroken_run_does(tmp_path):
    """Killed inside a checkpoint write, resumed from the checkpoint before: every step's losses and the
    final generator equal those of the same run never interrupted, bit for bit (CPU)."""
    import subprocess
    import sys

    import torch

    from facegan.training.checkpoint import load_checkpoint

    from .helpers import ROOT
    from .killing import train_args
    result = kill_and_resume(tmp_path / "killed", kills=1, modes=("checkpoint",), seed=1)
    assert [k.mode for k in result.kills] == ["checkpoint"]
    res = subprocess.run([sys.executable, "-m", "facegan", *train_args(tmp_path / "whole", result.epochs,
                                                                      resume=False)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    killed, whole = RunDir(tmp_path / "killed"), RunDir(tmp_path / "whole")
    keys = ("step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g")
    a = [tuple(r[k] for k in keys) for r in whole.read_metrics() if r["kind"] == "step"]
    b = [tuple(r[k] for k in keys) for r in killed.read_metrics() if r["kind"] == "step"]
    assert len(a) == 4 * result.epochs and a == b
    ga = load_checkpoint(whole.checkpoint_path("last"))["G"]
    gb = load_checkpoint(killed.checkpoint_path("last"))["G"]
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
