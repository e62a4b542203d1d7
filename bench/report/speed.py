"""Speed tables across repeats: the summary, prediction and declared settings."""

from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.measures import THROUGHPUT, bulk_batch, median_of, stats_of, values
from bench.report.tables import MISSING, fmt, to_markdown
from bench.stats import MIN_SPEED_EFFECT, describe

NOISY = "⚠ noisy"
NAME_COLUMNS = ("machine", "backend", "device", "profile")


def accuracy_cell(accuracies: list[float]) -> str:
    """The median accuracy, with the min to max range when there are several runs."""
    if not accuracies:
        return MISSING
    stats = describe(accuracies)
    cell = f"{stats['median']:.4f}"
    if stats["count"] > 1:
        cell += f" ({stats['min']:.4f} to {stats['max']:.4f})"
    return cell


def noisy_notes(label: str, steady: dict[str, Any] | None, noisy_runs: int) -> list[str]:
    """Why a group's steady epoch is flagged noisy, across its runs and within them."""
    notes = []
    if steady is not None and steady["noisy"]:
        notes.append(
            f"{label}: the 95% interval of its steady epoch across its {steady['count']} runs "
            f"is ±{steady['resolution']:.1%}, wider than ±{MIN_SPEED_EFFECT:.0%}, so it cannot "
            "resolve that difference on its own."
        )
    if noisy_runs:
        notes.append(
            f"{label}: within {noisy_runs} of its runs the steady epochs' own 95% interval is "
            f"wider than ±{MIN_SPEED_EFFECT:.0%}."
        )
    return notes


def steady_cell(steady: dict[str, Any] | None, noisy_runs: int = 0) -> str:
    """The median steady epoch with the ± half-width of its 95% interval, flagged when noisy."""
    if steady is None:
        return MISSING
    cell = f"{steady['median']:.3f}"
    if steady["resolution"] is not None:
        cell += f" ±{steady['resolution']:.0%}"
    if steady["noisy"] or noisy_runs:
        cell += f" {NOISY}"
    return cell


def name_columns(row: Any) -> dict[str, str]:
    """The cells that name a group: machine, backend (marked when quick), device, profile."""
    return {
        "machine": row.machine,
        "backend": f"{row.backend} (**quick**)" if row.quick else row.backend,
        "device": row.device,
        "profile": row.profile,
    }


def training_table(selected: pd.DataFrame) -> tuple[str, list[str]]:
    """One row per group: accuracy and training times across its runs; and the noisy notes."""
    rows, notes = [], []
    for row in selected.itertuples():
        runs = row.group_runs
        steady = stats_of(runs, "timings.steady_epoch_seconds")
        noisy_runs = [get(r, "run_id") for r in runs if get(r, "timings.steady_epoch_noisy")]
        notes += noisy_notes(row.label, steady, len(noisy_runs))
        rows.append({
            **name_columns(row),
            "runs": str(len(runs)),
            "test accuracy": accuracy_cell(values(runs, "metrics.test_accuracy")),
            "time to a trained model s": fmt(median_of(runs, "timings.fit_seconds"), ".2f"),
            "compile s": fmt(median_of(runs, "timings.compile_overhead_seconds"), ".2f"),
            "steady epoch s (95% CI)": steady_cell(steady, len(noisy_runs)),
            "train samples/s": fmt(median_of(runs, "timings.train_samples_per_second"), ",.0f"),
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    return to_markdown(frame, [c for c in frame.columns if c not in NAME_COLUMNS]), notes


def bulk_rate(runs: list[dict[str, Any]]) -> tuple[float | None, str | None]:
    """The median prediction throughput at the largest batch every run measured, and the batch."""
    size = bulk_batch(runs)
    return (None, None) if size is None else (median_of(runs, f"{THROUGHPUT}.{size}"), size)


def prediction_table(selected: pd.DataFrame) -> str | None:
    """Batch-1 latency, the first call and bulk throughput per group, medians across repeats."""
    rows = []
    for row in selected.itertuples():
        runs = row.group_runs
        paths = {get(r, "timings.predict_path") for r in runs} - {None}
        if not paths:
            continue
        rate, size = bulk_rate(runs)
        rows.append({
            **name_columns(row),
            "path": ", ".join(sorted(paths)),
            "p50 ms": fmt(median_of(runs, "timings.predict_latency_p50_ms"), ".3f"),
            "p99 ms": fmt(median_of(runs, "timings.predict_latency_p99_ms"), ".3f"),
            "first predict s": fmt(median_of(runs, "timings.predict_first_call_seconds"), ".3f"),
            "bulk samples/s": MISSING if rate is None else f"{rate:,.0f} @{int(size):,}",
        })  # fmt: skip
    if not rows:
        return None
    frame = pd.DataFrame(rows).astype(object).fillna(MISSING)
    return to_markdown(frame, [c for c in frame.columns if c not in (*NAME_COLUMNS, "path")])


def throughput_curves(selected: pd.DataFrame) -> dict[str, dict[int, float]]:
    """Per group ("jax/cpu · tuned"): median prediction throughput at each batch size measured.

    For one machine's groups: the names leave the machine out.
    """
    curves = {}
    for row in selected.itertuples():
        sizes = {int(size) for r in row.group_runs for size in (get(r, THROUGHPUT) or {})}
        curve = {size: median_of(row.group_runs, f"{THROUGHPUT}.{size}") for size in sizes}
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
            **name_columns(row),
            "jit_compile asked → resolved": f"{settings.get('jit_compile_requested')} → "
            f"{settings.get('jit_compile_resolved')}",
            "steps_per_execution": str(settings.get("steps_per_execution")),
            "threads": threads_cell(settings.get("threads")),
            "framework reports": ", ".join(f"{k}={v}" for k, v in framework.items()) or MISSING,
            "dtype policy": str(settings.get("dtype_policy")),
            "environment": ", ".join(f"{k}={v!r}" for k, v in environment.items()) or "none set",
        })  # fmt: skip
    return to_markdown(pd.DataFrame(rows)) if rows else None
