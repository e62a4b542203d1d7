"""Speed tables across repeats: the summary, prediction and declared settings."""

from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.measures import THROUGHPUT, values
from bench.analysis.tidy import GEOMETRIC_MEAN, formatted, typical
from bench.report.tables import MISSING, fmt, plain, to_markdown

NOISY = "⚠ noisy"
NAME_COLUMNS = ("machine", "backend", "device", "profile")


NEGATIVE_COMPILE = "below 0 †"
NEGATIVE_COMPILE_NOTE = (
    "† *compile s* is the first epoch minus the steady epoch; below zero the first epoch was no "
    "slower than the steady ones: no compile cost shows, and the difference is noise."
)


def cell(groups: pd.DataFrame, group: str, column: str) -> str:
    """A group's value of `column` from the group table, formatted as everywhere, or n/a."""
    return formatted(groups, group, column) or MISSING


def accuracy_cell(groups: pd.DataFrame, group: str) -> str:
    """The mean test accuracy, with the min to max range when there are several runs."""
    text = cell(groups, group, "test_accuracy")
    if groups.at[group, "test_accuracy_n"] > 1:
        low, high = groups.at[group, "accuracy_min"], groups.at[group, "accuracy_max"]
        text += f" ({low:.4f} to {high:.4f})"
    return text


def compile_cell(groups: pd.DataFrame, group: str) -> str:
    """The mean compile overhead; below zero marked, never shown as a negative cost."""
    value = groups.at[group, "compile_seconds"]
    if value is not None and not pd.isna(value) and value < 0:
        return NEGATIVE_COMPILE
    return cell(groups, group, "compile_seconds")


def steady_cell(groups: pd.DataFrame, group: str) -> str:
    """The steady epoch with the ± half-width of its 95% interval, flagged when noisy.

    Noisy means one thing everywhere: the interval is wider than ±MIN_SPEED_EFFECT
    (`bench.analysis.decision.noisy_groups` lists the same groups).
    """
    text = cell(groups, group, "steady_epoch_seconds")
    resolution = groups.at[group, "steady_resolution"]
    if resolution is not None and not pd.isna(resolution):
        text += f" ±{resolution:.0%}"
    if groups.at[group, "steady_noisy"]:
        text += f" {NOISY}"
    return text


def target_cell(groups: pd.DataFrame, group: str) -> str:
    """Time to target accuracy over the runs that reached it, and the misses."""
    text = cell(groups, group, "time_to_target_seconds")
    missed = int(groups.at[group, "target_missed"])
    if missed:
        text += f" (missed {missed} of {groups.at[group, 'runs']})"
    return text


def name_columns(row: Any) -> dict[str, str]:
    """The cells that name a group: machine alias, backend (marked when quick), device, profile."""
    return {
        "machine": getattr(row, "alias", row.machine),
        "backend": f"{row.backend} (**quick**)" if row.quick else row.backend,
        "device": row.device,
        "profile": row.profile,
    }


def training_table(selected: pd.DataFrame, groups: pd.DataFrame) -> str:
    """One row per group: accuracy and training times across its runs (the group table's)."""
    rows = []
    for row in selected.itertuples():
        group = row.group_key
        rows.append({
            **name_columns(row),
            "runs": str(groups.at[group, "runs"]),
            "test accuracy": accuracy_cell(groups, group),
            "time to target s": target_cell(groups, group),
            "time to a trained model s": cell(groups, group, "fit_seconds"),
            "compile s": compile_cell(groups, group),
            "steady epoch s (95% CI)": steady_cell(groups, group),
            "train samples/s": cell(groups, group, "train_samples_per_second"),
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    table = to_markdown(frame, [c for c in frame.columns if c not in NAME_COLUMNS])
    if (frame["compile s"] == NEGATIVE_COMPILE).any():
        table += "\n\n" + NEGATIVE_COMPILE_NOTE
    return table


def prediction_table(selected: pd.DataFrame, groups: pd.DataFrame) -> str | None:
    """Batch-1 latency, the first call and bulk throughput per group (the group table's)."""
    rows = []
    for row in selected.itertuples():
        paths = {get(r, "timings.predict_path") for r in row.group_runs} - {None}
        if not paths:
            continue
        group = row.group_key
        batch = groups.at[group, "bulk_batch"]
        bulk = cell(groups, group, "bulk_samples_per_second")
        rows.append({
            **name_columns(row),
            "path": ", ".join(sorted(paths)),
            "p50 ms": cell(groups, group, "latency_p50_ms"),
            "p99 ms": cell(groups, group, "latency_p99_ms"),
            "first predict s": cell(groups, group, "first_predict_seconds"),
            "bulk samples/s": bulk if bulk == MISSING else f"{bulk} @{int(batch):,}",
        })  # fmt: skip
    if not rows:
        return None
    frame = pd.DataFrame(rows).astype(object).fillna(MISSING)
    return to_markdown(frame, [c for c in frame.columns if c not in (*NAME_COLUMNS, "path")])


def throughput_curves(selected: pd.DataFrame) -> dict[str, dict[int, float]]:
    """Per group ("jax/cpu · tuned"): prediction throughput at each batch size measured (the
    geometric mean of its runs, as in the tables).

    For one machine's groups: the names leave the machine out.
    """
    curves = {}
    for row in selected.itertuples():
        sizes = {int(size) for r in row.group_runs for size in (get(r, THROUGHPUT) or {})}
        curve = {
            size: typical(values(row.group_runs, f"{THROUGHPUT}.{size}"), GEOMETRIC_MEAN)
            for size in sizes
        }
        curve = {size: rate for size, rate in sorted(curve.items()) if rate}
        if curve:
            curves[f"{row.backend}/{row.device} · {row.profile}"] = curve
    return curves


def threads_cell(threads: Any) -> str:
    """The thread limit as it took effect: declared only where the measurement confirms it."""
    if not isinstance(threads, dict):
        return MISSING
    busy = fmt(threads.get("busy_cores_fit"), ".2f")
    requested = threads.get("requested")
    if requested is None:
        return f"default ({busy} cores busy in fit)"
    if threads.get("in_effect"):
        return f"{requested} (in effect: {busy} cores busy in fit)"
    return f"⚠ {requested} asked, NOT in effect ({busy} cores busy in fit)"


def settings_table(selected: pd.DataFrame) -> str | None:
    """Per group: the declared settings that decide speed (from its latest run)."""
    rows = []
    for row in selected.itertuples():
        settings = get(row.result, "settings")
        if not isinstance(settings, dict):
            continue
        framework = settings.get("framework") or {}
        environment = {
            k: v for k, v in (settings.get("environment") or {}).items() if v is not None
        }
        rows.append({
            "group": row.label,
            "jit_compile asked → resolved": f"{settings.get('jit_compile_requested')} → "
            f"{settings.get('jit_compile_resolved')}",
            "steps/execution": str(settings.get("steps_per_execution")),
            "threads": threads_cell(settings.get("threads")),
            "framework reports": plain(", ".join(f"{k}={v}" for k, v in framework.items()))
            or MISSING,
            "dtype policy": str(settings.get("dtype_policy")),
            "environment": plain(", ".join(f"{k}={v!r}" for k, v in environment.items()))
            or "none set",
        })  # fmt: skip
    return to_markdown(pd.DataFrame(rows)) if rows else None
