import torch

from facegan.training.health import COLLAPSE_AFTER_STEPS, D_WINNING_LOGS, G_EXPLODING_LOGS, Health, all_finite


def rec(loss_d=0.7, loss_g=2.0):
    return {"loss_d": loss_d, "loss_g": loss_g}


def test_d_winning_needs_a_streak_and_is_said_once():
    h = Health("bce", real_std=0.5)
    for _ in range(D_WINNING_LOGS - 1):
        assert h.check_step(rec(loss_d=0.001)) == []
    assert h.check_step(rec(loss_d=0.5)) == []  # the streak is broken
    said = [w for _ in range(D_WINNING_LOGS * 2) for w in h.check_step(rec(loss_d=0.001))]
    assert len(said) == 1 and "D is winning" in said[0]


def test_a_single_g_spike_is_not_an_explosion_but_a_streak_is():
    h = Health("bce", real_std=0.5)
    assert h.check_step(rec(loss_g=30.0)) == []
    assert h.check_step(rec(loss_g=3.0)) == []
    said = [w for _ in range(G_EXPLODING_LOGS) for w in h.check_step(rec(loss_g=30.0))]
    assert len(said) == 1 and "exploding" in said[0]


def test_label_free_losses_get_no_bce_warnings():
    h = Health("wgan", real_std=0.5)
    assert [w for _ in range(50) for w in h.check_step(rec(loss_d=-50.0, loss_g=100.0))] == []


def test_collapse_is_flagged_for_identical_samples_after_warm_up_only():
    h = Health("bce", real_std=0.5)
    same = torch.zeros(16, 3, 8, 8).uniform_(-1, 1)[:1].repeat(16, 1, 1, 1)
    varied = torch.zeros(16, 3, 8, 8).uniform_(-1, 1)
    assert h.check_samples(same, step=COLLAPSE_AFTER_STEPS - 1) == []
    assert "mode collapse" in h.check_samples(same, step=COLLAPSE_AFTER_STEPS)[0]
    assert h.check_samples(varied, step=COLLAPSE_AFTER_STEPS) == []


def test_all_finite():
    assert all_finite({"a": 1.0, "b": torch.tensor(2.0)})
    assert not all_finite({"a": float("nan")})
    assert not all_finite({"b": torch.tensor(float("inf"))})
