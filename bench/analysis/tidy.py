"""Every number the report shows, computed once: one row per run, then one row per group.

The statistic: times and rates are summarised across a group's runs by their **geometric
mean**, because every speed margin is a ratio of geometric means (where rounds pair two groups,
the geometric mean of the per-round ratios, which is the same thing on complete rounds). A cell
and the margin beside it then always agree: the group shown faster has the better value.
Accuracy and compile overhead are differences, not ratios, and can be zero or negative (compile
is first epoch minus steady epoch): their **mean**. Every table, the summary and the figures'
captions read the group table; nothing recomputes a value of its own.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.collect import get
from bench.analysis.measures import THROUGHPUT, common_bulk_batch, values
from bench.stats import describe, geometric_mean

GEOMETRIC_MEAN = "geometric mean"
MEAN = "mean"


@dataclass(frozen=True)
class Quantity:
    """One measurement of a run: where the result keeps it and how a group summarises it."""

    column: str
    dotted: str
    statistic: str
    spec: str


QUANTITIES = (
    Quantity("test_accuracy", "metrics.test_accuracy", MEAN, ".4f"),
    Quantity("time_to_target_seconds", "timings.time_to_target_seconds", GEOMETRIC_MEAN, ".2f"),
    Quantity("fit_seconds", "timings.fit_seconds", GEOMETRIC_MEAN, ".2f"),
    Quantity("compile_seconds", "timings.compile_overhead_seconds", MEAN, ".2f"),
    Quantity("steady_epoch_seconds", "timings.steady_epoch_seconds", GEOMETRIC_MEAN, ".3f"),
    Quantity(
        "train_samples_per_second", "timings.train_samples_per_second", GEOMETRIC_MEAN, ",.0f"
    ),
    Quantity("latency_p50_ms", "timings.predict_latency_p50_ms", GEOMETRIC_MEAN, ".3f"),
    Quantity("latency_p99_ms", "timings.predict_latency_p99_ms", GEOMETRIC_MEAN, ".3f"),
    Quantity("first_predict_seconds", "timings.predict_first_call_seconds", GEOMETRIC_MEAN, ".3f"),
    Quantity("bulk_samples_per_second", THROUGHPUT, GEOMETRIC_MEAN, ",.0f"),
)
BY_COLUMN = {quantity.column: quantity for quantity in QUANTITIES}


def bulk_batches(groups: pd.DataFrame) -> dict[tuple, str | None]:
    """The common bulk batch per (machine, device, quick) among `groups`."""
    return {
        key: common_bulk_batch(list(found["group_runs"]))
        for key, found in groups.groupby(["machine", "device", "quick"], sort=False)
    }


def dotted_of(quantity: Quantity, bulk: str | None) -> str | None:
    """Where a run keeps `quantity`; the bulk rate at batch `bulk` (None: not measured)."""
    if quantity.dotted != THROUGHPUT:
        return quantity.dotted
    return None if bulk is None else f"{THROUGHPUT}.{bulk}"


def typical(found: list[float], statistic: str) -> float | None:
    """The group's value: the geometric mean of positive times and rates, else the mean."""
    if not found:
        return None
    if statistic == GEOMETRIC_MEAN:
        positive = [value for value in found if value > 0]
        return geometric_mean(positive) if positive else None
    return float(np.mean(found))


def group_value(group_runs: list[dict[str, Any]], column: str) -> float | None:
    """One group's value of `column` straight from its runs (bulk: at the group's own batch).

    The same statistic as `groups_table`; for tables that compare two groups of one backend.
    """
    quantity = BY_COLUMN[column]
    bulk = common_bulk_batch([group_runs]) if quantity.dotted == THROUGHPUT else None
    dotted = dotted_of(quantity, bulk)
    return typical(values(group_runs, dotted), quantity.statistic) if dotted else None


def runs_table(groups: pd.DataFrame) -> pd.DataFrame:
    """One row per run of every group: its ids and every quantity (NaN where not measured)."""
    batches = bulk_batches(groups)
    rows = []
    for row in groups.itertuples():
        bulk = batches.get((row.machine, row.device, row.quick))
        for result in row.group_runs:
            record = {
                "group_key": row.group_key,
                "label": row.label,
                "machine": row.machine,
                "backend": row.backend,
                "device": row.device,
                "profile": row.profile,
                "quick": row.quick,
                "run_id": get(result, "run_id"),
                "seed": get(result, "config.seed"),
                "bulk_batch": bulk,
                "target_missed": get(result, "metrics.target.reached") is False,
            }
            for quantity in QUANTITIES:
                dotted = dotted_of(quantity, bulk)
                found = values([result], dotted) if dotted else []
                record[quantity.column] = found[0] if found else np.nan
            rows.append(record)
    return pd.DataFrame(rows)


def groups_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per group (indexed by its `group_key`): runs, each quantity's value, spreads."""
    rows = {}
    for group, found in runs.groupby("group_key", sort=False):
        record: dict[str, Any] = {"runs": len(found), "bulk_batch": found["bulk_batch"].iloc[0]}
        for quantity in QUANTITIES:
            measured = found[quantity.column].dropna().tolist()
            if quantity.column == "time_to_target_seconds":
                measured = found.loc[~found["target_missed"], quantity.column].dropna().tolist()
            record[quantity.column] = typical(measured, quantity.statistic)
            record[f"{quantity.column}_n"] = len(measured)
        accuracy = found["test_accuracy"].dropna()
        record["accuracy_min"] = accuracy.min() if len(accuracy) else None
        record["accuracy_max"] = accuracy.max() if len(accuracy) else None
        record["target_missed"] = int(found["target_missed"].sum())
        steady = found["steady_epoch_seconds"].dropna().tolist()
        described = describe(steady) if steady else None
        record["steady_resolution"] = None if described is None else described["resolution"]
        record["steady_noisy"] = bool(described and described["noisy"])
        rows[group] = record
    return pd.DataFrame.from_dict(rows, orient="index")


def formatted(groups: pd.DataFrame, group: str, column: str) -> str | None:
    """A group's value of `column` as every table shows it; None where not measured."""
    value = groups.at[group, column] if group in groups.index else None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return format(value, BY_COLUMN[column].spec)
