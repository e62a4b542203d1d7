"""Which groups ran side by side, their samples paired by round, and the gain between them.

Two groups are *side by side* when one invocation ran them in the same rounds: every run of
both was scheduled in rounds (`repeat.scheduler` "rounds": each round runs every backend and
profile once, in a shuffled order), or, in invocations from before the rounds, they are the
two profiles of one backend, which the suite of that time interleaved. Run i of each then
shares a seed and a moment, and their ratio is paired by round, so drift of the host between
rounds cancels. Groups of different invocations, or the backends of an invocation that ran
them one after another, keep the unpaired (Welch) interval.
"""

from typing import Any

from bench.analysis.collect import get
from bench.analysis.hosts import invocation_of
from bench.analysis.measures import values
from bench.stats import CONFIDENCE, compare_speed

ROUNDS = "rounds"


def scheduled_in_rounds(row: Any) -> bool:
    """Whether every run of the group was scheduled in rounds across backends."""
    return all(get(result, "repeat.scheduler") == ROUNDS for result in row.group_runs)


def side_by_side(a: Any, b: Any) -> bool:
    """Whether groups `a` and `b` ran side by side in one invocation (see the module)."""
    invocation = invocation_of(a)
    if invocation is None or invocation != invocation_of(b):
        return False
    if scheduled_in_rounds(a) and scheduled_in_rounds(b):
        return True
    runs = [*a.group_runs, *b.group_runs]
    return (a.backend, a.device) == (b.backend, b.device) and all(
        get(result, "repeat.interleaved") for result in runs
    )


def by_round(row: Any, dotted: str) -> dict[int, float]:
    """The group's values at `dotted`, keyed by the round (repeat index) each ran in."""
    found = {}
    for result in row.group_runs:
        value = values([result], dotted)
        if value:
            found[int(get(result, "repeat.index") or 0)] = value[0]
    return found


def paired_samples(a: Any, b: Any, dotted: str) -> tuple[list[float], list[float], bool]:
    """Both groups' values at `dotted`: paired by round where they ran side by side.

    Paired samples keep the rounds both groups measured (a run that failed in one round
    drops that round from the pair).
    """
    if side_by_side(a, b):
        left, right = by_round(a, dotted), by_round(b, dotted)
        rounds = sorted(left.keys() & right.keys())
        if rounds:
            return [left[r] for r in rounds], [right[r] for r in rounds], True
    return values(a.group_runs, dotted), values(b.group_runs, dotted), False


def confidence_of(a: Any, b: Any, paired: bool) -> float:
    """The interval level for a margin between `a` and `b`.

    Where they ran side by side in a sequential design, the level its runs record
    (`repeat.confidence`: 5% spread over its looks); otherwise 95%.
    """
    if not paired:
        return CONFIDENCE
    found = {get(result, "repeat.confidence") for result in [*a.group_runs, *b.group_runs]}
    level = found.pop() if len(found) == 1 else None
    return float(level) if isinstance(level, int | float) and 0 < level < 1 else CONFIDENCE


def gain(
    baseline: Any, candidate: Any, dotted: str, *, rate: bool = False
) -> dict[str, Any] | None:
    """How many times faster `candidate` is than `baseline` at `dotted`: ratio, interval, verdict.

    `rate`: the values are rates (higher is faster), compared as their inverses.
    """
    base, other, paired = paired_samples(baseline, candidate, dotted)
    if rate:
        base, other = [1 / v for v in base if v > 0], [1 / v for v in other if v > 0]
    if not base or not other or (paired and len(base) != len(other)):
        return None
    return compare_speed(
        base, other, paired=paired, confidence=confidence_of(baseline, candidate, paired)
    )
