"""Default vs tuned: the two profiles side by side, and the search that chose the tuned one."""

import math
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.decision import ci_text
from bench.analysis.hosts import Probes, comparable
from bench.analysis.measures import THROUGHPUT, bulk_batch
from bench.analysis.pairing import gain
from bench.analysis.precision import judge_precisions
from bench.analysis.tidy import BY_COLUMN, group_value
from bench.report.probes import HOST_SPEED_FLAG
from bench.report.tables import MISSING, fmt, to_markdown
from bench.stats import FASTER, SAME, SLOWER

CHOSEN = "**✓**"
TUNED_COLUMNS = [
    "machine",
    "backend",
    "steady epoch gain",
    "time to a trained model gain",
    "compile s",
    "break-even",
    "first predict s",
    "bulk predict gain",
    "for the documented job",
]


def gain_cell(found: dict[str, Any] | None) -> str:
    """ "1.38× [1.18–1.62] FASTER", or "n/a"."""
    if found is None:
        return MISSING
    interval = "" if found["ci95"] is None else f" {ci_text(found['ci95'])}"
    return f"{found['ratio']:.2f}×{interval} {found['outcome']}"


def break_even(default: Any, tuned: Any) -> str:
    """After how many epochs tuned's faster steady epoch pays back its extra compile time."""
    steady_d = group_value(default.group_runs, "steady_epoch_seconds")
    steady_t = group_value(tuned.group_runs, "steady_epoch_seconds")
    compile_d = group_value(default.group_runs, "compile_seconds")
    compile_t = group_value(tuned.group_runs, "compile_seconds")
    if None in (steady_d, steady_t, compile_d, compile_t):
        return MISSING
    if steady_t >= steady_d:
        return "never (no faster per epoch)"
    # Tuned is ahead once k * (steady saved) covers the extra compile: from epoch k on.
    extra = max(0.0, compile_t - compile_d)
    return f"from epoch {max(1, math.ceil(extra / (steady_d - steady_t)))}"


def job_verdict(found: dict[str, Any] | None) -> str:
    """What the tuned profile does to the documented job, flagged when it makes it slower."""
    if found is None:
        return MISSING
    if found["outcome"] == SLOWER:
        return "⚠ SLOWER for the documented job: never recommended for it"
    return {FASTER: "faster", SAME: "same"}.get(found["outcome"], "not decided")


def seconds_pair(default: Any, tuned: Any, column: str) -> str:
    """ "default → tuned" in seconds, each the group table's value (bench.analysis.tidy)."""
    spec = BY_COLUMN[column].spec
    return (
        f"{fmt(group_value(default.group_runs, column), spec)} → "
        f"{fmt(group_value(tuned.group_runs, column), spec)}"
    )


def default_vs_tuned(selected: pd.DataFrame, probes: Probes | None = None) -> str | None:
    """Per machine, backend, device and mode: what the tuned profile gains, honestly.

    Gains are default / tuned (bench.stats.compare_speed, paired by repeat when the runs were
    interleaved), per steady epoch and for the whole documented job; none where the two
    groups' hosts differ in speed.
    """
    probes = probes or Probes()
    rows = []
    keys = ["machine", "backend", "device", "quick"]
    for (machine, backend, device, quick), group in selected.groupby(keys, sort=False):
        by_profile = {row.profile: row for row in group.itertuples()}
        tuned, default = by_profile.get("tuned"), by_profile.get("default")
        if tuned is None or default is None:
            continue
        alias = getattr(by_profile["tuned"], "alias", machine)
        row = {"machine": alias, "backend": f"{backend}/{device}" + " (quick)" * quick}
        if not comparable([default, tuned], probes):
            rows.append({**row, "steady epoch gain": HOST_SPEED_FLAG})
            continue
        job = gain(default, tuned, "timings.fit_seconds")
        rows.append({
            **row,
            "steady epoch gain": gain_cell(gain(default, tuned, "timings.steady_epoch_seconds")),
            "time to a trained model gain": gain_cell(job),
            "compile s": seconds_pair(default, tuned, "compile_seconds"),
            "break-even": break_even(default, tuned),
            "first predict s": seconds_pair(default, tuned, "first_predict_seconds"),
            "bulk predict gain": gain_cell(bulk_gain(default, tuned)),
            "for the documented job": job_verdict(job),
        })  # fmt: skip
    if not rows:
        return None
    frame = pd.DataFrame(rows).reindex(columns=TUNED_COLUMNS).astype(object).fillna(MISSING)
    return to_markdown(frame, TUNED_COLUMNS[2:6])


def bulk_gain(default: Any, tuned: Any) -> dict[str, Any] | None:
    """Tuned's gain in prediction throughput at the largest batch both groups measured."""
    size = bulk_batch([*default.group_runs, *tuned.group_runs])
    return None if size is None else gain(default, tuned, f"{THROUGHPUT}.{size}", rate=True)


def tuning_candidates(row: Any) -> str | None:
    """The search behind a tuned group (its latest run's record), the chosen settings marked."""
    tuning = get(row.result, "tuning")
    if not isinstance(tuning, dict) or not tuning.get("candidates"):
        return None
    chosen = tuning.get("chosen")
    proposed = tuning.get("proposed") or []
    rows = []
    for candidate in tuning["candidates"]:
        settings = candidate.get("settings") or {}
        threads = settings.get("threads")
        steady = candidate.get("steady_epoch_seconds")
        rows.append({
            "jit_compile": str(settings.get("jit_compile")),
            "steps_per_execution": str(settings.get("steps_per_execution")),
            "threads": "default" if threads is None else str(threads),
            "precision": settings.get("precision") or "float32",
            "vs default": gain_cell(candidate.get("vs_default"))
            if (candidate.get("vs_default") or {}).get("ratio")
            else MISSING,
            "steady epoch s": fmt(steady, ".3f")
            if steady is not None
            else f"failed: {candidate.get('error') or 'no time recorded'}",
            "first epoch s": fmt(candidate.get("first_epoch_seconds"), ".2f"),
            "chosen": CHOSEN
            if settings == chosen
            else ("proposed" if settings.get("precision") in proposed else ""),
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


def accuracy_cell(found: dict[str, Any] | None) -> str:
    """ "+0.02 pp [−0.10, +0.14] PASS": the paired accuracy difference and its TOST verdict."""
    if not found:
        return MISSING
    low, high = (100 * value for value in found["ci"])
    mean = 100 * found["mean_difference"]
    return f"{mean:+.2f} pp [{low:+.2f}, {high:+.2f}] {found['outcome']}"


def lower_precision(selected: pd.DataFrame) -> str | None:
    """Each lower-precision profile against float32 beside it: speed, accuracy, target, status."""
    rows = []
    for judged in judge_precisions(selected[~selected["quick"]]):
        reached = MISSING if not judged.runs else f"{judged.runs - judged.missed} of {judged.runs}"
        rows.append({
            "machine": getattr(judged.row, "alias", judged.row.machine),
            "backend": judged.row.backend,
            "profile": f"{judged.row.profile} ({judged.precision})",
            "time to a trained model gain": gain_cell(judged.speed),
            "steady epoch gain": gain_cell(judged.steady),
            "time to target gain": gain_cell(judged.to_target),
            "accuracy − float32 (90% CI)": accuracy_cell(judged.accuracy),
            "target reached": reached,
            "status": f"**{judged.status}**: {judged.reason}",
        })  # fmt: skip
    if not rows:
        return None
    return to_markdown(pd.DataFrame(rows))
