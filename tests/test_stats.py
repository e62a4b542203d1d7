import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from bench import stats
from bench.stats import (
    FAIL,
    FASTER,
    INCONCLUSIVE,
    PASS,
    SAME,
    SLOWER,
    compare_speed,
    describe,
    faster_power,
    latency_percentiles,
    mean_ci,
    paired_tost,
    ratio_ci,
    seeds_for_power,
    seeds_to_decide,
    tost_power,
)

# --- describe and the noisy rule ------------------------------------------------------------


def test_describe_on_known_samples():
    summary = describe([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary["median"] == 3.0 and summary["count"] == 5
    assert (summary["q1"], summary["q3"], summary["iqr"]) == (2.0, 4.0, 2.0)
    assert (summary["min"], summary["max"], summary["mean"]) == (1.0, 5.0, 3.0)
    assert summary["stdev"] == pytest.approx(1.5811388)
    assert summary["cv"] == pytest.approx(1.5811388 / 3)


def test_resolution_is_the_half_width_of_the_t_interval_on_log_times():
    samples = [1.00, 1.02, 0.98, 1.01]
    logs = np.log(samples)
    half = scipy_stats.t.ppf(0.975, 3) * logs.std(ddof=1) / 2
    assert describe(samples)["resolution"] == pytest.approx(math.expm1(half))


def test_noisy_means_the_samples_cannot_resolve_the_minimum_effect():
    steady = describe([1.00, 1.01, 0.99, 1.02, 0.98])  # resolution about ±2%
    assert steady["resolution"] < stats.MIN_SPEED_EFFECT and steady["noisy"] is False
    # The same 2% spread from only three runs: t(2) = 4.3 widens the interval past ±5%.
    few = describe([1.00, 1.02, 0.98])
    assert few["resolution"] > stats.MIN_SPEED_EFFECT and few["noisy"] is True


def test_one_sample_has_no_spread():
    summary = describe([2.5])
    assert summary["median"] == 2.5 and summary["stdev"] is None and summary["noisy"] is None


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [[1.0, 2.0]]])
def test_bad_samples_are_refused(bad):
    with pytest.raises(ValueError, match="samples must be"):
        describe(bad)


def test_latency_percentiles_in_milliseconds():
    latencies = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    result = latency_percentiles(latencies)
    assert result["p50_ms"] == pytest.approx(50.5)
    assert result["p95_ms"] == pytest.approx(95.05)
    assert result["p99_ms"] == pytest.approx(99.01)
    assert result["calls"] == 100


def test_mean_ci_matches_a_hand_computed_t_interval():
    summary = mean_ci([0.97, 0.98, 0.99])
    assert summary["n"] == 3
    assert summary["mean"] == pytest.approx(0.98) and summary["sd"] == pytest.approx(0.01)
    half = 4.302652729911275 * 0.01 / np.sqrt(3)  # t(0.975, 2 dof), from tables
    assert summary["ci95"] == pytest.approx([0.98 - half, 0.98 + half])
    assert mean_ci([0.5]) == {"n": 1, "mean": 0.5, "sd": None, "ci95": None}


# --- paired TOST ----------------------------------------------------------------------------


def test_tost_interval_is_the_90_percent_t_interval_of_the_paired_mean():
    differences = [0.0004, -0.0003, 0.0010, 0.0001, -0.0005]
    result = paired_tost(differences, margin=0.004)
    reference = scipy_stats.ttest_1samp(differences, 0).confidence_interval(0.90)
    assert result["ci"] == pytest.approx([reference.low, reference.high])
    assert result["ci_level"] == pytest.approx(0.90)
    assert result["outcome"] == PASS and result["seeds_to_decide"] is None


def test_tost_p_value_is_the_larger_of_the_two_one_sided_p_values():
    differences = np.array([0.001, 0.002, 0.0025, 0.0015])
    result = paired_tost(differences, margin=0.004)
    lower = scipy_stats.ttest_1samp(differences, -0.004, alternative="greater").pvalue
    upper = scipy_stats.ttest_1samp(differences, 0.004, alternative="less").pvalue
    assert result["p_value"] == pytest.approx(max(lower, upper))
    assert (result["p_value"] < stats.ALPHA) == (result["outcome"] == PASS)


def test_a_difference_past_the_margin_with_a_ci_beyond_it_fails():
    result = paired_tost([0.0061, 0.0058, 0.0065, 0.0060], margin=0.004)
    assert result["outcome"] == FAIL and result["ci"][0] > 0.004
    negative = paired_tost([-0.0061, -0.0058, -0.0065, -0.0060], margin=0.004)
    assert negative["outcome"] == FAIL and negative["ci"][1] < -0.004


def test_a_point_estimate_inside_the_margin_with_a_wide_ci_is_inconclusive():
    # The old rule passed this: |mean| = 0.0012 < 0.004, but the interval reaches past 0.004.
    result = paired_tost([0.0030, -0.0020, 0.0026], margin=0.004)
    assert abs(result["mean_difference"]) < 0.004
    assert result["ci"][1] > 0.004 and result["outcome"] == INCONCLUSIVE
    assert result["seeds_to_decide"] > 3


def test_identical_seeds_pass_and_a_constant_offset_past_the_margin_fails():
    assert paired_tost([0.0, 0.0, 0.0], margin=0.004)["outcome"] == PASS
    assert paired_tost([0.005, 0.005, 0.005], margin=0.004)["outcome"] == FAIL


@pytest.mark.parametrize("seeds", [1, 2])
def test_fewer_than_three_seeds_get_no_verdict(seeds):
    with pytest.raises(ValueError, match="needs at least 3 paired seeds, got"):
        paired_tost([0.0] * seeds, margin=0.004)


@pytest.mark.parametrize(
    ("differences", "margin", "match"),
    [
        ([0.0, 0.0, float("nan")], 0.004, "differences must be finite"),
        ([0.0, 0.0, 0.0], 0.0, "margin must be a positive number"),
        ([0.0, 0.0, 0.0], -1, "margin must be a positive number"),
    ],
)
def test_bad_tost_inputs_are_refused_by_name(differences, margin, match):
    with pytest.raises(ValueError, match=match):
        paired_tost(differences, margin)


# --- power ----------------------------------------------------------------------------------


def simulated_pass_rate(n, sd, margin, truth, trials=20_000, seed=0):
    rng = np.random.default_rng(seed)
    samples = rng.normal(truth, sd, size=(trials, n))
    mean, s = samples.mean(axis=1), samples.std(axis=1, ddof=1)
    half = scipy_stats.t.ppf(0.95, n - 1) * s / np.sqrt(n)
    return float(((mean - half > -margin) & (mean + half < margin)).mean())


@pytest.mark.parametrize(
    ("n", "sd", "truth"), [(3, 0.001, 0.0), (5, 0.0012, 0.0), (4, 0.001, 0.002), (8, 0.002, 0.0)]
)
def test_tost_power_agrees_with_simulation(n, sd, truth):
    exact = tost_power(n, sd, 0.004, truth)
    assert exact == pytest.approx(simulated_pass_rate(n, sd, 0.004, truth), abs=0.01)


@pytest.mark.parametrize("n", [3, 5, 10, 30])
def test_a_true_difference_at_the_margin_passes_at_most_alpha(n):
    assert tost_power(n, 0.0012, 0.004, true_difference=0.004) <= stats.ALPHA + 1e-6


def test_more_seeds_mean_more_power_and_seeds_for_power_finds_the_first_enough():
    powers = [tost_power(n, 0.0015, 0.004) for n in range(3, 12)]
    assert powers == sorted(powers)
    needed = seeds_for_power(0.0015, 0.004, 0.95)
    assert tost_power(needed, 0.0015, 0.004) >= 0.95
    assert needed == 3 or tost_power(needed - 1, 0.0015, 0.004) < 0.95


def test_seeds_to_decide_suggests_enough_seeds_for_either_decision():
    inside = seeds_to_decide(0.001, 0.002, 0.004)
    assert tost_power(inside, 0.002, 0.004, 0.001) >= stats.DECIDING_POWER
    beyond = seeds_to_decide(0.006, 0.002, 0.004)
    assert beyond is not None and beyond >= 3
    assert seeds_to_decide(0.004, 0.002, 0.004) is None  # exactly at the margin: never


# --- speed ratios ---------------------------------------------------------------------------


def test_ratio_is_baseline_over_candidate_of_geometric_means():
    found = ratio_ci([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert found["ratio"] == pytest.approx(2.0) and found["ci95"] == pytest.approx([2.0, 2.0])


def test_paired_ratio_interval_is_the_t_interval_of_per_pair_log_ratios():
    baseline, candidate = [1.00, 1.20, 0.90, 1.05], [0.80, 0.95, 0.75, 0.82]
    found = ratio_ci(baseline, candidate, paired=True)
    logs = np.log(baseline) - np.log(candidate)
    reference = scipy_stats.ttest_1samp(logs, 0).confidence_interval(0.95)
    assert found["ci95"] == pytest.approx([math.exp(reference.low), math.exp(reference.high)])


def test_unpaired_ratio_interval_is_welch_on_log_times():
    baseline, candidate = [1.00, 1.10, 0.95], [0.70, 0.72, 0.69, 0.75]
    found = ratio_ci(baseline, candidate)
    reference = scipy_stats.ttest_ind(
        np.log(baseline), np.log(candidate), equal_var=False
    ).confidence_interval(0.95)
    assert found["ci95"] == pytest.approx([math.exp(reference.low), math.exp(reference.high)])


def test_pairing_removes_drift_that_hides_a_speed_up():
    drift = np.array([1.0, 1.3, 1.6, 1.9, 2.2])  # the machine slows down during the runs
    baseline, candidate = drift * 1.2, drift
    assert compare_speed(baseline, candidate)["outcome"] == INCONCLUSIVE
    paired = compare_speed(baseline, candidate, paired=True)
    assert paired["outcome"] == FASTER and paired["ratio"] == pytest.approx(1.2)


def test_speed_outcomes():
    rng = np.random.default_rng(0)
    base = 1 + 0.01 * rng.standard_normal(5)
    assert compare_speed(base * 1.3, base)["outcome"] == FASTER
    assert compare_speed(base, base * 1.3)["outcome"] == SLOWER
    assert compare_speed(base, base * 1.01, paired=True)["outcome"] == SAME
    # A 3% gain is real (the interval excludes 1) but under the 5% minimum effect: not FASTER.
    small = compare_speed(base * 1.03, base, paired=True)
    assert small["ci95"][0] > 1 and small["outcome"] != FASTER
    assert compare_speed([1.0], [0.5])["outcome"] == INCONCLUSIVE


def test_two_samples_of_one_distribution_are_not_called_faster():
    rng = np.random.default_rng(1)
    calls = [
        compare_speed(rng.lognormal(0, 0.05, 5), rng.lognormal(0, 0.05, 5))["outcome"]
        for _ in range(200)
    ]
    assert calls.count(FASTER) + calls.count(SLOWER) <= 10  # at most 5% by chance


def test_bad_ratio_inputs_are_refused():
    with pytest.raises(ValueError, match="times must be positive"):
        ratio_ci([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="paired samples need equal counts"):
        ratio_ci([1.0, 1.1], [1.0], paired=True)


@pytest.mark.parametrize(("n", "sd", "ratio"), [(5, 0.03, 1.10), (5, 0.10, 1.20), (3, 0.05, 1.15)])
def test_faster_power_agrees_with_simulating_compare_speed(n, sd, ratio):
    rng = np.random.default_rng(1)
    trials = 3000
    log_ratios = rng.normal(math.log(ratio), sd, size=(trials, n))
    found = [
        compare_speed(np.exp(row), np.ones(n), paired=True)["outcome"] == FASTER
        for row in log_ratios
    ]
    assert faster_power(n, sd, ratio) == pytest.approx(np.mean(found), abs=0.025)


def test_a_speed_up_below_the_minimum_effect_is_rarely_called_faster():
    # However quiet the machine, a true 3% gain stays under the 5% bar most of the time.
    assert faster_power(5, 0.01, 1.03) < 0.05
    assert faster_power(10, 0.03, 1.10) > faster_power(5, 0.03, 1.10)


# --- Looking after every round: the sequential design ---------------------------------------


def test_the_per_look_level_spreads_five_percent_over_the_looks_the_cap_allows():
    assert stats.sequential_confidence(3, 3) == pytest.approx(0.95)  # one look: plain 95%
    assert stats.sequential_confidence(3, 6) == pytest.approx(1 - 0.05 / 4)
    with pytest.raises(ValueError, match="min_rounds <= max_rounds"):
        stats.sequential_confidence(4, 3)


def looked_at_every_round(truth, sd, confidence, sims=1500, first=3, cap=6, seed=0):
    """Chance that looking after rounds first..cap, stopping at a decision, ends in each call."""
    rng = np.random.default_rng(seed)
    calls = {FASTER: 0, SLOWER: 0, SAME: 0}
    for _ in range(sims):
        log_ratios = rng.normal(math.log(truth), sd, cap)
        for n in range(first, cap + 1):
            found = compare_speed(
                np.exp(log_ratios[:n]), np.ones(n), paired=True, confidence=confidence
            )["outcome"]
            if found in calls:
                calls[found] += 1
                break
    return {outcome: count / sims for outcome, count in calls.items()}


def test_looking_after_every_round_keeps_false_faster_or_slower_calls_within_five_percent():
    # A true tie, seen through a noisy host (paired sd of the log ratio 0.1): at 95% per look
    # the repeated looks call it FASTER or SLOWER about one time in ten; spread over the
    # looks, under one in twenty.
    level = stats.sequential_confidence(3, 6)
    corrected = looked_at_every_round(1.0, 0.1, level)
    uncorrected = looked_at_every_round(1.0, 0.1, 0.95)
    assert corrected[FASTER] + corrected[SLOWER] < 0.05
    assert uncorrected[FASTER] + uncorrected[SLOWER] > 0.07  # why the correction is needed


def test_looking_after_every_round_keeps_false_same_calls_within_five_percent():
    # A true 5% speed-up is not "the same"; calling it SAME is the error here.
    found = looked_at_every_round(1.05, 0.03, stats.sequential_confidence(3, 6))
    assert found[SAME] < 0.05


def test_rounds_to_decide_grows_with_the_spread_and_gives_up_at_the_boundary():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(4)
    base = (base - base.mean()) / base.std(ddof=1)  # mean 0, sd 1 exactly
    clear = stats.rounds_to_decide(math.log(1.3) + 0.05 * base, 3)
    noisier = stats.rounds_to_decide(math.log(1.3) + 0.15 * base, 3)
    assert 3 <= clear < noisier
    assert stats.rounds_to_decide(math.log1p(stats.MIN_SPEED_EFFECT) + 0.05 * base, 3) is None
    assert stats.rounds_to_decide([0.2, 0.2, 0.2], 3) == 3  # no spread: the minimum decides


@pytest.mark.parametrize(("ratio", "sd"), [(1.0, 0.1), (1.25, 0.1), (1.5, 0.2)])
def test_sequential_power_agrees_with_the_real_rule_looked_at_every_round(ratio, sd):
    level = stats.sequential_confidence(3, 4)
    simulated = looked_at_every_round(ratio, sd, level, sims=1500, cap=4, seed=1)
    computed = stats.sequential_power(ratio, sd, 3, 4, sims=40_000)
    for outcome in (FASTER, SLOWER, SAME):
        assert simulated[outcome] == pytest.approx(computed[outcome], abs=0.035)
    assert 3 <= computed["mean_rounds"] <= 4
