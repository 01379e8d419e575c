"""Point estimates with 95% percentile-bootstrap confidence intervals (scipy), for few cases;
intervals that resample groups of cases sharing an entity rather than cases (cases that share an
answer are not independent), exact (Clopper-Pearson) intervals for shares, and the paired tests
of back-patching against its nulls (signed-rank over groups, exact McNemar, with its power)."""

import math

import numpy as np
import pandas as pd
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


def group_of(groups: dict, cases) -> list:
    """The group of each case: its entry in `groups` (its e3) where known, else the case alone."""
    return [groups.get(case, case) for case in cases]


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


def clustered_difference(a, a_groups, b, b_groups, *, statistic=np.median, confidence=0.95, seed=0) -> dict:
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


EXACT_GROUPS = 16  # up to this many groups, the signed-rank test enumerates every sign flip
SIGN_FLIPS = 100_000


def signed_rank(differences, groups, seed=0) -> tuple[float, str]:
    """One-sided Wilcoxon signed-rank p-value (greater than 0) of the groups' mean differences,
    zeros dropped, and how it was computed: scipy's permutation test over the signs (every sign
    flip up to EXACT_GROUPS groups, else SIGN_FLIPS random ones), which handles tied ranks."""
    means = pd.Series(np.asarray(differences, dtype=float)).groupby(np.asarray(groups, dtype=object)).mean()
    nonzero = means[means != 0].to_numpy()
    described = f"Wilcoxon signed-rank on {len(means)} groups' means, one-sided"
    if not len(nonzero):
        return 1.0, f"{described} (all zero)"
    if len(nonzero) == 1:  # (scipy needs two) its two sign flips: as large half the time, or always
        return (0.5 if nonzero[0] > 0 else 1.0), f"{described} (exact)"
    ranks = stats.rankdata(np.abs(nonzero))  # a sign flip leaves every |difference|, so every rank, in place

    def positive_ranks(x, axis=-1):
        return np.sum(np.where(x > 0, ranks, 0.0), axis=axis)

    result = stats.permutation_test(
        (nonzero,),
        positive_ranks,
        permutation_type="samples",
        vectorized=True,
        n_resamples=SIGN_FLIPS,
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    how = "exact" if len(nonzero) <= EXACT_GROUPS else f"{SIGN_FLIPS:,} random sign flips"
    return float(result.pvalue), f"{described} ({how})"


def mcnemar(only_first: int, only_second: int) -> float:
    """Exact one-sided McNemar p-value: of the discordant cases, as many or more for the first."""
    discordant = only_first + only_second
    if not discordant:
        return 1.0
    return float(stats.binomtest(only_first, discordant, 0.5, alternative="greater").pvalue)


def mcnemar_power(cases: int, discordant_rate: float, first_share: float, alpha=0.05) -> float:
    """Power of the exact one-sided McNemar test at `alpha` over `cases` cases, when a case is
    discordant with probability `discordant_rate` and a discordant case favours the first with
    probability `first_share` (scipy's binomial distributions, summed over the discordant count)."""
    counts = np.arange(cases + 1)
    weight = stats.binom.pmf(counts, cases, discordant_rate)
    # the smallest count favouring the first that the test rejects on, per discordant count
    critical = stats.binom.isf(alpha, counts, 0.5) + 1
    rejects = stats.binom.sf(critical - 1, counts, first_share)
    return float(np.sum(weight * np.where(counts > 0, rejects, 0.0)))


def mcnemar_cases_needed(
    cases: int, only_first: int, only_second: int, *, power=0.8, alpha=0.05, most=100_000
) -> float:
    """The fewest cases at which the exact McNemar test has `power`, at the observed rates; NaN
    where more cases would not favour the first, inf beyond `most`."""
    discordant = only_first + only_second
    if not discordant or only_first <= only_second:
        return math.nan
    rate, favour = discordant / cases, only_first / discordant
    low, high = cases, cases
    while mcnemar_power(high, rate, favour, alpha) < power:
        if high >= most:
            return math.inf
        low, high = high, min(2 * high, most)
    while low < high:  # the power is about monotone in the cases: bisect
        middle = (low + high) // 2
        if mcnemar_power(middle, rate, favour, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return float(high)
