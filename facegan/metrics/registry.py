"""Metrics by name, as stylegan2-ada's metric_main does: the CLI, the trainer and the dashboard ask for
``'fid'`` or ``'knn'`` and get the same code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import FaceganError


@dataclass(frozen=True)
class Metric:
    name: str
    title: str                      # shown to people: "Fréchet Inception Distance"
    explain: str                    # one or two plain sentences for a non-programmer
    better: str                     # 'lower', 'higher' or 'closer to 0.5'
    fn: Callable[..., dict]         # fn(real: (N, D), fake: (M, D), **options) -> {key: number}
    defaults: dict = field(default_factory=dict)


METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    METRICS[metric.name] = metric
    return metric


def compute(names: list[str], real: np.ndarray, fake: np.ndarray, **options) -> dict[str, dict]:
    """{name: result} for each metric in ``names``; ``options`` are passed to the metrics that take them."""
    load_all()
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise FaceganError(f"unknown metric {unknown[0]!r}; known: {', '.join(sorted(METRICS))}")
    out = {}
    for n in names:
        m = METRICS[n]
        kw = {**m.defaults, **{k: v for k, v in options.items() if k in m.defaults}}
        out[n] = m.fn(real, fake, **kw)
    return out


def load_all() -> None:
    """Import every metric module so each registers itself (one module per metric)."""
    from . import fid, kid, knn, precision_recall  # noqa: F401
