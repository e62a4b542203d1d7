"""The report's micro-benchmark section, on pytest-benchmark JSONs written here."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.report import build_report
from bench.report.micro_section import MicroResults, latest_micro, render
from tests.report_fixtures import make_result, markdown_rows, section, write_run

MACHINE_ID = "amd-epyc-2c"


def benchmark_entry(kind: str, batch: int, backend: str, median_s: float) -> dict:
    """One benchmark as pytest-benchmark writes it (the fields the report reads, and a few)."""
    return {
        "name": f"test_{kind}[{batch}]",
        "extra_info": {"backend": backend, "kind": kind, "batch_size": batch},
        "stats": {
            "min": median_s / 2,
            "max": median_s * 3,
            "median": median_s,
            "iqr": median_s / 10,
            "mean": median_s * 1.5,
            "stddev": median_s / 4,
            "rounds": 120,
            "ops": 1 / (median_s * 1.5),
            "data": [median_s] * 3,
        },
    }


def micro_json(backend: str, train_median_s: float) -> dict:
    """A pytest-benchmark JSON of the three micro-benchmarks; predict is 4x and 20x faster."""
    return {
        "machine_info": {"node": "box", "python_version": "3.11.9"},
        "commit_info": {"id": "0" * 40, "dirty": False},
        "benchmarks": [
            benchmark_entry("predict_on_batch", 512, backend, train_median_s / 4),
            benchmark_entry("train_on_batch", 512, backend, train_median_s),
            benchmark_entry("predict_on_batch", 1, backend, train_median_s / 20),
        ],
        "datetime": "2026-01-01T00:00:00+00:00",
        "version": "5.1.0",
    }


def write_micro(results_dir: Path, name: str, content, machine: str = MACHINE_ID) -> Path:
    path = results_dir / "micro" / machine / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def rows_by_call(text: str) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["backend"], row["benchmark"]): row for row in markdown_rows(text)}


def test_latest_file_per_machine_and_backend_is_used(tmp_path):
    write_micro(tmp_path, "20260101T000000Z-jax.json", micro_json("jax", 0.010))
    write_micro(tmp_path, "20260102T000000Z-jax.json", micro_json("jax", 0.008))
    write_micro(tmp_path, "20260101T120000Z-torch.json", micro_json("torch", 0.020))
    write_micro(tmp_path, "20260103T000000Z-jax.json", micro_json("jax", 0.004), "other-8c")

    results = latest_micro(tmp_path, pytest.fail)

    assert {key: found.path.name for key, found in results.latest.items()} == {
        (MACHINE_ID, "jax"): "20260102T000000Z-jax.json",
        (MACHINE_ID, "torch"): "20260101T120000Z-torch.json",
        ("other-8c", "jax"): "20260103T000000Z-jax.json",
    }
    text = render(results)
    assert text.startswith("## Micro-benchmarks")
    assert text.count("On `") == 2
    rows = rows_by_call(text)  # the first table: machine amd-epyc-2c
    assert rows[("jax", "train step @512")]["median µs"] == "8,000.0"
    assert list(rows) == [
        ("jax", "train step @512"),
        ("jax", "predict @1"),
        ("jax", "predict @512"),
        ("torch", "train step @512"),
        ("torch", "predict @1"),
        ("torch", "predict @512"),
    ]


def test_table_values_are_formatted_from_the_stats(tmp_path):
    write_micro(tmp_path, "20260101T000000Z-tensorflow.json", micro_json("tensorflow", 0.008))
    text = render(latest_micro(tmp_path, pytest.fail))
    rows = rows_by_call(text)

    # The fastest median (predict @1, 400 µs) is under a millisecond: the table is in µs.
    train = rows[("tensorflow", "train step @512")]
    assert train == {
        "backend": "tensorflow",
        "benchmark": "train step @512",
        "median µs": "8,000.0",
        "IQR µs": "800.0",
        "mean µs": "12,000.0",
        "stddev µs": "2,000.0",
        "rounds": "120",
        "ops/s": "125",  # 1 / median
        "samples/s": "64,000",  # batch 512 x ops/s
    }
    single = rows[("tensorflow", "predict @1")]
    assert single["median µs"] == "400.0"
    assert single["ops/s"] == single["samples/s"] == "2,500"
    assert "`micro/amd-epyc-2c/20260101T000000Z-tensorflow.json`" in text


def test_times_of_a_millisecond_and_more_read_in_ms(tmp_path):
    write_micro(tmp_path, "20260101T000000Z-torch.json", micro_json("torch", 0.040))
    rows = rows_by_call(render(latest_micro(tmp_path, pytest.fail)))
    assert rows[("torch", "predict @1")]["median ms"] == "2.00"
    assert rows[("torch", "train step @512")]["stddev ms"] == "10.00"


def test_unreadable_files_are_skipped_with_a_note(tmp_path):
    write_micro(tmp_path, "20260101T000000Z-jax.json", micro_json("jax", 0.008))
    write_micro(tmp_path, "20260102T000000Z-jax.json", '{"benchmarks": [')
    no_median = micro_json("torch", 0.02)
    del no_median["benchmarks"][1]["stats"]["median"]
    write_micro(tmp_path, "20260102T000000Z-torch.json", no_median)
    write_micro(tmp_path, "20260103T000000Z-tensorflow.json", {"benchmarks": []})
    warnings = []

    results = latest_micro(tmp_path, warnings.append)

    assert [found.path.name for found in results.latest.values()] == ["20260101T000000Z-jax.json"]
    assert len(warnings) == len(results.skipped) == 3
    text = render(results)
    assert "Skipped unreadable micro-benchmark files" in text
    assert "`micro/amd-epyc-2c/20260102T000000Z-torch.json`" in text and "'median'" in text
    assert {row["backend"] for row in markdown_rows(text)} == {"jax"}


def test_no_section_without_micro_results(tmp_path):
    assert render(latest_micro(tmp_path, pytest.fail)) == ""
    (tmp_path / "micro" / MACHINE_ID).mkdir(parents=True)
    assert render(latest_micro(tmp_path, pytest.fail)) == ""
    assert render(MicroResults()) == ""


def test_the_report_shows_the_section_before_skipped_files(tmp_path):
    created = datetime(2026, 1, 1, tzinfo=UTC)
    write_run(tmp_path, make_result("jax", accuracy=0.97, created_utc=created))
    (tmp_path / "runs" / "broken.json").write_text("{")
    write_micro(tmp_path, "20260101T000000Z-jax.json", micro_json("jax", 0.008))

    report = build_report(tmp_path, warn=lambda message: None).read_text(encoding="utf-8")

    assert report.index("## Micro-benchmarks") < report.index("## Skipped files")
    rows = rows_by_call(section(report, "Micro-benchmarks"))
    assert rows[("jax", "train step @512")]["samples/s"] == "64,000"
