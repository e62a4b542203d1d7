"""python -m bench.suite: one invocation for every backend, its search, records and failures.

Runs are replaced by `FakeLaunch` (tests/suite_fakes.py) and the neutral probe by `FakeHost`;
the rounds, the stopping rule, the search, the cache and the records are the real ones.
"""

import json
import re
import sys
from pathlib import Path

import pytest

from bench.backends.search_space import SEARCH_SPACE
from bench.suite import __main__ as suite
from bench.suite import invocation, search_cache, tuning
from bench.suite.child import ERROR, KILLED, NO_BACKEND, TIMEOUT
from bench.suite.failures import FIXES
from bench.suite.launch import Launcher
from bench.suite.rounds import Cell, round_order
from digitrec_core.config import BACKENDS, RunConfig
from tests.suite_fakes import FakeClock, FakeLaunch, option

DEFAULTS = {backend: settings[0] for backend, settings in SEARCH_SPACE.items()}


class FakeHost:
    """Stands in for the neutral GEMM probe: a host whose speed a test can change."""

    def __init__(self, gflops: float = 480.0):
        self.gflops = gflops
        self.readings: list[float] = []  # taken first, one per probe, where given
        self.calls = 0

    def __call__(self, **options):
        self.calls += 1
        rate = self.readings.pop(0) if self.readings else self.gflops
        return {
            "library": "numpy",
            "square_gflops": rate,
            "model_shapes_gflops": None if options.get("model_shapes") is False else rate / 3,
            "busy_cores": 1.98,
        }


@pytest.fixture(autouse=True)
def host(monkeypatch) -> FakeHost:
    fake = FakeHost()
    monkeypatch.setattr("bench.suite.probes.gemm_probe.neutral_probe", fake)
    return fake


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(invocation.Suite, "clock", staticmethod(fake))
    return fake


def fast_candidates(factor: dict[tuple[str, str], float]):
    """Costs: 10 s a run, times `factor` for a cell whose label contains a key's settings."""

    def costs(cell: Cell) -> float:
        for (backend, text), value in factor.items():
            if cell.backend == backend and text in cell.name:
                return 10.0 * value
        return 10.0

    return costs


def install(monkeypatch, fake: FakeLaunch) -> FakeLaunch:
    monkeypatch.setattr(Launcher, "launch", lambda launcher, *args: fake(launcher, *args))
    return fake


def run_suite(tmp_path: Path, *args: str) -> int:
    return suite.main(
        ["--python", sys.executable, "--results-dir", str(tmp_path), "--order-seed", "11", *args]
    )


def bench_calls(fake: FakeLaunch):
    return [
        (cell, index, options) for cell, index, options in fake.calls if cell.profile != "search"
    ]


def schedule_record(tmp_path: Path) -> dict:
    [path] = tmp_path.glob("schedules/*/*.json")
    return json.loads(path.read_text())


def test_every_backend_and_profile_runs_once_per_round_with_the_rounds_seed(
    monkeypatch, tmp_path, clock
):
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.05))
    args = ["--profiles", "default", "--min-rounds", "2", "--max-rounds", "2", "--seed", "5"]
    assert run_suite(tmp_path, *args, "--invocation", "inv-1") == 0
    calls = bench_calls(fake)
    assert sorted((cell.backend, index) for cell, index, _ in calls) == sorted(
        (backend, index) for backend in BACKENDS for index in (0, 1)
    )
    for _, index, options in calls:
        assert option(options, "--seed") == str(5 + index)  # every backend, same seed per round
        repeat = json.loads(option(options, "--repeat"))
        assert repeat["scheduler"] == "rounds" and repeat["index"] == index
        assert repeat["confidence"] == pytest.approx(0.95)  # one look: the plain 95%
    assert option(fake.shared_options, "--invocation") == "inv-1"
    record = schedule_record(tmp_path)
    assert record["status"] == "finished" and record["invocation"] == "inv-1"
    assert [len(r["order"]) for r in record["rounds"]] == [3, 3]


def test_the_round_order_is_recorded_and_reproducible_from_its_seed(monkeypatch, tmp_path, clock):
    install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.05))
    args = ["--profiles", "default", "--min-rounds", "3", "--max-rounds", "3"]
    assert run_suite(tmp_path / "a", *args) == 0
    assert run_suite(tmp_path / "b", *args) == 0
    first, second = schedule_record(tmp_path / "a"), schedule_record(tmp_path / "b")
    assert first["order_seed"] == second["order_seed"] == 11
    assert [r["order"] for r in first["rounds"]] == [r["order"] for r in second["rounds"]]
    cells = [Cell(b, "cpu", "default", label=f"{b} · default") for b in BACKENDS]
    expected = [[c.name for c in round_order(cells, 11, i)] for i in range(3)]
    assert [r["order"] for r in first["rounds"]] == expected


def test_the_suite_stops_early_once_the_verdict_is_decided(monkeypatch, tmp_path, clock):
    costs = {"tensorflow": 20.0, "jax": 10.0, "torch": 40.0}
    install(monkeypatch, FakeLaunch(lambda cell: costs[cell.backend], clock=clock, noise=0.02))
    assert run_suite(tmp_path, "--profiles", "default", "--budget", "0") == 0
    record = schedule_record(tmp_path)
    assert len(record["rounds"]) == 3 and record["stopped"]["reason"] == "decided"
    looks = suite.DEFAULT_MAX_ROUNDS - suite.DEFAULT_MIN_ROUNDS + 1
    assert record["design"]["looks"] == looks
    assert record["design"]["confidence"] == pytest.approx(1 - 0.05 / looks)


def test_native_references_run_in_the_same_rounds_and_never_hold_the_rounds_open(
    monkeypatch, tmp_path, clock
):
    # Keras decides after 3 rounds; the native cells, far faster than their Keras backends,
    # would open new margins if they were ranked.
    costs = {"tensorflow": 20.0, "jax": 10.0, "torch": 40.0}

    def cost(cell: Cell) -> float:
        return costs[cell.backend] / (4 if cell.implementation != "keras" else 1)

    fake = install(monkeypatch, FakeLaunch(cost, clock=clock, noise=0.02))
    assert run_suite(tmp_path, "--profiles", "default", "--budget", "0", "--native") == 0
    record = schedule_record(tmp_path)
    assert len(record["rounds"]) == 3 and record["stopped"]["reason"] == "decided"
    natives = sorted(
        (cell.backend, option(options, "--implementation"))
        for cell, index, options in bench_calls(fake)
        if index == 0 and cell.implementation != "keras"
    )
    assert natives == [
        ("jax", "native"), ("tensorflow", "native"), ("torch", "native"),
        ("torch", "native-compiled"),
    ]  # fmt: skip
    assert all(len(r["order"]) == 7 for r in record["rounds"])  # 3 Keras and 4 native a round
    assert {c["implementation"] for c in record["cells"]} == {"keras", "native", "native-compiled"}
    names = {c["name"] for c in record["cells"]}
    assert len(names) == 7 and "torch · native-compiled" in names


def test_native_references_are_not_run_for_a_workload_without_one(monkeypatch, tmp_path, clock):
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock))
    args = ["--profiles", "default", "--native", "--workload", "convnet", "--max-rounds", "3"]
    assert run_suite(tmp_path, *args) == 0
    assert {cell.implementation for cell, _, _ in bench_calls(fake)} == {"keras"}


@pytest.mark.parametrize("status", [ERROR, KILLED, TIMEOUT])
def test_a_failed_run_is_recorded_with_its_log_and_the_others_finish(
    monkeypatch, tmp_path, clock, status
):
    fake = FakeLaunch(
        lambda cell: 10.0, clock=clock, failing=frozenset({("torch · default", 1)}), status=status
    )
    install(monkeypatch, fake)
    args = ["--profiles", "default", "--min-rounds", "3", "--max-rounds", "3"]
    assert run_suite(tmp_path, *args) == 1
    [record] = failure_records(tmp_path)
    assert (record["status"], record["backend"], record["repeat_index"]) == (status, "torch", 1)
    assert record["fix"] == FIXES[status].replace("<backend>", "torch")
    assert record["log"].startswith("logs/") and record["log"].endswith("r02-torch-cpu-default.log")
    assert len(bench_calls(fake)) == 9  # everything else ran its rounds


def test_a_backend_that_cannot_be_imported_is_recorded_once_and_the_others_go_on(
    monkeypatch, tmp_path, clock
):
    fake = FakeLaunch(
        lambda cell: 10.0, clock=clock, failing=frozenset({("jax · default", 0)}), status=NO_BACKEND
    )
    install(monkeypatch, fake)
    assert run_suite(tmp_path, "--profiles", "default", "--max-rounds", "3") == 1
    [record] = failure_records(tmp_path)
    assert record["status"] == NO_BACKEND and "python -c 'import jax'" in record["fix"]
    assert [c.backend for c, _, _ in bench_calls(fake)].count("jax") == 1
    assert schedule_record(tmp_path)["dropped"]


def test_a_backend_without_its_python_is_recorded_and_the_others_run(monkeypatch, tmp_path, clock):
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock))
    args = ["--python", f"torch={tmp_path / 'no-such-python'}", "--profiles", "default",
            "--max-rounds", "3"]  # fmt: skip
    assert run_suite(tmp_path, *args) == 1
    [record] = failure_records(tmp_path)
    assert record["backend"] == "torch" and "does not exist" in record["reason"]
    assert {cell.backend for cell, _, _ in bench_calls(fake)} == {"tensorflow", "jax"}


def failure_records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("failures/*/*.json"))]


# --- The search ---------------------------------------------------------------------------


def test_the_search_chooses_a_candidate_only_when_paired_rounds_show_it_faster(
    monkeypatch, tmp_path, clock
):
    faster = fast_candidates({("tensorflow", "jit false, spe 32"): 0.5})  # also its 1-thread twin
    fake = install(monkeypatch, FakeLaunch(faster, clock=clock, noise=0.02))
    assert run_suite(tmp_path, "--backends", "tensorflow,torch", "--max-rounds", "3") == 0
    cached = json.loads((next(tmp_path.glob("tuning/*/tensorflow-cpu.json"))).read_text())
    assert cached["outcome"] == tuning.CHOSE and cached["chosen"]["steps_per_execution"] == 32
    chosen_entry = next(c for c in cached["candidates"] if c["settings"] == cached["chosen"])
    assert chosen_entry["vs_default"]["outcome"] == "FASTER"
    assert len(chosen_entry["steady_epoch_samples"]) >= 3  # repeated, not one trial
    tuned = [options for cell, _, options in bench_calls(fake) if cell.profile == "tuned"]
    assert tuned and all(option(o, "--steps-per-execution") == "32" for o in tuned)
    # torch's candidates are no faster than its defaults: no separate tuned profile runs.
    assert not [c for c, _, _ in bench_calls(fake) if c.backend == "torch" and c.profile == "tuned"]
    searches = schedule_record(tmp_path)["searches"]
    assert searches["torch/cpu"]["outcome"] != tuning.CHOSE
    assert "tuned = default settings" in searches["torch/cpu"]["text"]


def test_one_disturbed_minute_cannot_fool_the_search(monkeypatch, tmp_path, clock):
    # The host is three times slower during the first search trial of tensorflow's defaults,
    # which made a candidate no faster than them look 3x faster: one trial each would choose it.
    fake = FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.02)
    slowed = []
    first_default = f"search · tensorflow · {tuning.settings_text(DEFAULTS['tensorflow'])}"

    def costs(cell: Cell) -> float:
        if cell.name == first_default and not slowed:
            slowed.append(cell)
            return 30.0
        return 10.0

    fake.costs = costs
    install(monkeypatch, fake)
    assert run_suite(tmp_path, "--backends", "tensorflow", "--max-rounds", "3") == 0
    cached = json.loads((next(tmp_path.glob("tuning/*/tensorflow-cpu.json"))).read_text())
    assert cached["chosen"] == DEFAULTS["tensorflow"]
    assert cached["outcome"] in (tuning.NONE_FASTER, tuning.UNDECIDED)
    round_one = [entry["steady_epoch_samples"][0] for entry in cached["candidates"]]
    assert min(round_one[1:]) < round_one[0] / 2  # round one alone would have been fooled


def test_a_thread_limit_that_does_not_take_effect_is_never_chosen():
    candidate = tuning.Candidate("jax", "cpu", 3, SEARCH_SPACE["jax"][3])
    steady, why = tuning.trial_steady(
        {"timings": {"steady_epoch_seconds": 0.1},
         "settings": {"threads": {"in_effect": False, "busy_cores_fit": 1.9}}}
    )  # fmt: skip
    assert steady is None and "did not take effect (1.90 cores busy during fit)" in why
    assert "--threads" in tuning.trial_options(candidate, 0, Path("out.json"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_search_candidate_is_a_valid_config_and_the_first_is_the_default(backend):
    for settings in SEARCH_SPACE[backend]:
        RunConfig(backend=backend, **settings)
    assert DEFAULTS[backend] == {"jit_compile": "auto", "steps_per_execution": 1, "threads": None}


def test_the_cache_is_reused_by_the_median_of_the_start_probes_not_one_reading(
    monkeypatch, tmp_path, clock, host
):
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.02))
    args = ["--backends", "jax", "--max-rounds", "3"]
    assert run_suite(tmp_path, *args) == 0
    searches = len([c for c, _, _ in fake.calls if c.profile == "search"])
    assert searches >= 3 * len(SEARCH_SPACE["jax"]) - 1
    host.readings = [480.0, 150.0, 470.0]  # one disturbed start probe: still the same host
    assert run_suite(tmp_path, *args) == 0
    assert len([c for c, _, _ in fake.calls if c.profile == "search"]) == searches
    host.readings = [480.0, 180.0, 180.0]  # the host really is slower now
    assert run_suite(tmp_path, *args) == 0
    assert len([c for c, _, _ in fake.calls if c.profile == "search"]) > searches


def test_the_cache_is_keyed_on_what_runs_do_not_where_files_go(monkeypatch, tmp_path, clock):
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.02))

    def searched() -> int:
        return len([c for c, _, _ in fake.calls if c.profile == "search"])

    args = ["--backends", "jax", "--max-rounds", "3"]
    assert run_suite(tmp_path, *args, "--data-dir", "a") == 0
    first = searched()
    assert run_suite(tmp_path, *args, "--data-dir", "b", "--invocation", "x") == 0
    assert searched() == first  # another folder, another invocation: reused
    assert run_suite(tmp_path, *args, "--batch-size", "256") == 0
    assert searched() > first  # another batch size: searched again
    later = searched()
    assert run_suite(tmp_path, *args, "--batch-size", "256", "--retune") == 0
    assert searched() > later


def test_a_cache_from_another_rule_or_unreadable_is_searched_again(
    monkeypatch, tmp_path, clock, capsys
):
    install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.02))
    args = ["--backends", "jax", "--max-rounds", "3"]
    assert run_suite(tmp_path, *args) == 0
    [cache] = tmp_path.glob("tuning/*/jax-cpu.json")
    cache.write_text('{"chosen": ')
    assert run_suite(tmp_path, *args) == 0
    assert "is unreadable" in capsys.readouterr().out
    old = json.loads(cache.read_text())
    old["key"]["rule"] = "one run per candidate"
    cache.write_text(json.dumps(old))
    key = old["key"]
    assert search_cache.cache_applies(old, {**key, "rule": tuning.SEARCH_RULE}, 480.0)[0] is False


# --- The console and the options -----------------------------------------------------------


def test_each_finished_run_prints_one_line_with_the_count_and_the_time_left(
    monkeypatch, tmp_path, clock, capsys
):
    install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, overhead_seconds=0))
    assert (
        run_suite(tmp_path, "--profiles", "default", "--min-rounds", "2", "--max-rounds", "2") == 0
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\[\d", line)]
    assert len(lines) == 6
    pattern = r"^\[(\d)/6\] (tensorflow|jax|torch) · default · round [12] · fit 10\.0 s · "
    for number, line in enumerate(lines, 1):
        assert re.match(pattern + r"(about \d+ s left|under 10 s left|last planned run)$", line)
        assert line.startswith(f"[{number}/6]")
    assert lines[0].endswith("about 50 s left") and lines[-1].endswith("last planned run")


@pytest.mark.parametrize(
    "bad",
    [
        ["--profiles", "fast"],
        ["--backends", "theano"],
        ["--min-rounds", "0"],
        ["--min-rounds", "4", "--max-rounds", "3"],
        ["--budget", "-1"],
        ["--timeout", "0"],
        ["--python", "cuda=/usr/bin/python3"],
    ],
)
def test_bad_suite_options_are_refused_with_usage(bad, capsys):
    with pytest.raises(SystemExit) as exited:
        suite.parse_args(bad)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.backend
def test_the_suite_runs_real_rounds_in_fresh_processes(tiny_mnist_dir, tmp_path):
    import os
    import subprocess

    from digitrec_core.results import iter_result_paths, read_result

    backend = os.environ["KERAS_BACKEND"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.suite", "--backends", backend, "--python", sys.executable,
         "--min-rounds", "2", "--max-rounds", "2", "--profiles", "default",
         "--results-dir", str(tmp_path), "--data-dir", str(tiny_mnist_dir),
         "--no-verify-checksums", "--epochs", "2", "--training-trial"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = [read_result(path) for path in iter_result_paths(tmp_path)]
    assert sorted(r["repeat"]["index"] for r in results) == [0, 1]
    assert len({r["repeat"]["group"] for r in results}) == 1
    assert {r["repeat"]["scheduler"] for r in results} == {"rounds"}
    assert all(r["backend"] == backend for r in results)
    assert "epoch" not in done.stdout  # the runs' own lines went to their logs
    logs = list(tmp_path.glob("logs/*/*/r0*.log"))
    assert len(logs) == 2 and all("epoch   1/2" in log.read_text() for log in logs)


def test_the_schedule_record_holds_no_local_path(monkeypatch, tmp_path, clock):
    faster = fast_candidates({("tensorflow", "jit false, spe 32"): 0.5})
    install(monkeypatch, FakeLaunch(faster, clock=clock, noise=0.02))
    assert run_suite(tmp_path, "--backends", "tensorflow", "--max-rounds", "3") == 0
    record = schedule_record(tmp_path)
    [tuned] = [cell for cell in record["cells"] if cell["profile"] == "tuned"]
    assert tuned["options"][tuned["options"].index("--tuning-record") + 1] == "<tuning record>"
    assert str(tmp_path) not in json.dumps(record) and "/tmp/" not in json.dumps(record)


def test_more_minimum_rounds_raise_the_cap_unless_it_is_given():
    args, _ = suite.parse_args(["--min-rounds", "5"])
    assert (args.min_rounds, args.max_rounds) == (5, 5)
    args, _ = suite.parse_args([])
    assert (args.min_rounds, args.max_rounds) == (
        suite.DEFAULT_MIN_ROUNDS,
        suite.DEFAULT_MAX_ROUNDS,
    )


# --- Lower precision in the search and the rounds ------------------------------------------


def with_isa(monkeypatch, isa: list[str]) -> None:
    """The suite sees a machine whose CPU reports `isa`."""
    from bench.host.machine import machine_info

    real = machine_info()
    fake = {**real, "fingerprint": {**real["fingerprint"], "isa": isa}}
    monkeypatch.setattr(invocation, "machine_info", lambda: fake)


def test_a_faster_bf16_candidate_is_proposed_never_chosen_and_then_run_on_full_data(
    monkeypatch, tmp_path, clock
):
    with_isa(monkeypatch, ["avx2", "avx512_bf16"])
    faster = fast_candidates({("tensorflow", "mixed_bfloat16"): 0.5})
    fake = install(monkeypatch, FakeLaunch(faster, clock=clock, noise=0.02))
    assert run_suite(tmp_path, "--backends", "tensorflow", "--max-rounds", "3") == 0
    cached = json.loads((next(tmp_path.glob("tuning/*/tensorflow-cpu.json"))).read_text())
    assert cached["proposed"] == ["mixed_bfloat16"]
    assert "precision" not in cached["chosen"]  # the tuned profile stays float32
    bf16 = next(c for c in cached["candidates"] if c["settings"].get("precision"))
    assert bf16["vs_default"]["outcome"] == "FASTER"
    runs = [(cell, options) for cell, _, options in bench_calls(fake) if cell.profile == "bf16"]
    assert runs and all(option(o, "--precision") == "mixed_bfloat16" for _, o in runs)
    assert (
        "proposes mixed_bfloat16" in schedule_record(tmp_path)["searches"]["tensorflow/cpu"]["text"]
    )


def test_a_bf16_candidate_no_faster_is_not_run_unless_asked(monkeypatch, tmp_path, clock):
    with_isa(monkeypatch, ["avx512_bf16"])
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.02))
    assert run_suite(tmp_path, "--backends", "jax", "--max-rounds", "3") == 0
    assert not [c for c, _, _ in bench_calls(fake) if c.profile == "bf16"]
    fake.calls.clear()
    args = ["--backends", "jax", "--max-rounds", "3", "--lower-precision", "all"]
    assert run_suite(tmp_path, *args) == 0
    assert [c for c, _, _ in bench_calls(fake) if c.profile == "bf16"]


def test_hardware_without_bf16_searches_and_runs_no_bf16(monkeypatch, tmp_path, clock):
    with_isa(monkeypatch, ["avx2", "fma"])
    fake = install(monkeypatch, FakeLaunch(lambda cell: 10.0, clock=clock, noise=0.02))
    args = ["--backends", "jax", "--max-rounds", "3", "--lower-precision", "all"]
    assert run_suite(tmp_path, *args) == 0
    assert not [c for c, _, o in fake.calls if option(o, "--precision")]


def test_the_search_space_has_the_precisions_the_hardware_computes():
    from bench.backends.search_space import lower_precisions, search_space

    assert lower_precisions("cpu", ["avx2"]) == []
    assert lower_precisions("cpu", ["amx_bf16"]) == ["mixed_bfloat16"]
    assert lower_precisions("gpu", []) == ["mixed_bfloat16", "mixed_float16"]
    space = search_space("torch", "gpu", [])
    assert space[: len(SEARCH_SPACE["torch"])] == SEARCH_SPACE["torch"]
    for settings in space:  # each a valid run: a lower precision is its own profile
        precision = settings.get("precision", "float32")
        profile = {"mixed_bfloat16": "bf16", "mixed_float16": "fp16"}.get(precision, "default")
        RunConfig(backend="torch", profile=profile, **settings)
