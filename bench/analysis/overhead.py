"""What Keras costs on each backend: its runs against the framework's native reference.

A native reference (bench.backends.native) runs in the same rounds as the Keras runs of one
invocation, so the ratio of their times is paired by round (`bench.analysis.pairing.gain`): the
Keras default group of a backend against each native group of its framework, *only* where the
two ran side by side in one invocation, never across invocations. The ratio is Keras's time
over native time (above 1: Keras is slower), and its verdict the speed verdict's own: native
FASTER, SAME, SLOWER or INCONCLUSIVE. Native groups are never ranked with the Keras backends.
"""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.decision import TIME_TO_MODEL, Task
from bench.analysis.hosts import invocation_of
from bench.analysis.pairing import gain, side_by_side
from bench.stats import FAIL, FASTER, PASS

STEADY_EPOCH = Task("steady epoch", "timings.steady_epoch_seconds", False, "s", ".3f")
OVERHEAD_TASKS = (STEADY_EPOCH, TIME_TO_MODEL)
NATIVE_PROFILE = "native"


@dataclass(frozen=True)
class NativeGroup:
    """The runs of one native reference (framework and variant) in one invocation."""

    machine: str
    workload: str
    backend: str
    device: str
    variant: str
    group_runs: list[dict[str, Any]] = field(compare=False)
    profile: str = NATIVE_PROFILE

    @property
    def invocation(self) -> str | None:
        return invocation_of(self)

    def describe(self) -> dict[str, Any]:
        return get(self.group_runs[-1], "implementation") or {}


def native_groups(native: pd.DataFrame) -> list[NativeGroup]:
    """Every native repeat group among the native runs (full runs only, as the verdict's)."""
    if native.empty:
        return []
    found = []
    full = native[~native["quick"]].sort_values("created_utc", kind="stable")
    for (machine, workload, _), runs in full.groupby(
        ["machine", "workload", "repeat_group"], sort=False
    ):
        first = runs.iloc[0]
        found.append(
            NativeGroup(
                machine=machine,
                workload=workload,
                backend=first["backend"],
                device=first["device"],
                variant=str(first["variant"]),
                group_runs=list(runs["result"]),
            )
        )
    return found


@dataclass(frozen=True)
class StepCheck:
    """Keras against the native code, one step at a time, over a group's runs."""

    outcome: str
    largest_error: float
    tensor: str
    allowed: float  # the tolerance, or a multiple of the tensor's rounding noise
    runs: int


def step_check(group: NativeGroup) -> StepCheck | None:
    """The group's step checks in one: FAIL if any run's failed; the error nearest to (or
    furthest beyond) what its tensor is allowed."""
    checks = [get(r, "implementation.step_check") for r in group.group_runs]
    checks = [check for check in checks if isinstance(check, dict)]
    if not checks:
        return None

    def allowed(check: dict[str, Any]) -> float:
        return float(check.get("allowed", check["tolerance"]))

    worst = max(checks, key=lambda check: check["largest_error"] / allowed(check))
    failed = any(check["outcome"] != PASS for check in checks)
    return StepCheck(
        FAIL if failed else PASS,
        float(worst["largest_error"]),
        str(worst["tensor"]),
        allowed(worst),
        len(checks),
    )


@dataclass
class Overhead:
    """One backend's Keras default group against one native reference of its framework."""

    keras: Any  # the report's group row
    native: NativeGroup
    gains: dict[str, dict[str, Any] | None]  # task name -> bench.stats.compare_speed's dict
    check: StepCheck | None


def keras_default(groups: pd.DataFrame, backend: str) -> Any | None:
    """The backend's full Keras default group among one place's groups."""
    found = groups[(groups["backend"] == backend) & (groups["profile"] == "default")]
    found = found[~found["quick"]]
    return next(found.itertuples(), None)


def paired_gain(baseline: Any, candidate: Any, task: Task) -> dict[str, Any] | None:
    """`gain` where the two groups ran side by side in one invocation, else None."""
    if not side_by_side(baseline, candidate):
        return None
    found = gain(baseline, candidate, task.dotted)
    return found if found is not None and found["paired"] else None


def overheads(groups: pd.DataFrame, natives: list[NativeGroup]) -> list[Overhead]:
    """Per native group of this place (one machine, device and workload), its backend's Keras
    default group beside it; only pairs of one invocation get ratios."""
    if groups.empty:
        return []
    machine, device, workload = (groups[c].iloc[0] for c in ("machine", "device", "workload"))
    found = []
    for group in natives:
        if (group.machine, group.device, group.workload) != (machine, device, workload):
            continue
        keras = keras_default(groups, group.backend)
        if keras is None:
            continue
        gains = {task.name: paired_gain(keras, group, task) for task in OVERHEAD_TASKS}
        found.append(Overhead(keras, group, gains, step_check(group)))
    return found


def native_winner(winner: Any, natives: list[NativeGroup], task: Task = TIME_TO_MODEL):
    """The native groups that ran side by side with the Keras `winner` and beat it at `task`
    (paired, FASTER), each with its gain; fastest first."""
    beaten = []
    for group in natives:
        found = paired_gain(winner, group, task)
        if found is not None and found["outcome"] == FASTER:
            beaten.append((group, found))
    return sorted(beaten, key=lambda item: -item[1]["ratio"])
