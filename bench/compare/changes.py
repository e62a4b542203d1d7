"""Did a metric change between a baseline and the current runs? Verdicts from samples alone.

- `speed_change`: a time's ratio current / baseline with its interval and a rank test;
- `accuracy_change`: the accuracy difference current - baseline with Welch's interval.

Both answer REGRESSION, IMPROVEMENT, UNCHANGED or INCONCLUSIVE (numpy and scipy; no backend).
"""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from bench.parity.checks import ACCURACY_TOLERANCE
from bench.stats import ALPHA, INCONCLUSIVE, MIN_SPEED_EFFECT, ratio_ci

REGRESSION, IMPROVEMENT, UNCHANGED = "REGRESSION", "IMPROVEMENT", "UNCHANGED"
VERDICTS = (REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE)
MIN_RUNS = 2  # an interval needs a spread on each side


def smallest_rank_p(n_baseline: int, n_current: int) -> float:
    """The smallest two-sided p the exact Mann–Whitney test can give for these sample sizes.

    Reached when the two samples do not overlap at all: 2 / C(n1 + n2, n1).
    """
    return min(1.0, 2 / math.comb(n_baseline + n_current, n_baseline))


def runs_for_rank_test(alpha: float = ALPHA) -> int:
    """The fewest runs a side at which the rank test can reach p < `alpha` (4 at 0.05)."""
    runs = MIN_RUNS
    while smallest_rank_p(runs, runs) >= alpha:
        runs += 1
    return runs


def rank_test_p(baseline: Sequence[float], current: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value; 1.0 where it is undefined (every value tied)."""
    p = float(stats.mannwhitneyu(current, baseline, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


def speed_change(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    min_effect: float = MIN_SPEED_EFFECT,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """How many times longer the current runs take than the baseline (times, positive).

    The ratio is current / baseline of geometric means (> 1: slower), with Welch's 95% interval
    on log times. REGRESSION (IMPROVEMENT) needs all three: the interval excludes 1, the
    two-sided Mann–Whitney test gives p < `alpha`, and the ratio is at least 1 + `min_effect`
    (at most 1 / (1 + `min_effect`)). UNCHANGED: the whole interval lies within
    [1 / (1 + min_effect), 1 + min_effect]. Otherwise, or below two runs a side, INCONCLUSIVE.
    """
    n_baseline, n_current = len(baseline), len(current)
    # ratio_ci's ratio is its first argument over its second: current first, so > 1 is slower.
    found = ratio_ci(current, baseline) if n_baseline and n_current else None
    ratio = found["ratio"] if found else None
    ci = found["ci95"] if found else None
    p = rank_test_p(baseline, current) if ci else None
    bound = 1 + min_effect
    if ci is None:
        verdict = INCONCLUSIVE
    elif ci[0] > 1 and p < alpha and ratio >= bound:
        verdict = REGRESSION
    elif ci[1] < 1 and p < alpha and ratio <= 1 / bound:
        verdict = IMPROVEMENT
    elif 1 / bound <= ci[0] and ci[1] <= bound:
        verdict = UNCHANGED
    else:
        verdict = INCONCLUSIVE
    note = None
    if verdict == INCONCLUSIVE:
        if ci is None or smallest_rank_p(n_baseline, n_current) >= alpha:
            note = f"needs ≥ {runs_for_rank_test(alpha)} runs a side"
        elif (ci[0] > 1 or ci[1] < 1) and p >= alpha:
            note = f"rank test p = {p:.2f}"
        else:
            note = f"interval reaches past ±{min_effect:.0%}; more runs would narrow it"
    return {
        "ratio": ratio,
        "ci95": ci,
        "p_value": p,
        "runs": [n_baseline, n_current],
        "min_effect": min_effect,
        "verdict": verdict,
        "note": note,
    }


def welch_difference_ci(
    baseline: Sequence[float], current: Sequence[float], confidence: float = 0.95
) -> list[float]:
    """Welch's interval of mean(current) - mean(baseline); two values a side or more."""
    a, b = np.asarray(baseline, dtype=float), np.asarray(current, dtype=float)
    if a.size < MIN_RUNS or b.size < MIN_RUNS:
        raise ValueError(f"Welch's interval needs {MIN_RUNS} values a side, got {a.size}, {b.size}")
    difference = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:
        return [difference, difference]
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, dof) * se)
    return [difference - half, difference + half]


def accuracy_change(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    tolerance: float = ACCURACY_TOLERANCE,
) -> dict[str, Any]:
    """The change of mean test accuracy, current - baseline, with Welch's 95% interval.

    REGRESSION (IMPROVEMENT): the interval lies wholly below (above) 0 and the drop (gain) is
    at least `tolerance`. UNCHANGED: the interval lies within ±`tolerance`. Otherwise, or
    below two runs a side, INCONCLUSIVE.
    """
    n_baseline, n_current = len(baseline), len(current)
    difference = float(np.mean(current) - np.mean(baseline)) if n_baseline and n_current else None
    enough = n_baseline >= MIN_RUNS and n_current >= MIN_RUNS
    ci = welch_difference_ci(baseline, current) if enough else None
    if ci is None:
        verdict = INCONCLUSIVE
    elif ci[1] < 0 and difference <= -tolerance:
        verdict = REGRESSION
    elif ci[0] > 0 and difference >= tolerance:
        verdict = IMPROVEMENT
    elif -tolerance <= ci[0] and ci[1] <= tolerance:
        verdict = UNCHANGED
    else:
        verdict = INCONCLUSIVE
    note = None
    if verdict == INCONCLUSIVE:
        note = (
            f"needs ≥ {MIN_RUNS} runs a side"
            if ci is None
            else f"interval reaches past ±{tolerance * 100:.1f} pp; more runs would narrow it"
        )
    return {
        "difference": difference,
        "ci95": ci,
        "runs": [n_baseline, n_current],
        "tolerance": tolerance,
        "verdict": verdict,
        "note": note,
    }
