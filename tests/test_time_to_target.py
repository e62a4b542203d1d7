"""Time to target accuracy and lower precision: the epoch read, the miss rule, bf16's judgement."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.collect import add_labels, collect_runs, select_latest
from bench.analysis.decision import TIME_TO_MODEL, TIME_TO_TARGET, decide
from bench.analysis.precision import ACCEPTED, REJECTED
from bench.report import build_report
from bench.stats import FASTER, MISSED
from digitrec_core.config import RunConfig
from digitrec_core.metrics import time_to_target
from digitrec_core.workloads import MLP, Workload, WorkloadError, check_workload
from tests.report_fixtures import (
    make_group,
    markdown_rows,
    section,
    skip_drawing,
    write_run,
)

TARGET = MLP.target_accuracy
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EPOCHS = 10


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    skip_drawing(monkeypatch)


def curve(reached_at: int | None, final: float = TARGET + 0.002) -> list[float]:
    """A test-accuracy curve that first reaches TARGET at epoch `reached_at` (None: never)."""
    below = TARGET - 0.004
    if reached_at is None:
        return [below - 0.01 * (EPOCHS - 1 - i) / EPOCHS for i in range(EPOCHS)]
    return [below] * (reached_at - 1) + [final] * (EPOCHS - reached_at + 1)


def write_backend(
    results: Path,
    backend: str,
    steady: float,
    reached_at: list[int | None],
    *,
    profile: str = "default",
    finals: list[float] | None = None,
    target: float | None = TARGET,
) -> list[dict]:
    """One group in rounds: a run per entry of `reached_at`, its steady epoch `steady` s."""
    finals = finals or [TARGET + 0.002] * len(reached_at)
    group = make_group(
        backend,
        profile=profile,
        steady_seconds=[steady * (1 + i / 100) for i in range(len(reached_at))],
        created_utc=START,
        group=f"{backend}-{profile}",
        target=target,
        curves=[curve(at, final) for at, final in zip(reached_at, finals, strict=True)],
    )
    for result in group:
        result["repeat"].update(scheduler="rounds", min_rounds=3, max_rounds=4, confidence=0.95)
        result["config"]["precision"] = "mixed_bfloat16" if profile == "bf16" else "float32"
        write_run(results, result)
    return group


def verdict_of(results: Path):
    groups = add_labels(select_latest(collect_runs(results).runs))
    [verdict] = decide(groups)
    return verdict


# --- the epoch it is read from -----------------------------------------------------------


def test_time_to_target_is_the_training_time_at_the_first_epoch_that_reaches_it():
    seconds = [3.0, 4.0, 5.0, 6.0]
    assert time_to_target([0.98, 0.99, 0.99, 0.99], seconds, 0.975).epoch == 1
    found = time_to_target([0.96, 0.974, 0.975, 0.99], seconds, 0.975)
    assert (found.epoch, found.seconds, found.reached) == (3, 5.0, True)
    # Reached, then lost again: still the first epoch that reached it.
    assert time_to_target([0.96, 0.976, 0.970, 0.99], seconds, 0.975).seconds == 4.0


def test_a_run_that_never_reaches_the_target_is_a_miss():
    found = time_to_target([0.96, 0.97, 0.9749], [3.0, 4.0, 5.0], 0.975)
    assert (found.epoch, found.seconds, found.reached) == (None, None, False)


def test_one_time_per_evaluated_epoch_is_required():
    with pytest.raises(ValueError, match="one training time per evaluated epoch"):
        time_to_target([0.9, 0.95], [3.0], 0.9)


def test_a_run_records_the_time_at_the_epoch_its_curve_reaches(tmp_path):
    [run] = write_backend(tmp_path, "jax", 1.0, [4])
    assert run["metrics"]["target"] == {"accuracy": TARGET, "reached": True, "epoch": 4}
    assert run["timings"]["time_to_target_seconds"] == run["timings"]["training_seconds"][3]


# --- the miss rule -------------------------------------------------------------------------


def test_a_backend_with_misses_is_never_ranked_faster_than_one_without(tmp_path):
    # TensorFlow is three times faster, but misses the target in one run of four.
    write_backend(tmp_path, "tensorflow", 0.3, [5, 5, None, 5])
    write_backend(tmp_path, "jax", 1.0, [5, 5, 5, 5])
    verdict = verdict_of(tmp_path)
    task = verdict.get(TIME_TO_TARGET)
    assert task.winner.backend == "jax"
    [margin] = task.margins
    assert margin.outcome == MISSED and margin.decisive
    assert margin.text() == "missed 1 of 4"
    # The whole fit knows nothing of targets: there TensorFlow wins.
    assert verdict.get(TIME_TO_MODEL).winner.backend == "tensorflow"
    report = build_report(tmp_path, warn=lambda _: None, test_set=None).read_text()
    rows = markdown_rows(section(report, "mlp verdict on M1 (CPU)"))
    [row] = [r for r in rows if r["task"] == "time to target accuracy" and "best" in r["profiles"]]
    assert row["fastest"] == "**JAX (default)**" and row["vs TensorFlow"] == "missed 1 of 4"
    assert "reaches 0.974 test accuracy" in report


def test_without_misses_the_faster_backend_wins_by_a_paired_interval(tmp_path):
    write_backend(tmp_path, "tensorflow", 0.3, [5, 5, 5, 5])
    write_backend(tmp_path, "jax", 1.0, [5, 5, 5, 5])
    task = verdict_of(tmp_path).get(TIME_TO_TARGET)
    assert task.winner.backend == "tensorflow"
    [margin] = task.margins
    assert margin.outcome == FASTER and margin.paired and margin.ratio > 1.2


def test_equal_misses_are_compared_on_the_rounds_both_reached(tmp_path):
    write_backend(tmp_path, "tensorflow", 0.3, [5, None, 5, 5])
    write_backend(tmp_path, "jax", 1.0, [5, None, 5, 5])
    task = verdict_of(tmp_path).get(TIME_TO_TARGET)
    assert task.winner.backend == "tensorflow" and task.winner.missed == 1
    [margin] = task.margins
    assert margin.rounds == 3 and margin.outcome != MISSED
    assert "(missed 1 of 4)" in task.winner_value()


def test_results_without_a_target_fall_back_to_the_whole_fit(tmp_path):
    write_backend(tmp_path, "tensorflow", 0.3, [5, 5, 5], target=None)
    write_backend(tmp_path, "jax", 1.0, [5, 5, 5], target=None)
    verdict = verdict_of(tmp_path)
    assert verdict.get(TIME_TO_TARGET).problem == "not measured"
    report = build_report(tmp_path, warn=lambda _: None, test_set=None).read_text()
    assert "gets to a trained model" in report and "reaches 0.974" not in report


def test_a_target_no_run_reached_is_said_so(tmp_path):
    write_backend(tmp_path, "tensorflow", 0.3, [None, None, None])
    write_backend(tmp_path, "jax", 1.0, [None, None, None])
    assert verdict_of(tmp_path).get(TIME_TO_TARGET).problem == "no run reached the target"


# --- lower precision -----------------------------------------------------------------------


def test_a_faster_bf16_profile_that_loses_accuracy_is_rejected_and_never_wins(tmp_path):
    write_backend(tmp_path, "tensorflow", 1.0, [5, 5, 5, 5], finals=[TARGET + 0.008] * 4)
    # Twice as fast, reaching the target, but 0.6 pp less accurate than float32 every round.
    finals = [TARGET + 0.002 + i / 10_000 for i in range(4)]
    write_backend(tmp_path, "tensorflow", 0.5, [5, 5, 5, 5], profile="bf16", finals=finals)
    write_backend(tmp_path, "jax", 0.8, [5, 5, 5, 5])
    verdict = verdict_of(tmp_path)
    [judged] = verdict.precision
    assert judged.status == REJECTED and "differs from float32's" in judged.reason
    assert judged.speed["outcome"] == FASTER  # its speed is shown all the same
    for task in (TIME_TO_TARGET, TIME_TO_MODEL):
        winner = verdict.get(task).winner
        assert winner.row.profile != "bf16", task.name
    report = build_report(tmp_path, warn=lambda _: None, test_set=None).read_text()
    assert "TensorFlow bf16 **REJECTED**" in report
    [row] = markdown_rows(section(report, "Tuned profiles").split("**Lower precision.**")[1])
    assert row["status"].startswith("**REJECTED**") and "FAIL" in row["accuracy − float32 (90% CI)"]


def test_a_bf16_profile_that_keeps_the_accuracy_is_accepted_and_may_win(tmp_path):
    write_backend(tmp_path, "tensorflow", 1.0, [5, 5, 5, 5])
    finals = [TARGET + 0.002 + d for d in (0.0002, -0.0001, 0.0001, 0.0)]
    write_backend(tmp_path, "tensorflow", 0.5, [5, 5, 5, 5], profile="bf16", finals=finals)
    write_backend(tmp_path, "jax", 0.8, [5, 5, 5, 5])
    verdict = verdict_of(tmp_path)
    [judged] = verdict.precision
    assert judged.status == ACCEPTED, judged.reason
    assert verdict.get(TIME_TO_TARGET).winner.row.profile == "bf16"
    assert verdict.get(TIME_TO_TARGET, "default").winner.row.profile == "default"


def test_a_bf16_profile_that_misses_the_target_is_rejected_however_accurate_on_average(tmp_path):
    write_backend(tmp_path, "tensorflow", 1.0, [5, 5, 5, 5])
    write_backend(tmp_path, "tensorflow", 0.5, [5, 5, 5, None], profile="bf16")
    [judged] = verdict_of(tmp_path).precision
    assert judged.status == REJECTED and "missed the target accuracy in 1 of 4" in judged.reason


def test_bf16_is_rejected_when_too_few_paired_seeds_show_its_accuracy(tmp_path):
    write_backend(tmp_path, "tensorflow", 1.0, [5, 5])
    write_backend(tmp_path, "tensorflow", 0.5, [5, 5], profile="bf16")
    [judged] = verdict_of(tmp_path).precision
    assert judged.status == REJECTED and "equivalence cannot be shown" in judged.reason


# --- settings ----------------------------------------------------------------------------


def test_a_lower_precision_profile_must_run_at_its_precision():
    RunConfig(backend="jax", profile="bf16", precision="mixed_bfloat16")
    with pytest.raises(ValueError, match="profile 'bf16' trains at mixed_bfloat16"):
        RunConfig(backend="jax", profile="bf16")
    # A default-profile group at another precision would be compared with float32 ones.
    with pytest.raises(ValueError, match="pass --profile bf16"):
        RunConfig(backend="jax", precision="mixed_bfloat16")
    from bench.run.__main__ import config_from_args, parse_args

    implied = config_from_args(parse_args(["--backend", "jax", "--precision", "mixed_bfloat16"]))
    assert (implied.profile, implied.precision) == ("bf16", "mixed_bfloat16")
    implied = config_from_args(parse_args(["--backend", "jax", "--profile", "fp16"]))
    assert implied.precision == "mixed_float16"
    with pytest.raises(ValueError, match="precision must be one of"):
        RunConfig(backend="jax", precision="bfloat16")


def test_a_workload_target_must_be_an_accuracy():
    fields = dict(
        name="w",
        description="d",
        build_model=lambda: None,
        prepare_images=lambda x: x,
        epochs=1,
        batch_size=8,
    )
    with pytest.raises(WorkloadError, match="target_accuracy must be a number in"):
        check_workload(Workload(**fields, target_accuracy=97.5), "w")
    assert check_workload(Workload(**fields, target_accuracy=0.9), "w").target_accuracy == 0.9
    assert np.isclose(MLP.settings()["target_accuracy"], 0.974)
