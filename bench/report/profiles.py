"""Default vs tuned: the two profiles side by side, and the search that chose the tuned one."""

from typing import Any

import pandas as pd

from bench.report.collect import get
from bench.report.probes import HOST_SPEED_FLAG, Probes, comparable, invocation_of
from bench.report.speed import accuracy_cell, stats_of, values
from bench.report.tables import MISSING, fmt, to_markdown
from bench.stats import compare_speed

CHOSEN = "**✓**"


def settings_text(settings: dict[str, Any]) -> str:
    """A searched combination of settings in one line."""
    threads = settings.get("threads")
    return (
        f"jit_compile={settings.get('jit_compile')}, "
        f"steps_per_execution={settings.get('steps_per_execution')}, "
        f"threads={'default' if threads is None else threads}"
    )


def chosen_settings(result: dict[str, Any]) -> str:
    """The settings the search chose for a tuned run, as recorded in its tuning record."""
    settings = get(result, "tuning.chosen")
    return settings_text(settings) if isinstance(settings, dict) and settings else MISSING


def median_cell(stats: dict[str, Any] | None) -> str:
    """The median of `stats` in seconds, or "n/a"."""
    return fmt(None if stats is None else stats["median"], ".3f")


def paired_by_repeat(default: Any, tuned: Any) -> bool:
    """Whether run i of each profile ran side by side (bench.suite interleaves them)."""
    runs = [*default.group_runs, *tuned.group_runs]
    return (
        len(default.group_runs) == len(tuned.group_runs)
        and all(get(result, "repeat.interleaved") for result in runs)
        and invocation_of(default) is not None
        and invocation_of(default) == invocation_of(tuned)
    )


def steady_by_repeat(row: Any) -> list[float] | None:
    """The group's steady epochs in repeat order; None if any run lacks one."""
    ordered = sorted(row.group_runs, key=lambda result: get(result, "repeat.index") or 0)
    steady = values(ordered, "timings.steady_epoch_seconds")
    return steady if len(steady) == len(ordered) else None


def speedup_cells(default: Any, tuned: Any, probes: Probes) -> dict[str, str]:
    """The speed-up default / tuned with its 95% interval and verdict, or why there is none."""
    if not comparable([default, tuned], probes):
        return {"speed-up": MISSING, "95% CI": MISSING, "verdict": HOST_SPEED_FLAG}
    paired = paired_by_repeat(default, tuned)
    if paired:
        baseline, candidate = steady_by_repeat(default), steady_by_repeat(tuned)
    else:
        baseline = values(default.group_runs, "timings.steady_epoch_seconds")
        candidate = values(tuned.group_runs, "timings.steady_epoch_seconds")
    if not baseline or not candidate:
        return {"speed-up": MISSING, "95% CI": MISSING, "verdict": MISSING}
    found = compare_speed(baseline, candidate, paired=paired)
    ci = found["ci95"]
    return {
        "speed-up": f"{found['ratio']:.2f}x",
        "95% CI": MISSING if ci is None else f"{ci[0]:.2f} to {ci[1]:.2f}",
        "verdict": f"{found['outcome']} ({'paired' if paired else 'unpaired'})",
    }


def default_vs_tuned(selected: pd.DataFrame, probes: Probes | None = None) -> str | None:
    """Per backend (and device, mode) of one machine: default and tuned steady epochs.

    The speed-up is default / tuned steady epoch with its 95% interval (bench.stats.ratio_ci,
    paired by repeat when the runs were interleaved) and a verdict that needs significance
    and at least a 5% effect; none where the two groups' hosts differ in speed.
    """
    probes = probes or Probes()
    rows = []
    for (backend, device, quick), group in selected.groupby(
        ["backend", "device", "quick"], sort=False
    ):
        by_profile = {row.profile: row for row in group.itertuples()}
        tuned, default = by_profile.get("tuned"), by_profile.get("default")
        if tuned is None:
            continue
        default_runs = default.group_runs if default is not None else []
        default_steady = stats_of(default_runs, "timings.steady_epoch_seconds")
        tuned_steady = stats_of(tuned.group_runs, "timings.steady_epoch_seconds")
        speedup = (
            speedup_cells(default, tuned, probes)
            if default is not None
            else {"speed-up": MISSING, "95% CI": MISSING, "verdict": MISSING}
        )
        rows.append({
            "backend": backend,
            "device": device,
            "mode": "**quick**" if quick else "full",
            "runs": f"{len(default_runs)} / {len(tuned.group_runs)}",
            "default steady epoch s": median_cell(default_steady),
            "tuned steady epoch s": median_cell(tuned_steady),
            **speedup,
            "default accuracy": accuracy_cell(values(default_runs, "metrics.test_accuracy")),
            "tuned accuracy": accuracy_cell(values(tuned.group_runs, "metrics.test_accuracy")),
            "tuned settings": chosen_settings(tuned.result),
        })  # fmt: skip
    if not rows:
        return None
    numeric = ["runs", "default steady epoch s", "tuned steady epoch s", "speed-up", "95% CI"]
    return to_markdown(pd.DataFrame(rows), numeric)


def tuning_candidates(row: Any) -> str | None:
    """The search behind a tuned group (its latest run's record), the chosen settings marked."""
    tuning = get(row.result, "tuning")
    if not isinstance(tuning, dict) or not tuning.get("candidates"):
        return None
    chosen = tuning.get("chosen")
    rows = []
    for candidate in tuning["candidates"]:
        settings = candidate.get("settings") or {}
        threads = settings.get("threads")
        steady = candidate.get("steady_epoch_seconds")
        rows.append({
            "jit_compile": str(settings.get("jit_compile")),
            "steps_per_execution": str(settings.get("steps_per_execution")),
            "threads": "default" if threads is None else str(threads),
            "steady epoch s": fmt(steady, ".3f")
            if steady is not None
            else f"failed: {candidate.get('error') or 'no time recorded'}",
            "first epoch s": fmt(candidate.get("first_epoch_seconds"), ".2f"),
            "chosen": CHOSEN if settings == chosen else "",
        })  # fmt: skip
    searched = tuning.get("searched_utc") or ""
    speedup = tuning.get("speedup_vs_default")
    header = (
        f"Search for {row.label}: {len(rows)} candidates, {fmt(tuning.get('epochs'))} epochs on "
        f"{fmt(tuning.get('train_samples'), ',')} images each; metric: {tuning.get('metric')}"
        + (f"; speed-up in the search {speedup:.2f}x" if speedup else "")
        + (f"; searched {searched[:19]} UTC" if searched else "")
        + "."
    )
    table = to_markdown(pd.DataFrame(rows), ["steady epoch s", "first epoch s"])
    return header + "\n\n" + table
