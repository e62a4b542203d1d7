"""The decision layer: per machine and device, which backend wins each task, by how much, how sure.

Every margin is a ratio of geometric means across a group's runs with a 95% interval
(`bench.stats.compare_speed`): paired by round where the two groups ran side by side in one
invocation's rounds (`bench.analysis.pairing`), at the level its sequential design sets, and
unpaired (Welch) otherwise. A winner is only called one where the interval excludes 1 and the
margin is at least MIN_SPEED_EFFECT; otherwise the two are a *tie*, decided (the whole
interval within the minimum effect) or undecided (the data cannot tell; the verdict says
what to run). The suite reads the same margins after every round to decide when to stop.

*Time to target accuracy* is the headline task where runs measured it. A run that never
reaches the target is a *miss*, and a paired interval needs finite times, so misses follow one
rule: a group is ranked by its share of misses first, and only then by its time. A group with
more misses is never ranked faster than one with fewer; its margin reads "missed k of n". Two
groups with the same share are compared on the rounds where both reached the target.

Lower-precision profiles (bf16, fp16) compete only once accepted (`bench.analysis.precision`).
"""

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from bench.analysis.collect import get
from bench.analysis.hosts import Probes, comparable, invocation_of
from bench.analysis.measures import THROUGHPUT, bulk_batch, common_bulk_batch, stats_of, values
from bench.analysis.pairing import confidence_of, gain, paired_samples
from bench.analysis.precision import judge_precisions, rejected_groups
from bench.analysis.targets import missed_text, target_accuracies, target_misses
from bench.stats import (
    DECIDING_POWER,
    FASTER,
    MIN_SPEED_EFFECT,
    MISSED,
    SAME,
    SLOWER,
    compare_speed,
    geometric_mean,
    rounds_to_decide,
)

MAX_REPEATS_SUGGESTED = 100
DISPLAY = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "torch"}


@dataclass(frozen=True)
class Task:
    """A job a user waits for, and where each run records how fast it went."""

    name: str
    dotted: str
    higher_is_better: bool
    unit: str
    spec: str


TIME_TO_TARGET = Task(
    "time to target accuracy", "timings.time_to_target_seconds", False, "s", ".2f"
)
TIME_TO_MODEL = Task("time to a trained model", "timings.fit_seconds", False, "s", ".2f")
TASKS = (
    TIME_TO_TARGET,
    TIME_TO_MODEL,
    Task(
        "steady training throughput",
        "timings.train_samples_per_second",
        True,
        "samples/s",
        ",.0f",
    ),
    Task("batch-1 latency p50", "timings.predict_latency_p50_ms", False, "ms", ".3f"),
    Task("bulk prediction throughput", THROUGHPUT, True, "samples/s", ",.0f"),
)
PREDICTION_TASKS = TASKS[3:]
SCOPES = {"default": "default settings", "any": "best profile"}


# Where a ratio's interval sits against these decides its verdict, so its printed bounds must sit
# on the same side of each: 1.052 is never printed 1.05, nor 0.996 as 1.00.
VERDICT_MARKS = (1.0, 1 + MIN_SPEED_EFFECT, 1 / (1 + MIN_SPEED_EFFECT))


def bound_decimals(bounds: list[float], marks: tuple[float, ...] = VERDICT_MARKS) -> int:
    """The fewest decimals (2 to 4) at which every bound keeps its side of every mark."""
    for decimals in (2, 3):
        if all(
            (round(bound, decimals) > mark) == (bound > mark)
            and (round(bound, decimals) < mark) == (bound < mark)
            for bound in bounds
            for mark in marks
        ):
            return decimals
    return 4


def ci_text(ci: list[float] | None) -> str:
    """ "[1.09–1.57]", with the decimals that keep each bound's side of 1 and of ±5%."""
    if ci is None:
        return "[no interval]"
    decimals = bound_decimals(list(ci))
    return f"[{ci[0]:.{decimals}f}–{ci[1]:.{decimals}f}]"


def display(backend: str) -> str:
    """The backend's name as people write it."""
    return DISPLAY.get(backend, backend)


def task_key(group_runs: list[dict[str, Any]], task: Task) -> str | None:
    """Where the runs record `task`: bulk prediction at the largest batch all of them measured."""
    if task.dotted != THROUGHPUT:
        return task.dotted
    size = bulk_batch(group_runs)
    return None if size is None else f"{THROUGHPUT}.{size}"


def task_values(group_runs: list[dict[str, Any]], task: Task) -> list[float]:
    """The group's per-run measurements of `task`, in the task's unit (missing ones left out)."""
    dotted = task_key(group_runs, task)
    return [] if dotted is None else values(group_runs, dotted)


def as_times(measured: list[float], task: Task) -> list[float]:
    """Measurements turned into costs (lower is better): rates are inverted."""
    positive = [value for value in measured if value > 0]
    return [1 / value for value in positive] if task.higher_is_better else positive


@dataclass(frozen=True)
class Candidate:
    """One group (backend and profile) with its costs for one task.

    For time to target, `times` are the runs that reached it and `missed` those that did not.
    """

    row: Any
    times: list[float]
    missed: int = 0
    runs: int = 0

    @property
    def miss_share(self) -> float:
        return self.missed / self.runs if self.runs else 0.0

    @property
    def backend(self) -> str:
        return self.row.backend

    @property
    def name(self) -> str:
        return f"{display(self.row.backend)} ({self.row.profile})"

    @property
    def typical(self) -> float:
        return geometric_mean(self.times) if self.times else math.inf

    @property
    def rank(self) -> tuple[float, float]:
        """What orders candidates: the share of misses first (see the module), then the time."""
        return self.miss_share, self.typical


@dataclass(frozen=True)
class Margin:
    """How much faster the winner is than another backend's best group, and how sure."""

    other: Candidate
    ratio: float
    ci: list[float] | None
    outcome: str  # FASTER: a real win; MISSED: `other` missed the target more often;
    # SAME: a decided tie; otherwise an undecided tie
    repeats_to_decide: int | None  # paired: rounds (the cap to set); else runs per group
    paired: bool = False
    confidence: float = 0.95
    rounds: int | None = None  # paired: the rounds both groups ran

    @property
    def decisive(self) -> bool:
        return self.outcome in (FASTER, MISSED)

    @property
    def tie(self) -> bool:
        return not self.decisive

    def text(self, *, brackets: bool = True) -> str:
        """ "1.52× [1.41–1.63]", with "tie" where it does not separate, or "missed 1 of 4"."""
        if self.outcome == MISSED:
            return missed_text(self.other.missed, self.other.runs)
        interval = "" if self.ci is None else f" {ci_text(self.ci)}"
        body = f"{self.ratio:.2f}×{interval if brackets else ''}"
        return body if self.decisive else f"tie: {body}"


@dataclass
class TaskVerdict:
    """The fastest group for one task in one scope, and its margin over every other backend."""

    task: Task
    scope: str
    winner: Candidate | None = None
    margins: list[Margin] = field(default_factory=list)
    problem: str | None = None

    @property
    def decisive(self) -> bool:
        return (
            self.winner is not None
            and bool(self.margins)
            and not self.problem
            and all(margin.decisive for margin in self.margins)
        )

    def winner_value(self) -> str:
        if self.winner is None:
            return ""
        # The same statistic as every table (bench.analysis.tidy): the geometric mean.
        typical = self.winner.typical if self.winner.times else None
        if typical is not None and self.task.higher_is_better:
            typical = 1 / typical
        text = "" if typical is None else f"{format(typical, self.task.spec)} {self.task.unit}"
        if self.winner.missed:
            text += f" ({missed_text(self.winner.missed, self.winner.runs)})"
        return text


def repeats_to_decide(slower: list[float], faster: list[float]) -> int | None:
    """Runs per group that would likely (80%) separate the two or show them equal.

    Takes the observed geometric means and log spreads as the truth; a normal approximation of
    the unpaired interval on log times. None when the spread is unknown (one run a side) or
    more than MAX_REPEATS_SUGGESTED would be needed.
    """
    a, b = np.log(slower), np.log(faster)
    if a.size < 2 or b.size < 2:
        return None
    sd = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    difference = abs(float(a.mean() - b.mean()))
    effect = math.log1p(0.05)
    gap = difference if difference >= effect else effect - difference
    if sd == 0:
        return 2
    if gap == 0:
        return None
    z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(DECIDING_POWER)
    needed = math.ceil(2 * (z * sd / gap) ** 2)
    return max(3, needed) if needed <= MAX_REPEATS_SUGGESTED else None


def margin_over(winner: Candidate, other: Candidate, task: Task) -> Margin:
    """The winner's margin over `other`: other / winner cost, its interval and verdict.

    Paired by round where the two groups ran side by side (`bench.analysis.pairing`). Where
    `other` missed the target more often, the miss rule decides (module docstring): MISSED.
    """
    if other.miss_share > winner.miss_share:
        return Margin(other, math.inf, None, MISSED, None)
    dotted = task_key([*winner.row.group_runs, *other.row.group_runs], task)
    slow, fast, paired = (
        paired_samples(other.row, winner.row, dotted) if dotted else ([], [], False)
    )
    slow, fast = as_times(slow, task), as_times(fast, task)
    if not paired or not slow or len(slow) != len(fast):
        slow, fast, paired = other.times, winner.times, False
    confidence = confidence_of(other.row, winner.row, paired)
    found = compare_speed(slow, fast, paired=paired, confidence=confidence)
    decided = found["outcome"] in (FASTER, SAME)
    if decided:
        needed = None
    elif paired:
        needed = rounds_to_decide(
            np.log(slow) - np.log(fast),
            min_rounds_of(winner.row, other.row),
            at_least=len(slow) + 1,
        )
    else:
        needed = repeats_to_decide(slow, fast)
    return Margin(
        other=other,
        ratio=found["ratio"],
        ci=found["ci95"],
        outcome=found["outcome"],
        repeats_to_decide=needed,
        paired=paired,
        confidence=confidence,
        rounds=len(slow) if paired else None,
    )


def min_rounds_of(*rows: Any) -> int:
    """The fewest rounds the groups' sequential design ran before its first look (default 3)."""
    found = {get(result, "repeat.min_rounds") for row in rows for result in row.group_runs}
    value = found.pop() if len(found) == 1 else None
    return value if isinstance(value, int) and value >= 1 else 3


def tuned_job_gains(groups: pd.DataFrame) -> dict[str, str]:
    """Per backend: FASTER, SLOWER, SAME or INCONCLUSIVE for tuned against default on the job.

    Paired by repeat where the suite interleaved the profiles, as in the Tuned profiles table.
    """
    gains = {}
    for backend, same_backend in groups.groupby("backend", sort=False):
        by_profile = {row.profile: row for row in same_backend.itertuples()}
        default, tuned = by_profile.get("default"), by_profile.get("tuned")
        if default is None or tuned is None:
            continue
        found = gain(default, tuned, TIME_TO_MODEL.dotted)
        if found is not None:
            gains[backend] = found["outcome"]
    return gains


def flagged_profiles(groups: pd.DataFrame, gains: dict[str, str]) -> set[str]:
    """Group ids of tuned profiles that are slower than their default for the documented job."""
    tuned = groups[groups["profile"] == "tuned"]
    return {row.repeat_group for row in tuned.itertuples() if gains.get(row.backend) == SLOWER}


def best_per_backend(
    groups: pd.DataFrame, task: Task, scope: str, flagged: set[str]
) -> list[Candidate]:
    """Each backend's cheapest group for `task` in `scope` (flagged ones never for the job)."""
    best: dict[str, Candidate] = {}
    for row in groups.itertuples():
        if scope == "default" and row.profile != "default":
            continue
        if row.repeat_group in flagged and (task is TIME_TO_MODEL or row.profile != "tuned"):
            continue  # rejected lower precisions never compete; slower tuned ones not on the job
        times = as_times(task_values(row.group_runs, task), task)
        missed, runs = target_misses(row.group_runs) if task is TIME_TO_TARGET else (0, 0)
        if not times and not missed:
            continue
        candidate = Candidate(row, times, missed, runs)
        if row.backend not in best or candidate.rank < best[row.backend].rank:
            best[row.backend] = candidate
    return sorted(best.values(), key=lambda candidate: candidate.rank)


def decide_task(
    groups: pd.DataFrame, task: Task, scope: str, probes: Probes, flagged: set[str]
) -> TaskVerdict:
    """The fastest backend for `task` among one machine and device's groups."""
    verdict = TaskVerdict(task, scope)
    candidates = best_per_backend(groups, task, scope, flagged)
    if not candidates:
        verdict.problem = "not measured"
        return verdict
    verdict.winner = candidates[0]
    if task is TIME_TO_TARGET and not verdict.winner.times:
        verdict.problem = "no run reached the target"
        return verdict
    if task is TIME_TO_TARGET:
        targets = set().union(*(target_accuracies(c.row.group_runs) for c in candidates))
        if len(targets) > 1:
            verdict.problem = "different target accuracies"
            return verdict
    if len(candidates) == 1:
        verdict.problem = "only one backend measured"
        return verdict
    if not comparable([candidate.row for candidate in candidates], probes):
        verdict.problem = "hosts of different speed"
        return verdict
    verdict.margins = [margin_over(candidates[0], other, task) for other in candidates[1:]]
    return verdict


@dataclass
class MachineVerdict:
    """Every task's verdict for one machine and device, and the accuracy verdict beside them."""

    machine: str
    device: str
    tasks: dict[tuple[str, str], TaskVerdict]  # (task name, scope) -> verdict
    flagged: set[str]
    noisy: list[str]
    tuned_job_gain: dict[str, str]  # backend -> tuned against default on the documented job
    unsteady_hosts: list[str] = field(default_factory=list)  # invocations whose speed moved
    precision: list[Any] = field(default_factory=list)  # bench.analysis.precision verdicts
    rounds: list[Any] = field(default_factory=list)  # bench.analysis.rounds.RoundsInfo
    alias: str = ""  # the machine's short name in the report ("M1"); its id where unset

    def get(self, task: Task, scope: str = "any") -> TaskVerdict:
        return self.tasks[(task.name, scope)]


def noisy_groups(groups: pd.DataFrame) -> list[str]:
    """Labels of groups whose steady epoch alone cannot resolve a 5% difference."""
    found = []
    for row in groups.itertuples():
        steady = stats_of(row.group_runs, "timings.steady_epoch_seconds")
        if steady is not None and steady["noisy"]:
            found.append(row.label)
    return found


def machine_tasks(groups: pd.DataFrame) -> list[Task]:
    """TASKS, bulk prediction read at the one batch size every group here measured."""
    bulk = common_bulk_batch(list(groups["group_runs"]))
    return [
        replace(task, dotted=f"{THROUGHPUT}.{bulk}")
        if task.dotted == THROUGHPUT and bulk is not None
        else task
        for task in TASKS
    ]


def decide_machine(
    machine: str, device: str, groups: pd.DataFrame, probes: Probes
) -> MachineVerdict:
    """Every task's verdict among one machine and device's groups."""
    gains = tuned_job_gains(groups)
    flagged = flagged_profiles(groups, gains)
    precision = judge_precisions(groups)
    left_out = flagged | rejected_groups(precision)
    tasks = {
        (task.name, scope): decide_task(groups, task, scope, probes, left_out)
        for task in machine_tasks(groups)
        for scope in SCOPES
    }
    verdict = MachineVerdict(machine, device, tasks, flagged, noisy_groups(groups), gains)
    verdict.alias = str(groups["alias"].iloc[0]) if "alias" in groups else machine
    verdict.precision = precision
    verdict.unsteady_hosts = sorted(
        {
            invocation
            for row in groups.itertuples()
            if probes.changed_during(machine, invocation := invocation_of(row))
        }
    )
    return verdict


def decide(main: pd.DataFrame, probes: Probes | None = None) -> list[MachineVerdict]:
    """A MachineVerdict per machine and device, from the full (not quick) groups."""
    probes = probes or Probes()
    full = main[~main["quick"]]
    return [
        decide_machine(machine, device, groups, probes)
        for (machine, device), groups in full.groupby(["machine", "device"], sort=False)
    ]
