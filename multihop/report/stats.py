"""Point estimates with 95% percentile-bootstrap confidence intervals (scipy), for few cases."""

import math

import numpy as np
from scipy import stats

RESAMPLES = 10_000


def _clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _interval(samples, statistic, confidence, seed) -> tuple[float, float]:
    """No interval from fewer than two values a sample; all-equal values collapse it to a point."""
    if any(len(sample) < 2 for sample in samples):
        return math.nan, math.nan
    interval = stats.bootstrap(
        samples,
        statistic,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    ).confidence_interval
    return float(interval.low), float(interval.high)


def estimate(values, statistic=np.mean, confidence=0.95, seed=0) -> dict:
    """{n, value, ci_low, ci_high} of `statistic` (mean, median, ...) over `values`, NaN dropped."""
    values = _clean(values)
    value = float(statistic(values)) if len(values) else math.nan
    low, high = _interval((values,), statistic, confidence, seed)
    return {"n": len(values), "value": value, "ci_low": low, "ci_high": high}


def _median_difference(a, b, axis=None):
    return np.median(a, axis=axis) - np.median(b, axis=axis)


def median_difference(a, b, confidence=0.95, seed=0) -> dict:
    """median(a) - median(b) of two independent samples; n counts both."""
    a, b = _clean(a), _clean(b)
    value = float(_median_difference(a, b)) if len(a) and len(b) else math.nan
    low, high = _interval((a, b), _median_difference, confidence, seed)
    return {"n": len(a) + len(b), "value": value, "ci_low": low, "ci_high": high}
