"""Default vs tuned: the two profiles side by side, and the search that chose the tuned one."""

from typing import Any

import pandas as pd

from bench.report.collect import get
from bench.report.speed import NOISY, accuracy_cell, stats_of, values
from bench.report.tables import MISSING, fmt, to_markdown

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


def default_vs_tuned(selected: pd.DataFrame) -> str | None:
    """Per backend (and device, mode) of one machine: default and tuned steady epochs.

    The speed-up is flagged noisy when either profile's steady epoch is noisy across its runs.
    """
    rows = []
    for (backend, device, quick), group in selected.groupby(
        ["backend", "device", "quick"], sort=False
    ):
        by_profile = {row.profile: row for row in group.itertuples()}
        tuned = by_profile.get("tuned")
        if tuned is None:
            continue
        default = by_profile.get("default")
        default_runs = default.group_runs if default is not None else []
        default_steady = stats_of(default_runs, "timings.steady_epoch_seconds")
        tuned_steady = stats_of(tuned.group_runs, "timings.steady_epoch_seconds")
        if default_steady is None or tuned_steady is None:
            speedup = MISSING
        else:
            speedup = f"{default_steady['median'] / tuned_steady['median']:.2f}x"
            if default_steady["noisy"] or tuned_steady["noisy"]:
                speedup += f" {NOISY}"
        rows.append({
            "backend": backend,
            "device": device,
            "mode": "**quick**" if quick else "full",
            "default runs": str(len(default_runs)),
            "tuned runs": str(len(tuned.group_runs)),
            "default steady epoch s": median_cell(default_steady),
            "tuned steady epoch s": median_cell(tuned_steady),
            "speed-up": speedup,
            "default accuracy": accuracy_cell(values(default_runs, "metrics.test_accuracy")),
            "tuned accuracy": accuracy_cell(values(tuned.group_runs, "metrics.test_accuracy")),
            "tuned settings": chosen_settings(tuned.result),
        })  # fmt: skip
    if not rows:
        return None
    numeric = ["default runs", "tuned runs", "default steady epoch s", "tuned steady epoch s"]
    return to_markdown(pd.DataFrame(rows), [*numeric, "speed-up"])


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
