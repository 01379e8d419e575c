"""Estimates with 95% intervals that respect how cases cluster, and the paired test of back-patching
against its nulls.

Cases are not independent: cases that share a bridge entity (e2) or an answer (e3) move together
(a patch that emits "United States" fixes every case whose answer it is). `connected_groups` joins
them: two cases are in one group when they share e2 or e3, directly or through other cases (the
connected components of that graph, over the studied cases of both splits, since the splits share
answers). An entity joins cases only in one role: e2 = X in one case and e3 = X in another do not
join them (a design choice: a bridge and an answer are different roles of a name); a missing value
(None, NaN) joins nothing. Every interval and test here treats a group as the unit:

- a share (k of n cases): the exact Clopper-Pearson interval at the effective sample size
  n / design effect (Kish; the design effect from the between-group variance of the share, at
  least 1), times Korn and Graubard's (1998) degrees-of-freedom correction (t_{n-1} / t_{G-1})^2
  for G groups ("clustered exact");
- a mean, a median or a difference between two splits: the percentile bootstrap that resamples
  whole groups (RESAMPLES draws, seeded; "clustered bootstrap"); for a difference, within strata
  of the groups that hold cases of one split, of the other, or of both, so every resample holds
  cases of both splits;
- a paired difference (back-patching minus a null, per case): its case-weighted mean with the
  clustered bootstrap, and the sign-flip (randomization) test over the groups' summed differences,
  which tests that same case-weighted mean and is valid at any number of groups (`sign_flip`).

Each result carries `variance` (the clustered variance of the estimate) and `naive_variance` (as
if the cases were independent): their ratio is the design effect that `multihop.report.verdicts`
uses for the cases a study would need.
"""

import math

import numpy as np
import pandas as pd
from scipy import stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

RESAMPLES = 10_000
CONFIDENCE = 0.95
SIGN_FLIPS = 100_000  # random sign flips beyond EXACT_GROUPS groups that differ
EXACT_GROUPS = 16  # up to this many, every sign flip is enumerated


def connected_groups(studied: dict[str, pd.DataFrame], keys=("e2", "e3")) -> dict[str, dict]:
    """split -> {case id: its group}: the connected components of the graph that joins two cases
    of any split when they share the value of a column in `keys` (e2, e3), each in its own role.
    A missing value joins nothing. A group is named by its first case id in sorted order, the same
    name in every split."""
    tables = [table.assign(_split=split) for split, table in studied.items() if len(table)]
    if not tables:
        return {split: {} for split in studied}
    cases = pd.concat(tables, ignore_index=True)
    nodes = {}  # (key, value) -> node number after the cases
    rows, columns = [], []
    for key in keys:
        for case, value in enumerate(cases[key]):
            if pd.isna(value):  # a missing entity is no shared entity
                continue
            rows.append(case)
            columns.append(len(cases) + nodes.setdefault((key, value), len(nodes)))
    size = len(cases) + len(nodes)
    graph = coo_matrix((np.ones(len(rows)), (rows, columns)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    ids = cases["id"].astype(str).to_numpy()
    component = labels[: len(cases)]
    first = pd.Series(ids).groupby(component).min()  # each component's name: its first case id
    names = first.reindex(component).to_numpy()
    return {
        split: dict(zip(cases.loc[cases["_split"] == split, "id"], names[cases["_split"] == split], strict=True))
        for split in studied
    }


def group_of(groups: dict, cases) -> list:
    """The group of each case: its entry in `groups` where known, else the case alone."""
    return [groups.get(case, case) for case in cases]


def _codes(groups) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(list(groups), dtype=object))
    return codes, len(uniques)


def _draws(codes: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    """RESAMPLES x cases: how often each case is drawn when whole groups are resampled."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_groups, np.full(n_groups, 1 / n_groups), size=RESAMPLES)
    return counts[:, codes]


def _stratified_draws(codes: np.ndarray, strata: np.ndarray, seed: int) -> np.ndarray:
    """RESAMPLES x cases, as `_draws`, but each stratum's groups (`strata`: per group, its
    stratum) resampled among themselves, as many as it has."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((RESAMPLES, len(strata)), dtype=np.int64)
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        counts[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=RESAMPLES)
    return counts[:, codes]


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean of `values` under each row of `weights` (NaN where a row weighs nothing)."""
    total = weights.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (weights * values).sum(axis=-1) / np.where(total > 0, total, 1), np.nan)


def weighted_median(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of the multiset that repeats each value as often as each row of `counts` says
    (np.median's: the mean of the two middle values of an even count; NaN for an empty row)."""
    order = np.argsort(values, kind="stable")
    values, counts = values[order], np.atleast_2d(counts)[:, order]
    cumulative = np.cumsum(counts, axis=-1)
    total = cumulative[:, -1] if values.size else np.zeros(len(counts))
    if not values.size:
        return np.full(len(counts), np.nan)
    lower = values[np.argmax(cumulative > ((total - 1) // 2)[:, None], axis=-1)]
    upper = values[np.argmax(cumulative > (total // 2)[:, None], axis=-1)]
    return np.where(total > 0, (lower + upper) / 2, np.nan)


STATISTICS = {"mean": weighted_mean, "median": weighted_median}


def _percentile(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _clean(values, groups, weights=None):
    values = np.asarray(values, dtype=float)
    groups = np.asarray(list(groups), dtype=object)
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    keep = ~np.isnan(values)
    return values[keep], groups[keep], weights[keep]


def _naive_mean_variance(values: np.ndarray, weights: np.ndarray) -> float:
    """The variance of a weighted mean as if the cases were independent."""
    if len(values) < 2:
        return math.nan
    mean = np.sum(weights * values) / np.sum(weights)
    n = len(values)
    return float(n / (n - 1) * np.sum(weights**2 * (values - mean) ** 2) / np.sum(weights) ** 2)


def _empty(n=0, groups=0) -> dict:
    nan = math.nan
    return {"n": n, "groups": groups, "value": nan, "ci_low": nan, "ci_high": nan, "variance": nan,
            "naive_variance": nan}  # fmt: skip


def clustered(values, groups, statistic="median", *, weights=None, seed=0, confidence=CONFIDENCE) -> dict:
    """{n, groups, value, ci_low, ci_high, variance, naive_variance}: `statistic` ("mean", "median")
    of `values` (NaN dropped; a mean weighted by `weights` where given), its percentile interval
    from resampling whole groups, and the variance of those resamples; naive_variance as if every
    case were its own group (analytic for a mean, a case bootstrap for a median). No interval from
    fewer than two groups."""
    values, groups, weights = _clean(values, groups, weights)
    codes, n_groups = _codes(groups)
    if not len(values):
        return _empty()
    if statistic == "median" and not np.all(weights == 1):
        raise ValueError("a weighted median is not supported")
    function = STATISTICS[statistic]
    value = float(function(values, weights[None, :])[0])
    out = {**_empty(len(values), n_groups), "value": value}
    if n_groups < 2:
        return out
    draws = function(values, _draws(codes, n_groups, seed) * weights)
    out["ci_low"], out["ci_high"] = _percentile(draws, confidence)
    out["variance"] = float(np.nanvar(draws, ddof=1))
    if statistic == "mean":
        out["naive_variance"] = _naive_mean_variance(values, weights)
    else:
        alone = function(values, _draws(np.arange(len(values)), len(values), seed))
        out["naive_variance"] = float(np.nanvar(alone, ddof=1))
    return out


def clustered_difference(a, a_groups, b, b_groups, *, statistic="median", seed=0, confidence=CONFIDENCE) -> dict:
    """statistic(a) - statistic(b) of two splits whose cases may share groups (the splits share
    answers): each resample draws whole groups with their cases of both splits, within three
    strata (groups with cases of a only, of b only, of both), so that no resample lacks a split
    (one would have no statistic). n and groups count both; naive_variance is the sum of the two
    splits' own (as if every case were alone)."""
    a, a_groups, _ = _clean(a, a_groups)
    b, b_groups, _ = _clean(b, b_groups)
    if not len(a) or not len(b):
        return _empty(len(a) + len(b))
    function = STATISTICS[statistic]
    codes, n_groups = _codes([*a_groups, *b_groups])
    value = float(function(a, np.ones((1, len(a))))[0] - function(b, np.ones((1, len(b))))[0])
    out = {**_empty(len(a) + len(b), n_groups), "value": value}
    if n_groups < 2:
        return out
    in_a = np.bincount(codes[: len(a)], minlength=n_groups) > 0
    in_b = np.bincount(codes[len(a) :], minlength=n_groups) > 0
    drawn = _stratified_draws(codes, in_a + 2 * in_b, seed)
    draws = function(a, drawn[:, : len(a)]) - function(b, drawn[:, len(a) :])
    if np.isnan(draws).any():  # the strata rule it out; a dropped resample would narrow the interval
        raise AssertionError("a resample without a case of one split")
    out["ci_low"], out["ci_high"] = _percentile(draws, confidence)
    out["variance"] = float(np.nanvar(draws, ddof=1))
    alone = [clustered(x, range(len(x)), statistic, seed=seed)["naive_variance"] for x in (a, b)]
    out["naive_variance"] = float(sum(alone))
    return out


def clustered_share(flags, groups, confidence=CONFIDENCE) -> dict:
    """k of n flags as a share, {n, groups, k, value, ci_low, ci_high, variance, naive_variance}:
    the exact (Clopper-Pearson) interval at the effective sample size n / d times
    (t_{n-1} / t_{G-1})^2 (Korn and Graubard 1998: their degrees-of-freedom correction, t the
    two-sided quantile at `confidence`, G groups), where the design effect d (at least 1) is the
    share's between-group variance (the ratio estimator's, with G / (G - 1)) over the same with
    every case its own group, p(1 - p) / (n - 1). With a share of 0 or 1, d = 1; with one group
    (no degrees of freedom) the exact interval over the cases. Cases alone (G = n) give the exact
    interval."""
    flags, groups, _ = _clean(np.asarray(flags, dtype=float), groups)
    codes, n_groups = _codes(groups)
    n = len(flags)
    if not n:
        return {**_empty(), "k": 0}
    k = float(flags.sum())
    p = k / n
    naive = p * (1 - p) / (n - 1) if n > 1 else math.nan  # as the cases alone would give it: a design effect of 1
    variance = math.nan
    if n_groups > 1:
        totals, sizes = np.bincount(codes, flags), np.bincount(codes)
        variance = float(n_groups / (n_groups - 1) * np.sum((totals - p * sizes) ** 2) / n**2)
    effect = max(1.0, variance / naive) if naive > 0 and math.isfinite(variance) else 1.0
    size = n / effect * df_factor(n, n_groups, confidence)
    hits = p * size
    tail = (1 - confidence) / 2
    low = float(stats.beta.ppf(tail, hits, size - hits + 1)) if hits > 0 else 0.0
    high = float(stats.beta.ppf(1 - tail, hits + 1, size - hits)) if hits < size else 1.0
    return {"n": n, "groups": n_groups, "k": int(k), "value": p, "ci_low": low, "ci_high": high,
            "variance": variance, "naive_variance": naive}  # fmt: skip


def df_factor(n: int, n_groups: int, confidence: float = CONFIDENCE) -> float:
    """Korn and Graubard's (1998) degrees-of-freedom correction of an effective sample size,
    (t_{n-1} / t_{G-1})^2 with t the two-sided `confidence` quantile: 1 for cases alone (G = n),
    below 1 for fewer groups; 1 where either has no degrees of freedom."""
    if n_groups < 2 or n < 2:
        return 1.0
    quantile = 1 - (1 - confidence) / 2
    return float((stats.t.ppf(quantile, n - 1) / stats.t.ppf(quantile, n_groups - 1)) ** 2)


def sign_flip(differences, groups, *, weights=None, seed=0) -> dict:
    """The cluster-level randomization test of a paired difference: under no difference each
    group's summed (weighted) difference is as likely negative as positive, so its sign is
    flipped (scipy's permutation test: every flip up to EXACT_GROUPS groups that differ, else
    SIGN_FLIPS random ones). The statistic, the sum over groups, is the case-weighted mean
    difference times the total weight: the quantity the clustered interval is drawn for.
    {p_greater, p_less: one-sided p-values, differing: groups whose sum is not 0, test: how}."""
    values, groups, weights = _clean(differences, groups, weights)
    sums = pd.Series(values * weights).groupby(pd.Series(groups, dtype=object).to_numpy()).sum().to_numpy()
    differing = sums[~np.isclose(sums, 0, atol=1e-12)]
    described = f"sign-flip test over {len(sums)} groups' summed differences ({len(differing)} not 0)"
    if not len(differing):
        return {"p_greater": 1.0, "p_less": 1.0, "differing": 0, "test": described}
    if len(differing) == 1:  # (scipy needs two) its two flips: as large half the time, or always
        positive = differing[0] > 0
        return {"p_greater": 0.5 if positive else 1.0, "p_less": 1.0 if positive else 0.5, "differing": 1,
                "test": f"{described}, exact"}  # fmt: skip
    p = {}
    for side in ("greater", "less"):
        p[side] = stats.permutation_test(
            (differing,),
            lambda x, axis=-1: np.sum(x, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=SIGN_FLIPS,
            alternative=side,
            rng=np.random.default_rng(seed),
        ).pvalue
    how = "exact" if len(differing) <= EXACT_GROUPS else f"{SIGN_FLIPS:,} random flips"
    return {"p_greater": float(p["greater"]), "p_less": float(p["less"]), "differing": len(differing),
            "test": f"{described}, one-sided, {how}"}  # fmt: skip


def estimate(values, statistic=np.mean, confidence=CONFIDENCE, seed=0) -> dict:
    """{n, value, ci_low, ci_high} of `statistic` over `values` (NaN dropped), cases as
    independent (scipy's percentile bootstrap): the model comparison's descriptive depths."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    value = float(statistic(values)) if len(values) else math.nan
    low = high = math.nan
    if len(values) >= 2:
        interval = stats.bootstrap(
            (values,),
            statistic,
            confidence_level=confidence,
            n_resamples=RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
        low, high = float(interval.low), float(interval.high)
    return {"n": len(values), "value": value, "ci_low": low, "ci_high": high}
