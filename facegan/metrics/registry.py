"""Metrics by name, as stylegan2-ada's metric_main does: one table that the command line, the trainer, the
evaluation and the dashboard all read, so a metric's name, labels, aliases and direction live in one place.

The metric modules (:mod:`.fid`, :mod:`.kid`, :mod:`.knn`, :mod:`.precision_recall`) are pure functions
of two feature matrices and know nothing of this table; this module imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import FaceganError
from .distances import DEFAULT_CHUNK
from .fid import fid, fid_from_stats
from .kid import kid
from .knn import knn
from .precision_recall import precision_recall


@dataclass(frozen=True)
class Metric:
    name: str
    title: str                      # shown to people: "Fréchet Inception Distance"
    short: str                      # a label for a button or a table: "FID"
    explain: str                    # one or two plain sentences for a non-programmer
    better: str                     # 'lower', 'higher' or 'closer to 0.5'
    fn: Callable[..., dict]         # fn(real: (N, D), fake: (M, D), **options) -> {key: number}
    defaults: dict = field(default_factory=dict)
    headlines: dict = field(default_factory=dict)  # the result's keys that sum it up -> their labels
    decimals: dict = field(default_factory=dict)   # a headline key -> decimals shown (default 3)
    aliases: tuple[str, ...] = ()   # other names a person may type ('pr')
    # The same result from each side's mean and covariance alone (cached statistics), where there is one:
    # from_stats(mu_real, sigma_real, mu_fake, sigma_fake, n_real=, n_fake=) -> {key: number}
    from_stats: Callable[..., dict] | None = None


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric(name="fid", title="Fréchet Inception Distance", short="FID",
           explain=("How far the generated faces are from the real ones, as a feature network sees them. "
                    "Lower is better; 0 means indistinguishable. Only compare values computed with the same "
                    "number of faces."),
           better="lower", fn=fid, headlines={"fid": "FID"}, decimals={"fid": 1}, from_stats=fid_from_stats),
    Metric(name="kid", title="Kernel Inception Distance", short="KID",
           explain=("Another measure of how far the generated faces are from the real ones, as a feature "
                    "network sees them, that stays fair with few faces. Lower is better; 0 (or slightly below, "
                    "by chance) means indistinguishable."),
           better="lower", fn=kid, defaults={"subsets": 100, "subset_size": 1000, "seed": 0},
           headlines={"kid": "KID"}, decimals={"kid": 4}),
    Metric(name="knn", title="1-Nearest-Neighbour Two-Sample Accuracy", short="1-NN",
           explain=("Mix the real and generated faces, then guess whether each face is real by looking at the "
                    "single most similar other face. 0.5 means the guess is a coin toss, so the generated faces "
                    "blend in; 1.0 means they are easy to tell apart; well below 0.5 can mean copies of real "
                    "faces."),
           better="closer to 0.5", fn=knn, defaults={"chunk": DEFAULT_CHUNK},
           headlines={"knn_accuracy": "1-NN accuracy"}, aliases=("1nn",)),
    Metric(name="precision_recall", title="Improved Precision and Recall", short="Precision & recall",
           explain=("Precision: the share of generated faces that look like they could be real (they fall among "
                    "real faces). Recall: the share of real faces whose kind the generator can produce (how much "
                    "of the real variety it covers). Higher is better for both; 1 is the best."),
           better="higher", fn=precision_recall, defaults={"k": 3, "chunk": DEFAULT_CHUNK},
           headlines={"precision": "precision", "recall": "recall"}, aliases=("pr", "precision-recall")),
]}

# Derived views of the table.
ALIASES = {alias: m.name for m in METRICS.values() for alias in m.aliases}
HEADLINE_LABELS = {key: label for m in METRICS.values() for key, label in m.headlines.items()}
HEADLINE_METRIC = {key: m.name for m in METRICS.values() for key in m.headlines}
HEADLINE_DECIMALS = {key: m.decimals.get(key, 3) for m in METRICS.values() for key in m.headlines}
BETTER = {m.name: m.better for m in METRICS.values()}


def shown(key: str, value: float) -> str:
    """A headline number as tables and panels show it: FID 31.2, KID 0.0213, precision 0.612."""
    if key in HEADLINE_DECIMALS:
        return f"{value:.{HEADLINE_DECIMALS[key]}f}"
    return f"{value:.4g}"


def compute(names: list[str], real: np.ndarray, fake: np.ndarray, **options) -> dict[str, dict]:
    """{name: result} for each metric in ``names``; ``options`` are passed to the metrics that take them."""
    _check_known(names)
    out = {}
    for n in names:
        m = METRICS[n]
        kw = {**m.defaults, **{k: v for k, v in options.items() if k in m.defaults}}
        out[n] = m.fn(real, fake, **kw)
    return out


def compute_sets(names: list[str], real, fake, **options) -> dict[str, dict]:
    """:func:`compute` on two feature sets that also carry their statistics (``features``, ``mu``,
    ``sigma``, ``count``, as :class:`facegan.metrics.reference.Reference` does): a metric with a path from
    the statistics takes it (FID from a cached mean and covariance, without the real features)."""
    _check_known(names)
    out = {}
    for n in names:
        m = METRICS[n]
        if m.from_stats is not None:
            out[n] = m.from_stats(real.mu, real.sigma, fake.mu, fake.sigma, n_real=real.count, n_fake=fake.count)
        else:
            out.update(compute([n], real.features, fake.features, **options))
    return out


def _check_known(names: list[str]) -> None:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise FaceganError(f"unknown metric {unknown[0]!r}; known: {', '.join(sorted(METRICS))}")
