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
