"""The bench CLI end to end, in a fresh process, under the backend of this test session."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cli import EXIT_NO_BACKEND
from digitrec_core.config import BACKENDS, RunConfig
from digitrec_core.initial_weights import glorot_uniform_weights, weights_sha256
from digitrec_core.results import ALONE, SCHEMA, read_result, write_result

pytestmark = pytest.mark.backend  # needs a Keras backend installed

ACTIVE = os.environ["KERAS_BACKEND"]
REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env_overrides: dict[str, str] | None = None):
    env = {**os.environ, **(env_overrides or {})}
    return subprocess.run(
        [sys.executable, "-m", "bench.run", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def key_paths(record: dict) -> set[str]:
    """ "key" and "key.sub" for each section of SCHEMA's shape (free-form sections: the key)."""
    paths = set()
    for key, value in record.items():
        paths.add(key)
        if isinstance(SCHEMA.get(key), dict) and isinstance(value, dict):
            paths |= {f"{key}.{sub}" for sub in value}
    return paths


def on_tiny_data(data_dir) -> list[str]:
    """bench.run options for the active backend on the synthetic (not official) data set."""
    return ["--backend", ACTIVE, "--data-dir", str(data_dir), "--no-verify-checksums"]


@pytest.mark.slow
def test_cli_writes_a_complete_result_and_the_report_shows_it(tiny_mnist_dir, tmp_path):
    results = tmp_path / "results"
    other = next(b for b in BACKENDS if b != ACTIVE)
    # Neither a stray KERAS_BACKEND nor a keras.json naming another backend wins over --backend.
    keras_home = tmp_path / "keras-home"
    keras_home.mkdir()
    (keras_home / "keras.json").write_text(json.dumps({"backend": other}))
    done = run_cli(
        *on_tiny_data(tiny_mnist_dir),
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--results-dir",
        str(results),
        env_overrides={"KERAS_BACKEND": other, "KERAS_HOME": str(keras_home)},
    )
    assert done.returncode == 0, done.stderr
    assert len([line for line in done.stdout.splitlines() if line.startswith("epoch ")]) == 3

    [path] = (results / "runs").glob("*/*.json")
    result = read_result(path)
    assert key_paths(result) == key_paths(SCHEMA)  # every documented key, optional ones too
    assert result["backend"] == ACTIVE and result["versions"]["framework"] == ACTIVE
    assert result["device"]["requested"] == result["device"]["used"] == "cpu"
    assert result["config"]["epochs"] == 3 and result["config"]["quick"] is False
    assert (result["data"]["train_samples"], result["data"]["test_samples"]) == (600, 200)
    assert result["model"]["parameters"] == 118_282
    assert result["model"]["initial_weights_sha256"] == weights_sha256(glorot_uniform_weights(0))
    assert path.parent.name == result["machine"]["id"] and path.stem == result["run_id"]

    timings = result["timings"]
    assert len(timings["epoch_seconds"]) == 3
    assert timings["fit_seconds"] >= sum(timings["epoch_seconds"])
    assert timings["steady_epoch_seconds"] == np.median(timings["epoch_seconds"][1:])
    assert timings["predict_seconds"] > 0 and timings["evaluate_seconds"] > 0
    assert timings["predict_path"] in timings["predict_path_trial_p50_ms"]
    latencies = [timings[f"predict_latency_{p}_ms"] for p in ("p50", "p95", "p99")]
    assert 0 < latencies[0] <= latencies[1] <= latencies[2]
    assert timings["predict_latency_calls"] >= 200
    assert sorted(timings["predict_throughput_samples_per_second"], key=int) == ["1", "32", "200"]

    settings = result["settings"]
    assert settings["profile"] == "default" and settings["jit_compile_requested"] == "auto"
    assert isinstance(settings["jit_compile_resolved"], bool)
    assert settings["steps_per_execution"] == 1 and settings["dtype_policy"] == "float32"
    assert settings["environment"]["CUDA_VISIBLE_DEVICES"] == ""
    assert result["memory"]["peak_rss_mib"] > 50 and result["memory"]["peak_gpu_mib"] is None
    assert result["repeat"] == ALONE
    assert result["tuning"] is None and result["invocation"] == {"id": None}
    threads = settings["threads"]
    assert threads["requested"] is None and threads["in_effect"] is None
    assert threads["busy_cores_fit"] > 0 and threads["busy_cores_gemm"] > 0
    assert result["command"][:3] == ["python", "-m", "bench.run"]
    assert not [arg for arg in result["command"] if arg.endswith("run.py")]
    # The data folder was given as an absolute path; the result keeps it relative.
    assert not result["config"]["data_dir"].startswith("/")
    assert result["data"]["source"].startswith("idx:") and "idx:/" not in result["data"]["source"]

    roofline = result["roofline"]
    assert roofline["flops_per_epoch"] == 507_392 * 600
    assert roofline["achieved_gflops"] == pytest.approx(
        roofline["flops_per_epoch"] / timings["steady_epoch_seconds"] / 1e9
    )
    gemm = roofline["framework_gemm"]
    assert gemm["square_gflops"] > 0 and gemm["model_shapes_gflops"] > 0

    metrics = result["metrics"]
    assert len(metrics["history"]["loss"]) == len(metrics["history"]["accuracy"]) == 3
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == 200 == len(metrics["predicted_classes"])
    # evaluate() and predict() are separate code paths; they must agree on accuracy.
    assert np.trace(matrix) / 200 == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert metrics["test_accuracy"] > 0.5  # the synthetic digits are easy to learn

    report = subprocess.run(
        [sys.executable, "-m", "bench.report", "--results-dir", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    text = (results / "report.md").read_text()
    assert result["run_id"] in text and f"{metrics['test_accuracy']:.4f}" in text


@pytest.mark.slow
def test_a_tuned_run_records_its_settings_and_the_search_that_chose_them(tiny_mnist_dir, tmp_path):
    record = {
        "chosen": {"jit_compile": False, "steps_per_execution": 1, "threads": 1},
        "candidates": [],
        "metric": "test",
    }
    record_path = tmp_path / "tuning.json"
    record_path.write_text(json.dumps(record))
    out = tmp_path / "tuned.json"
    done = run_cli(
        *on_tiny_data(tiny_mnist_dir),
        "--epochs",
        "2",
        "--profile",
        "tuned",
        "--jit-compile",
        "false",
        "--threads",
        "1",
        "--tuning-record",
        str(record_path),
        "--repeat",
        '{"group": "g1", "index": 1, "count": 3, "interleaved": false}',
        "--training-trial",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    result = read_result(out)
    assert result["tuning"] == record
    assert result["settings"]["profile"] == result["config"]["profile"] == "tuned"
    assert result["settings"]["jit_compile_resolved"] is False
    assert result["repeat"] == {**ALONE, "group": "g1", "index": 1, "count": 3}
    assert result["command"][result["command"].index("--tuning-record") + 1] == "<tuning record>"
    assert "predict_path" not in result["timings"]
    assert result["roofline"]["framework_gemm"] is None  # a training trial skips the full probe
    # One thread asked for, and measured: on every backend (JAX included) the process kept
    # about one core busy, in its GEMMs and in fit.
    threads = result["settings"]["threads"]
    assert threads["requested"] == 1 and threads["in_effect"] is True, threads
    assert threads["busy_cores_gemm"] < 1.25 and threads["busy_cores_fit"] < 1.25
    assert len(threads["cpu_affinity"]) == 1


def test_a_thread_limit_is_declared_only_when_the_measurement_confirms_it():
    from bench.run.record import threads_record

    assert threads_record(1, 1.01, 1.05)["in_effect"] is True
    assert threads_record(1, 1.95, 1.02)["in_effect"] is False  # the GEMMs used two cores
    assert threads_record(1, 1.0, 1.6)["in_effect"] is False  # so did fit
    assert threads_record(None, 1.95, 1.6)["in_effect"] is None


def test_missing_data_dir_fails_with_a_clear_message(tmp_path):
    done = run_cli(
        "--backend", ACTIVE, "--data-dir", str(tmp_path / "absent"), "--results-dir", str(tmp_path)
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_unofficial_data_fails_verification_unless_told(tiny_mnist_dir, tmp_path):
    done = run_cli(
        "--backend", ACTIVE, "--data-dir", str(tiny_mnist_dir), "--results-dir", str(tmp_path)
    )
    assert done.returncode == 2 and "published MNIST checksum" in done.stderr


def test_a_backend_that_is_not_installed_is_named_with_the_fix(tmp_path):
    missing = [b for b in BACKENDS if importlib.util.find_spec(b) is None]
    if not missing:
        pytest.skip("every backend is installed here")
    done = run_cli("--backend", missing[0], "--results-dir", str(tmp_path))
    assert done.returncode == EXIT_NO_BACKEND
    assert f"pip install -e '.[{missing[0]}]'" in done.stderr


def test_bad_option_is_refused_before_any_work(tmp_path):
    done = run_cli("--backend", ACTIVE, "--epochs", "0", "--results-dir", str(tmp_path))
    assert done.returncode == 2 and "epochs must be a positive integer" in done.stderr


@pytest.mark.slow
def test_documented_model_reaches_97_percent_on_full_mnist(full_mnist_dir, tmp_path):
    from bench.run.workflow import run_benchmark

    result = run_benchmark(RunConfig(backend=ACTIVE, data_dir=str(full_mnist_dir)), log=print)
    assert result["data"]["checksums_verified"] and result["data"]["train_samples"] == 60000
    assert len(result["metrics"]["history"]["loss"]) == 10
    assert result["metrics"]["test_accuracy"] >= 0.97
    # The full record must be valid JSON (no NaN) and readable back.
    path = write_result(result, tmp_path / "full.json")
    assert read_result(path)["metrics"]["test_accuracy"] == result["metrics"]["test_accuracy"]
    assert json.loads(path.read_text())["config"]["epochs"] == 10


@pytest.mark.slow
def test_the_convnet_workload_runs_with_its_own_model_settings_and_flops(tiny_mnist_dir, tmp_path):
    results = tmp_path / "results"
    done = run_cli(
        *on_tiny_data(tiny_mnist_dir), "--workload", "convnet", "--epochs", "2",
        "--results-dir", str(results),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [path] = (results / "runs").glob("*/*.json")
    result = read_result(path)
    assert result["workload"]["name"] == result["config"]["workload"] == "convnet"
    assert result["config"]["batch_size"] == 128  # the workload's, not the MLP's 512
    assert result["model"]["parameters"] == 34_826
    assert result["model"]["initial_weights"].startswith("glorot-uniform kernels")
    assert result["roofline"]["flops_per_sample"] == 14_256_384
    assert [layer["class"] for layer in result["model"]["summary"]][:2] == [
        "Conv2D",
        "MaxPooling2D",
    ]
    assert result["metrics"]["test_accuracy"] > 0.3  # learns the synthetic digits
