"""The report across repeat groups and profiles: statistics, noisy flags, default vs tuned."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.report import build_report
from bench.stats import describe
from tests.report_fixtures import make_group, write_run
from tests.test_report import markdown_rows, section

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STEADY = {
    ("tensorflow", "default"): [1.20, 1.25, 1.22],
    ("tensorflow", "tuned"): [0.80, 0.82, 0.81],
    ("jax", "default"): [0.40, 0.55, 0.41],  # CV about 19%: noisy
    ("torch", "default"): [1.10, 1.12, 1.11],
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    # An older tensorflow default group, which must not be used.
    for result in make_group(
        "tensorflow",
        profile="default",
        steady_seconds=[9.0, 9.0, 9.0],
        created_utc=START - timedelta(days=1),
        group="old-group",
    ):
        write_run(results, result)
    for offset, ((backend, profile), steady) in enumerate(STEADY.items()):
        for result in make_group(
            backend,
            profile=profile,
            steady_seconds=steady,
            created_utc=START + timedelta(hours=offset),
        ):
            write_run(results, result)
    return build_report(results).read_text()


def summary_rows(report):
    rows = markdown_rows(section(report, "Summary"))
    return {(row["backend"], row["profile"]): row for row in rows}


def test_the_latest_repeat_group_is_used_whole_and_the_older_one_not(report):
    rows = summary_rows(report)
    assert set(rows) == set(STEADY)
    assert {row["runs"] for row in rows.values()} == {"3"}
    assert "9.000" not in section(report, "Summary") and "old-group" not in report


def test_summary_statistics_are_those_of_describe(report):
    rows = summary_rows(report)
    for key, steady in STEADY.items():
        stats = describe(steady)
        assert rows[key]["steady epoch s"] == f"{stats['median']:.3f}"
        assert rows[key]["IQR s"] == f"{stats['iqr']:.3f}"
        assert rows[key]["CV"].startswith(f"{stats['cv']:.1%}")
    assert rows[("tensorflow", "default")]["test accuracy"] == "0.9760 (0.9750 to 0.9770)"


def test_a_noisy_group_is_flagged_and_a_steady_one_is_not(report):
    rows = summary_rows(report)
    assert "noisy" in rows[("jax", "default")]["CV"]
    assert "noisy" not in rows[("torch", "default")]["CV"]
    assert "**Noisy:** jax/cpu: steady epoch varies by" in report
    assert "torch/cpu: steady epoch varies" not in report


def test_default_and_tuned_side_by_side_with_the_speedup(report):
    [row] = markdown_rows(section(report, "Default vs tuned"))
    assert row["backend"] == "tensorflow"
    assert row["default steady epoch s"] == "1.220" and row["tuned steady epoch s"] == "0.810"
    assert row["speed-up"] == f"{1.22 / 0.81:.2f}x"
    assert row["tuned settings"] == "jit_compile=False, steps_per_execution=32, threads=default"


def test_the_chosen_candidate_is_marked_and_a_failed_one_shown(report):
    tuning = section(report, "Default vs tuned")
    candidates = markdown_rows(tuning[tuning.index("3 candidates, 3 epochs") :])
    assert [r["chosen"] for r in candidates] == ["", "**✓**", ""]
    assert candidates[2]["steady epoch s"].startswith("failed")


def test_prediction_table_gives_median_latencies(report):
    rows = {r["run group"]: r for r in markdown_rows(section(report, "Prediction"))}
    tf = rows["tensorflow/cpu"]
    assert (tf["p50 ms"], tf["p95 ms"], tf["p99 ms"]) == ("1.500", "1.700", "1.900")
    assert tf["samples/s @512"] == f"{np.median([150000, 150001, 150002]):,.0f}"
    assert tf["path"] == "predict_on_batch"


def test_declared_settings_show_asked_and_resolved(report):
    rows = {r["run group"]: r for r in markdown_rows(section(report, "Declared settings"))}
    assert rows["tensorflow/cpu · tuned"]["jit_compile asked → resolved"] == "False → False"
    assert rows["jax/cpu"]["environment"] == "CUDA_VISIBLE_DEVICES=''"
