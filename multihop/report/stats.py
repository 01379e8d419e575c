"""Point estimates with 95% percentile-bootstrap confidence intervals (scipy), for few cases;
intervals that resample groups of cases sharing an entity rather than cases (cases that share an
answer are not independent), and exact (Clopper-Pearson) intervals for shares."""

import math

import numpy as np
from scipy import stats

RESAMPLES = 10_000


def _clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _interval(samples, statistic, confidence, seed, vectorized=None) -> tuple[float, float]:
    """No interval from fewer than two values a sample; all-equal values collapse it to a point."""
    if any(len(sample) < 2 for sample in samples):
        return math.nan, math.nan
    interval = stats.bootstrap(
        samples,
        statistic,
        vectorized=vectorized,
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


def share(k: int, n: int, confidence=0.95) -> dict:
    """k of n as a share with its exact (Clopper-Pearson) interval; NaN for n = 0."""
    if n == 0:
        return {"k": 0, "n": 0, "share": math.nan, "low": math.nan, "high": math.nan}
    interval = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return {"k": int(k), "n": int(n), "share": k / n, "low": float(interval.low), "high": float(interval.high)}


def _members(values, groups) -> list[np.ndarray]:
    """The values of each group (NaN dropped, groups without values left out)."""
    values, groups = np.asarray(values, dtype=float), np.asarray(groups, dtype=object)
    keep = ~np.isnan(values)
    values, groups = values[keep], groups[keep]
    return [values[groups == name] for name in dict.fromkeys(groups)]


def _pooled(members, chosen, statistic):
    return statistic(np.concatenate([members[int(i)] for i in chosen]))


def clustered(values, groups, statistic=np.median, confidence=0.95, seed=0) -> dict:
    """{n, groups, value, ci_low, ci_high}: `statistic` over `values` (NaN dropped), its
    percentile-bootstrap interval drawn by resampling whole groups (scipy's bootstrap over the
    groups' indices): cases in one group move together, as they are not independent."""
    members = _members(values, groups)
    pooled = np.concatenate(members) if members else np.array([])
    value = float(statistic(pooled)) if len(pooled) else math.nan
    groups = (np.arange(len(members)),)  # resampled: the groups' indices
    low, high = _interval(groups, lambda chosen: _pooled(members, chosen, statistic), confidence, seed, False)
    return {"n": len(pooled), "groups": len(members), "value": value, "ci_low": low, "ci_high": high}


def clustered_difference(a, a_groups, b, b_groups, statistic=np.median, confidence=0.95, seed=0) -> dict:
    """statistic(a) - statistic(b) of two independent samples, each resampled by its groups; n
    and groups count both."""
    first, second = _members(a, a_groups), _members(b, b_groups)
    value = math.nan
    if first and second:
        value = float(statistic(np.concatenate(first)) - statistic(np.concatenate(second)))
    groups = (np.arange(len(first)), np.arange(len(second)))
    difference = lambda i, j: _pooled(first, i, statistic) - _pooled(second, j, statistic)  # noqa: E731
    low, high = _interval(groups, difference, confidence, seed, False)
    n = sum(map(len, first)) + sum(map(len, second))
    return {"n": n, "groups": len(first) + len(second), "value": value, "ci_low": low, "ci_high": high}
