import json
from pathlib import Path

import pytest

from bench.backends.search_space import SEARCH_SPACE
from bench.suite import __main__ as suite
from bench.suite import repeats, tuning
from bench.suite.child import ERROR, KILLED, NO_BACKEND, OK, TIMEOUT, Outcome
from bench.suite.failures import FIXES
from digitrec_core.config import BACKENDS, RunConfig


def option(args: list[str], name: str) -> str | None:
    return args[len(args) - 1 - args[::-1].index(name) + 1] if name in args else None


class FakeRuns:
    """Stands in for bench.run processes: records the calls, writes trial results.

    `busy_cores` maps settings to the cores a trial keeps busy during fit (default 1.0 with a
    thread limit, else 1.9): a limit that does not hold shows more than it allows.
    """

    def __init__(self, steady_by_settings=None, failing=(), busy_cores=None, status=ERROR):
        self.calls: list[list[str]] = []
        self.status = status
        self.steady_by_settings = steady_by_settings or {}
        self.failing = failing
        self.busy_cores = busy_cores or {}

    def __call__(self, args, log, timeout=None):
        self.calls.append(args)
        if len(self.calls) in self.failing:
            return Outcome(self.status, 1, 0.1, f"{self.status}: boom")
        out = option(args, "--out")
        if out:
            key = (
                option(args, "--jit-compile"),
                option(args, "--steps-per-execution"),
                option(args, "--threads"),
            )
            steady = self.steady_by_settings.get(key, 1.0)
            timings = {
                "steady_epoch_seconds": steady,
                "first_epoch_seconds": 2 * steady,
                "fit_seconds": 4 * steady,
            }
            threads = key[2]
            busy = self.busy_cores.get(key, 1.0 if threads else 1.9)
            in_effect = None if threads is None else busy <= int(threads) + 0.25
            settings = {"threads": {"busy_cores_fit": busy, "in_effect": in_effect}}
            Path(out).write_text(json.dumps({"timings": timings, "settings": settings}))
        return Outcome(OK, 0, 0.1, "")


class FakeHost:
    """Stands in for the neutral GEMM probe: a host whose speed a test can change."""

    def __init__(self, gflops: float = 480.0):
        self.gflops = gflops
        self.calls = 0

    def __call__(self, **options):
        self.calls += 1
        return {
            "library": "numpy",
            "square_gflops": self.gflops,
            "model_shapes_gflops": self.gflops / 3,
            "busy_cores": 1.98,
        }


@pytest.fixture(autouse=True)
def host(monkeypatch) -> FakeHost:
    fake = FakeHost()
    monkeypatch.setattr(suite.gemm_probe, "neutral_probe", fake)
    return fake


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_search_candidate_is_a_valid_config_and_the_first_is_the_default(backend):
    space = SEARCH_SPACE[backend]
    for settings in space:
        RunConfig(backend=backend, **settings)
    assert space[0] == {"jit_compile": "auto", "steps_per_execution": 1, "threads": None}


def test_settings_become_bench_run_options():
    assert tuning.settings_args(
        {"jit_compile": False, "steps_per_execution": 32, "threads": 1}
    ) == [
        "--jit-compile",
        "false",
        "--steps-per-execution",
        "32",
        "--threads",
        "1",
    ]
    assert "--threads" not in tuning.settings_args(
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None}
    )


def test_search_chooses_the_fastest_steady_epoch_and_records_every_candidate(monkeypatch):
    fake = FakeRuns({("false", "32", None): 0.5, ("true", "32", None): 0.8})
    monkeypatch.setattr(repeats, "run_once", fake)
    record = tuning.search("tensorflow", ["--data-dir", "d"], log=lambda line: None)
    assert record["chosen"] == {"jit_compile": False, "steps_per_execution": 32, "threads": None}
    assert [c["steady_epoch_seconds"] for c in record["candidates"]] == [1.0, 0.5, 0.8, 1.0]
    assert record["speedup_vs_default"] == 2.0
    first = fake.calls[0]
    assert option(first, "--epochs") == str(tuning.SEARCH_EPOCHS)
    assert "--training-trial" in first and first[:2] == ["--data-dir", "d"]


def test_a_failed_candidate_is_recorded_and_skipped(monkeypatch):
    monkeypatch.setattr(repeats, "run_once", FakeRuns({("true", "1", None): 0.2}, failing={3}))
    record = tuning.search("torch", [], log=lambda line: None)
    assert record["candidates"][2]["steady_epoch_seconds"] is None
    assert "error" in record["candidates"][2]
    assert record["chosen"]["threads"] is None and record["chosen"]["jit_compile"] == "auto"


def test_search_with_no_working_candidate_is_an_error(monkeypatch):
    monkeypatch.setattr(repeats, "run_once", FakeRuns(failing={1, 2, 3}))
    with pytest.raises(RuntimeError, match="every tuning candidate failed for torch"):
        tuning.search("torch", [], log=lambda line: None)


def test_main_runs_repeats_of_both_profiles_and_tuned_runs_carry_the_choice(monkeypatch, tmp_path):
    fake = FakeRuns({("true", "32", "1"): 0.1})
    monkeypatch.setattr(repeats, "run_once", fake)
    args = ["--backend", "jax", "--repeats", "2", "--quick", "--results-dir", str(tmp_path)]
    assert suite.main(args) == 0
    default_runs = [c for c in fake.calls if option(c, "--profile") == "default"]
    tuned_runs = [c for c in fake.calls if option(c, "--profile") == "tuned"]
    assert len(default_runs) == len(tuned_runs) == 2
    assert len(fake.calls) == 4 + len(SEARCH_SPACE["jax"])
    assert [option(c, "--repeat-index") for c in tuned_runs] == ["0", "1"]
    assert [option(c, "--seed") for c in default_runs] == ["0", "1"]
    assert [option(c, "--seed") for c in tuned_runs] == ["0", "1"]
    assert len({option(c, "--repeat-group") for c in default_runs + tuned_runs}) == 2
    assert all("--quick" in c for c in fake.calls)
    assert option(tuned_runs[0], "--threads") == "1" and "--tuning-record" in tuned_runs[0]


def failure_records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("failures/*/*.json"))]


@pytest.mark.parametrize("status", [ERROR, KILLED, TIMEOUT])
def test_one_failed_repeat_is_recorded_and_does_not_stop_the_others(monkeypatch, tmp_path, status):
    fake = FakeRuns(failing={1}, status=status)
    monkeypatch.setattr(repeats, "run_once", fake)
    args = ["--backend", "torch", "--repeats", "3", "--profiles", "default"]
    assert suite.main([*args, "--results-dir", str(tmp_path)]) == 1
    assert len(fake.calls) == 3
    [record] = failure_records(tmp_path)
    assert (record["status"], record["reason"], record["backend"]) == (
        status,
        f"{status}: boom",
        "torch",
    )
    assert (record["profile"], record["repeat_index"]) == ("default", 0)
    assert record["fix"] == FIXES[status].replace("<backend>", "torch")


def test_a_backend_that_cannot_be_imported_stops_after_one_record(monkeypatch, tmp_path):
    fake = FakeRuns(failing={1, 2, 3}, status=NO_BACKEND)
    monkeypatch.setattr(repeats, "run_once", fake)
    args = ["--backend", "torch", "--repeats", "3", "--profiles", "default"]
    assert suite.main([*args, "--results-dir", str(tmp_path)]) == 1
    assert len(fake.calls) == 1
    [record] = failure_records(tmp_path)
    assert record["status"] == NO_BACKEND and "python -c 'import torch'" in record["fix"]


def test_a_search_that_cannot_import_the_backend_runs_nothing_else(monkeypatch, tmp_path):
    fake = FakeRuns(failing={1, 2, 3, 4}, status=NO_BACKEND)
    monkeypatch.setattr(repeats, "run_once", fake)
    assert suite.main(["--backend", "jax", "--results-dir", str(tmp_path)]) == 1
    assert len(fake.calls) == 1
    assert [r["profile"] for r in failure_records(tmp_path)] == ["tuned"]


@pytest.mark.parametrize(
    "bad", [["--profiles", "fast"], ["--repeats", "0"], ["--timeout", "0"], ["--timeout", "-5"]]
)
def test_bad_suite_options_are_refused(bad, capsys):
    with pytest.raises(SystemExit) as exited:
        suite.parse_args(["--backend", "jax", *bad])
    assert exited.value.code == 2


def test_the_search_is_cached_and_reused_until_its_key_changes(monkeypatch, tmp_path):
    fake = FakeRuns({("false", "32", None): 0.5})
    monkeypatch.setattr(repeats, "run_once", fake)
    args = [
        "--backend",
        "tensorflow",
        "--repeats",
        "1",
        "--profiles",
        "tuned",
        "--results-dir",
        str(tmp_path),
    ]
    searches = len(SEARCH_SPACE["tensorflow"])
    assert suite.main(args) == 0
    assert len(fake.calls) == searches + 1
    [cache] = (tmp_path / "tuning").glob("*/tensorflow-cpu.json")
    assert json.loads(cache.read_text())["chosen"]["steps_per_execution"] == 32

    assert suite.main(args) == 0  # same key: no new search
    assert len(fake.calls) == searches + 2
    assert option(fake.calls[-1], "--steps-per-execution") == "32"

    assert suite.main([*args, "--retune"]) == 0
    assert len(fake.calls) == 2 * searches + 3

    monkeypatch.setattr(tuning, "SEARCH_EPOCHS", tuning.SEARCH_EPOCHS + 1)  # the key changes
    assert suite.main(args) == 0
    assert len(fake.calls) == 3 * searches + 4


def tuned_args(tmp_path, *extra):
    return ["--backend", "jax", "--repeats", "1", "--profiles", "tuned",
            "--results-dir", str(tmp_path), *extra]  # fmt: skip


def test_default_and_tuned_runs_are_interleaved_and_share_the_invocation(monkeypatch, tmp_path):
    fake = FakeRuns()
    monkeypatch.setattr(repeats, "run_once", fake)
    args = ["--backend", "torch", "--repeats", "3", "--results-dir", str(tmp_path)]
    assert suite.main([*args, "--invocation", "inv-1"]) == 0
    runs = [c for c in fake.calls if option(c, "--profile")]
    assert [option(c, "--profile") for c in runs] == ["default", "tuned"] * 3
    assert [option(c, "--seed") for c in runs] == ["0", "0", "1", "1", "2", "2"]
    assert all("--interleaved" in c for c in runs)
    assert {option(c, "--invocation") for c in fake.calls} == {"inv-1"}


def test_one_profile_alone_is_not_marked_interleaved(monkeypatch, tmp_path):
    fake = FakeRuns()
    monkeypatch.setattr(repeats, "run_once", fake)
    assert suite.main(["--backend", "jax", "--repeats", "2", "--profiles", "default",
                       "--results-dir", str(tmp_path)]) == 0  # fmt: skip
    assert not [c for c in fake.calls if "--interleaved" in c]


def test_the_neutral_probe_runs_at_the_start_and_the_end(monkeypatch, tmp_path, host):
    monkeypatch.setattr(repeats, "run_once", FakeRuns())
    assert suite.main(tuned_args(tmp_path, "--invocation", "inv-7")) == 0
    assert host.calls == 2
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "probes").glob("*/*.json"))]
    assert sorted(r["phase"] for r in records) == ["end", "start"]
    assert {r["invocation"] for r in records} == {"inv-7"}
    assert {r["probe"]["square_gflops"] for r in records} == {480.0}
    assert all(r["machine"]["fingerprint"] for r in records)


def test_a_thread_limit_that_does_not_take_effect_is_never_chosen(monkeypatch):
    # The fastest candidate asks for one thread, but its trial kept 1.9 cores busy.
    fake = FakeRuns({("true", "32", "1"): 0.1}, busy_cores={("true", "32", "1"): 1.9})
    monkeypatch.setattr(repeats, "run_once", fake)
    record = tuning.search("jax", [], log=lambda line: None)
    assert record["chosen"]["threads"] is None
    [pinned] = [c for c in record["candidates"] if c["settings"]["threads"] == 1]
    assert pinned["steady_epoch_seconds"] is None
    assert "did not take effect (1.90 cores busy during fit)" in pinned["error"]


def test_a_thread_limit_that_holds_can_be_chosen(monkeypatch):
    fake = FakeRuns({("true", "32", "1"): 0.1})
    monkeypatch.setattr(repeats, "run_once", fake)
    assert tuning.search("jax", [], log=lambda line: None)["chosen"]["threads"] == 1


def test_the_cache_is_not_reused_on_a_host_of_another_speed(monkeypatch, tmp_path, host):
    fake = FakeRuns()
    monkeypatch.setattr(repeats, "run_once", fake)
    searches = len(SEARCH_SPACE["jax"])
    assert suite.main(tuned_args(tmp_path)) == 0
    host.gflops = 480 * 1.08  # within 10%: the same host speed
    assert suite.main(tuned_args(tmp_path)) == 0
    assert len(fake.calls) == searches + 2
    host.gflops = 180.0  # the slower host seen under the same CPU name
    assert suite.main(tuned_args(tmp_path)) == 0
    assert len(fake.calls) == 2 * searches + 3


def test_the_cache_is_keyed_on_what_runs_do_not_where_files_go(monkeypatch, tmp_path):
    fake = FakeRuns()
    monkeypatch.setattr(repeats, "run_once", fake)
    searches = len(SEARCH_SPACE["jax"])
    assert suite.main(tuned_args(tmp_path, "--data-dir", "a")) == 0
    assert suite.main(tuned_args(tmp_path, "--data-dir", "b", "--invocation", "x")) == 0
    assert len(fake.calls) == searches + 2  # another folder, another invocation: reused
    assert suite.main(tuned_args(tmp_path, "--batch-size", "256")) == 0
    assert len(fake.calls) == 2 * searches + 3  # another batch size: searched again


def test_an_unreadable_cache_is_searched_again_with_a_warning(monkeypatch, tmp_path, capsys):
    fake = FakeRuns()
    monkeypatch.setattr(repeats, "run_once", fake)
    assert suite.main(tuned_args(tmp_path)) == 0
    [cache] = (tmp_path / "tuning").glob("*/jax-cpu.json")
    cache.write_text('{"chosen": ')
    assert suite.main(tuned_args(tmp_path)) == 0
    assert len(fake.calls) == 2 * (len(SEARCH_SPACE["jax"]) + 1)
    assert "is unreadable" in capsys.readouterr().out
    assert json.loads(cache.read_text())["chosen"]


@pytest.mark.slow
@pytest.mark.backend
def test_suite_runs_real_repeats_in_fresh_processes(tiny_mnist_dir, tmp_path):
    import os
    import subprocess
    import sys

    from digitrec_core.results import iter_result_paths, read_result

    backend = os.environ["KERAS_BACKEND"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.suite", "--backend", backend, "--repeats", "2",
         "--profiles", "default", "--results-dir", str(tmp_path), "--data-dir",
         str(tiny_mnist_dir), "--no-verify-checksums", "--epochs", "2",
         "--training-trial"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = [read_result(path) for path in iter_result_paths(tmp_path)]
    assert sorted(r["repeat"]["index"] for r in results) == [0, 1]
    assert len({r["repeat"]["group"] for r in results}) == 1
    assert {r["config"]["epochs"] for r in results} == {2}
    assert all(r["backend"] == backend for r in results)


def test_an_unreadable_trial_result_is_a_failed_candidate_not_a_crash(monkeypatch):
    class GarbledRuns(FakeRuns):
        def __call__(self, args, log, timeout=None):
            outcome = super().__call__(args, log, timeout)
            if len(self.calls) == 2:
                Path(option(args, "--out")).write_text('{"timings": ')
            return outcome

    monkeypatch.setattr(repeats, "run_once", GarbledRuns({("false", "32", None): 0.5}))
    record = tuning.search("tensorflow", [], log=lambda line: None)
    assert record["candidates"][1]["steady_epoch_seconds"] is None
    assert "is unreadable" in record["candidates"][1]["error"]
    assert record["chosen"] != record["candidates"][1]["settings"]
