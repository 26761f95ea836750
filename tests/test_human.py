"""Real or fake: games drawn fairly, answers appended to the run's log and counted, the exact binomial
interval (checked against its definition and scipy's own binomtest), and bad answers refused unwritten."""

import json

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from facegan.errors import FaceganError
from facegan.metrics import human


def test_a_game_draws_distinct_real_faces_and_both_sides():
    g = human.new_game(500, seed=7)
    assert g.rounds == 10 and len(set(g.real_indices)) == 10 and max(g.real_indices) < 500
    assert set(g.real_sides) <= {"left", "right"}
    assert human.new_game(500, seed=7).real_indices == g.real_indices
    sides = [s for seed in range(200) for s in human.new_game(50, seed=seed).real_sides]
    assert 0.45 < sides.count("left") / len(sides) < 0.55
    with pytest.raises(FaceganError, match="at least 10 real faces"):
        human.new_game(9)


def test_answers_are_appended_counted_and_bad_ones_refused_unwritten(tmp_path):
    run = tmp_path / "G.safetensors"  # a generator file: the log goes to eval/ beside it
    g = human.new_game(100, seed=1)
    for r in range(4):
        fooled = r % 2 == 0
        real = g.real_sides[r]
        human.answer(run, g, r, real if fooled else ("left" if real == "right" else "right"))
    lines = (tmp_path / "eval" / "human.jsonl").read_text().splitlines()
    assert [json.loads(line)["fooled"] for line in lines] == [True, False, True, False]
    assert g.next_round == 4 and g.spotted() == 2
    for bad_round, side, says in ((10, "left", "rounds 0 to 9"), (-1, "left", "rounds 0 to 9"),
                                  (2, "left", "answered already"), (5, "up", "'left' or 'right'")):
        with pytest.raises(FaceganError, match=says):
            human.answer(run, g, bad_round, side)
    assert len((tmp_path / "eval" / "human.jsonl").read_text().splitlines()) == 4
    # A line cut short by a crash is skipped; the rest still count.
    with open(tmp_path / "eval" / "human.jsonl", "a") as f:
        f.write('{"time": 1, "game": "x", "rou')
    rate = human.fooled_rate(human.read_log(run))
    assert (rate["rounds"], rate["fooled"], rate["rate"], rate["games"]) == (4, 2, 0.5, 1)
    assert human.fooled_rate([]) is None


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (47, 100), (1, 3)])
def test_the_interval_is_clopper_pearsons(k, n):
    low, high = human.binomial_interval(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert low == pytest.approx(ci.low, abs=1e-9) and high == pytest.approx(ci.high, abs=1e-9)
    # By definition: at the low end, k or more successes have probability 2.5%; at the high end, k or fewer.
    if k > 0:
        assert binom.sf(k - 1, n, low) == pytest.approx(0.025, abs=1e-6)
    if k < n:
        assert binom.cdf(k, n, high) == pytest.approx(0.025, abs=1e-6)
    assert 0 <= low <= k / n <= high <= 1


def test_the_interval_covers_the_true_rate_as_often_as_it_says():
    rng = np.random.default_rng(0)
    p, n = 0.3, 40
    hits = sum(lo <= p <= hi for lo, hi in (human.binomial_interval(int(k), n) for k in rng.binomial(n, p, 2000)))
    assert hits / 2000 >= 0.95  # exact intervals are conservative: at least the stated coverage
