"""Speed tables across repeats: summary, default vs tuned, prediction, declared settings."""

from typing import Any

import numpy as np
import pandas as pd

from bench.report.collect import get
from bench.report.tables import MISSING, fmt, to_markdown
from bench.stats import NOISY_CV, describe

NOISY = "⚠ noisy"


def values(group_runs: list[dict[str, Any]], dotted: str) -> list[float]:
    """The numeric values at `dotted` across a group's runs (missing ones left out)."""
    found = [get(result, dotted) for result in group_runs]
    return [float(v) for v in found if isinstance(v, int | float) and not isinstance(v, bool)]


def median_of(group_runs: list[dict[str, Any]], dotted: str) -> float | None:
    found = values(group_runs, dotted)
    return float(np.median(found)) if found else None


def cv_cell(stats: dict[str, Any] | None) -> str:
    """The CV as a percentage, flagged when it is above the noisy threshold."""
    if stats is None or stats["cv"] is None:
        return MISSING
    return f"{stats['cv']:.1%}" + (f" {NOISY}" if stats["noisy"] else "")


def accuracy_cell(accuracies: list[float]) -> str:
    if not accuracies:
        return MISSING
    cell = f"{np.median(accuracies):.4f}"
    if len(accuracies) > 1:
        cell += f" ({min(accuracies):.4f} to {max(accuracies):.4f})"
    return cell


def group_summary(row: Any) -> dict[str, Any]:
    """Across-run statistics of one group (a row of the selected runs)."""
    runs = row.group_runs
    steady = values(runs, "timings.steady_epoch_seconds")
    steady_stats = describe(steady) if steady else None
    noisy_runs = [get(r, "run_id") for r in runs if get(r, "timings.steady_epoch_noisy")]
    return {
        "runs": runs,
        "accuracies": values(runs, "metrics.test_accuracy"),
        "steady": steady_stats,
        "noisy_runs": noisy_runs,
    }


def summary_table(selected: pd.DataFrame) -> tuple[str, list[str]]:
    """One row per group with medians and spread across its runs; and the noisy notes."""
    rows, notes = [], []
    for row in selected.itertuples():
        group = group_summary(row)
        runs, steady = group["runs"], group["steady"]
        if steady is not None and steady["noisy"]:
            notes.append(
                f"{row.label}: steady epoch varies by {steady['cv']:.1%} (CV) across its "
                f"{steady['count']} runs, above {NOISY_CV:.0%}."
            )
        if group["noisy_runs"]:
            notes.append(
                f"{row.label}: epochs within run(s) {', '.join(group['noisy_runs'])} vary by "
                f"more than {NOISY_CV:.0%} (CV)."
            )
        achieved = median_of(runs, "roofline.achieved_gflops")
        percent = median_of(runs, "roofline.percent_of_square_peak")
        rows.append({
            "machine": row.machine,
            "backend": row.backend,
            "device": row.device,
            "profile": row.profile,
            "mode": "**quick**" if row.quick else "full",
            "runs": str(len(runs)),
            "test accuracy": accuracy_cell(group["accuracies"]),
            "steady epoch s": fmt(steady["median"] if steady else None, ".3f"),
            "IQR s": fmt(steady["iqr"] if steady else None, ".3f"),
            "CV": cv_cell(steady),
            "first epoch s": fmt(median_of(runs, "timings.first_epoch_seconds"), ".3f"),
            "compile s": fmt(median_of(runs, "timings.compile_overhead_seconds"), ".3f"),
            "fit s": fmt(median_of(runs, "timings.fit_seconds"), ".2f"),
            "train samples/s": fmt(median_of(runs, "timings.train_samples_per_second"), ",.0f"),
            "predict s": fmt(median_of(runs, "timings.predict_seconds"), ".3f"),
            "peak RSS MiB": fmt(median_of(runs, "memory.peak_rss_mib"), ",.0f"),
            "GFLOP/s (% of peak)": MISSING
            if achieved is None
            else f"{achieved:.1f} ({fmt(percent, '.0f')}%)",
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    numeric = [
        c for c in frame.columns if c not in ("machine", "backend", "device", "profile", "mode")
    ]
    return to_markdown(frame, numeric), notes


def chosen_settings(result: dict[str, Any]) -> str:
    settings = get(result, "tuning.chosen") or {}
    if not settings:
        return MISSING
    threads = settings.get("threads")
    return (
        f"jit_compile={settings.get('jit_compile')}, "
        f"steps_per_execution={settings.get('steps_per_execution')}, "
        f"threads={'default' if threads is None else threads}"
    )


def default_vs_tuned(selected: pd.DataFrame) -> str | None:
    """Default and tuned side by side per machine and backend, with the chosen settings."""
    full = selected[~selected["quick"]]
    rows = []
    for (machine, backend, device), group in full.groupby(
        ["machine", "backend", "device"], sort=False
    ):
        by_profile = {row.profile: row for row in group.itertuples()}
        if "tuned" not in by_profile:
            continue
        default = by_profile.get("default")
        tuned = by_profile["tuned"]
        default_steady = (
            median_of(default.group_runs, "timings.steady_epoch_seconds") if default else None
        )
        tuned_steady = median_of(tuned.group_runs, "timings.steady_epoch_seconds")
        speedup = default_steady / tuned_steady if default_steady and tuned_steady else None
        rows.append({
            "machine": machine,
            "backend": backend,
            "device": device,
            "default steady epoch s": fmt(default_steady, ".3f"),
            "tuned steady epoch s": fmt(tuned_steady, ".3f"),
            "speed-up": MISSING if speedup is None else f"{speedup:.2f}x",
            "default accuracy": accuracy_cell(values(default.group_runs, "metrics.test_accuracy"))
            if default
            else MISSING,
            "tuned accuracy": accuracy_cell(values(tuned.group_runs, "metrics.test_accuracy")),
            "tuned settings": chosen_settings(tuned.result),
        })  # fmt: skip
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    return to_markdown(frame, ["default steady epoch s", "tuned steady epoch s", "speed-up"])


def tuning_candidates(row: Any) -> str | None:
    """The search that chose a tuned group's settings: each candidate, the chosen one marked."""
    tuning = get(row.result, "tuning")
    if not isinstance(tuning, dict) or not tuning.get("candidates"):
        return None
    chosen = tuning.get("chosen")
    rows = []
    for candidate in tuning["candidates"]:
        settings = candidate.get("settings", {})
        threads = settings.get("threads")
        rows.append({
            "jit_compile": str(settings.get("jit_compile")),
            "steps_per_execution": str(settings.get("steps_per_execution")),
            "threads": "default" if threads is None else str(threads),
            "steady epoch s": fmt(candidate.get("steady_epoch_seconds"), ".3f")
            if candidate.get("steady_epoch_seconds") is not None
            else f"failed: {candidate.get('error', 'no time')}",
            "first epoch s": fmt(candidate.get("first_epoch_seconds"), ".2f"),
            "chosen": "**✓**" if settings == chosen else "",
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    searched = tuning.get("searched_utc", "")
    header = (
        f"{row.label}: {len(rows)} candidates, {tuning.get('epochs')} epochs on "
        f"{fmt(tuning.get('train_samples'), ',')} images each, metric: {tuning.get('metric')}"
        + (f"; searched {searched[:19]} UTC" if searched else "")
        + "."
    )
    return header + "\n\n" + to_markdown(frame, ["steady epoch s", "first epoch s"])


def prediction_table(selected: pd.DataFrame) -> str | None:
    """Batch-1 latency percentiles and throughput per batch size, medians across repeats."""
    rows = []
    for row in selected.itertuples():
        runs = row.group_runs
        paths = {get(r, "timings.predict_path") for r in runs} - {None}
        if not paths:
            continue
        entry = {
            "run group": row.label,
            "path": ", ".join(sorted(paths)),
            "p50 ms": fmt(median_of(runs, "timings.predict_latency_p50_ms"), ".3f"),
            "p95 ms": fmt(median_of(runs, "timings.predict_latency_p95_ms"), ".3f"),
            "p99 ms": fmt(median_of(runs, "timings.predict_latency_p99_ms"), ".3f"),
        }
        sizes = sorted(
            {
                int(k)
                for r in runs
                for k in (get(r, "timings.predict_throughput_samples_per_second") or {})
            }
        )
        for size in sizes:
            rate = median_of(runs, f"timings.predict_throughput_samples_per_second.{size}")
            entry[f"samples/s @{size:,}"] = fmt(rate, ",.0f")
        rows.append(entry)
    if not rows:
        return None
    frame = pd.DataFrame(rows).fillna(MISSING)
    return to_markdown(frame, [c for c in frame.columns if c not in ("run group", "path")])


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
            "run group": row.label,
            "jit_compile asked → resolved": f"{settings.get('jit_compile_requested')} → "
            f"{settings.get('jit_compile_resolved')}",
            "steps_per_execution": str(settings.get("steps_per_execution")),
            "threads asked": "default" if settings.get("threads_requested") is None
            else str(settings.get("threads_requested")),
            "framework reports": ", ".join(f"{k}={v}" for k, v in framework.items()) or MISSING,
            "dtype policy": str(settings.get("dtype_policy")),
            "environment": ", ".join(f"{k}={v!r}" for k, v in environment.items()) or "none set",
        })  # fmt: skip
    return to_markdown(pd.DataFrame(rows)) if rows else None
