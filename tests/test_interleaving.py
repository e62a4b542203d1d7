"""Why the backends run in rounds: a host that slows by 30% halfway through a benchmark.

Simulated timings, the real scheduler and the real verdict. Timed in separate windows (one
backend after another, as the suite used to), the slowdown lands on the later backends and
passes for a difference between backends; interleaved in rounds and paired by round, it
cancels.
"""

import math

import numpy as np

from bench.analysis.collect import add_labels, runs_frame, select_latest
from bench.analysis.decision import TIME_TO_MODEL, decide_machine
from bench.analysis.hosts import Probes
from bench.stats import FASTER
from bench.suite.child import OK, Outcome
from bench.suite.console import Progress
from bench.suite.rounds import Cell, Design, Launched, run_rounds
from tests.suite_fakes import FakeClock, run_result

TRUE_FIT_SECONDS = {"tensorflow": 10.0, "jax": 8.5, "torch": 12.0}  # jax truly 1.18x faster
ROUNDS = 5
DESIGN = Design(min_rounds=ROUNDS, max_rounds=ROUNDS)
TOTAL_SECONDS = ROUNDS * sum(TRUE_FIT_SECONDS.values())


def slower_after_halfway(t: float) -> float:
    return 1.3 if t > TOTAL_SECONDS / 2 else 1.0


class SimulatedRuns:
    """Runs on a host that slows by 30% halfway through, with 2% noise per run."""

    def __init__(self, clock: FakeClock, invocation: str, seed: int):
        self.clock, self.invocation = clock, invocation
        self.rng = np.random.default_rng(seed)

    def __call__(self, cell: Cell, index: int, position: int) -> Launched:
        seconds = TRUE_FIT_SECONDS[cell.backend] * slower_after_halfway(self.clock.now)
        seconds *= math.exp(self.rng.normal(0, 0.02))
        self.clock.now += seconds
        repeat = {"group": f"{self.invocation}-{cell.backend}", "index": index, "count": ROUNDS,
                  "interleaved": True, "scheduler": "rounds", "position": position,
                  "min_rounds": ROUNDS, "max_rounds": ROUNDS,
                  "confidence": DESIGN.confidence}  # fmt: skip
        result = run_result(
            cell.backend,
            fit_seconds=seconds,
            index=index,
            group=repeat["group"],
            invocation=self.invocation,
            repeat=repeat,
        )
        return Launched(Outcome(OK, 0, seconds, ""), result)


def schedule(cells: list[Cell], runs: SimulatedRuns) -> list[dict]:
    found = run_rounds(
        cells,
        DESIGN,
        runs,
        lambda rounds: ["never decided early"],
        order_seed=1,
        progress=Progress(print_line=lambda line: None),
        log=lambda line: None,
        clock=runs.clock,
    )
    return found.all_results()


def job_verdict(results: list[dict]):
    groups = add_labels(select_latest(runs_frame(results, [None] * len(results))))
    return decide_machine(groups["machine"][0], "cpu", groups, Probes()).get(TIME_TO_MODEL)


def cells_of(*backends: str) -> list[Cell]:
    return [Cell(backend, "cpu", "default") for backend in backends]


def test_separate_windows_mistake_the_slowdown_for_a_backend_difference():
    clock = FakeClock()
    results = []
    for number, backend in enumerate(TRUE_FIT_SECONDS):  # one window (invocation) each
        results += schedule(cells_of(backend), SimulatedRuns(clock, f"window-{number}", number))
    verdict = job_verdict(results)
    jax_wins = verdict.winner.backend == "jax" and all(m.outcome == FASTER for m in verdict.margins)
    assert not jax_wins  # mis-ranked, or undecided: the windows cannot tell
    assert not any(margin.paired for margin in verdict.margins)
    # And the later window's slowdown passes for torch being slower than it is.
    torch = next(m for m in verdict.margins if m.other.backend == "torch")
    truth = TRUE_FIT_SECONDS["torch"] / TRUE_FIT_SECONDS["jax"]
    assert torch.ci[0] > truth


def test_interleaved_rounds_rank_the_backends_right_on_the_same_host():
    clock = FakeClock()
    results = schedule(cells_of(*TRUE_FIT_SECONDS), SimulatedRuns(clock, "rounds", 0))
    verdict = job_verdict(results)
    assert verdict.winner.backend == "jax"
    assert all(margin.paired and margin.outcome == FASTER for margin in verdict.margins)
    by_backend = {margin.other.backend: margin for margin in verdict.margins}
    for backend in ("tensorflow", "torch"):
        truth = TRUE_FIT_SECONDS[backend] / TRUE_FIT_SECONDS["jax"]
        low, high = by_backend[backend].ci
        assert low < truth < high
