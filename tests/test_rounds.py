"""The rounds engine: order, adaptive stopping, failures, disturbed rounds and the budget."""

import pytest

from bench.suite.child import ERROR, NO_BACKEND, OK, Outcome
from bench.suite.console import Progress
from bench.suite.margins import open_margins
from bench.suite.rounds import (
    BUDGET,
    DECIDED,
    MAX_ROUNDS,
    Cell,
    Design,
    Launched,
    round_order,
    run_rounds,
)
from tests.suite_fakes import FakeClock, run_result

CELLS = [Cell(backend, "cpu", "default") for backend in ("tensorflow", "jax", "torch")]


class Launch:
    """A launch that records its calls and makes results from per-backend costs and noise."""

    def __init__(self, costs, clock, *, noise=0.0, seed=0, failing=(), status=ERROR):
        import numpy as np

        self.costs, self.clock, self.noise = costs, clock, noise
        self.rng = np.random.default_rng(seed)
        self.failing, self.status = set(failing), status
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, cell, index, position):
        import math

        self.calls.append((cell.name, index, position))
        seconds = self.costs[cell.backend] * math.exp(self.rng.normal(0, self.noise))
        self.clock.now += seconds
        if (cell.name, index) in self.failing:
            return Launched(Outcome(self.status, 1, seconds, "boom"), None, "FAILED")
        repeat = {"group": cell.name, "index": index, "count": 6, "interleaved": True,
                  "scheduler": "rounds", "position": position, "min_rounds": 3,
                  "max_rounds": 6, "confidence": Design().confidence}  # fmt: skip
        result = run_result(
            cell.backend,
            fit_seconds=seconds,
            index=index,
            group=cell.name,
            invocation="inv-1",
            repeat=repeat,
        )
        return Launched(Outcome(OK, 0, seconds, ""), result, f"fit {seconds:.1f} s")


def rounds_of(launch, design=None, clock=None, **kwargs):
    lines = []
    found = run_rounds(
        CELLS,
        design or Design(),
        launch,
        open_margins,
        order_seed=7,
        progress=Progress(print_line=lines.append, clock=clock or launch.clock),
        log=lines.append,
        clock=clock or launch.clock,
        **kwargs,
    )
    return found, lines


def test_round_order_is_drawn_from_its_seed_alone_and_recorded():
    assert round_order(CELLS, 7, 2) == round_order(CELLS, 7, 2)
    orders = {tuple(c.name for c in round_order(CELLS, 7, index)) for index in range(8)}
    assert len(orders) > 1  # the rounds are shuffled, not one fixed order
    assert round_order(CELLS, 8, 0) != round_order(CELLS, 7, 0) or round_order(
        CELLS, 8, 1
    ) != round_order(CELLS, 7, 1)
    clock = FakeClock()
    found, _ = rounds_of(Launch({"tensorflow": 10, "jax": 5, "torch": 20}, clock))
    for record in found.rounds:
        assert record.order == [c.name for c in round_order(CELLS, 7, record.index)]


def test_a_clear_2x_difference_stops_at_the_minimum():
    clock = FakeClock()
    launch = Launch({"tensorflow": 10.0, "jax": 5.0, "torch": 20.0}, clock, noise=0.03)
    found, _ = rounds_of(launch)
    assert found.stopped == DECIDED and len(found.rounds) == Design().min_rounds
    assert not found.open
    assert "every margin was decided after 3 rounds" in found.stop_text


def test_a_true_tie_goes_to_the_cap_and_stays_undecided():
    clock = FakeClock()
    launch = Launch({"tensorflow": 10.0, "jax": 10.0, "torch": 10.0}, clock, noise=0.08, seed=3)
    found, _ = rounds_of(launch)
    assert found.stopped == MAX_ROUNDS and len(found.rounds) == Design().max_rounds
    assert found.open  # what the cap leaves undecided is reported as undecided
    assert f"{len(found.open)} margins still undecided" in found.stop_text


def test_a_backend_that_fails_in_round_k_is_recorded_and_the_others_finish_their_rounds():
    clock = FakeClock()
    launch = Launch(
        {"tensorflow": 10.0, "jax": 5.0, "torch": 20.0}, clock, failing={("jax/cpu/default", 1)}
    )
    failures = []
    found, _ = rounds_of(launch, on_failure=lambda c, i, o: failures.append((c.name, i, o.status)))
    assert failures == [("jax/cpu/default", 1, ERROR)]
    assert found.rounds[1].failed == ["jax/cpu/default"]
    ran = {(name, index) for name, index, _ in launch.calls}
    for record in found.rounds:  # every cell ran every round, the failed one included
        assert {(c.name, record.index) for c in CELLS} <= ran
    assert sorted(found.results[CELLS[1]]) == [i for i in range(len(found.rounds)) if i != 1]


def test_a_backend_that_cannot_be_imported_runs_no_more_rounds_and_the_others_go_on():
    clock = FakeClock()
    launch = Launch(
        {"tensorflow": 10.0, "jax": 5.0, "torch": 20.0},
        clock,
        failing={("torch/cpu/default", 0)},
        status=NO_BACKEND,
    )
    found, _ = rounds_of(launch)
    torch_calls = [call for call in launch.calls if call[0] == "torch/cpu/default"]
    assert len(torch_calls) == 1 and "torch/cpu/default" in found.dropped
    assert len(found.results[CELLS[0]]) == len(found.rounds) >= 3


def probe_sequence(rates):
    remaining = list(rates)
    return lambda index: remaining.pop(0)


def test_one_low_probe_disturbs_no_round_but_two_in_a_row_do():
    clock = FakeClock()
    costs = {"tensorflow": 10.0, "jax": 5.0, "torch": 20.0}
    one_low = probe_sequence([200, 100, 200, 200, 200, 200])
    found, _ = rounds_of(Launch(costs, clock), probe=one_low, start_rates=[200, 200, 200])
    assert found.disturbed == []
    two_low = probe_sequence([200, 100, 105, 200, 200, 200])
    found, lines = rounds_of(Launch(costs, FakeClock()), probe=two_low, start_rates=[200] * 3)
    assert found.disturbed == [2]  # round 3 lies between the two low probes
    assert any("round 3 was disturbed" in line for line in lines)


def test_the_budget_stops_the_rounds_after_the_minimum_only():
    clock = FakeClock()
    launch = Launch({"tensorflow": 10.0, "jax": 10.0, "torch": 10.0}, clock, noise=0.08)
    design = Design(min_rounds=3, max_rounds=10, budget_seconds=100)  # a round takes 30 s
    found, _ = rounds_of(launch, design=design, started=0.0)
    assert found.stopped == BUDGET and len(found.rounds) == 3
    assert "past the budget of 1.66667 min" in found.stop_text


@pytest.mark.parametrize("bad", [(0, 3), (4, 3)])
def test_a_design_with_impossible_rounds_is_refused(bad):
    with pytest.raises(ValueError, match="min_rounds <= max_rounds"):
        Design(*bad)
