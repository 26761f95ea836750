"""Quality metrics: one pure metric per module, one registry table by name, feature networks that run offline.

Every metric compares two feature matrices, real and generated (float arrays shaped (N, D), from
:mod:`facegan.metrics.features`), and returns a flat dict of numbers; nothing here trains or samples.
"""

from .registry import METRICS, Metric, compute

__all__ = ["METRICS", "Metric", "compute"]
