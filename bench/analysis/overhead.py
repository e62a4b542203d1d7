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

from bench.analysis.collect import BACKEND_ORDER, get
from bench.analysis.decision import TIME_TO_MODEL, Task
from bench.analysis.hosts import invocation_of
from bench.analysis.pairing import gain, paired_samples, side_by_side
from bench.backends.native import VARIANTS
from bench.stats import FAIL, FASTER, MIN_SEEDS, PASS, paired_tost

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
    """The latest native repeat group of each machine, workload, backend, device and variant
    (full runs only, as the verdict's)."""
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
    latest = {(g.machine, g.workload, g.backend, g.device, g.variant): g for g in found}
    return list(latest.values())


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
    accuracy: dict[str, Any] | None = None  # bench.stats.paired_tost of native − Keras


def accuracy_check(keras: Any, group: NativeGroup) -> dict[str, Any] | None:
    """Native against Keras test accuracy, paired by round (each round's seed gives both the
    same initial weights): two one-sided tests within the workload's accuracy tolerance, as
    the parity check's. None where they did not run side by side or ran too few rounds."""
    if not side_by_side(keras, group):
        return None
    ours, theirs, paired = paired_samples(keras, group, "metrics.test_accuracy")
    margin = get(group.group_runs[-1], "workload.settings.tolerances.accuracy")
    if not paired or len(ours) < MIN_SEEDS or not isinstance(margin, int | float):
        return None
    return paired_tost([n - k for k, n in zip(ours, theirs, strict=True)], float(margin))


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
        checks = step_check(group), accuracy_check(keras, group)
        found.append(Overhead(keras, group, gains, *checks))
    return sorted(found, key=lambda row: report_order(row.native))


def report_order(group: NativeGroup) -> tuple[int, int]:
    """Backends in the report's order, each framework's variants as VARIANTS lists them."""
    backends = list(BACKEND_ORDER)
    variants = list(VARIANTS.get(group.backend, {}).values())
    return (
        backends.index(group.backend) if group.backend in backends else len(backends),
        variants.index(group.variant) if group.variant in variants else len(variants),
    )


def native_winner(winner: Any, natives: list[NativeGroup], task: Task = TIME_TO_MODEL):
    """The native groups that ran side by side with the Keras `winner` and beat it at `task`
    (paired, FASTER), each with its gain; fastest first."""
    beaten = []
    for group in natives:
        found = paired_gain(winner, group, task)
        if found is not None and found["outcome"] == FASTER:
            beaten.append((group, found))
    return sorted(beaten, key=lambda item: -item[1]["ratio"])
