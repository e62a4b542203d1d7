import json
import os
import statistics
import subprocess
import sys

import pytest

from bench.checks import selfcheck


def run_result(fit, process, **extra):
    timings = {
        "fit_seconds": fit,
        "evaluate_seconds": 0.5,
        "predict_first_call_seconds": 0.25,
        "predict_seconds": 0.25,
        "predict_benchmark_seconds": 1.0,
        "process_wall_seconds": process,
    }
    return {"timings": timings, "repeat": {"group": "g"}, "tuning": None, **extra}


def test_overhead_breakdown_accounts_for_the_wall_time():
    parts = {"startup_seconds": 1.0, "data_load_seconds": 0.5, "model_build_seconds": 0.25,
             "framework_probe_seconds": 0.25}  # fmt: skip
    results = [run_result(10.0, 15.0, **{}) for _ in range(3)]
    for result in results:
        result["timings"].update(parts)
    schedule = {
        "phase_seconds": {"start probes": 2.0, "tuning search": 0.0, "rounds": 48.0,
                          "end probe": 1.0},
        "rounds": [{}, {}, {}],
        "stopped": {"text": "every margin was decided after 3 rounds"},
    }  # fmt: skip
    record = selfcheck.overhead_breakdown(60.0, results, [schedule])
    assert record["recorded_fit_predict_seconds"] == 36.0  # 3 x (10 + 0.5 + 0.25 + 0.25 + 1)
    assert record["in_process_overhead_seconds"] == 9.0
    assert record["in_process_parts_seconds"]["startup_seconds"] == 3.0
    assert record["in_process_parts_seconds"]["rest_seconds"] == 3.0  # 9 - 3 x 2
    assert record["between_runs_seconds"] == 3.0  # rounds 48 s, processes 45 s
    assert record["outside_suite_seconds"] == 9.0  # nox and the report
    assert record["rounds"] == 3 and record["stopped"] == [
        "every margin was decided after 3 rounds"
    ]
    assert record["wall_over_recorded"] == pytest.approx(60 / 36)
    assert record["within_target"] is False
    assert selfcheck.overhead_breakdown(40.0, results, [schedule])["within_target"] is True


def test_a_search_reused_from_the_cache_costs_nothing_and_a_fresh_one_counts():
    results = [run_result(10.0, 15.0), run_result(10.0, 15.0)]
    cached = {"phase_seconds": {"tuning search": 0.5, "rounds": 31.0}}
    assert selfcheck.overhead_breakdown(35.0, results, [cached])["tuning_search_seconds"] == 0.5
    fresh = {"phase_seconds": {"tuning search": 300.0, "rounds": 31.0}}
    assert selfcheck.overhead_breakdown(335.0, results, [fresh])["tuning_search_seconds"] == 300.0


def test_faithfulness_compares_medians_and_flags_a_distorting_harness(monkeypatch):
    bare_steady = iter([1.0, 1.1, 0.9])
    suite_steady = iter([1.3, 1.2, 1.25])

    def fake_module(module, *args):
        if module == "bench.checks.bare":
            line = json.dumps({"steady_epoch_seconds": next(bare_steady)})
            return subprocess.CompletedProcess(args, 0, stdout=f"noise\n{line}\n")
        out = args[args.index("--out") + 1]
        with open(out, "w") as handle:
            json.dump({"timings": {"steady_epoch_seconds": next(suite_steady)}}, handle)
        return subprocess.CompletedProcess(args, 0, stdout="")

    monkeypatch.setattr(selfcheck, "python_module", fake_module)
    record = selfcheck.faithfulness("jax", pairs=3, data_dir=None)
    assert record["suite_over_bare"] == pytest.approx(1.25)
    assert record["within_target"] is False
    assert record["bare_steady_epoch_seconds"] == [1.0, 1.1, 0.9]


@pytest.mark.slow
@pytest.mark.backend
def test_bare_script_times_every_epoch(tiny_mnist_dir):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.checks.bare",
            "--backend",
            os.environ["KERAS_BACKEND"],
            "--data-dir",
            str(tiny_mnist_dir),
            "--no-verify-checksums",
            "--epochs",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["backend"] == os.environ["KERAS_BACKEND"]
    assert len(record["epoch_seconds"]) == 3
    assert record["steady_epoch_seconds"] == statistics.median(record["epoch_seconds"][1:])
    assert 0 <= record["test_accuracy"] <= 1
