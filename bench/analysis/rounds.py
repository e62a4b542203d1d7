"""A verdict's rounds: the invocations that ran its groups in rounds, and what they recorded.

For each such invocation: how many rounds, the order seed, the sequential design, why the
suite stopped, each backend's tuning search, and the rounds flagged disturbed, with what the
verdict would say without them (the check that keeping them in the paired margins is safe).
"""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.decision import SCOPES, MachineVerdict, decide_machine
from bench.analysis.hosts import Probes, invocation_of
from bench.stats import FASTER, MISSED, SAME


@dataclass
class RoundsInfo:
    """One rounds invocation behind a verdict, from its schedule record."""

    invocation: str
    schedule: dict[str, Any]
    disturbed: list[int]
    changed_without_disturbed: "Changes | None" = None

    @property
    def rounds(self) -> int:
        return len(self.schedule.get("rounds") or [])

    def disturbed_probes(self) -> list[tuple[int, float | None, float | None]]:
        """(round, probe before, probe after) of each disturbed round, in GFLOP/s."""
        rounds = self.schedule.get("rounds") or []
        start = self.schedule.get("host_gflops")
        found = []
        for index in self.disturbed:
            before = rounds[index - 1].get("probe_after_gflops") if index > 0 else start
            after = rounds[index].get("probe_after_gflops") if index < len(rounds) else None
            found.append((index, before, after))
        return found


def without_rounds(groups: pd.DataFrame, invocation: str, indices: list[int]) -> pd.DataFrame:
    """`groups` with the runs of `invocation`'s rounds `indices` left out."""
    drop = set(indices)

    def keep(result: dict[str, Any]) -> bool:
        return get(result, "invocation.id") != invocation or get(result, "repeat.index") not in drop

    lighter = groups.copy()
    lighter["group_runs"] = [[r for r in runs if keep(r)] for runs in groups["group_runs"]]
    return lighter[[bool(runs) for runs in lighter["group_runs"]]]


OUTCOME_WORDS = {FASTER: "{winner} faster", SAME: "the same", MISSED: "{winner} ahead by misses"}


def margin_outcomes(verdict: MachineVerdict) -> dict[str, str]:
    """Every margin as "task (scope), A vs B" (the pair in name order) -> what it says."""
    found = {}
    for (name, scope), task in verdict.tasks.items():
        for margin in task.margins:
            pair = " vs ".join(sorted([task.winner.name, margin.other.name]))
            words = OUTCOME_WORDS.get(margin.outcome, "undecided")
            found[f"{name} ({SCOPES[scope]}), {pair}"] = words.format(winner=task.winner.name)
    return found


@dataclass
class Changes:
    """What a verdict says otherwise without some rounds: decisions that flip, or just open."""

    flipped: list[str] = field(default_factory=list)  # decided, and decided otherwise
    opened: int = 0  # decided, and undecided with fewer rounds
    closed: int = 0  # undecided, and decided without them


def changed_margins(full: MachineVerdict, lighter: MachineVerdict) -> Changes:
    """How the lighter verdict's margins differ from the full one's."""
    before, after = margin_outcomes(full), margin_outcomes(lighter)
    changes = Changes()
    for key, said in before.items():
        now = after.get(key, "undecided")
        if now == said:
            continue
        if said == "undecided":
            changes.closed += 1
        elif now == "undecided":
            changes.opened += 1
        else:
            changes.flipped.append(f"{key}: {said} → {now}")
    return changes


def verdict_rounds(
    verdict: MachineVerdict,
    groups: pd.DataFrame,
    schedules: dict[tuple[str, str], dict[str, Any]],
    probes: Probes,
) -> list[RoundsInfo]:
    """The rounds invocations behind `verdict` (whose groups are `groups`), with their checks."""
    invocations = sorted({inv for row in groups.itertuples() if (inv := invocation_of(row))})
    found = []
    for invocation in invocations:
        schedule = schedules.get((verdict.machine, invocation))
        if schedule is None:
            continue
        disturbed = [i for i in schedule.get("disturbed_rounds") or [] if isinstance(i, int)]
        info = RoundsInfo(invocation, schedule, disturbed)
        if disturbed:
            lighter = without_rounds(groups, invocation, disturbed)
            lighter_verdict = decide_machine(verdict.machine, verdict.device, lighter, probes)
            info.changed_without_disturbed = changed_margins(verdict, lighter_verdict)
        found.append(info)
    return found


def attach_rounds(
    verdicts: list[MachineVerdict],
    main: pd.DataFrame,
    schedules: dict[tuple[str, str], dict[str, Any]],
    probes: Probes,
) -> None:
    """Give each verdict (of `decision.decide(main)`) its rounds invocations."""
    full = main[~main["quick"]]
    for verdict in verdicts:
        groups = full[(full["machine"] == verdict.machine) & (full["device"] == verdict.device)]
        verdict.rounds = verdict_rounds(verdict, groups, schedules, probes)
