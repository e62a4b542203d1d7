"""Speed tables across repeats: the summary, prediction and declared settings."""

from typing import Any

import pandas as pd

from bench.report.collect import get
from bench.report.tables import MISSING, fmt, to_markdown
from bench.roofline import percent_of_peak
from bench.stats import MIN_SPEED_EFFECT, describe

NOISY = "⚠ noisy"
GROUP_COLUMNS = ("backend", "device", "profile", "mode")


def values(group_runs: list[dict[str, Any]], dotted: str) -> list[float]:
    """The numbers at `dotted` across a group's runs (missing ones left out).

    Runs come from `collect`, which skips any file holding a NaN or infinity.
    """
    found = [get(result, dotted) for result in group_runs]
    return [float(v) for v in found if isinstance(v, int | float) and not isinstance(v, bool)]


def stats_of(group_runs: list[dict[str, Any]], dotted: str) -> dict[str, Any] | None:
    """`describe` of the values at `dotted` across a group's runs; None if there are none."""
    found = values(group_runs, dotted)
    return describe(found) if found else None


def median_of(group_runs: list[dict[str, Any]], dotted: str) -> float | None:
    """The median across a group's runs of the value at `dotted`; None if there is none."""
    stats = stats_of(group_runs, dotted)
    return None if stats is None else stats["median"]


def spread_cell(stats: dict[str, Any] | None, key: str, spec: str) -> str:
    """A spread statistic (IQR, CV) of `stats`; "n/a" with fewer than two runs."""
    if stats is None or stats["count"] < 2 or stats[key] is None:
        return MISSING
    return format(stats[key], spec)


def cv_cell(stats: dict[str, Any] | None, noisy_runs: int = 0) -> str:
    """The CV as a percentage, flagged when above the noisy threshold or a run is noisy."""
    cell = spread_cell(stats, "cv", ".1%")
    if cell != MISSING and stats["noisy"]:
        cell += f" {NOISY}"
    if noisy_runs:
        cell += f"; ⚠ {noisy_runs} noisy run{'s' * (noisy_runs != 1)}"
    return cell


def accuracy_cell(accuracies: list[float]) -> str:
    """The median accuracy, with the min to max range when there are several runs."""
    if not accuracies:
        return MISSING
    stats = describe(accuracies)
    cell = f"{stats['median']:.4f}"
    if stats["count"] > 1:
        cell += f" ({stats['min']:.4f} to {stats['max']:.4f})"
    return cell


def group_columns(row: Any) -> dict[str, str]:
    """The cells that name a group: backend, device, profile and mode."""
    return {
        "backend": row.backend,
        "device": row.device,
        "profile": row.profile,
        "mode": "**quick**" if row.quick else "full",
    }


def noisy_notes(label: str, steady: dict[str, Any] | None, noisy_runs: list[str]) -> list[str]:
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
            f"{label}: within run(s) {', '.join(noisy_runs)}, the steady epochs' own 95% "
            f"interval is wider than ±{MIN_SPEED_EFFECT:.0%}."
        )
    return notes


def summary_table(
    selected: pd.DataFrame, peaks: dict[str, float | None] | None = None
) -> tuple[str, list[str]]:
    """One row per group with medians and spread across its runs; and the noisy notes.

    `peaks` maps a group's repeat group id to the GEMM peak its "% of peak" divides by.
    """
    peaks = peaks or {}
    rows, notes = [], []
    for row in selected.itertuples():
        runs = row.group_runs
        steady = stats_of(runs, "timings.steady_epoch_seconds")
        noisy_runs = [get(r, "run_id") for r in runs if get(r, "timings.steady_epoch_noisy")]
        notes += noisy_notes(row.label, steady, noisy_runs)
        achieved = median_of(runs, "roofline.achieved_gflops")
        percent = percent_of_peak(achieved, peaks.get(row.repeat_group))
        rows.append({
            "machine": row.machine,
            **group_columns(row),
            "runs": str(len(runs)),
            "test accuracy": accuracy_cell(values(runs, "metrics.test_accuracy")),
            "steady epoch s": fmt(steady["median"] if steady else None, ".3f"),
            "IQR s": spread_cell(steady, "iqr", ".3f"),
            "CV": cv_cell(steady, len(noisy_runs)),
            "first epoch s": fmt(median_of(runs, "timings.first_epoch_seconds"), ".3f"),
            "compile s": fmt(median_of(runs, "timings.compile_overhead_seconds"), ".3f"),
            "fit s": fmt(median_of(runs, "timings.fit_seconds"), ".2f"),
            "train samples/s": fmt(median_of(runs, "timings.train_samples_per_second"), ",.0f"),
            "predict s": fmt(median_of(runs, "timings.predict_seconds"), ".3f"),
            "peak RSS MiB": fmt(median_of(runs, "memory.peak_rss_mib"), ",.0f"),
            "peak GPU MiB": median_of(runs, "memory.peak_gpu_mib"),
            "GFLOP/s (% of peak)": None
            if achieved is None
            else f"{achieved:.1f} ({fmt(percent, '.0f')}%)",
        })  # fmt: skip
    frame = drop_empty(pd.DataFrame(rows), ["peak GPU MiB", "GFLOP/s (% of peak)"])
    if "peak GPU MiB" in frame:
        frame["peak GPU MiB"] = frame["peak GPU MiB"].map(lambda mib: fmt(mib, ",.0f"))
    numeric = [c for c in frame.columns if c not in ("machine", *GROUP_COLUMNS)]
    return to_markdown(frame.fillna(MISSING), numeric), notes


def drop_empty(frame: pd.DataFrame, optional: list[str]) -> pd.DataFrame:
    """`frame` without those `optional` columns that no row has a value in."""
    empty = [column for column in optional if column in frame and frame[column].isna().all()]
    return frame.drop(columns=empty)


def prediction_table(selected: pd.DataFrame) -> str | None:
    """Batch-1 latency percentiles and throughput per batch size, medians across repeats."""
    rows = []
    for row in selected.itertuples():
        runs = row.group_runs
        paths = {get(r, "timings.predict_path") for r in runs} - {None}
        if not paths:
            continue
        entry = {
            **group_columns(row),
            "path": ", ".join(sorted(paths)),
            "p50 ms": fmt(median_of(runs, "timings.predict_latency_p50_ms"), ".3f"),
            "p95 ms": fmt(median_of(runs, "timings.predict_latency_p95_ms"), ".3f"),
            "p99 ms": fmt(median_of(runs, "timings.predict_latency_p99_ms"), ".3f"),
        }
        throughput = "timings.predict_throughput_samples_per_second"
        sizes = {int(size) for r in runs for size in (get(r, throughput) or {})}
        for size in sorted(sizes):
            rate = median_of(runs, f"{throughput}.{size}")
            entry[f"samples/s @{size:,}"] = fmt(rate, ",.0f")
        rows.append(entry)
    if not rows:
        return None
    frame = pd.DataFrame(rows).fillna(MISSING)
    names = ["path", *GROUP_COLUMNS]
    return to_markdown(frame, [c for c in frame.columns if c not in names])


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
            **group_columns(row),
            "jit_compile asked → resolved": f"{settings.get('jit_compile_requested')} → "
            f"{settings.get('jit_compile_resolved')}",
            "steps_per_execution": str(settings.get("steps_per_execution")),
            "threads": threads_cell(settings.get("threads")),
            "framework reports": ", ".join(f"{k}={v}" for k, v in framework.items()) or MISSING,
            "dtype policy": str(settings.get("dtype_policy")),
            "environment": ", ".join(f"{k}={v!r}" for k, v in environment.items()) or "none set",
        })  # fmt: skip
    return to_markdown(pd.DataFrame(rows)) if rows else None
