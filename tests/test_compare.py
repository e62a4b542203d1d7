"""python -m bench.compare: the current results against a baseline folder, metric by metric."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bench.compare.__main__ import main
from bench.compare.changes import (
    IMPROVEMENT,
    REGRESSION,
    UNCHANGED,
    accuracy_change,
    runs_for_rank_test,
    speed_change,
)
from bench.stats import INCONCLUSIVE, ratio_ci
from tests.report_fixtures import (
    GPU_MACHINE,
    INVOCATION,
    MACHINE,
    make_group,
    write_probe,
    write_run,
)

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUNS = 5
# Typical values of one run; every test draws its runs around these.
MEDIANS = {"steady": 0.30, "fit": 5.0, "latency": 0.15, "throughput": 400_000.0}
SPEED_METRICS = {
    "fit_seconds": "fit",
    "steady_epoch_seconds": "steady",
    "predict_latency_p50_ms": "latency",
    "predict_throughput_samples_per_second@512": "throughput",
}


def draw_times(seed: int, sd: float = 0.03) -> dict[str, list[float]]:
    """RUNS lognormal draws around each median, `sd` on the log scale."""
    rng = np.random.default_rng(seed)
    return {
        name: (median * rng.lognormal(0.0, sd, RUNS)).tolist() for name, median in MEDIANS.items()
    }


def slowed(times: dict[str, list[float]], factor: float) -> dict[str, list[float]]:
    """Every time multiplied by `factor`, the throughput divided by it."""
    return {
        name: [value / factor if name == "throughput" else value * factor for value in values]
        for name, values in times.items()
    }


def write_group(
    results: Path,
    times: dict[str, list[float]],
    *,
    accuracies: list[float] | None = None,
    machine: dict = MACHINE,
    backend: str = "jax",
    invocation: str = INVOCATION,
) -> list[dict]:
    """One repeat group with these per-run times (and accuracies), written under `results`."""
    runs = make_group(
        backend,
        profile="default",
        steady_seconds=times["steady"],
        created_utc=START,
        invocation=invocation,
    )
    for index, result in enumerate(runs):
        result["machine"] = dict(machine)
        timings = result["timings"]
        timings["fit_seconds"] = times["fit"][index]
        timings["predict_latency_p50_ms"] = times["latency"][index]
        timings["predict_throughput_samples_per_second"] = {
            "1": 2000.0,
            "512": times["throughput"][index],
        }
        if accuracies is not None:
            result["metrics"]["test_accuracy"] = accuracies[index]
        write_run(results, result)
    return runs


def accuracies_of(runs: list[dict]) -> list[float]:
    return [result["metrics"]["test_accuracy"] for result in runs]


def compare(tmp_path: Path, *options: str) -> tuple[int, dict]:
    """Run the command in-process on tmp_path/baseline and tmp_path/current; (code, JSON)."""
    code = main([str(tmp_path / "baseline"), "--results-dir", str(tmp_path / "current"), *options])
    return code, json.loads((tmp_path / "current" / "comparison.json").read_text())


def verdicts(record: dict) -> dict[str, str]:
    return {row["metric"]: row["verdict"] for row in record["metrics"]}


# --- Verdicts from samples alone ------------------------------------------------------------


def test_the_rank_test_needs_four_runs_a_side_to_reach_significance():
    assert runs_for_rank_test() == 4
    baseline = [1.0, 1.01, 0.99]
    # Three runs a side, 30% slower and no overlap: significant by the interval, not by ranks.
    found = speed_change(baseline, [1.3 * value for value in baseline])
    assert found["ci95"][0] > 1
    assert found["verdict"] == INCONCLUSIVE
    assert found["note"] == "needs ≥ 4 runs a side"
    assert speed_change([1.0], [1.3])["verdict"] == INCONCLUSIVE


def test_a_speed_up_is_an_improvement_and_the_ratio_is_current_over_baseline():
    times = draw_times(seed=1)["steady"]
    found = speed_change(times, [value / 1.3 for value in times])
    assert found["verdict"] == IMPROVEMENT
    assert found["ratio"] == pytest.approx(1 / 1.3)
    assert speed_change(times, times)["verdict"] == UNCHANGED


def test_a_significant_drop_below_the_tolerance_is_not_a_regression():
    baseline = [0.9750, 0.9751, 0.9752, 0.9753, 0.9754]
    found = accuracy_change(baseline, [accuracy - 0.002 for accuracy in baseline])
    assert found["ci95"][1] < 0
    assert found["verdict"] == UNCHANGED
    found = accuracy_change(baseline, [accuracy - 0.006 for accuracy in baseline])
    assert found["verdict"] == REGRESSION


def test_fewer_than_two_accuracies_a_side_are_inconclusive():
    found = accuracy_change([0.97], [0.95, 0.95])
    assert found["verdict"] == INCONCLUSIVE
    assert found["note"] == "needs ≥ 2 runs a side"
    assert found["difference"] == pytest.approx(-0.02)


# --- The command ------------------------------------------------------------------------------


def test_every_time_thirty_percent_slower_is_a_regression_and_fails_the_gate(tmp_path, capsys):
    times = draw_times(seed=1)
    write_group(tmp_path / "baseline", times)
    write_group(tmp_path / "current", slowed(times, 1.3))
    code, record = compare(tmp_path, "--fail-on-regression")
    assert code == 1
    found = verdicts(record)
    assert {found[metric] for metric in SPEED_METRICS} == {REGRESSION}
    assert found["test_accuracy"] == UNCHANGED
    err = capsys.readouterr().err
    assert err.count("regression: ") == len(SPEED_METRICS)
    assert "steady epoch (s)" in err
    # Without the flag the comparison reports the regressions and exits 0.
    assert compare(tmp_path)[0] == 0


def test_a_significant_slowdown_below_the_minimum_effect_is_not_a_regression(tmp_path):
    times = draw_times(seed=12, sd=0.002)
    write_group(tmp_path / "baseline", times)
    write_group(tmp_path / "current", slowed(times, 1.03))
    code, record = compare(tmp_path, "--fail-on-regression")
    steady = next(row for row in record["metrics"] if row["metric"] == "steady_epoch_seconds")
    assert steady["ci95"][0] > 1 and steady["p_value"] < 0.05
    assert steady["verdict"] == UNCHANGED
    assert code == 0
    code, record = compare(tmp_path, "--fail-on-regression", "--min-effect", "0.02")
    assert verdicts(record)["steady_epoch_seconds"] == REGRESSION
    assert code == 1


def test_the_gate_through_a_subprocess(tmp_path):
    times = draw_times(seed=2)
    write_group(tmp_path / "baseline", times)
    write_group(tmp_path / "current", slowed(times, 1.3))
    command = [sys.executable, "-m", "bench.compare", str(tmp_path / "baseline")]
    command += ["--results-dir", str(tmp_path / "current"), "--fail-on-regression"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1, result.stderr
    assert "regression: " in result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "4 regressions, 0 improvements, 1 unchanged, 0 inconclusive, 0 not compared"
    )


def test_two_draws_of_one_distribution_are_not_a_regression(tmp_path):
    write_group(tmp_path / "baseline", draw_times(seed=3))
    write_group(tmp_path / "current", draw_times(seed=4))
    code, record = compare(tmp_path, "--fail-on-regression")
    assert code == 0
    assert REGRESSION not in verdicts(record).values()
    assert set(verdicts(record)) == {*SPEED_METRICS, "test_accuracy"}
    assert record["summary"]["regressions"] == 0


def test_another_machine_is_not_compared(tmp_path, capsys):
    times = draw_times(seed=5)
    write_group(tmp_path / "baseline", times)
    write_group(tmp_path / "baseline", times, machine=GPU_MACHINE, backend="torch")
    write_group(tmp_path / "current", slowed(times, 1.3), machine=GPU_MACHINE)
    code, record = compare(tmp_path, "--fail-on-regression")
    assert code == 0  # nothing on a common group: no regression to fail on
    assert record["metrics"] == []
    reasons = {(row["machine"], row["backend"]): row["reason"] for row in record["not_compared"]}
    assert reasons == {
        (GPU_MACHINE["id"], "jax"): "no baseline on this machine",
        (GPU_MACHINE["id"], "torch"): "no current group like it on this machine",
        (MACHINE["id"], "jax"): "machine not in the current results",
    }
    assert "not compared: no baseline on this machine" in capsys.readouterr().out


@pytest.mark.parametrize(("shift", "expected"), [(-0.01, REGRESSION), (-0.0005, UNCHANGED)])
def test_an_accuracy_drop_of_a_point_is_a_regression_and_a_twentieth_is_not(
    tmp_path, shift, expected
):
    times = draw_times(seed=6)
    runs = write_group(tmp_path / "baseline", times)
    before = accuracies_of(runs)
    after = [accuracy + shift for accuracy in before]
    write_group(tmp_path / "current", times, accuracies=after)
    code, record = compare(tmp_path, "--fail-on-regression")
    row = next(row for row in record["metrics"] if row["metric"] == "test_accuracy")
    assert row["verdict"] == expected
    assert row["difference"] == pytest.approx(shift)
    assert row["baseline"] == pytest.approx(np.mean(before))
    assert code == (1 if expected == REGRESSION else 0)


@pytest.mark.parametrize(("current_gflops", "compared"), [(130.0, False), (105.0, True)])
def test_hosts_of_different_speed_are_not_compared_nor_gated(tmp_path, current_gflops, compared):
    times = draw_times(seed=7)
    write_group(tmp_path / "baseline", times)
    write_group(tmp_path / "current", slowed(times, 1.3))
    write_probe(tmp_path / "baseline", invocation=INVOCATION, square_gflops=100.0)
    write_probe(tmp_path / "current", invocation=INVOCATION, square_gflops=current_gflops)
    code, record = compare(tmp_path, "--fail-on-regression")
    if compared:
        assert code == 1
        assert verdicts(record)["steady_epoch_seconds"] == REGRESSION
        assert record["not_compared"] == []
    else:
        assert code == 0
        assert record["metrics"] == []
        [row] = record["not_compared"]
        assert row["reason"] == "host speed differs (100 vs 130 GFLOP/s)"


def test_a_missing_baseline_folder_exits_2_with_one_line(tmp_path, capsys):
    write_group(tmp_path / "current", draw_times(seed=8))
    missing = tmp_path / "no-such-baseline"
    assert main([str(missing), "--results-dir", str(tmp_path / "current")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(missing) in err
    assert "runs/" in err  # the fix: point at the folder whose runs/ holds the results
    assert not (tmp_path / "current" / "comparison.md").exists()

    command = [sys.executable, "-m", "bench.compare", str(missing)]
    command += ["--results-dir", str(tmp_path / "current")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_a_baseline_without_readable_runs_exits_2_and_a_damaged_file_is_a_warning(tmp_path, capsys):
    write_group(tmp_path / "current", draw_times(seed=9))
    damaged = tmp_path / "baseline" / "runs" / MACHINE["id"] / "damaged.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{not json")
    assert main([str(tmp_path / "baseline"), "--results-dir", str(tmp_path / "current")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"warning: skipped {damaged}")
    assert err[1].startswith("error: no readable benchmark results under")
    assert "(1 unreadable files skipped)" in err[1]
    assert len(err) == 2

    write_group(tmp_path / "baseline", draw_times(seed=9))
    assert main([str(tmp_path / "baseline"), "--results-dir", str(tmp_path / "current")]) == 0
    assert f"warning: skipped {damaged}" in capsys.readouterr().err


def test_the_markdown_and_json_hold_the_computed_ratios(tmp_path, monkeypatch, capsys):
    before, after = draw_times(seed=10), slowed(draw_times(seed=11), 1.1)
    write_group(tmp_path / "baseline", before)
    write_group(tmp_path / "current", after)
    monkeypatch.setenv("DIGITREC_RESULTS_DIR", str(tmp_path / "current"))  # the default folder
    assert main([str(tmp_path / "baseline")]) == 0
    out = capsys.readouterr().out
    markdown = (tmp_path / "current" / "comparison.md").read_text()
    record = json.loads((tmp_path / "current" / "comparison.json").read_text())
    rows = {row["metric"]: row for row in record["metrics"]}
    for metric, name in SPEED_METRICS.items():
        baseline, current = before[name], after[name]
        if name == "throughput":  # compared as a time per sample
            baseline, current = [1 / v for v in baseline], [1 / v for v in current]
        expected = np.exp(np.log(current).mean() - np.log(baseline).mean())
        assert rows[metric]["ratio"] == pytest.approx(expected)
        assert rows[metric]["ci95"] == pytest.approx(ratio_ci(current, baseline)["ci95"])
        assert f"| {expected:.3f} |" in markdown.replace("  ", "")
    assert rows["predict_throughput_samples_per_second@512"]["current"] == pytest.approx(
        np.exp(np.log(after["throughput"]).mean())
    )
    summary = out.strip().splitlines()[-1]
    assert markdown.strip().endswith(f"**{summary}**")
    counts = record["summary"]
    assert summary == (
        f"{counts['regressions']} regression{'s' * (counts['regressions'] != 1)}, "
        f"{counts['improvements']} improvement{'s' * (counts['improvements'] != 1)}, "
        f"{counts['unchanged']} unchanged, {counts['inconclusive']} inconclusive, "
        f"{counts['not_compared']} not compared"
    )
    assert sum(counts.values()) == len(rows) == 5
    assert str(tmp_path / "baseline") in markdown and str(tmp_path / "current") in markdown
    assert "(1 group) against" in markdown and "1 group compared" in markdown


def test_importing_the_command_loads_no_backend():
    backends = {"keras", "tensorflow", "jax", "torch"}
    code = f"import sys, bench.compare.__main__; print(sorted({backends!r} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
