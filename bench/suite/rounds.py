"""Rounds: every cell once per round in a shuffled order, until the verdict is decided.

A cell is what a verdict compares: a backend on a device with a profile (or, in the tuning
search, one candidate's settings). Each round runs every cell once, each in a fresh process,
in an order drawn from the order seed and the round's number, so drift of the host hits every
cell alike and the margins can be paired by round. After each round a short neutral probe
reads the host's speed; a round whose probes on both sides read off the invocation's median
(bench.host.drift) is flagged *disturbed*. It stays in the margins: a change of speed during
a round hits whichever cells ran then, and with the order shuffled that is noise of mean zero
in the paired ratios, which their interval counts, not a bias (the report shows whether the
verdict would change without those rounds). From the `min_rounds`-th round on, the margins
are looked at after every round, at the level the design spreads 5% over its looks; the
rounds stop when none is open, at `max_rounds`, or when the next round would likely end past
the budget.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.host.drift import disturbed, typical_rate
from bench.stats import sequential_confidence
from bench.suite.child import NO_BACKEND, Outcome
from bench.suite.console import Progress

DECIDED, MAX_ROUNDS, BUDGET, NO_CELLS = "decided", "max-rounds", "budget", "no-cells"


@dataclass(frozen=True)
class Cell:
    """One thing the rounds compare, run once per round: backend, device, profile, options."""

    backend: str
    device: str
    profile: str
    options: tuple[str, ...] = ()  # bench.run options of the profile (the tuned settings)
    label: str = ""  # how the console and the schedule record name it
    implementation: str = "keras"  # or a native reference (bench.backends.native)

    @property
    def kind(self) -> str:
        """The profile of a Keras cell, the implementation of a native one ("native")."""
        return self.profile if self.implementation == "keras" else self.implementation

    @property
    def name(self) -> str:
        return self.label or f"{self.backend}/{self.device}/{self.profile}"


@dataclass(frozen=True)
class Design:
    """How many rounds, when to look, and the budget: fixed before the first round runs."""

    min_rounds: int = 3
    max_rounds: int = 6
    budget_seconds: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_rounds <= self.max_rounds:
            raise ValueError(
                "rounds must satisfy 1 <= min_rounds <= max_rounds, got "
                f"{self.min_rounds} and {self.max_rounds}"
            )
        if self.budget_seconds is not None and not self.budget_seconds > 0:
            raise ValueError(f"the budget must be positive, got {self.budget_seconds!r} s")

    @property
    def looks(self) -> int:
        return self.max_rounds - self.min_rounds + 1

    @property
    def confidence(self) -> float:
        """Each look's interval level: 95% over all the looks the cap allows."""
        return sequential_confidence(self.min_rounds, self.max_rounds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_rounds": self.min_rounds,
            "max_rounds": self.max_rounds,
            "budget_minutes": None if self.budget_seconds is None else self.budget_seconds / 60,
            "looks": self.looks,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Launched:
    """One run's fate: its outcome, its result (when it wrote one) and a summary to print."""

    outcome: Outcome
    result: dict[str, Any] | None = None
    summary: str = ""


@dataclass
class RoundRecord:
    """What one round ran, in which order, how long it took and what the probe after it read."""

    index: int
    order: list[str]
    seconds: float
    probe_gflops: float | None
    disturbed: bool
    failed: list[str]
    open: list[str] | None  # margins still undecided after it, where it was a look

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "order": self.order,
            "seconds": self.seconds,
            "probe_after_gflops": self.probe_gflops,
            "disturbed": self.disturbed,
            "failed": self.failed,
            "open": self.open,
        }


@dataclass
class Rounds:
    """Everything the rounds did, and why they stopped."""

    rounds: list[RoundRecord] = field(default_factory=list)
    results: dict[Cell, dict[int, dict[str, Any]]] = field(default_factory=dict)
    stopped: str | None = None
    stop_text: str = ""
    open: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # cell name -> why it stopped running

    @property
    def disturbed(self) -> list[int]:
        return [r.index for r in self.rounds if r.disturbed]

    def all_results(self) -> list[dict[str, Any]]:
        """Every run's result, the margins' material."""
        return [
            result for by_round in self.results.values() for _, result in sorted(by_round.items())
        ]


def place(cell: Cell) -> tuple[str, str]:
    return cell.backend, cell.device


def round_order(cells: Sequence[Cell], order_seed: int, index: int) -> list[Cell]:
    """The cells in the order round `index` runs them: drawn from (order_seed, index) alone."""
    permutation = np.random.default_rng([order_seed, index]).permutation(len(cells))
    return [cells[i] for i in permutation]


def stop_text(reason: str, design: Design, rounds: Rounds) -> str:
    """Why the rounds stopped, in a sentence."""
    done, still = len(rounds.rounds), len(rounds.open)
    open_text = f"{still} margin{'s' * (still != 1)} still undecided"
    if reason == DECIDED:
        return f"every margin was decided after {done} rounds"
    if reason == MAX_ROUNDS:
        return f"the cap of {design.max_rounds} rounds was reached, {open_text}"
    if reason == BUDGET:
        minutes = (design.budget_seconds or 0) / 60
        return (
            f"after {done} rounds the next one would likely have ended past the budget of "
            f"{minutes:g} min, {open_text}"
        )
    return "no cell could run (see the failure records)"


def run_rounds(
    cells: Sequence[Cell],
    design: Design,
    launch: Callable[[Cell, int, int], Launched],
    open_items: Callable[[Rounds], list[str]],
    *,
    order_seed: int,
    progress: Progress,
    log: Callable[[str], None],
    probe: Callable[[int], float | None] | None = None,
    start_rates: Sequence[float] = (),
    started: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_failure: Callable[[Cell, int, Outcome], None] = lambda cell, index, outcome: None,
    on_round: Callable[[Rounds], None] = lambda rounds: None,
    needed: Callable[[Rounds], set[str]] | None = None,
) -> Rounds:
    """Run `cells` in rounds by `design`; `open_items` names the margins still undecided.

    `launch(cell, round, position)` runs one cell; `probe(round)` reads the host after a
    round (GFLOP/s); `start_rates` are the probes before the first. The budget counts from
    `started` (default: now, the first round's start). A cell that cannot import its backend is
    dropped from later rounds; every failure goes to `on_failure`. `needed`, after a look,
    names the cells later rounds still need (the tuning search drops decided candidates).
    """
    started = clock() if started is None else started
    rounds = Rounds(results={cell: {} for cell in cells})
    active = list(cells)
    rates = [rate for rate in start_rates if rate]
    before = typical_rate(rates)
    progress.plan(design.min_rounds * len(active))
    index = 0
    while True:
        if not active:
            rounds.stopped = NO_CELLS
            break
        if index >= design.min_rounds:
            progress.plan(len(active))
        order = round_order(active, order_seed, index)
        round_started = clock()
        failed = []
        for position, cell in enumerate(order):
            if cell not in active:  # its backend could not be imported earlier in this round
                continue
            progress.start()
            launched = launch(cell, index, position)
            progress.finished(cell.name, f"round {index + 1}", launched.summary)
            if launched.outcome.ok and launched.result is not None:
                rounds.results[cell][index] = launched.result
                continue
            failed.append(cell.name)
            on_failure(cell, index, launched.outcome)
            if launched.outcome.status == NO_BACKEND:
                # No later run of that backend on that device can do better.
                for other in [c for c in active if (c.backend, c.device) == place(cell)]:
                    rounds.dropped[other.name] = launched.outcome.reason
                    active.remove(other)
        after = probe(index) if probe else None
        if after:
            rates.append(after)
        previous, typical = before, typical_rate(rates)
        upset = bool(previous and after and disturbed(previous, after, typical))
        before = after or before
        record = RoundRecord(index, [c.name for c in order], 0.0, after, upset, failed, None)
        record.seconds = clock() - round_started
        rounds.rounds.append(record)
        if upset:
            log(
                f"round {index + 1} was disturbed: the host probes around it read "
                f"{previous:.0f} and {after:.0f} GFLOP/s against a median of {typical:.0f} "
                "(flagged; the paired margins keep it)"
            )
        if len(rounds.rounds) >= design.min_rounds:
            record.open = open_items(rounds)
            rounds.open = record.open
            if needed is not None:
                keep = needed(rounds)
                active = [cell for cell in active if cell.name in keep]
            log(
                f"round {index + 1} done: "
                + (
                    f"{len(record.open)} margin(s) still undecided"
                    if record.open
                    else "every margin decided"
                )
            )
        reason = next_step(design, rounds, started, clock)
        on_round(rounds)
        if reason:
            rounds.stopped = reason
            break
        index += 1
    rounds.stop_text = stop_text(rounds.stopped, design, rounds)
    log(f"stopped: {rounds.stop_text}")
    on_round(rounds)
    return rounds


def next_step(
    design: Design, rounds: Rounds, started: float, clock: Callable[[], float]
) -> str | None:
    """Why the rounds stop after this one, or None to run another."""
    done = len(rounds.rounds)
    if done >= design.min_rounds and not rounds.open:
        return DECIDED
    if done >= design.max_rounds:
        return MAX_ROUNDS
    if done >= design.min_rounds and design.budget_seconds is not None:
        mean_round = sum(r.seconds for r in rounds.rounds) / done
        if clock() - started + mean_round > design.budget_seconds:
            return BUDGET
    return None
