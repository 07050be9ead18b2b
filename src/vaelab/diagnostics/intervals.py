"""Uncertainty, the one home of it: standard errors over images, t intervals over a few replicates, and
percentile intervals of bootstrap resamples. Every interval is a 95% one."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

LEVEL = 0.95


def standard_error(values: np.ndarray | Sequence[float]) -> float:
    """sd / sqrt(n) of the finite values (the standard error of their mean); nan with fewer than two."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(finite.std(ddof=1) / math.sqrt(len(finite))) if len(finite) > 1 else math.nan


def mean_and_interval(values: Sequence[float]) -> tuple[float, list[float] | None]:
    """The mean of replicate values and its t interval [lo, hi] (Student: mean +- t_{n-1} sd / sqrt(n)); the
    interval is None from fewer than two values; nan values are left out."""
    finite = np.array([v for v in values if math.isfinite(v)], dtype=float)
    if not len(finite):
        return math.nan, None
    mean = float(finite.mean())
    if len(finite) < 2:
        return mean, None
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(finite) - 1)) * standard_error(finite)
    return mean, [mean - half, mean + half]


def percentile_interval(resampled: np.ndarray | Sequence[float]) -> list[float]:
    """The 2.5% and 97.5% percentiles of bootstrap resamples of an estimate (Efron & Tibshirani 1993, ch. 13)."""
    low, high = np.percentile(np.asarray(resampled, dtype=float), [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return [float(low), float(high)]
