import pytest

from bench.stats import NOISY_CV, describe, latency_percentiles


def test_describe_on_known_samples():
    summary = describe([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary["median"] == 3.0 and summary["count"] == 5
    assert (summary["q1"], summary["q3"], summary["iqr"]) == (2.0, 4.0, 2.0)
    assert (summary["min"], summary["max"], summary["mean"]) == (1.0, 5.0, 3.0)
    assert summary["stdev"] == pytest.approx(1.5811388)
    assert summary["cv"] == pytest.approx(1.5811388 / 3)


def test_a_steady_sample_is_not_flagged_and_a_noisy_one_is():
    steady = describe([1.00, 1.01, 0.99, 1.02, 0.98])
    assert steady["cv"] < NOISY_CV and steady["noisy"] is False
    noisy = describe([1.0, 1.0, 1.0, 1.5, 0.7])
    assert noisy["cv"] > NOISY_CV and noisy["noisy"] is True


def test_cv_just_over_the_threshold_is_noisy():
    # mean 1, sample stdev 0.11
    assert describe([0.89, 1.0, 1.11])["noisy"] is True
    assert describe([0.91, 1.0, 1.09])["noisy"] is False


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
