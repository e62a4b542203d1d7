"""Pair the current repeat groups with the baseline's, and measure each pair's changes.

Only groups of the same machine id, backend, device, mode and profile are paired, and only
when the neutral GEMM probes say their hosts ran at the same speed.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.collect import GROUP_KEYS, get, read_runs, select_latest
from bench.analysis.hosts import Probes, invocation_of, load_probes
from bench.analysis.measures import THROUGHPUT, values
from bench.analysis.schedules import load_schedules
from bench.compare.changes import VERDICTS, accuracy_change, speed_change
from bench.host.gemm_probe import speeds_differ
from bench.stats import MIN_SPEED_EFFECT, geometric_mean


@dataclass(frozen=True)
class Metric:
    """One number compared per group: where it is in a result, and what kind of number."""

    key: str
    label: str  # with its unit
    dotted: str
    kind: str  # "time" (lower is better), "rate" (higher is better) or "accuracy"


TIME_METRICS = (
    Metric("fit_seconds", "time to trained model (s)", "timings.fit_seconds", "time"),
    Metric("steady_epoch_seconds", "steady epoch (s)", "timings.steady_epoch_seconds", "time"),
    Metric(
        "predict_latency_p50_ms",
        "batch-1 latency p50 (ms)",
        "timings.predict_latency_p50_ms",
        "time",
    ),
)
ACCURACY = Metric("test_accuracy", "test accuracy", "metrics.test_accuracy", "accuracy")


def throughput_metric(batch_size: int) -> Metric:
    """Bulk prediction throughput at one batch size."""
    return Metric(
        f"predict_throughput_samples_per_second@{batch_size}",
        f"predict throughput @{batch_size:,} (samples/s)",
        f"{THROUGHPUT}.{batch_size}",
        "rate",
    )


@dataclass(frozen=True)
class MetricChange:
    """One metric of one paired group: each side's typical value and the change's verdict.

    `baseline` and `current` are geometric means for times and rates, means for accuracy;
    `change` is `speed_change` (throughput inverted into a time) or `accuracy_change`.
    """

    group: dict[str, Any]
    metric: Metric
    baseline: float
    current: float
    change: dict[str, Any]


@dataclass(frozen=True)
class NotCompared:
    """A group on one side only, or on hosts of different speed, and why."""

    group: dict[str, Any]
    reason: str


@dataclass
class Comparison:
    """Everything one comparison found."""

    baseline_dir: Path
    results_dir: Path
    baseline_groups: int
    current_groups: int
    min_effect: float
    changes: list[MetricChange] = field(default_factory=list)
    not_compared: list[NotCompared] = field(default_factory=list)

    def compared_groups(self) -> int:
        return len({tuple(change.group.values()) for change in self.changes})

    def counts(self) -> dict[str, int]:
        """How many metrics got each verdict, and how many groups were not compared."""
        found = {verdict: 0 for verdict in VERDICTS}
        for change in self.changes:
            found[change.change["verdict"]] += 1
        return {**found, "not compared": len(self.not_compared)}

    def regressions(self) -> list[MetricChange]:
        return [change for change in self.changes if change.change["verdict"] == "REGRESSION"]


@dataclass(frozen=True)
class Side:
    """One results folder: its latest repeat group per key, and its neutral GEMM probes."""

    results_dir: Path
    groups: pd.DataFrame
    probes: Probes


def read_side(results_dir: str | os.PathLike, warn: Callable[[str], None], fix: str) -> Side:
    """Read a results folder; unreadable files are `warn`ed about, NoResultsError if none is left.

    `fix` ends the error: what the user should do about a missing or empty folder.
    """
    results_dir = Path(results_dir)
    collection = read_runs(results_dir, warn, fix)
    latest = select_latest(collection.runs, load_schedules(results_dir, warn))
    return Side(results_dir, latest, load_probes(results_dir, warn))


def group_of(row: Any) -> dict[str, Any]:
    """The key of a selected group as plain values: machine, backend, device, quick, profile."""
    return {key: bool(row.quick) if key == "quick" else getattr(row, key) for key in GROUP_KEYS}


def compare_sides(
    baseline: Side, current: Side, min_effect: float = MIN_SPEED_EFFECT
) -> Comparison:
    """Pair each current group with the baseline's of the same key and compare their metrics."""
    comparison = Comparison(
        baseline_dir=baseline.results_dir,
        results_dir=current.results_dir,
        baseline_groups=len(baseline.groups),
        current_groups=len(current.groups),
        min_effect=min_effect,
    )
    baseline_rows = {tuple(group_of(row).values()): row for row in baseline.groups.itertuples()}
    paired = set()
    for row in current.groups.itertuples():
        group = group_of(row)
        key = tuple(group.values())
        base = baseline_rows.get(key)
        if base is None:
            comparison.not_compared.append(NotCompared(group, "no baseline on this machine"))
            continue
        paired.add(key)
        rates = [
            baseline.probes.host_gflops(base.machine, invocation_of(base)),
            current.probes.host_gflops(row.machine, invocation_of(row)),
        ]
        if None not in rates and speeds_differ(rates):
            reason = f"host speed differs ({rates[0]:.0f} vs {rates[1]:.0f} GFLOP/s)"
            comparison.not_compared.append(NotCompared(group, reason))
            continue
        changes = group_changes(group, base.group_runs, row.group_runs, min_effect)
        if not changes:
            reason = "no metric measured on both sides"
            comparison.not_compared.append(NotCompared(group, reason))
        comparison.changes += changes
    current_machines = set(current.groups["machine"])
    for key, row in baseline_rows.items():
        if key not in paired:
            reason = (
                "no current group like it on this machine"
                if row.machine in current_machines
                else "machine not in the current results"
            )
            comparison.not_compared.append(NotCompared(group_of(row), reason))
    return comparison


def group_changes(
    group: dict[str, Any],
    baseline_runs: list[dict[str, Any]],
    current_runs: list[dict[str, Any]],
    min_effect: float,
) -> list[MetricChange]:
    """Every metric both sides measured, compared; a metric a side lacks is left out."""
    metrics = [*TIME_METRICS]
    common_sizes = batch_sizes(baseline_runs) & batch_sizes(current_runs)
    if common_sizes:
        metrics.append(throughput_metric(max(common_sizes)))
    metrics.append(ACCURACY)
    changes = []
    for metric in metrics:
        before, after = values(baseline_runs, metric.dotted), values(current_runs, metric.dotted)
        if metric.kind != "accuracy":
            before = [value for value in before if value > 0]
            after = [value for value in after if value > 0]
        if not before or not after:
            continue
        if metric.kind == "accuracy":
            typical, change = np.mean, accuracy_change(before, after)
        else:
            typical = geometric_mean
            times = (before, after) if metric.kind == "time" else (inverse(before), inverse(after))
            change = speed_change(*times, min_effect=min_effect)
        changes.append(
            MetricChange(group, metric, float(typical(before)), float(typical(after)), change)
        )
    return changes


def batch_sizes(runs: list[dict[str, Any]]) -> set[int]:
    """The batch sizes any of `runs` measured prediction throughput at."""
    found = set()
    for result in runs:
        rates = get(result, THROUGHPUT)
        if isinstance(rates, dict):
            found |= {int(size) for size in rates if str(size).isdigit()}
    return found


def inverse(rates: list[float]) -> list[float]:
    """Seconds per sample from samples per second."""
    return [1 / rate for rate in rates]
