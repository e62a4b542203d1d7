import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report.micro import latest_micro, render
from tests.test_report import markdown_rows

REPO = Path(__file__).resolve().parents[1]


def benchmark_json(backend: str, median_s: float) -> dict:
    def entry(kind, batch, scale):
        stats = {
            "median": median_s * scale,
            "iqr": 1e-5,
            "mean": median_s * scale,
            "stddev": 2e-5,
            "rounds": 50,
            "min": 0.0,
            "max": 1.0,
            "ops": 1.0,
        }
        return {
            "name": f"{kind}{batch}",
            "stats": stats,
            "extra_info": {"backend": backend, "kind": kind, "batch_size": batch},
        }

    return {"benchmarks": [entry("train_on_batch", 512, 4), entry("predict_on_batch", 1, 1)]}


def test_latest_file_per_backend_is_summarised_and_bad_ones_skipped(tmp_path):
    folder = tmp_path / "micro" / "m1"
    folder.mkdir(parents=True)
    (folder / "20260101T000000Z-jax.json").write_text(json.dumps(benchmark_json("jax", 0.001)))
    (folder / "20260102T000000Z-jax.json").write_text(json.dumps(benchmark_json("jax", 0.002)))
    (folder / "20260102T000000Z-torch.json").write_text(json.dumps(benchmark_json("torch", 0.0005)))
    (folder / "20260103T000000Z-tensorflow.json").write_text("{not json")
    warnings = []
    latest = latest_micro(tmp_path, warnings.append)
    assert set(latest) == {("m1", "jax"), ("m1", "torch")}
    assert len(warnings) == 1 and "tensorflow" in warnings[0]
    rows = markdown_rows(render(latest))
    jax_train = next(
        r for r in rows if r["backend"] == "jax" and r["call"] == "train_on_batch @512"
    )
    assert jax_train["median µs"] == "8,000.0" and jax_train["samples/s"] == "64,000"
    assert render({}) == ""


@pytest.mark.slow
def test_micro_cli_keeps_pytest_benchmark_json(tmp_path):
    env = {**os.environ, "DIGITREC_MICRO_ROUNDS": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.micro", "--results-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [path] = (tmp_path / "micro").glob("*/*.json")
    data = json.loads(path.read_text())
    kinds = sorted(
        (b["extra_info"]["kind"], b["extra_info"]["batch_size"]) for b in data["benchmarks"]
    )
    assert kinds == [("predict_on_batch", 1), ("predict_on_batch", 512), ("train_on_batch", 512)]
    assert {b["extra_info"]["backend"] for b in data["benchmarks"]} == {os.environ["KERAS_BACKEND"]}
    assert "machine_info" in data and all(b["stats"]["rounds"] >= 3 for b in data["benchmarks"])
