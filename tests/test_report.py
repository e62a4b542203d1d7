"""The report builder: run selection, the Markdown it writes, its figures, and its failures."""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib import image

from bench.analysis.collect import (
    collect_runs,
    same_random_sample,
    select_latest,
    short_labels,
    split_quick,
)
from bench.report import NoResultsError, build_report
from bench.report.__main__ import main
from tests.report_fixtures import (
    GPU_MACHINE,
    MACHINE,
    alias,
    make_result,
    markdown_rows,
    section,
    write_run,
)

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BACKEND_MODULES = {"keras", "tensorflow", "jax", "jaxlib", "torch"}
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A results folder with three backends, an older run, a quick run, a second machine and
    two bad files, compiled by the real CLI in a fresh interpreter that logs its imports."""
    results_dir = tmp_path_factory.mktemp("results")
    runs = {
        "old_tf": make_result("tensorflow", accuracy=0.9612, created_utc=at(0)),
        "tf": make_result("tensorflow", accuracy=0.9781, created_utc=at(60)),
        "jax": make_result("jax", accuracy=0.9774, created_utc=at(65)),
        "torch": make_result("torch", accuracy=0.9790, created_utc=at(70)),
        "jax_quick": make_result("jax", accuracy=0.912, created_utc=at(120), quick=True),
        "gpu": make_result(
            "torch", accuracy=0.9786, created_utc=at(180), device="gpu", machine=GPU_MACHINE
        ),
    }
    for result in runs.values():
        write_run(results_dir, result)
    bad_dir = results_dir / "runs" / MACHINE["id"]
    (bad_dir / "broken.json").write_text('{"schema_version": 1, "run_id": ')
    (bad_dir / "old-schema.json").write_text(json.dumps({"schema_version": 0, "run_id": "x"}))
    figures_dir = results_dir / "figures"
    figures_dir.mkdir()
    (figures_dir / "stale.png").write_bytes(PNG_MAGIC + b"left from an earlier report")

    env = {key: value for key, value in os.environ.items() if key != "DIGITREC_RESULTS_DIR"}
    command = [sys.executable, "-X", "importtime", "-m", "bench.report"]
    process = subprocess.run(
        [*command, "--results-dir", str(results_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    report = (results_dir / "report.md").read_text(encoding="utf-8")
    return results_dir, runs, report, process


def test_report_imports_no_keras_backend(built):
    *_, process = built
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in process.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "pandas" in imported, "expected -X importtime output on stderr"
    assert not imported & BACKEND_MODULES


def test_training_table_has_one_row_per_latest_full_run(built):
    _, runs, report, _ = built
    rows = markdown_rows(section(report, "Training"))
    aliases = {m["id"]: alias(m, MACHINE, GPU_MACHINE) for m in (MACHINE, GPU_MACHINE)}
    expected = {
        (
            aliases[r["machine"]["id"]],
            r["backend"],
            r["device"]["used"],
            f"{r['metrics']['test_accuracy']:.4f}",
            f"{r['timings']['fit_seconds']:.2f}",
            f"{r['timings']['steady_epoch_seconds']:.3f}",
        )
        for r in (runs["tf"], runs["jax"], runs["torch"], runs["gpu"])
    }
    found = {
        (
            r["machine"],
            r["backend"],
            r["device"],
            r["test accuracy"],
            r["time to a trained model s"],
            r["steady epoch s (95% CI)"],
        )
        for r in rows
    }
    assert found == expected
    # Old-style files (no repeat, settings or profile): each is its own group of one, default.
    assert {(row["runs"], row["profile"]) for row in rows} == {("1", "default")}
    assert all(len(markdown_rows(table)[0]) <= 12 for table in tables_of(report))
    assert max(len(line) for table in tables_of(report) for line in table.splitlines()) <= 200


def tables_of(report: str) -> list[str]:
    """Every Markdown table of the report, each from its header line on."""
    blocks = re.findall(r"((?:^\|.*\n)+)", report, re.M)
    return [block for block in blocks if block.count("\n") >= 3]


def test_older_run_of_a_group_is_not_used(built):
    _, runs, report, _ = built
    assert runs["tf"]["run_id"] in report
    assert runs["old_tf"]["run_id"] not in report
    assert "0.9612" not in report
    assert "Found 6 readable result files (2 more skipped" in report


def test_accuracy_spread_per_machine(built):
    _, _, report, _ = built
    # The spread of the groups' mean accuracies (here one run each), labelled as such.
    cpu, gpu = alias(MACHINE, GPU_MACHINE), alias(GPU_MACHINE, MACHINE)
    assert (
        f"on {cpu}: the highest minus the lowest mean test accuracy = 0.0016 "
        "(3 groups of 1 to 1 runs)" in report
    )
    assert f"on {gpu}: only one group" in report


def test_quick_run_is_set_apart_and_labelled(built):
    _, runs, report, _ = built
    quick = section(report, "Quick runs (not comparable)")
    [row] = markdown_rows(quick)
    assert (row["backend"], row["test accuracy"]) == ("jax (**quick**)", "0.9120")
    assert "not comparable" in report
    assert runs["jax_quick"]["run_id"] in report
    assert "(quick)" not in section(report, "Per-class F1")


def test_sections_come_in_order(built):
    _, _, report, _ = built
    assert re.findall(r"^## (.+)$", report, re.M) == ["Summary", "Appendix"]
    titles = re.findall(r"^### (.+)$", report.split("## Appendix", 1)[1], re.M)
    assert titles == [
        "Verdict details: mlp",
        "Training",
        "Accuracy parity",
        "Environment",
        "Roofline and host speed",
        "Learning curves",
        "Confusion matrices",
        "Per-class F1",
        "Random test samples",
        "The data",
        "Runs used",
        "Skipped files",
    ]
    assert report.startswith("# digitrec benchmark report\n")
    assert "nox -s report" in report


def test_every_referenced_figure_is_a_png_and_stale_ones_are_gone(built):
    results_dir, _, report, _ = built
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    names = {Path(link).name for link in links}
    assert names == {
        "learning_curves.png",
        "confusion_matrices.png",
        "steady_epoch.png",
        "time_to_model_1.png",
        "time_to_model_2.png",
        "accuracy_vs_time_1.png",
        "accuracy_vs_time_2.png",
        "first_of_each_class.png",
        "random_test.png",
    }
    paths = {(results_dir / link).resolve() for link in links}
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, path
        assert image.imread(path).size > 0
    assert {path.resolve() for path in (results_dir / "figures").iterdir()} == paths


def test_the_html_copy_embeds_every_figure(built):
    results_dir, _, report, _ = built
    html = (results_dir / "report.html").read_text(encoding="utf-8")
    images = re.findall(r'<img alt="[^"]*" src="([^"]+)"', html)
    assert len(images) == len(re.findall(r"!\[", report))
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<table>" in html and "figures/" not in html


def test_environment_per_machine_and_one_per_class_table(built):
    _, runs, report, _ = built
    environment = section(report, f"{alias(GPU_MACHINE, MACHINE)}: `{GPU_MACHINE['id']}`")
    settings = {row[""]: row["value"] for row in markdown_rows(environment)}
    assert settings["GPUs"] == "NVIDIA A100-SXM4-40GB (40,960 MiB)"
    assert settings["commits"].endswith("(clean)")
    assert settings["frameworks"] == "torch 2.13.0"
    # One row per group, one column per digit: the mean F1 over the group's runs (here one).
    per_class = markdown_rows(section(report, "Per-class F1"))
    assert [column for column in per_class[0] if column.isdigit()] == [str(d) for d in range(10)]
    expected = runs["gpu"]["metrics"]["per_class"][3]["f1"]
    gpu_row = next(row for row in per_class if row["group"].startswith("torch/gpu"))
    assert (gpu_row["3"], gpu_row["runs"]) == (f"{expected:.4f}", "1")


def test_random_samples_show_every_run_prediction(built):
    _, runs, report, _ = built
    random = section(report, "Random test samples")
    assert str(runs["tf"]["samples"]["random_test"]["indices"]) in random
    assert "tf/cpu = tensorflow/cpu @ " in random
    assert "torch/gpu = torch/gpu @ " in random
    assert "Left out" not in random


def test_bad_files_are_listed_as_skipped_with_reasons(built):
    _, _, report, process = built
    skipped = {
        Path(row["file"]).name: row["reason"]
        for row in markdown_rows(section(report, "Skipped files"))
    }
    assert set(skipped) == {"broken.json", "old-schema.json"}
    assert "not a readable JSON file" in skipped["broken.json"]
    assert "schema_version 0" in skipped["old-schema.json"]
    assert process.stderr.count("warning: skipped") == 2


def test_empty_results_dir_exits_2_and_says_what_to_run(tmp_path, capsys):
    assert main(["--results-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "nox -s bench" in error
    assert str(tmp_path / "runs") in error


def test_results_dir_defaults_to_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIGITREC_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert main([]) == 2
    assert str(tmp_path / "elsewhere") in capsys.readouterr().err


def test_only_bad_files_is_no_results(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "bad.json").write_text("[]")
    warnings = []
    with pytest.raises(NoResultsError, match="1 unreadable files skipped"):
        build_report(tmp_path, warn=warnings.append)
    assert len(warnings) == 1 and "expected a JSON object" in warnings[0]


def test_incomplete_result_is_skipped_naming_the_field(tmp_path):
    result = make_result("jax", accuracy=0.97, created_utc=T0)
    del result["metrics"]["test_accuracy"]
    write_run(tmp_path, result)
    [skipped] = collect_runs(tmp_path).skipped
    assert "metrics.test_accuracy" in skipped.reason


def test_out_elsewhere_links_figures_relative_to_it(tmp_path):
    results_dir = tmp_path / "results"
    write_run(results_dir, make_result("jax", accuracy=0.97, created_utc=T0, epochs=2))
    out = build_report(results_dir, tmp_path / "site" / "report.md", warn=print)
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", out.read_text(encoding="utf-8"))
    assert links and all(link.startswith("../results/figures/") for link in links)
    assert all((out.parent / link).is_file() for link in links)


def frame_of(tmp_path, *results):
    for result in results:
        write_run(tmp_path, result)
    return collect_runs(tmp_path).runs


def test_quick_run_without_full_twin_stays_in_the_main_comparison(tmp_path):
    runs = frame_of(
        tmp_path,
        make_result("jax", accuracy=0.97, created_utc=at(0)),
        make_result("torch", accuracy=0.91, created_utc=at(1), quick=True),
    )
    main_runs, aside = split_quick(select_latest(runs))
    assert list(main_runs["backend"]) == ["jax", "torch"]
    assert list(main_runs["quick"]) == [False, True]
    assert aside.empty


def test_runs_with_another_random_sample_are_left_out(tmp_path):
    runs = frame_of(
        tmp_path,
        make_result("jax", accuracy=0.97, created_utc=at(0)),
        make_result("torch", accuracy=0.96, created_utc=at(1)),
        make_result("tensorflow", accuracy=0.91, created_utc=at(2), quick=True),
    )
    shown, left_out = same_random_sample(select_latest(runs))
    assert list(shown["backend"]) == ["jax", "torch"]
    assert list(left_out["backend"]) == ["tensorflow"]


def test_short_labels_add_device_and_machine_only_when_needed(tmp_path):
    runs = select_latest(
        frame_of(
            tmp_path,
            make_result("tensorflow", accuracy=0.97, created_utc=at(0)),
            make_result("jax", accuracy=0.97, created_utc=at(1)),
        )
    )
    assert short_labels(runs) == ["tf", "jax"]
    other = make_result("jax", accuracy=0.97, created_utc=at(2), machine=GPU_MACHINE)
    runs = select_latest(frame_of(tmp_path, other))
    assert short_labels(runs) == ["jax/cpu@m1", "tf/cpu@m2", "jax/cpu@m2"]  # machines by id
