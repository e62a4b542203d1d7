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


def parity_verdict(shift: float) -> dict:
    from bench.parity_stats import (
        lockstep_verdict,
        predict_everywhere_verdict,
        statistical_verdict,
    )

    rng = np.random.default_rng(0)
    probabilities = rng.random((50, 10))
    weights = rng.random(100)
    samples = {
        "tensorflow": [0.976, 0.977, 0.975],
        "jax": [0.977, 0.976, 0.976],
        "torch": [0.976 + shift, 0.977 + shift, 0.975 + shift],
    }
    outputs = {b: {"probabilities": probabilities, "weights": weights} for b in samples}
    divergence = [
        {
            "pair": "tensorflow vs jax",
            "epoch": e,
            "argmax_agreement": 1.0,
            "max_abs_probability_difference": 1e-7 * 10**e,
            "max_abs_weight_difference": 2e-7 * 10**e,
        }
        for e in (1, 2, 3)
    ]
    matrix = np.diag([98] * 10)
    return {
        "check": "parity",
        "backends": list(samples),
        "created_utc": "2026-03-02T10:00:00+00:00",
        "machine": {"id": "test-machine-2c"},
        "tolerances": {"accuracy": 0.004, "lockstep": 1e-5, "predict": 1e-5},
        "same_start": {"passed": True, "initial_weights_sha256": {}},
        "statistical": {**statistical_verdict(samples, 0.004), "samples": samples, "epochs": 10},
        "lockstep": {**lockstep_verdict(outputs, 1e-5), "divergence": divergence},
        "predict_everywhere": predict_everywhere_verdict(
            "tensorflow", {b: probabilities for b in samples}, probabilities.argmax(1)
        ),
        "confusion_matrices": {
            "tensorflow": matrix.tolist(),
            "jax": (matrix + np.eye(10)).tolist(),
        },
        "passed": shift == 0,
    }


def test_parity_section_shows_the_benchmark_verdict_and_the_latest_parity_run(tmp_path):
    import json

    for backend in ("tensorflow", "jax"):
        for result in make_group(
            backend,
            profile="default",
            steady_seconds=[1.0, 1.0, 1.0],
            created_utc=START,
            accuracy=0.975,
        ):
            write_run(tmp_path, result)
    parity_dir = tmp_path / "parity" / "test-machine-2c"
    parity_dir.mkdir(parents=True)
    (parity_dir / "20260301T000000Z-parity.json").write_text(json.dumps(parity_verdict(0.0)))
    (parity_dir / "20260302T000000Z-parity.json").write_text(json.dumps(parity_verdict(0.01)))
    (parity_dir / "20260303T000000Z-parity.json").write_text("{broken")
    warnings = []
    report = build_report(tmp_path, warn=warnings.append).read_text()
    parity = section(report, "Accuracy parity")
    assert "**These benchmark runs**" in parity and "default profile" in parity
    assert "**PASS**: largest difference +0.0000 (tensorflow vs jax)" in parity
    latest = report[report.index("### `nox -s parity` on `test-machine-2c`") :]
    assert latest.startswith("### `nox -s parity` on `test-machine-2c`: **FAIL**")
    assert (
        "- Statistical: **FAIL**: tensorflow vs torch: mean accuracy differs by -0.0100" in latest
    )
    assert "- Lockstep: **PASS**" in latest and "- Predict everywhere: **PASS**" in latest
    for name in ("parity_seeds", "parity_lockstep", "parity_confusion_difference"):
        assert (tmp_path / "figures" / f"{name}_test-machine-2c.png").read_bytes()[:4] == b"\x89PNG"
    assert any("20260303T000000Z-parity.json" in w for w in warnings)
