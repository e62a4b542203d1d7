"""The report's verdict: built from fixture result sets, checked against the numbers in the JSON."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.decision import ci_text
from bench.report import build_report
from bench.stats import compare_speed, geometric_mean
from tests.report_fixtures import (
    GPU_MACHINE,
    INVOCATION,
    MACHINE,
    above_appendix,
    alias,
    make_group,
    markdown_rows,
    section,
    skip_drawing,
    write_probe,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RNG_SEED = 7


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    skip_drawing(monkeypatch)


def steady_times(median: float, runs: int = 5, spread: float = 0.01, seed: int = 0) -> list:
    """`runs` steady epochs around `median`, lognormal with a `spread` sd."""
    rng = np.random.default_rng(RNG_SEED + seed)
    return (median * np.exp(rng.normal(0, spread, runs))).round(4).tolist()


def write_backend(
    results: Path,
    backend: str,
    steady: list[float],
    *,
    profile: str = "default",
    machine: dict = MACHINE,
    invocation: str = INVOCATION,
    hour: int = 0,
    first_epoch: float | None = None,
) -> list[dict]:
    """One repeat group as the suite writes it; the first epoch fixed when given."""
    group = make_group(
        backend,
        profile=profile,
        steady_seconds=steady,
        created_utc=START + timedelta(hours=hour),
        invocation=invocation,
        machine=machine,
        group=f"{machine['id']}-{backend}-{profile}",
    )
    for result in group:
        timings = result["timings"]
        if first_epoch is not None:
            timings["epoch_seconds"][0] = timings["first_epoch_seconds"] = first_epoch
            timings["compile_overhead_seconds"] = first_epoch - timings["steady_epoch_seconds"]
            timings["fit_seconds"] = sum(timings["epoch_seconds"]) + 0.05
        write_run(results, result)
    return group


def build(results: Path) -> str:
    return build_report(results, warn=lambda _: None, test_set=None).read_text()


def verdict_rows(report: str, machine: str = "M1", device: str = "CPU") -> dict:
    """The verdict details table of one machine (by alias), keyed by (task, profiles).

    A row that holds for both scopes ("default = best") is found under either.
    """
    text = section(report, f"mlp verdict on {machine} ({device})")
    rows = {}
    for row in markdown_rows(text):
        scopes = ("default settings", "best profile")
        for scope in scopes if row["profiles"] == "default = best" else (row["profiles"],):
            rows[(row["task"], scope)] = row
    return rows


def sentence_of(report: str, machine: str = "M1", device: str = "CPU") -> str:
    """The summary's sentence for one machine."""
    return section(report, f"mlp on {machine} ({device})").strip().splitlines()[0]


def margin_text(slower: list[dict], faster: list[dict], dotted: str = "fit_seconds") -> str:
    """What the report must print for `faster`'s margin over `slower`, from their JSON."""
    found = compare_speed(
        [r["timings"][dotted] for r in slower], [r["timings"][dotted] for r in faster]
    )
    text = f"{found['ratio']:.2f}× {ci_text(found['ci95'])}"
    return text if found["outcome"] == "FASTER" else f"tie: {text}"


def test_the_verdict_names_the_fastest_backend_with_the_json_margins(tmp_path):
    tf = write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    jax = write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    torch = write_backend(tmp_path, "torch", steady_times(0.9, seed=2), first_epoch=1.0, hour=2)
    report = build(tmp_path)
    assert report.index("## Summary") < report.index("## Appendix") < report.index("### Training")
    rows = verdict_rows(report)
    job = rows[("time to a trained model", "default settings")]
    assert job["fastest"] == "**JAX (default)**"
    assert job["vs JAX"] == "—"
    assert job["vs TensorFlow"] == margin_text(tf, jax)
    assert job["vs torch"] == margin_text(torch, jax)
    typical_fit = geometric_mean([r["timings"]["fit_seconds"] for r in jax])
    assert job["its value"] == f"{typical_fit:.2f} s"
    throughput = rows[("steady training throughput", "default settings")]
    # A rate: the margin is of its inverse, the time per sample.
    assert throughput["vs torch"] == margin_text(torch, jax, "steady_epoch_seconds")
    sentence = sentence_of(report)
    assert sentence.startswith("On M1 (CPU): **JAX** (default settings)")
    assert "faster than TensorFlow (default)" in sentence
    assert "faster than torch (default)" in sentence


def test_backends_that_do_not_separate_are_called_a_tie_and_the_fix_is_named(tmp_path):
    # The same steady epochs give torch and TensorFlow the same time to a trained model.
    tf = write_backend(tmp_path, "tensorflow", steady_times(1.0, spread=0.05), first_epoch=3.0)
    torch = write_backend(
        tmp_path, "torch", steady_times(1.0, spread=0.05, seed=3), first_epoch=3.0, hour=1
    )
    report = build(tmp_path)
    rows = verdict_rows(report)
    job = rows[("time to a trained model", "best profile")]
    assert job["fastest"] in ("**torch (default)**", "**TensorFlow (default)**")
    if job["fastest"] == "**torch (default)**":
        cell, expected = job["vs TensorFlow"], margin_text(tf, torch)
    else:
        cell, expected = job["vs torch"], margin_text(torch, tf)
    assert cell == expected and cell.startswith("tie: ")
    verdict = section(report, "mlp verdict on M1 (CPU)")
    assert " tie for time to a trained model (" in sentence_of(report)
    # Their times to a trained model are shown the same (a decided tie): nothing to run.
    assert "- time to a trained model:" not in verdict
    # Their steady epochs are too noisy to tell: an undecided tie, with what to run.
    steady = rows[("steady training throughput", "best profile")]
    assert "tie: " in steady["vs TensorFlow"] + steady["vs torch"]
    assert "- steady training throughput:" in verdict and "is not decisive" in verdict
    assert "one `nox -s bench` runs them in the same rounds, paired" in verdict


def test_a_missing_backend_has_no_column_and_the_rest_are_ranked(tmp_path):
    tf = write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    jax = write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    rows = verdict_rows(build(tmp_path))
    job = rows[("time to a trained model", "default settings")]
    assert "vs torch" not in job
    assert job["vs TensorFlow"] == margin_text(tf, jax)


def test_corrupt_and_unknown_schema_files_are_skipped_without_changing_the_verdict(tmp_path):
    tf = write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    jax = write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    folder = tmp_path / "runs" / MACHINE["id"]
    (folder / "corrupt.json").write_text('{"schema_version": 1, "run_id": ')
    future = {**tf[0], "schema_version": 99, "run_id": "from-the-future"}
    (folder / "future.json").write_text(json.dumps(future))
    report = build(tmp_path)
    skipped = section(report, "Skipped files")
    assert "corrupt.json" in skipped and "future.json" in skipped and "schema_version 99" in skipped
    job = verdict_rows(report)[("time to a trained model", "default settings")]
    assert job["vs TensorFlow"] == margin_text(tf, jax)


def test_groups_of_one_id_on_hosts_of_different_speed_are_not_ranked(tmp_path):
    write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    other = "20260301T130000Z-fast00"
    write_backend(
        tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1, invocation=other
    )
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=180.0)
    write_probe(tmp_path, invocation=other, square_gflops=490.0)
    report = build(tmp_path)
    job = verdict_rows(report)[("time to a trained model", "default settings")]
    assert "hosts of different speed" in job["vs TensorFlow"] + job["vs JAX"]
    sentence = sentence_of(report)
    assert "no recommendation" in sentence and "in one `nox -s bench`" in sentence
    assert (
        "Not ranked, the groups ran on hosts of different speed: mlp on M1 (CPU)"
        in above_appendix(report)
    )


def test_two_machines_get_a_summary_each_and_are_never_ranked_against_each_other(tmp_path):
    write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    jax = write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    gpu = {"machine": GPU_MACHINE}
    write_backend(tmp_path, "tensorflow", steady_times(0.1, seed=2), first_epoch=2.0, **gpu)
    write_backend(tmp_path, "jax", steady_times(0.5, seed=3), first_epoch=2.0, hour=1, **gpu)
    report = build(tmp_path)
    cpu, gpu_alias = alias(MACHINE, GPU_MACHINE), alias(GPU_MACHINE, MACHINE)
    job = "time to a trained model, s"
    cpu_rows = {r["task"]: r for r in markdown_rows(section(report, f"mlp on {cpu} (CPU)"))}
    gpu_rows = {r["task"]: r for r in markdown_rows(section(report, f"mlp on {gpu_alias} (CPU)"))}
    fit = geometric_mean([r["timings"]["fit_seconds"] for r in jax])
    assert cpu_rows[job]["JAX"] == f"**{fit:.2f}**" and "**" not in cpu_rows[job]["TensorFlow"]
    assert gpu_rows[job]["TensorFlow"].startswith("**") and "**" not in gpu_rows[job]["JAX"]
    assert "matrix" not in above_appendix(report)  # two machines: a summary each, no matrix
    # Each machine's environment table, and its own verdict table.
    for machine, name in ((MACHINE, cpu), (GPU_MACHINE, gpu_alias)):
        assert section(report, f"{name}: `{machine['id']}`")
        assert verdict_rows(report, name)


def test_more_than_three_machines_get_one_matrix_row_each_linking_to_their_details(tmp_path):
    machines = [{**MACHINE, "id": f"box-{index}"} for index in range(5)]
    for index, machine in enumerate(machines):
        write_backend(tmp_path, "tensorflow", steady_times(1.2, seed=index), machine=machine)
        write_backend(tmp_path, "jax", steady_times(0.4, seed=index), hour=1, machine=machine)
    report = build(tmp_path)
    rows = markdown_rows(section(report, "mlp: which backend on which machine"))
    assert [row["machine"] for row in rows] == [
        f"[M{n} (CPU)](#mlp-verdict-on-m{n}-cpu)" for n in range(1, 6)
    ]
    assert all(row["time to a trained model"].startswith("**JAX (default)**") for row in rows)
    for n in range(1, 6):
        assert f"\n#### mlp verdict on M{n} (CPU)\n" in report
    assert "\n### mlp on M1 (CPU)" not in report


def test_a_tuned_profile_slower_for_the_documented_job_is_flagged_and_not_recommended(tmp_path):
    # Tuned: a faster steady epoch, but 25 s of compile in its first epoch.
    write_backend(tmp_path, "torch", steady_times(0.70), first_epoch=0.8)
    write_backend(tmp_path, "torch", steady_times(0.55, seed=1), profile="tuned", first_epoch=25.0)
    write_backend(tmp_path, "jax", steady_times(0.80, seed=2), first_epoch=2.0, hour=1)
    report = build(tmp_path)
    rows = verdict_rows(report)
    assert rows[("steady training throughput", "best profile")]["fastest"] == "**torch (tuned)**"
    assert rows[("time to a trained model", "best profile")]["fastest"] == "**torch (default)**"
    tuned = {row["backend"]: row for row in markdown_rows(section(report, "Tuned profiles"))}
    assert tuned["torch/cpu"]["for the documented job"].startswith("⚠ SLOWER")
    assert tuned["torch/cpu"]["break-even"] != "from epoch 1"
    assert "never recommended for it" in section(report, "mlp verdict on M1 (CPU)")
    assert "A tuned profile is slower than its default" in above_appendix(report)


def test_a_host_whose_speed_moved_during_the_run_is_named_in_the_verdict(tmp_path):
    write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=480.0, phase="start")
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=300.0, phase="end")
    verdict = section(build(tmp_path), "mlp verdict on M1 (CPU)")
    assert f"The host's speed changed during invocation `{INVOCATION}`" in verdict


def test_a_host_whose_speed_held_is_not_named(tmp_path):
    write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=480.0, phase="start")
    write_probe(tmp_path, invocation=INVOCATION, square_gflops=470.0, phase="end")
    assert "speed changed during" not in build(tmp_path)


def test_a_failed_backend_is_named_in_the_verdict_and_listed(tmp_path):
    write_backend(tmp_path, "tensorflow", steady_times(1.2), first_epoch=3.0)
    write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5, hour=1)
    record = {
        "check": "failed-run",
        "status": "no-backend",
        "reason": "error: cannot import keras with backend 'torch' (libcudart missing)",
        "fix": "install the backend",
        "backend": "torch",
        "device": "cpu",
        "profile": "default",
        "created_utc": (START + timedelta(hours=3)).isoformat(),
        "machine": dict(MACHINE),
    }
    folder = tmp_path / "failures" / MACHINE["id"]
    folder.mkdir(parents=True)
    (folder / "torch.json").write_text(json.dumps(record))
    (folder / "broken.json").write_text("{")
    report = build(tmp_path)
    verdict = section(report, "mlp verdict on M1 (CPU)")
    assert "⚠ torch (default) failed here (no-backend): error: cannot import keras" in verdict
    assert "1 run(s) failed" in above_appendix(report)
    [row] = markdown_rows(section(report, "Failed runs"))
    assert (row["backend"], row["status"]) == ("torch", "**no-backend**")
    assert "broken.json" in section(report, "Skipped files")


def test_a_failure_followed_by_a_successful_group_is_left_out(tmp_path):
    record = {
        "check": "failed-run",
        "status": "timeout",
        "reason": "no result after 1800 s",
        "backend": "jax",
        "device": "cpu",
        "profile": "default",
        "created_utc": (START - timedelta(hours=1)).isoformat(),
        "machine": dict(MACHINE),
    }
    folder = tmp_path / "failures" / MACHINE["id"]
    folder.mkdir(parents=True)
    (folder / "jax.json").write_text(json.dumps(record))
    write_backend(tmp_path, "jax", steady_times(0.4, seed=1), first_epoch=3.5)
    assert "## Failed runs" not in build(tmp_path)
