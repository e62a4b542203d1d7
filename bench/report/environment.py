"""Where the numbers come from: one environment table per machine, one per-class table."""

from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.collect import get
from bench.report.tables import MISSING, fmt, plain, to_markdown


def distinct(results: list[dict[str, Any]], dotted: str) -> str:
    """The distinct values at `dotted` across `results`, in first-seen order."""
    found = [str(value) for r in results if (value := get(r, dotted)) is not None]
    return ", ".join(plain(value) for value in dict.fromkeys(found)) or MISSING


def commits(results: list[dict[str, Any]]) -> str:
    """The short commits the runs came from, each marked clean or with uncommitted changes."""
    found = {}
    for result in results:
        commit = get(result, "git.commit")
        if commit:
            dirty = get(result, "git.dirty")
            found[commit[:10]] = {True: " (uncommitted changes)", False: " (clean)"}.get(dirty, "")
    return ", ".join(f"`{commit}`{state}" for commit, state in found.items()) or MISSING


def gpus_text(result: dict[str, Any]) -> str:
    gpus = get(result, "machine.gpus") or []
    return (
        ", ".join(
            f"{plain(gpu.get('name', '?'))} ({fmt(gpu.get('memory_mib'), ',')} MiB)" for gpu in gpus
        )
        or "none"
    )


def frameworks(groups: pd.DataFrame) -> str:
    """Each backend's framework version on this machine."""
    found = {}
    for row in groups.itertuples():
        for result in row.group_runs:
            name = get(result, "versions.framework")
            version = get(result, "versions.framework_version")
            if name and version:
                found.setdefault(name, set()).add(version)
    listed = ", ".join(f"{name} {'/'.join(sorted(v))}" for name, v in found.items())
    return plain(listed) if listed else MISSING


SHOWN_INVOCATIONS = 3


def invocations_text(results: list[dict[str, Any]]) -> str:
    """How many invocations ran here, the latest few by name (Runs used lists every run's)."""
    found = list(dict.fromkeys(str(v) for r in results if (v := get(r, "invocation.id"))))
    if len(found) <= SHOWN_INVOCATIONS:
        return ", ".join(found) or MISSING
    latest = ", ".join(sorted(found)[-SHOWN_INVOCATIONS:])
    return f"{len(found)} (latest: {latest}; each run's in Runs used)"


def verified_note(results: list[dict[str, Any]]) -> str:
    verified = all(get(result, "data.checksums_verified") for result in results)
    return " (checksums verified)" if verified else " (⚠ not every run verified its checksums)"


def machine_table(groups: pd.DataFrame) -> str:
    """Hardware, OS, versions, commits, data and invocations of one machine's groups."""
    results = [result for runs in groups["group_runs"] for result in runs]
    latest = groups.iloc[-1]["result"]
    rows = {
        "CPU": plain(fmt(get(latest, "machine.cpu_model"))),
        "cores (logical / physical)": f"{fmt(get(latest, 'machine.cpu_cores_logical'))} / "
        f"{fmt(get(latest, 'machine.cpu_cores_physical'))}",
        "memory GiB": fmt(get(latest, "machine.memory_gib")),
        "GPUs": gpus_text(latest),
        "devices used": distinct(results, "device.used"),
        "OS": distinct(results, "machine.platform"),
        "python": distinct(results, "versions.python"),
        "keras": distinct(results, "versions.keras"),
        "numpy": distinct(results, "versions.numpy"),
        "frameworks": frameworks(groups),
        "commits": commits(results),
        "data": distinct(results, "data.source") + verified_note(results),
        "invocations": invocations_text(results),
        "runs": str(len(results)),
    }
    return to_markdown(pd.DataFrame({"": list(rows), "value": list(rows.values())}))


def render(main: pd.DataFrame) -> str:
    """The "Environment" section: one table per machine."""
    parts = ["## Environment", "One table per machine, from the runs this report uses."]
    for (alias, machine), groups in main.groupby(["alias", "machine"], sort=True):
        parts += [f"### {alias}: `{machine}`", machine_table(groups)]
    return "\n\n".join(parts)


def per_class_table(main: pd.DataFrame) -> str | None:
    """F1 of each digit (columns) for each default full group (rows), the mean of its runs."""
    rows = []
    shown = main[(main["profile"] == "default") & ~main["quick"]]
    for row in (shown if len(shown) else main).itertuples():
        scores: dict[Any, list[float]] = {}
        for result in row.group_runs:
            per_class = get(result, "metrics.per_class")
            for entry in per_class if isinstance(per_class, list) else []:
                if isinstance(entry, dict) and isinstance(entry.get("f1"), int | float):
                    scores.setdefault(entry.get("class"), []).append(float(entry["f1"]))
        if scores:
            runs = max(len(found) for found in scores.values())
            means = {str(d): fmt(float(np.mean(found)), ".4f") for d, found in scores.items()}
            rows.append({"group": row.label, "runs": str(runs), **means})
    if not rows:
        return None
    frame = pd.DataFrame(rows).astype(object).fillna(MISSING)
    return to_markdown(frame, [column for column in frame.columns if column != "group"])
