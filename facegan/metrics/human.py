"""Real or fake? A person's verdicts as a quality measure: the two-alternative forced choice of HYPE
(Zhou et al. 2019, "HYPE: A Benchmark for Human eYe Perceptual Evaluation of Generative Models").

Each round shows one real face (from the run's own data) and one generated face side by side, in random
order; the person picks the one they think is fake. The **fooled rate** is the share of rounds where they
picked the real face, that is, took the generated one for real:

    fooled rate = k / n,   k = rounds where the pick was the real face,  n = rounds answered.

0.5 means the fakes cannot be told from real faces (a coin toss); 0 means every fake was spotted. With few
rounds the rate is uncertain, so it comes with the exact (Clopper–Pearson) 95% interval of a binomial
proportion: [B(α/2; k, n − k + 1), B(1 − α/2; k + 1, n − k)], B the beta distribution's quantile (0 when
k = 0, 1 when k = n).

Answers are appended to ``eval/human.jsonl`` of the run (or beside a generator file), one JSON line each:
``{"time", "game", "round", "real", "answer", "fooled", "real_index", "seed"}``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FaceganError
from ..training.run_dir import evaluations_dir

ROUNDS = 10
LOG_NAME = "human.jsonl"
SIDES = ("left", "right")


@dataclass
class Game:
    """One game: which real face and which side each round shows, the generated faces' seed, and the
    answers given so far (round -> side picked as fake)."""

    id: str
    seed: int                  # the generated faces are latents(rounds, ..., seed)
    real_indices: list[int]    # round i shows real face real_indices[i] of the run's data
    real_sides: list[str]      # ... on this side
    answers: dict[int, str] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return len(self.real_indices)

    @property
    def next_round(self) -> int | None:
        """The first round not answered yet; None when the game is over."""
        return next((r for r in range(self.rounds) if r not in self.answers), None)

    def spotted(self) -> int:
        """Rounds where the pick was the generated face."""
        return sum(self.answers[r] != self.real_sides[r] for r in self.answers)


def new_game(n_real: int, rounds: int = ROUNDS, seed: int | None = None) -> Game:
    """A game of ``rounds`` rounds over a data set of ``n_real`` faces: distinct real faces and sides drawn
    from ``seed`` (a fresh one when None)."""
    if n_real < rounds:
        raise FaceganError(f"a game of {rounds} rounds needs at least {rounds} real faces; the data has {n_real}")
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    return Game(id=f"{time.strftime('%Y%m%d-%H%M%S')}-{seed:08x}", seed=seed,
                real_indices=[int(i) for i in rng.choice(n_real, rounds, replace=False)],
                real_sides=[SIDES[int(b)] for b in rng.integers(0, 2, rounds)])


def log_path(run_path: str | Path) -> Path:
    return evaluations_dir(run_path) / LOG_NAME


def answer(run_path: str | Path, game: Game, round_: int, picked_as_fake: str) -> dict:
    """Record the person's pick for ``round_`` of ``game``: appended to the run's log (one line, flushed
    and synced) and kept in ``game``. A round that does not exist, was answered already, or a side that
    is neither left nor right is refused before anything is written."""
    if not isinstance(round_, int) or not 0 <= round_ < game.rounds:
        raise FaceganError(f"round: got {round_!r}; this game has rounds 0 to {game.rounds - 1}")
    if round_ in game.answers:
        raise FaceganError(f"round {round_ + 1} of this game is answered already")
    if picked_as_fake not in SIDES:
        raise FaceganError(f"answer: got {picked_as_fake!r}; allowed: 'left' or 'right'")
    real = game.real_sides[round_]
    rec = {"time": time.time(), "game": game.id, "round": round_, "real": real, "answer": picked_as_fake,
           "fooled": picked_as_fake == real, "real_index": game.real_indices[round_], "seed": game.seed}
    path = log_path(run_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise FaceganError(f"cannot record the answer in {path}: {e.strerror or e}") from None
    game.answers[round_] = picked_as_fake
    return rec


def read_log(run_path: str | Path) -> list[dict]:
    """The answers recorded for a run, oldest first; lines that do not parse (a write cut short) are
    skipped."""
    path = log_path(run_path)
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("fooled"), bool):
            out.append(rec)
    return out


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval of a proportion k / n at ``level``."""
    from scipy.stats import beta
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    a = (1.0 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def fooled_rate(records: list[dict]) -> dict | None:
    """``{'rounds', 'fooled', 'rate', 'low', 'high', 'games'}`` over the answers ``records``
    (:func:`read_log`), or None when there are none."""
    n = len(records)
    if n == 0:
        return None
    k = sum(bool(r["fooled"]) for r in records)
    low, high = binomial_interval(k, n)
    return {"rounds": n, "fooled": k, "rate": k / n, "low": low, "high": high,
            "games": len({r.get("game") for r in records})}
