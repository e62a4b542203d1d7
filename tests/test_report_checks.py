"""The report's trust checks: host speed, one GEMM peak, self-checks, damaged inputs."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.report import build_report
from bench.report.probes import HOST_SPEED_FLAG
from bench.stats import compare_speed
from tests.report_fixtures import (
    INVOCATION,
    MACHINE,
    above_appendix,
    make_group,
    markdown_rows,
    parity_step_verdict,
    parity_verdict,
    section,
    skip_drawing,
    write_probe,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    """The figures are tested in test_report; here they would only cost time."""

    skip_drawing(monkeypatch)


def write_groups(results: Path, *, tuned_invocation: str = INVOCATION, **tuned_options) -> None:
    """jax default and tuned groups; the tuned one may come from another invocation."""
    for profile, steady, invocation, options in (
        ("default", [0.50, 0.51, 0.50], INVOCATION, {}),
        ("tuned", [0.30, 0.31, 0.30], tuned_invocation, tuned_options),
    ):
        for result in make_group(
            "jax",
            profile=profile,
            steady_seconds=steady,
            created_utc=START + timedelta(hours=profile == "tuned"),
            invocation=invocation,
            **options,
        ):
            write_run(results, result)


def build(results: Path) -> tuple[str, list[str]]:
    warnings = []
    return build_report(results, warn=warnings.append, test_set=None).read_text(), warnings


def speedup_row(report: str) -> dict:
    [row] = markdown_rows(section(report, "Tuned profiles").split("Search for")[0])
    return row


def test_groups_of_one_id_on_hosts_of_different_speed_are_flagged_not_ranked(tmp_path):
    write_groups(tmp_path, tuned_invocation="20260301T130000Z-fast00")
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=180.0)
    write_probe(tmp_path, invocation="20260301T130000Z-fast00", square_gflops=490.0)
    report, _ = build(tmp_path)
    row = speedup_row(report)
    assert row["steady epoch gain"] == HOST_SPEED_FLAG
    assert row["time to a trained model gain"] == "n/a"
    summary = section(report, "Host speed during the runs")
    assert f"{HOST_SPEED_FLAG}: these groups ran on hosts" in summary
    assert "jax/cpu · default 180, jax/cpu · tuned 490 GFLOP/s" in summary
    assert "run them together" in summary


def test_groups_on_hosts_of_the_same_speed_are_compared(tmp_path):
    write_groups(tmp_path, tuned_invocation="20260301T130000Z-same00")
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=480.0)
    write_probe(tmp_path, invocation="20260301T130000Z-same00", square_gflops=470.0)
    report, _ = build(tmp_path)
    row = speedup_row(report)
    # Two invocations: not interleaved side by side, so unpaired (Welch on log times).
    found = compare_speed([0.50, 0.51, 0.50], [0.30, 0.31, 0.30])
    low, high = found["ci95"]
    assert row["steady epoch gain"] == f"{found['ratio']:.2f}× [{low:.2f}–{high:.2f}] FASTER"
    assert HOST_SPEED_FLAG not in report


def test_a_host_that_changed_speed_during_an_invocation_is_flagged(tmp_path):
    write_groups(tmp_path)
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=480.0, phase="start")
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=300.0, phase="end")
    report, _ = build(tmp_path)
    summary = section(report, "Host speed during the runs")
    assert "The host's speed moved during the runs of mlp on M1 (CPU)" in above_appendix(report)
    # One flag per invocation, naming every group it holds and the range measured.
    assert summary.count(f"{HOST_SPEED_FLAG}: during invocation `{INVOCATION}`") == 1
    assert "(jax/cpu · default, jax/cpu · tuned)" in summary
    assert "off its median of 390 GFLOP/s (all of them: 300 to 480)" in summary


def test_one_stray_probe_reading_is_not_a_change_of_host_speed(tmp_path):
    write_groups(tmp_path)
    for phase, rate in (("start", 480.0), ("start-2", 150.0), ("start-3", 470.0), ("end", 475.0)):
        write_probe(tmp_path, invocation=INVOCATION, square_gflops=rate, phase=phase)
    report, _ = build(tmp_path)
    assert HOST_SPEED_FLAG not in report


def test_a_host_whose_speed_held_within_an_invocation_is_not_flagged(tmp_path):
    write_groups(tmp_path)
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=480.0, phase="start")
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=440.0, phase="end")
    report, _ = build(tmp_path)
    assert HOST_SPEED_FLAG not in report


def test_every_percent_of_peak_in_an_invocation_has_one_denominator(tmp_path):
    # torch's kernels reach 215 GFLOP/s, TensorFlow's 495, the neutral probe 480: the peak is
    # 495 for both, not each framework's own rate.
    for backend, gemm in (("torch", 215.0), ("tensorflow", 495.0)):
        for result in make_group(
            backend,
            profile="default",
            steady_seconds=[1.0, 1.0, 1.0],
            created_utc=START,
            framework_gemm={"model_shapes_gflops": gemm / 3, "square_gflops": gemm},
        ):
            write_run(tmp_path, result)
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=480.0)
    report, _ = build(tmp_path)
    rows = {
        row["group"].split("/")[0]: row
        for row in markdown_rows(section(report, "Roofline and host speed"))
    }
    for backend in ("torch", "tensorflow"):
        assert rows[backend]["% of peak"] == f"{30.4 / 495 * 100:.0f}"
        assert rows[backend]["peak GFLOP/s"] == "495"
        assert rows[backend]["peak from"] == f"invocation {INVOCATION}"
    assert (
        rows["torch"]["GEMM, 2048²"],
        rows["tensorflow"]["GEMM, 2048²"],
    ) == (
        "215",
        "495",
    )


def test_runs_outside_an_invocation_fall_back_to_their_own_probe_and_say_so(tmp_path):
    for result in make_group(
        "jax", profile="default", steady_seconds=[1.0, 1.0, 1.0], created_utc=START, invocation=None
    ):
        write_run(tmp_path, result)
    report, _ = build(tmp_path)
    [row] = markdown_rows(section(report, "Roofline and host speed"))
    assert row["peak GFLOP/s"] == "150"
    assert row["peak from"].startswith("own framework probe")


def write_selfcheck(results: Path, name: str, record: dict) -> None:
    folder = results / "selfcheck" / MACHINE["id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(record))


def test_self_checks_are_shown_against_their_targets(tmp_path):
    write_groups(tmp_path)
    machine = {"id": MACHINE["id"]}
    write_selfcheck(tmp_path, "20260301T000000Z-overhead-all.json", {
        "check": "overhead", "wall_over_recorded": 2.02, "target": 1.3,
        "within_target": False, "machine": machine, "created_utc": "2026-03-01T00:00:00+00:00",
    })  # fmt: skip
    write_selfcheck(tmp_path, "20260301T000100Z-faithfulness-jax.json", {
        "check": "faithfulness", "backend": "jax", "suite_over_bare": 1.03, "tolerance": 0.1,
        "within_target": True, "machine": machine,
    })  # fmt: skip
    write_selfcheck(tmp_path, "20260301T000200Z-faithfulness-torch.json", {
        "check": "faithfulness", "backend": "torch", "suite_over_bare": float("nan"),
        "tolerance": 0.1, "within_target": True, "machine": machine,
    })  # fmt: skip
    report, warnings = build(tmp_path)
    rows = {(r["check"], r["backend"]): r for r in markdown_rows(section(report, "Self-checks"))}
    assert set(rows) == {("overhead", "all"), ("faithfulness", "jax")}
    overhead = rows[("overhead", "all")]
    assert (overhead["measured"], overhead["target"], overhead["met"]) == (
        "2.02x",
        "≤ 1.3x",
        "**NOT MET**",
    )
    assert rows[("faithfulness", "jax")]["target"] == "1 ± 10%"
    assert rows[("faithfulness", "jax")]["met"] == "yes"
    assert any("faithfulness-torch.json" in w for w in warnings)
    assert "faithfulness-torch.json" in section(report, "Skipped files")


def test_a_result_with_a_nan_timing_is_listed_and_skipped(tmp_path):
    write_groups(tmp_path)
    [damaged] = make_group("torch", profile="default", steady_seconds=[1.0], created_utc=START)
    damaged["timings"]["steady_epoch_seconds"] = float("nan")
    path = tmp_path / "runs" / MACHINE["id"] / "damaged.json"
    path.write_text(json.dumps(damaged))  # json writes NaN; digitrec's writer refuses to
    report, _ = build(tmp_path)
    skipped = section(report, "Skipped files")
    assert "damaged.json" in skipped and "timings.steady_epoch_seconds is not a finite" in skipped
    assert "torch" not in section(report, "Training")


def test_a_parity_verdict_missing_a_nested_key_is_listed_and_skipped(tmp_path):

    write_groups(tmp_path)
    folder = tmp_path / "parity" / "test-machine-2c"
    folder.mkdir(parents=True)
    good = parity_verdict(0.0)
    (folder / "20260301T000000Z-parity.json").write_text(json.dumps(good))
    broken = parity_verdict(0.01)
    del broken["statistical"]["pairs"][0]["ci"]
    (folder / "20260302T000000Z-parity.json").write_text(json.dumps(broken))
    no_lockstep_message = parity_verdict(0.01)
    del no_lockstep_message["lockstep"]["message"]
    (folder / "20260303T000000Z-parity.json").write_text(json.dumps(no_lockstep_message))
    report, _ = build(tmp_path)
    skipped = section(report, "Skipped files")
    assert "20260302T000000Z-parity.json" in skipped and "lacks ['ci']" in skipped
    assert "20260303T000000Z-parity.json" in skipped and "lockstep.message" in skipped
    # The last usable verdict is the one shown (a machine without runs keeps its id).
    assert "### `nox -s parity` on `test-machine-2c`: **PASS**" in report


def test_unreadable_probe_records_are_listed_and_skipped(tmp_path):
    write_groups(tmp_path)
    folder = tmp_path / "probes" / MACHINE["id"]
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{")
    (folder / "nan.json").write_text(
        json.dumps({"invocation": "x", "machine": {"id": "m"}, "probe": {"square_gflops": None}})
    )
    report, _ = build(tmp_path)
    skipped = section(report, "Skipped files")
    assert "broken.json" in skipped and "nan.json" in skipped


def write_verdicts(results: Path, *verdicts: dict) -> None:
    """Verdicts of the machine that ran `write_groups`' runs."""
    folder = results / "parity" / MACHINE["id"]
    folder.mkdir(parents=True, exist_ok=True)
    for day, verdict in enumerate(verdicts, start=1):
        verdict = {**verdict, "machine": MACHINE}
        (folder / f"202603{day:02d}T000000Z-parity.json").write_text(json.dumps(verdict))


def test_a_step_check_verdict_shows_the_steps_judged_and_the_free_running_diagnostic(tmp_path):
    write_groups(tmp_path)
    write_verdicts(tmp_path, parity_step_verdict(0.0))
    report, warnings = build(tmp_path)
    parity = report.split("## Accuracy parity", 1)[1]
    assert "- Teacher-forced steps: **PASS**: 3 steps from the tensorflow reference" in parity
    assert "Free-running lockstep epoch (a diagnostic, not judged)" in parity
    assert "tensorflow vs jax leaves rounding at step 3" in parity
    assert "Free-running divergence per step" in parity
    assert "teacher-forced steps **PASS**" in report  # the headline's parity line
    assert not [w for w in warnings if "parity" in w]


def test_a_failed_step_is_named_where_the_verdict_is_shown(tmp_path):
    write_groups(tmp_path)
    write_verdicts(tmp_path, parity_step_verdict(0.0, step_error=1e-2))
    report, _ = build(tmp_path)
    assert "### `nox -s parity` on M1: **FAIL**" in report
    assert "Accuracy parity FAILs for mlp on M1 (CPU)" in above_appendix(report)
    assert "first difference at step 1 (tensorflow vs jax): dense/kernel gradient" in report


def test_an_old_whole_epoch_verdict_is_still_read_and_shown_as_what_it_is(tmp_path):
    write_groups(tmp_path)
    write_verdicts(tmp_path, parity_verdict(0.0))
    report, _ = build(tmp_path)
    parity = report.split("## Accuracy parity", 1)[1]
    assert "- Lockstep (one whole free-running epoch; verdicts before the step check): **" in parity
    assert "Teacher-forced" not in parity and "Lockstep divergence per epoch" in parity
