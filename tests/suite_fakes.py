"""Stand-ins for the suite's runs: result records from a table of true speeds and a fake host.

`FakeHost` is a host whose speed a test sets as a function of (simulated) time; `FakeClock`
is the clock the rounds read; `FakeLaunch` replaces `Launcher.launch`, making each run's
result (a full record, as bench.run writes it) from the cell's true cost times the host's
slowness when it runs, and advancing the clock by the time it took.
"""

import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.host.machine import machine_info
from bench.suite.child import ERROR, NO_BACKEND, OK, Outcome
from bench.suite.rounds import Cell, Launched
from digitrec_core.results import ALONE
from tests.report_fixtures import (
    MACHINE,
    default_settings,
    make_result,
    native_section,
    write_run,
)

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that only moves when a fake run or probe moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def option(args: list[str], name: str) -> str | None:
    """The value after the last `name` in `args` (None where absent)."""
    return args[len(args) - 1 - args[::-1].index(name) + 1] if name in args else None


def run_result(
    backend: str,
    *,
    fit_seconds: float,
    index: int,
    group: str,
    invocation: str | None,
    profile: str = "default",
    device: str = "cpu",
    created: datetime = START,
    repeat: dict[str, Any] | None = None,
    machine: dict[str, Any] = MACHINE,
) -> dict[str, Any]:
    """A full result of one run whose every speed follows `fit_seconds` (a 10-epoch fit)."""
    result = make_result(
        backend, accuracy=0.975 + index / 2000, created_utc=created, device=device, machine=machine
    )
    result["run_id"] += f"-{profile}-{index}-{uuid.uuid4().hex[:6]}"
    result["config"].update(profile=profile, seed=index)
    result["settings"] = default_settings(profile)
    result["repeat"] = {**ALONE, "group": group, "index": index, **(repeat or {})}
    result["invocation"] = {"id": invocation}
    steady = fit_seconds / 11
    timings = result["timings"]
    timings.update(
        epoch_seconds=[2 * steady] + [steady] * 9,
        first_epoch_seconds=2 * steady,
        steady_epoch_seconds=steady,
        fit_seconds=fit_seconds,
        train_samples_per_second=60_000 / steady,
        compile_overhead_seconds=steady,
        predict_path="predict_on_batch",
        predict_latency_p50_ms=fit_seconds / 20,
        predict_latency_p95_ms=fit_seconds / 15,
        predict_latency_p99_ms=fit_seconds / 10,
        predict_throughput_samples_per_second={"1": 200 / fit_seconds, "10000": 2e6 / fit_seconds},
    )
    return result


def trial_result(steady: float, *, busy: float = 1.9, in_effect: bool | None = None) -> dict:
    """The parts of a tuning trial's result that the search reads."""
    return {
        "timings": {"steady_epoch_seconds": steady, "first_epoch_seconds": 2 * steady},
        "settings": {"threads": {"busy_cores_fit": busy, "in_effect": in_effect}},
    }


class FakeLaunch:
    """Replaces `Launcher.launch`: runs nothing, makes the result the run would have made.

    `costs(cell)` is the cell's true fit time on an undisturbed host; `host(t)` the host's
    slowness at simulated time t (1.0: normal); `noise` a log-normal spread per run. Search
    trials (`--training-trial`) get a steady epoch of cost / 10. `failing` holds (cell name,
    round) pairs that fail with `status`.
    """

    def __init__(
        self,
        costs: Callable[[Cell], float],
        *,
        clock: FakeClock | None = None,
        host: Callable[[float], float] = lambda t: 1.0,
        noise: float = 0.0,
        seed: int = 0,
        failing: frozenset = frozenset(),
        status: str = ERROR,
        overhead_seconds: float = 5.0,
        write_to: Path | None = None,
    ):
        self.costs, self.host, self.noise = costs, host, noise
        self.clock = clock or FakeClock()
        self.rng = np.random.default_rng(seed)
        self.failing, self.status = failing, status
        self.overhead_seconds = overhead_seconds
        self.write_to = write_to  # a results folder: write each run's result there too
        self.calls: list[tuple[Cell, int, list[str]]] = []
        self.shared_options: list[str] = []

    def run_seconds(self, cell: Cell) -> float:
        factor = self.host(self.clock.now) * math.exp(self.rng.normal(0, self.noise))
        return self.costs(cell) * factor

    def __call__(self, launcher, cell: Cell, index: int, options: list[str], log_name: str):
        self.calls.append((cell, index, list(options)))
        self.shared_options = launcher.shared_options
        launcher.logs[(cell.name, index)] = launcher.log_dir / log_name
        seconds = self.run_seconds(cell)
        self.clock.now += seconds + self.overhead_seconds
        if (cell.name, index) in self.failing:
            outcome = Outcome(self.status, 1, seconds, f"{self.status}: boom")
            return Launched(outcome, None, f"FAILED ({self.status})")
        ok = Outcome(OK, 0, seconds, "")
        if "--training-trial" in options:
            threads = option(options, "--threads")
            busy = 1.0 if threads else 1.9
            in_effect = None if threads is None else busy <= int(threads) + 0.25
            return Launched(ok, trial_result(seconds / 10, busy=busy, in_effect=in_effect))
        repeat = json.loads(option(options, "--repeat"))
        result = run_result(
            cell.backend,
            fit_seconds=seconds,
            index=index,
            group=repeat["group"],
            invocation=option(launcher.shared_options, "--invocation"),
            profile=cell.profile,
            device=cell.device,
            created=START + timedelta(seconds=self.clock.now),
            repeat=repeat,
            machine=machine_info(),  # the machine the suite files its records under
        )
        implementation = option(options, "--implementation")
        if implementation is not None:
            result["implementation"] = native_section(cell.backend, implementation)
        if self.write_to is not None:
            write_run(self.write_to, result)
        return Launched(ok, result, f"fit {seconds:.1f} s")


def no_backend(cell_name: str, index: int) -> FakeLaunch:
    """A FakeLaunch whose cell `cell_name` cannot import its backend from round `index` on."""
    return FakeLaunch(lambda cell: 10.0, failing=frozenset({(cell_name, index)}), status=NO_BACKEND)
