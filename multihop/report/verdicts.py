"""From an interval or a test to a verdict, and to the cases a verdict would take where there is none.

Two kinds of rows (docs/statistics.md):

- an interval row: a statement predicts that a quantity lies in a region (a share above 0.5, a
  depth below 0.5, ...). It holds ("yes") when the whole 95% interval lies inside the region,
  fails ("no") when the whole interval lies outside, and is inconclusive otherwise. No verdict
  from fewer than MIN_GROUPS independent groups ("too few groups": a percentile bootstrap, or a
  design effect, estimated from fewer groups understates the uncertainty), nor from a bootstrap
  interval of zero width (every resample agreeing bounds nothing).
- a paired row (back-patching minus a null, per case): the cluster-level sign-flip test decides,
  valid at any number of groups: "yes" where p < ALPHA that back-patching is above the null,
  "no" where p < ALPHA that it is below; where there are MIN_GROUPS groups, the clustered interval
  of the same case-weighted mean must agree (lie on that side of 0).

`cases_needed`, one definition for every undecided row: the cases at which a fresh study of the
same quantity, in new groups with the measured design effect, would decide with POWER at the
observed effect. Never a number the row's own n already reaches: where the groups a verdict needs
bind, or the power figure is at most n + 1 (the interval's shape, not its size, blocks a verdict),
or a bootstrap interval has zero width (no spread to size a study by), it is blank and `why` says
which.
"""

import math

from scipy.stats import norm

from multihop.report.stats import clustered, sign_flip

ALPHA = 0.05  # the tests' level, one-sided; the intervals are 95%, two-sided
POWER = 0.80
# a percentile bootstrap over fewer groups than this is too narrow (resampling a handful of
# clusters understates their spread; cluster-robust inference is known to need some 20-50 groups)
MIN_GROUPS = 20
# the fewest groups that differ at which a sign-flip test can reach p < ALPHA: 2 ** -5 = 0.031
FLIP_GROUPS = math.ceil(math.log2(1 / ALPHA))
Z = norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER)  # 1.96 + 0.84: a 95% interval clear of the bound, 80% of the time
ON_THE_BOUND = "cannot decide at this estimate (it sits on the bound)"
BLANK = "no cases_needed"  # how `why` begins where cases_needed is left blank, and why
ZERO_WIDTH = f"{BLANK}: a zero-width interval measures no spread to size a study by"
SHAPE = (
    BLANK + ": at this estimate and variance {needed} cases would decide, about as many as the {n} here: "
    "the interval's shape (skewed, or wider than 1.96 standard errors), not its size, blocks a verdict"
)


def _has_interval(result: dict) -> bool:
    return not (math.isnan(result["ci_low"]) or math.isnan(result["ci_high"]))


def verdict(result: dict, region: tuple[float, float], *, bootstrap: bool = True) -> tuple[str, str]:
    """(holds, why) of an interval row: 'yes' when [ci_low, ci_high] lies inside the open region,
    'no' when wholly outside, else 'inconclusive'; no verdict from fewer than MIN_GROUPS groups,
    nor (`bootstrap`) from an interval of zero width."""
    groups, low, high = result["groups"], result["ci_low"], result["ci_high"]
    if not result["n"]:
        return "too few groups", "no case to judge"
    if groups < MIN_GROUPS:
        return "too few groups", f"{groups} independent groups; a verdict from an interval needs {MIN_GROUPS}"
    if not _has_interval(result):
        return "too few groups", "no interval"
    if bootstrap and math.isclose(low, high, abs_tol=1e-12):
        return "inconclusive", f"every resample gives {low:.2f}: an interval of zero width rules nothing out"
    start, end = region
    if start < low and high < end:
        return "yes", ""
    if high <= start or low >= end:
        return "no", ""
    return "inconclusive", "the interval reaches both sides of the claim's bound"


def cases_needed(result: dict, region, *, fewest_groups: int = MIN_GROUPS) -> tuple[float, str]:
    """(cases, why): the cases at which a fresh study would decide with POWER, where the estimate
    stays where it is, d from the region's nearest bound:

        n = DE * (z_0.975 + z_0.80)^2 * sigma^2 / d^2,

    sigma^2 / n the estimate's variance as if its cases were independent (`naive_variance`), DE
    the measured design effect (its clustered `variance` over that, at least 1). In the unit of
    the row's n. NaN, and why, where the estimate sits on the bound or nothing is known; where the
    row has fewer than `fewest_groups` groups (the groups a verdict needs at all) and that n is no
    more than those groups at the present mean size, or than the row's n + 1 ("needs ≥20
    groups"); and where that n is at most the row's n + 1 with the groups there (the interval's
    shape, not its size, blocks the verdict). Never the row's n or n + 1."""
    n, groups, value = result["n"], result["groups"], result["value"]
    bounds = [bound for bound in region if math.isfinite(bound)]
    if not bounds or not n or not groups or math.isnan(value):
        return math.nan, ""
    bound = min(bounds, key=lambda bound: abs(value - bound))
    distance = abs(value - bound)
    if math.isclose(distance, 0, abs_tol=1e-12):
        return math.nan, ON_THE_BOUND
    variances = [v for v in (result.get("variance"), result.get("naive_variance")) if v is not None]
    variances = [v for v in variances if math.isfinite(v)]
    variance = max(variances) if variances else 0.0  # DE * sigma^2 / n, the design effect at least 1
    needed = math.ceil(Z**2 * n * variance / distance**2)
    if groups < fewest_groups and needed <= max(fewest_groups * n / groups, n + 1):
        return math.nan, f"{BLANK}: needs ≥{fewest_groups} groups (has {groups}); power alone asks fewer cases"
    if needed <= n + 1:
        return math.nan, SHAPE.format(needed=needed, n=n)
    return float(needed), ""


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _with(why: str, more: str) -> str:
    return "; ".join(part for part in (why, more) if part)


def judge(result: dict, region, *, bootstrap: bool = True) -> tuple[str, str, float]:
    """(verdict, why, cases needed where it is undecided) of an interval row (a
    `multihop.report.stats` result) against the region its statement predicts."""
    holds, why = verdict(result, region, bootstrap=bootstrap)
    needed = math.nan
    if holds in ("inconclusive", "too few groups"):
        zero_width = bootstrap and _has_interval(result) and math.isclose(*_interval(result), abs_tol=1e-12)
        needed, more = (math.nan, ZERO_WIDTH) if zero_width else cases_needed(result, region)
        why = _with(why, more)
    return holds, why, needed


def _interval(result: dict) -> tuple[float, float]:
    return result["ci_low"], result["ci_high"]


def paired_verdict(result: dict, test: dict) -> tuple[str, str, float, float]:
    """(verdict, why, cases needed where undecided, p) of a paired difference: `result` its
    clustered mean (multihop.report.stats.clustered), `test` its sign-flip test
    (multihop.report.stats.sign_flip). p is the one-sided p-value that decided, its side named
    in why: above 0 for "yes", below for "no"; for an undecided row the smaller of the two."""
    interval = result["groups"] >= MIN_GROUPS and _has_interval(result)
    note = "" if interval else f"the interval over {result['groups']} groups is not judged (fewer than {MIN_GROUPS})"
    sides = (("yes", test["p_greater"], "above"), ("no", test["p_less"], "below"))
    for holds, p, side in sides:
        if p < ALPHA:
            agrees = result["ci_low"] > 0 if side == "above" else result["ci_high"] < 0
            if not interval or agrees:
                return holds, _with(f"one-sided {_p(p)} ({side} 0)", note), math.nan, p
            why = f"the test says {side} 0 ({_p(p)}) but the interval reaches 0"
            break
    else:
        why = f"one-sided {_p(test['p_greater'])} (above 0), {_p(test['p_less'])} (below)"
        if test["differing"] < FLIP_GROUPS:
            why += f"; {test['differing']} groups differ: a sign-flip test needs {FLIP_GROUPS} to reach p < {ALPHA}"
    needed, more = cases_needed(result, (0.0, math.inf), fewest_groups=FLIP_GROUPS)
    if test["differing"] < FLIP_GROUPS and more.startswith(BLANK):  # what blocks it: too few groups that differ
        more = f"{BLANK}: needs ≥{FLIP_GROUPS} groups that differ (has {test['differing']})"
    return "inconclusive", _with(why, more), needed, min(test["p_greater"], test["p_less"])


RESULT = ("n", "groups", "value", "ci_low", "ci_high")


def paired(differences, groups: list, *, weights=None) -> dict:
    """A paired difference's columns (per case, back-patching minus a null; `weights` per case
    where the cases do not weigh alike): its clustered case-weighted mean and interval, the
    sign-flip test of the same mean, the one-sided p-value that decided (its side in why), the
    verdict (`beats`), why, and the cases needed where it is undecided."""
    result = clustered(differences, groups, "mean", weights=weights)
    test = sign_flip(differences, groups, weights=weights)
    beats, why, needed, p = paired_verdict(result, test)
    return {key: result[key] for key in RESULT} | {
        "test": test["test"], "p_value": p, "beats": beats, "why": why, "cases_needed": needed,
    }  # fmt: skip
