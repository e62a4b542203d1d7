"""Every interval and test a verdict or the report uses (numpy and scipy; no backend).

- `describe`: median, spread and a noisy flag of timing samples.
- `mean_ci`: a mean with its Student-t interval.
- `paired_tost`: equivalence of two backends' accuracies on paired seeds, two one-sided tests.
- `tost_power`, `seeds_for_power`: how often TOST passes, and how many seeds it needs.
- `ratio_ci`, `compare_speed`: a speed ratio with its interval, and FASTER / SLOWER / SAME /
  INCONCLUSIVE from significance plus a minimum effect; `faster_power`: how often it finds a
  true speed-up.
- `sequential_confidence`, `rounds_to_decide`: the interval level that keeps a verdict looked
  at after every round honest, and how many rounds would likely decide a paired margin.
"""

import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import integrate, stats

ALPHA = 0.05  # each one-sided test; TOST therefore reads a 90% interval
MIN_SEEDS = 3  # fewer seeds leave the paired sd too uncertain for any verdict
DECIDING_POWER = 0.80  # "would likely decide it": the seeds at which a decision has this chance
MIN_SPEED_EFFECT = 0.05  # a speed ratio within 5% of 1 is never called faster or slower
MAX_SEEDS_SUGGESTED = 1000
MAX_ROUNDS_SUGGESTED = 100
CONFIDENCE = 0.95  # every speed interval, per verdict (per look, spread over the looks)

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
FASTER, SLOWER, SAME = "FASTER", "SLOWER", "SAME"
MISSED = "MISSED"  # a time-to-target margin the miss rule decides (bench.analysis.decision)


def _finite_samples(samples: Sequence[float], name: str = "samples") -> np.ndarray:
    values = np.asarray(samples, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} must be finite numbers, got {values.tolist()}")
    return values


def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def log_mean_half_width(values: np.ndarray, confidence: float = 0.95) -> float | None:
    """Half-width of the Student-t interval of the mean of log(values); None below 2 values."""
    if values.size < 2 or (values <= 0).any():
        return None
    logs = np.log(values)
    t = stats.t.ppf(0.5 + confidence / 2, values.size - 1)
    return float(t * logs.std(ddof=1) / math.sqrt(values.size))


def describe(samples: Sequence[float]) -> dict[str, Any]:
    """Median, IQR, min, max, mean, sample standard deviation, CV, count and a noisy flag.

    `noisy`: the 95% interval of the samples' typical value (geometric mean, a t-interval on
    log times) is wider than ±MIN_SPEED_EFFECT, so these samples alone cannot resolve the
    smallest difference the report calls a speed-up. `resolution` is that half-width as a
    factor (0.03 = ±3%). With fewer than two samples the spread is unknown: None.
    """
    values = _finite_samples(samples)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    mean = float(values.mean())
    stdev = float(values.std(ddof=1)) if values.size > 1 else None
    cv = stdev / mean if stdev is not None and mean > 0 else None
    half = log_mean_half_width(values)
    resolution = None if half is None else math.expm1(half)
    return {
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": mean,
        "stdev": stdev,
        "cv": cv,
        "count": int(values.size),
        "resolution": resolution,
        "noisy": None if resolution is None else bool(resolution > MIN_SPEED_EFFECT),
    }


def geometric_mean(samples: Sequence[float]) -> float:
    """exp of the mean log of positive `samples`: the typical value of times or rates."""
    values = _finite_samples(samples)
    if (values <= 0).any():
        raise ValueError(f"a geometric mean needs positive samples, got {values.tolist()}")
    return float(math.exp(np.log(values).mean()))


def latency_percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of per-call latencies, in milliseconds."""
    values = np.asarray(seconds, dtype=float) * 1000
    if values.size == 0:
        raise ValueError("no latencies to summarise")
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "calls": int(values.size),
    }


def mean_ci(samples: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """n, mean, sample sd and the Student-t interval of the mean (None below two samples)."""
    values = _finite_samples(samples)
    n, mean = int(values.size), float(values.mean())
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci95": None}
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))
    return {"n": n, "mean": mean, "sd": sd, "ci95": [mean - half, mean + half]}


# --- Equivalence of accuracies: paired two one-sided tests ---------------------------------


def paired_tost(
    differences: Sequence[float], margin: float, alpha: float = ALPHA
) -> dict[str, Any]:
    """Two one-sided tests that the mean of paired `differences` lies within ±`margin`.

    PASS when the (1 - 2·alpha) interval of the mean difference lies inside (-margin, +margin)
    (both one-sided tests reject at `alpha`); FAIL when it lies entirely outside, beyond one
    side (the difference is significantly larger than the margin); INCONCLUSIVE otherwise,
    with `seeds_to_decide`: how many paired seeds would give a decision an 80% chance if the
    observed mean and sd are the truth. Refuses fewer than MIN_SEEDS differences.
    """
    values = _finite_samples(differences, "differences")
    margin = _positive(margin, "margin")
    n = int(values.size)
    if n < MIN_SEEDS:
        raise ValueError(
            f"an equivalence verdict needs at least {MIN_SEEDS} paired seeds, got {n}; "
            f"run {MIN_SEEDS} or more seeds (e.g. nox -s parity -- --seeds {MIN_SEEDS})"
        )
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    se = sd / math.sqrt(n)
    t = float(stats.t.ppf(1 - alpha, n - 1))
    low, high = mean - t * se, mean + t * se
    if se == 0:
        p_lower = p_upper = 0.0 if abs(mean) < margin else 1.0
    else:
        p_lower = float(stats.t.sf((mean + margin) / se, n - 1))  # H0: mean <= -margin
        p_upper = float(stats.t.cdf((mean - margin) / se, n - 1))  # H0: mean >= +margin
    if -margin < low and high < margin:
        outcome = PASS
    elif low > margin or high < -margin:
        outcome = FAIL
    else:
        outcome = INCONCLUSIVE
    return {
        "n": n,
        "mean_difference": mean,
        "sd": sd,
        "margin": margin,
        "alpha": alpha,
        "ci": [low, high],
        "ci_level": 1 - 2 * alpha,
        "p_value": max(p_lower, p_upper),
        "outcome": outcome,
        "seeds_to_decide": None if outcome != INCONCLUSIVE else seeds_to_decide(mean, sd, margin),
    }


@functools.lru_cache(maxsize=4096)  # a numerical integral, asked again for every report table
def tost_power(
    n: int, sd: float, margin: float, true_difference: float = 0.0, alpha: float = ALPHA
) -> float:
    """Probability that paired TOST with `n` seeds passes when the truth is `true_difference`.

    Exact for normal differences: the mean is N(true, sd²/n) and, independently,
    (n-1)·s²/sd² is chi-square with n-1 degrees of freedom; integrated over s.
    """
    if n < 2:
        return 0.0
    sd, margin = _positive(sd, "sd"), _positive(margin, "margin")
    t = stats.t.ppf(1 - alpha, n - 1)
    root_n = math.sqrt(n)
    se = sd / root_n
    # PASS needs t·s/√n < margin: s below s_max, i.e. the chi-square below u_max.
    u_max = (n - 1) * (margin * root_n / (t * sd)) ** 2

    def pass_given_chi2(u: float) -> float:
        half = t * sd * math.sqrt(u / (n - 1)) / root_n
        upper = stats.norm.cdf((margin - half - true_difference) / se)
        lower = stats.norm.cdf((-margin + half - true_difference) / se)
        return max(0.0, upper - lower) * stats.chi2.pdf(u, n - 1)

    # The chi-square density has its mass near n-1; give quad that point so it never misses it.
    points = [min(n - 1, u_max / 2)]
    power, _ = integrate.quad(pass_given_chi2, 0, u_max, points=points, limit=200)
    return float(min(1.0, max(0.0, power)))


def sd_upper_bound(sd: float, n: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a standard deviation estimated from `n` samples."""
    if n < 2:
        raise ValueError(f"a standard deviation needs at least 2 samples, got {n}")
    return float(sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - confidence, n - 1)))


def seeds_for_power(
    sd: float,
    margin: float,
    power: float,
    true_difference: float = 0.0,
    alpha: float = ALPHA,
    max_seeds: int = MAX_SEEDS_SUGGESTED,
) -> int | None:
    """The fewest seeds (at least MIN_SEEDS) with `tost_power` ≥ `power`; None above max."""
    for n in range(MIN_SEEDS, max_seeds + 1):
        if tost_power(n, sd, margin, true_difference, alpha) >= power:
            return n
    return None


def _fail_power(n: int, sd: float, margin: float, difference: float, alpha: float) -> float:
    """Chance that the (1 - 2·alpha) interval lies wholly beyond the margin, on the true side."""
    if n < 2:
        return 0.0
    shift = (abs(difference) - margin) * math.sqrt(n) / sd  # noncentrality
    return float(stats.nct.sf(stats.t.ppf(1 - alpha, n - 1), n - 1, shift))


def seeds_to_decide(
    mean: float, sd: float, margin: float, alpha: float = ALPHA, power: float = DECIDING_POWER
) -> int | None:
    """Seeds that would give PASS (inside the margin) or FAIL (beyond it) an 80% chance.

    Takes the observed mean and sd as the truth. None when no count up to the cap does it
    (a true difference at the margin itself can never be decided).
    """
    if sd == 0:
        return MIN_SEEDS
    if abs(mean) < margin:
        return seeds_for_power(sd, margin, power, mean, alpha)
    for n in range(MIN_SEEDS, MAX_SEEDS_SUGGESTED + 1):
        if _fail_power(n, sd, margin, mean, alpha) >= power:
            return n
    return None


# --- Speed: ratios with intervals ----------------------------------------------------------


def ratio_ci(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    paired: bool = False,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """How many times faster `candidate` is than `baseline` (times in seconds), with an interval.

    The ratio is baseline / candidate of geometric means (> 1: candidate faster). Its interval
    is a Student-t interval on log times: of the per-pair log ratios when `paired` (runs
    interleaved in time, so drift cancels), else Welch's on the two groups. Intervals need two
    samples a side; with fewer the interval is None.
    """
    a = _finite_samples(baseline, "baseline")
    b = _finite_samples(candidate, "candidate")
    if (a <= 0).any() or (b <= 0).any():
        raise ValueError("times must be positive")
    la, lb = np.log(a), np.log(b)
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired samples need equal counts, got {a.size} and {b.size}")
        d = la - lb
        estimate = float(d.mean())
        if d.size < 2:
            return {"ratio": math.exp(estimate), "ci95": None, "paired": True, "n": int(d.size)}
        dof = d.size - 1
        se = float(d.std(ddof=1) / math.sqrt(d.size))
    else:
        estimate = float(la.mean() - lb.mean())
        if a.size < 2 or b.size < 2:
            return {"ratio": math.exp(estimate), "ci95": None, "paired": False, "n": None}
        va, vb = la.var(ddof=1) / a.size, lb.var(ddof=1) / b.size
        se = math.sqrt(va + vb)
        dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se else 1
    half = float(stats.t.ppf(0.5 + confidence / 2, dof) * se)
    return {
        "ratio": math.exp(estimate),
        "ci95": [math.exp(estimate - half), math.exp(estimate + half)],
        "paired": paired,
        "n": int(a.size) if paired else None,
    }


def faster_power(
    n: int, sd: float, true_ratio: float, min_effect: float = MIN_SPEED_EFFECT
) -> float:
    """Chance that `compare_speed` on `n` interleaved pairs calls a true `true_ratio` FASTER.

    `sd` is the standard deviation of one pair's log ratio, taken as normal. FASTER needs the
    mean log ratio above both the interval's half-width t·s/√n (significance) and
    log(1 + min_effect) (the minimum effect); exact, integrated over the chi-square law of s
    as in `tost_power`.
    """
    if n < 2:
        return 0.0
    sd, true_ratio = _positive(sd, "sd"), _positive(true_ratio, "true_ratio")
    t = stats.t.ppf(0.975, n - 1)
    root_n = math.sqrt(n)
    se, truth, effect = sd / root_n, math.log(true_ratio), math.log1p(min_effect)

    def faster_given_chi2(u: float) -> float:
        threshold = max(t * sd * math.sqrt(u / (n - 1)) / root_n, effect)
        return stats.norm.sf((threshold - truth) / se) * stats.chi2.pdf(u, n - 1)

    power, _ = integrate.quad(faster_given_chi2, 0, math.inf, limit=200)
    return float(min(1.0, max(0.0, power)))


def compare_speed(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    paired: bool = False,
    min_effect: float = MIN_SPEED_EFFECT,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """FASTER, SLOWER, SAME or INCONCLUSIVE for `candidate` against `baseline` (times).

    FASTER (SLOWER) needs significance and a minimum effect: the interval of the ratio (95%,
    or `confidence` where a sequential design spreads 5% over several looks) excludes 1 and
    the ratio is at least 1 + `min_effect` (at most 1 / (1 + `min_effect`)). SAME: the whole
    interval lies within [1 / (1 + min_effect), 1 + min_effect]. Otherwise, or without an
    interval, INCONCLUSIVE.
    """
    found = ratio_ci(baseline, candidate, paired=paired, confidence=confidence)
    ratio, ci = found["ratio"], found["ci95"]
    bound = 1 + min_effect
    if ci is None:
        outcome = INCONCLUSIVE
    elif ci[0] > 1 and ratio >= bound:
        outcome = FASTER
    elif ci[1] < 1 and ratio <= 1 / bound:
        outcome = SLOWER
    elif 1 / bound <= ci[0] and ci[1] <= bound:
        outcome = SAME
    else:
        outcome = INCONCLUSIVE
    return {**found, "min_effect": min_effect, "confidence": confidence, "outcome": outcome}


# --- Looking after every round: a sequential design ----------------------------------------


def sequential_confidence(
    min_rounds: int, max_rounds: int, confidence: float = CONFIDENCE
) -> float:
    """The interval level of each look when a verdict is looked at after every round.

    The suite looks after round `min_rounds`, and after every round up to `max_rounds`; a look
    that decides stops it. Testing each look at 95% would call a true tie FASTER or SLOWER
    more often than 5% of the time, so the 5% is spread over the looks the cap allows
    (Bonferroni): each look reads a 1 - 0.05 / looks interval. One look is the plain 95%.
    """
    if not 1 <= min_rounds <= max_rounds:
        raise ValueError(
            f"rounds must satisfy 1 <= min_rounds <= max_rounds, got {min_rounds} and {max_rounds}"
        )
    looks = max_rounds - min_rounds + 1
    return 1 - (1 - confidence) / looks


def rounds_to_decide(
    log_ratios: Sequence[float],
    min_rounds: int,
    *,
    min_effect: float = MIN_SPEED_EFFECT,
    power: float = DECIDING_POWER,
    max_rounds: int = MAX_ROUNDS_SUGGESTED,
    at_least: int = 2,
) -> int | None:
    """Rounds that would likely (80%) decide a paired margin with the cap set to that number.

    Takes the observed mean and sd of the per-round log ratios as the truth, and the level
    `sequential_confidence(min_rounds, n)` for the interval's half-width h. FASTER / SLOWER
    needs the mean beyond both h and the minimum effect; SAME needs the mean plus h inside
    the minimum effect; the chance of either is taken as normal. The count is at least
    `at_least` (the rounds already run, plus one, for "how many more"). None when no count up
    to `max_rounds` does it (a true ratio at the 5% boundary itself never decides).
    """
    d = _finite_samples(log_ratios, "log_ratios")
    if d.size < 2:
        return None
    mean, sd = abs(float(d.mean())), float(d.std(ddof=1))
    effect = math.log1p(min_effect)
    if sd == 0:
        return max(min_rounds, at_least, int(d.size)) if mean != effect else None
    for n in range(max(min_rounds, at_least, 2), max_rounds + 1):
        level = sequential_confidence(min_rounds, n)
        se = sd / math.sqrt(n)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * se
        margin = mean - max(half, effect) if mean >= effect else effect - mean - half
        if stats.norm.cdf(margin / se) >= power:
            return n
    return None


def sequential_power(
    true_ratio: float,
    sd: float,
    min_rounds: int,
    max_rounds: int,
    *,
    sims: int = 40_000,
    seed: int = 0,
    min_effect: float = MIN_SPEED_EFFECT,
) -> dict[str, float]:
    """How often the rounds end in each call when a margin is looked at after every round.

    Simulated: per-round log ratios normal around log(`true_ratio`) with `sd`; looks after
    rounds `min_rounds`..`max_rounds` at `sequential_confidence`, stopping at the first that
    decides, by `compare_speed`'s rule (vectorised here; a test holds the two together).
    Returns the chances of FASTER, SLOWER, SAME and the mean rounds run.
    """
    _positive(true_ratio, "true_ratio")
    _positive(sd, "sd")
    level = sequential_confidence(min_rounds, max_rounds)
    effect = math.log1p(min_effect)
    rng = np.random.default_rng(seed)
    logs = rng.normal(math.log(true_ratio), sd, (sims, max_rounds))
    open_ = np.ones(sims, dtype=bool)
    found = {FASTER: 0.0, SLOWER: 0.0, SAME: 0.0}
    rounds = np.full(sims, float(max_rounds))
    for n in range(max(min_rounds, 2), max_rounds + 1):
        mean, spread = logs[:, :n].mean(axis=1), logs[:, :n].std(axis=1, ddof=1)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * spread / math.sqrt(n)
        calls = {
            FASTER: (mean - half > 0) & (mean >= effect),
            SLOWER: (mean + half < 0) & (mean <= -effect),
            SAME: (mean - half >= -effect) & (mean + half <= effect),
        }
        for outcome, called in calls.items():
            found[outcome] += float((open_ & called).sum()) / sims
            rounds[open_ & called] = n
            open_ &= ~called
    return {**found, "mean_rounds": float(rounds.mean())}
