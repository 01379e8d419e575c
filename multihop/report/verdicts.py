"""From an interval to a verdict, and to the cases a verdict would take where there is none.

A statement predicts that a quantity lies in a region (below 0.5, above 0, ...). It holds ("yes")
when the whole 95% interval lies inside the region, fails ("no") when the whole interval lies
outside, and is inconclusive otherwise. There is no verdict from fewer than MIN_GROUPS
independent groups of cases, nor from an interval of zero width (every resample agreeing bounds
nothing).
"""

import math

MIN_GROUPS = 6
ALPHA = 0.05  # the tests' level (one-sided)


def verdict(groups: int, low: float, high: float, region: tuple[float, float]) -> tuple[str, str]:
    """(holds, why): 'yes' when [low, high] lies inside the open region, 'no' when wholly
    outside, else 'inconclusive'; no verdict from too few groups or a zero-width interval."""
    if groups < MIN_GROUPS:
        return "too few cases", f"{groups} independent groups; a verdict needs {MIN_GROUPS}"
    if math.isnan(low) or math.isnan(high):
        return "too few cases", "no interval"
    if math.isclose(low, high, abs_tol=1e-12):
        return "inconclusive", f"every resample gives {low:.2f}: an interval of zero width rules nothing out"
    start, end = region
    if start < low and high < end:
        return "yes", ""
    if high <= start or low >= end:
        return "no", ""
    return "inconclusive", "the interval reaches both sides of the claim's bound"


def cases_needed(result: dict, region) -> float:
    """About how many cases an inconclusive interval would need to exclude the region's nearest
    bound, if the estimate, the spread between groups and the cases per group stayed as they are
    (an interval's reach from its estimate shrinks as one over the square root of the groups);
    NaN where that cannot be said (no groups or interval, zero width, an estimate on the bound)."""
    n, groups, value, low, high = (result[key] for key in ("n", "groups", "value", "ci_low", "ci_high"))
    bounds = [bound for bound in region if math.isfinite(bound)]
    values = (value, low, high)
    if not bounds or not groups or any(math.isnan(v) for v in values) or math.isclose(low, high, abs_tol=1e-12):
        return math.nan
    bound = min(bounds, key=lambda bound: abs(value - bound))
    distance = abs(value - bound)
    if distance == 0:
        return math.nan
    # the interval's reach toward the bound, on that side of the estimate
    reach = value - low if bound < value else high - value
    needed = math.ceil(n * (reach / distance) ** 2)
    return float(max(needed, n + 1))  # undecided at n cases: more than n


def judge(result: dict, region) -> tuple[str, str, float]:
    """(verdict, why, cases needed where it is inconclusive) of a `multihop.report.stats` result
    ({n, groups, value, ci_low, ci_high}) against the region a statement predicts."""
    holds, why = verdict(result["groups"], result["ci_low"], result["ci_high"], region)
    needed = math.nan
    if holds == "inconclusive":
        needed = cases_needed(result, region)
    return holds, why, needed


def paired_verdict(result: dict, p: float) -> tuple[str, str, float]:
    """Whether a paired difference (a `multihop.report.stats.clustered` result) shows the first
    method above the second: its interval above 0 and its test's p-value below ALPHA. Returns
    (verdict, why, about how many cases would decide where it is inconclusive)."""
    beats, why, needed = judge(result, (0.0, math.inf))
    if beats == "yes" and p >= ALPHA:
        beats, why = "inconclusive", f"the interval lies above 0 but the test's p = {p:.3f}"
        needed = cases_needed(result, (0.0, math.inf))
    return beats, why, needed
