"""Keras's overhead: native references beside the Keras runs, paired by round of one invocation,
and kept out of the ranking and out of compare's groups."""

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.analysis.collect import add_labels, collect_runs, select_latest
from bench.analysis.overhead import STEADY_EPOCH, native_groups, overheads
from bench.compare.matching import read_side
from bench.report import build_report
from bench.report.overhead_section import NOT_SIDE_BY_SIDE
from tests.report_fixtures import (
    INVOCATION,
    MACHINE,
    above_appendix,
    make_group,
    markdown_rows,
    native_section,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KERAS = {
    "tensorflow": [0.52, 0.50, 0.55, 0.51],
    "jax": [0.30, 0.31, 0.36, 0.29],
    "torch": [0.70, 0.66, 0.75, 0.69],
}
# Native torch is much faster than Keras on torch, and faster than Keras on JAX, the winner.
NATIVE = {
    "tensorflow": [0.50, 0.49, 0.54, 0.50],
    "jax": [0.29, 0.31, 0.35, 0.28],
    "torch": [0.20, 0.19, 0.22, 0.20],
}
OTHER_INVOCATION = "20260302T120000Z-def456"


def write_results(
    results, native=NATIVE, *, native_invocation=INVOCATION, step_error=3e-6, accuracy=0.975
):
    """Keras default groups, then (later) native groups, all scheduled in rounds; the native
    runs' test accuracy is about `accuracy`, the Keras runs' 0.975."""
    written = {}
    for hour, (backend, steady) in enumerate(KERAS.items()):
        written[backend] = make_group(
            backend, profile="default", steady_seconds=steady, scheduler="rounds",
            created_utc=START + timedelta(hours=hour),
        )  # fmt: skip
    for hour, (backend, steady) in enumerate(native.items(), start=5):
        written[f"{backend} native"] = make_group(
            backend, profile="default", steady_seconds=steady, scheduler="rounds",
            created_utc=START + timedelta(hours=hour), group=f"{backend}-cpu-native-0",
            invocation=native_invocation, accuracy=accuracy,
            implementation=native_section(backend, step_error=step_error),
        )  # fmt: skip
    for runs in written.values():
        for result in runs:
            write_run(results, result)
    return written


def paired_ratio(keras_runs, native_runs, dotted="timings.steady_epoch_seconds") -> float:
    """Keras over native: the geometric mean of the per-round ratios, by hand."""

    def value(result):
        section, key = dotted.split(".")
        return result[section][key]

    logs = [math.log(value(k) / value(n)) for k, n in zip(keras_runs, native_runs, strict=True)]
    return math.exp(np.mean(logs))


def overhead_rows(report: str) -> dict[str, dict[str, str]]:
    """The summary's Keras overhead table, by backend."""
    rows = markdown_rows(report[report.index("**Keras overhead on ") :])
    return {row["backend"]: row for row in rows}


def place_rows(results):
    collection = collect_runs(results)
    groups = add_labels(select_latest(collection.runs))
    return overheads(groups, native_groups(collection.native))


def test_native_runs_are_kept_out_of_the_ranking_and_out_of_compares_groups(tmp_path):
    write_results(tmp_path)
    collection = collect_runs(tmp_path)
    assert set(collection.native["implementation"]) == {"native"}
    assert len(collection.native) == 12
    assert set(collection.runs["implementation"]) == {"keras"}
    # The native groups are newer than the Keras ones: were they not kept apart, compare (and
    # the verdict) would take them as each backend's latest default group.
    side = read_side(tmp_path, lambda _: None, "")
    kinds = {r["implementation"]["kind"] for runs in side.groups["group_runs"] for r in runs}
    assert kinds == {"keras"}
    report = build_report(tmp_path, warn=lambda _: None, test_set=None).read_text()
    without = tmp_path / "keras-only"
    write_results(without)
    for path in (without / "runs").rglob("*.json"):
        if json.loads(path.read_text())["implementation"]["kind"] == "native":
            path.unlink()
    keras_only = build_report(without, warn=lambda _: None, test_set=None).read_text()
    # The ranking table (the first one of the summary) is the same with and without natives.
    assert (
        markdown_rows(above_appendix(report))[:5] == markdown_rows(above_appendix(keras_only))[:5]
    )
    assert "Keras overhead" in report and "Keras overhead" not in keras_only


def test_the_overhead_ratio_is_the_paired_ratio_of_one_invocations_rounds(tmp_path):
    written = write_results(tmp_path)
    rows = {row.native.backend: row for row in place_rows(tmp_path)}
    assert set(rows) == set(KERAS)
    for backend, row in rows.items():
        found = row.gains[STEADY_EPOCH.name]
        assert found["paired"] and found["n"] == 4
        expected = paired_ratio(written[backend], written[f"{backend} native"])
        assert found["ratio"] == pytest.approx(expected, rel=1e-9)
    assert rows["torch"].gains[STEADY_EPOCH.name]["outcome"] == "FASTER"  # native faster


def test_only_the_latest_native_group_of_each_reference_is_shown(tmp_path):
    write_results(tmp_path)
    for backend, steady in NATIVE.items():  # an older invocation's native runs of each backend
        for result in make_group(
            backend, profile="default", steady_seconds=steady, scheduler="rounds",
            created_utc=START - timedelta(days=1), group=f"{backend}-cpu-native-old",
            invocation=OTHER_INVOCATION, implementation=native_section(backend),
        ):  # fmt: skip
            write_run(tmp_path, result)
    rows = place_rows(tmp_path)
    assert [row.native.backend for row in rows] == ["tensorflow", "jax", "torch"]
    assert all(row.native.invocation == INVOCATION for row in rows)


def test_no_overhead_ratio_is_taken_across_invocations(tmp_path):
    write_results(tmp_path, native_invocation=OTHER_INVOCATION)
    rows = place_rows(tmp_path)
    assert rows and all(found is None for row in rows for found in row.gains.values())
    report = build_report(tmp_path, warn=lambda _: None, test_set=None).read_text()
    table = overhead_rows(above_appendix(report)).values()
    assert table and all(NOT_SIDE_BY_SIDE in row["steady epoch: Keras / native"] for row in table)
    assert "ran in other rounds than the native references" in report


def test_the_report_shows_the_overhead_and_where_native_code_changes_the_answer(tmp_path):
    written = write_results(tmp_path)
    report = above_appendix(build_report(tmp_path, warn=lambda _: None, test_set=None).read_text())
    table = overhead_rows(report)
    assert set(table) == {"TensorFlow", "JAX", "torch"}
    expected = paired_ratio(written["torch"], written["torch native"])
    assert f"{expected:.2f}×" in table["torch"]["steady epoch: Keras / native"]
    assert table["torch"]["one step, Keras vs native"].startswith("PASS: 3e-06 ≤ 1e-04")
    assert "**Where native code changes the answer**: native torch code" in report

    slower = {backend: [s * 3 for s in steady] for backend, steady in NATIVE.items()}
    other = tmp_path / "slower"
    write_results(other, slower)
    report = build_report(other, warn=lambda _: None, test_set=None).read_text()
    assert "**Native code would not change the answer**" in report


def test_a_failed_step_check_is_shown_as_a_finding(tmp_path):
    write_results(tmp_path, step_error=3e-2)
    report = above_appendix(build_report(tmp_path, warn=lambda _: None, test_set=None).read_text())
    cells = [row["one step, Keras vs native"] for row in overhead_rows(report).values()]
    assert cells and all(cell.startswith("FAIL: 3e-02 in dense/kernel") for cell in cells)
    banner = report[: report.index("## Summary")]
    assert "Keras and the framework's own code differ beyond rounding" in banner


def native_details(report: str) -> list[dict[str, str]]:
    return markdown_rows(report[report.index("### Native references") :])


def test_native_accuracy_is_tested_equivalent_to_keras_paired_by_round(tmp_path):
    write_results(tmp_path)
    rows = native_details(build_report(tmp_path, warn=lambda _: None, test_set=None).read_text())
    assert len(rows) == 3
    cells = [row["native − Keras accuracy (90% CI, paired)"] for row in rows]
    assert all(cell.startswith("PASS") and "within ±0.004" in cell for cell in cells)

    write_results(tmp_path / "worse", accuracy=0.955)  # two points below Keras on every seed
    rows = native_details(
        build_report(tmp_path / "worse", warn=lambda _: None, test_set=None).read_text()
    )
    assert all(row["native − Keras accuracy (90% CI, paired)"].startswith("FAIL") for row in rows)


def test_beyond_three_machines_the_overhead_table_follows_the_matrix(tmp_path):
    write_results(tmp_path)
    for number in range(3):  # three more machines, Keras runs only
        other = {**MACHINE, "id": f"other-host-{number}", "hostname": f"other-{number}"}
        for backend, steady in KERAS.items():
            for result in make_group(
                backend, profile="default", steady_seconds=steady, scheduler="rounds",
                created_utc=START, machine=other,
            ):  # fmt: skip
                write_run(tmp_path, result)
    report = above_appendix(build_report(tmp_path, warn=lambda _: None, test_set=None).read_text())
    assert "### mlp: which backend on which machine" in report
    assert report.count("**Keras overhead on ") == 1
    assert set(overhead_rows(report)) == {"TensorFlow", "JAX", "torch"}
