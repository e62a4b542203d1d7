"""The report's self-check section: the suite's own overhead and faithfulness, against targets."""

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.tables import fmt, to_markdown

# What each check measured, its target, and how to read them: (measured key, target, wording).
CHECKS = {
    "overhead": (
        "wall_over_recorded",
        lambda record: f"≤ {record['target']:.1f}x",
        "wall time of `nox -s bench` / the fit and predict time its runs recorded",
    ),
    "faithfulness": (
        "suite_over_bare",
        lambda record: f"1 ± {record['tolerance']:.0%}",
        "the suite's median steady epoch / a bare `model.fit` script's",
    ),
}


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def latest_selfchecks(
    results_dir: Path, warn: Callable[[str], None]
) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    """Per machine, the newest usable record of each (check, backend)."""
    found: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for path in sorted(Path(results_dir, "selfcheck").glob("*/*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            check = record["check"]
            key, _, _ = CHECKS[check]
            CHECKS[check][1](record)  # the target must be readable too
            if not finite(record[key]) or not isinstance(record["within_target"], bool):
                raise ValueError(f"{key} is {record[key]!r}")
            machine = record["machine"]["id"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            warn(f"skipped self-check record {path}: {exc!r}")
            continue
        found.setdefault(machine, {})[(check, record.get("backend", "all"))] = record
    return found


def render(selfchecks: dict[str, dict[tuple[str, str], dict[str, Any]]]) -> str:
    """The "Self-checks" section: one table per machine, each check against its target."""
    if not selfchecks:
        return ""
    parts = [
        "## Self-checks",
        "The suite measures itself (docs/development.md, Benchmarks of the suite itself): "
        "*overhead* is "
        f"{CHECKS['overhead'][2]}; *faithfulness* is {CHECKS['faithfulness'][2]}.",
    ]
    for machine, records in selfchecks.items():
        rows = []
        for (check, backend), record in sorted(records.items()):
            key, target, _ = CHECKS[check]
            commit = (record.get("git") or {}).get("commit") or ""
            rows.append({
                "check": check,
                "backend": backend,
                "measured": fmt(record[key], ".2f") + "x",
                "target": target(record),
                "met": "yes" if record["within_target"] else "**NOT MET**",
                "when (UTC)": str(record.get("created_utc", ""))[:19],
                "commit": commit[:10],
            })  # fmt: skip
        parts += [f"On `{machine}`:", to_markdown(pd.DataFrame(rows), ["measured"])]
    return "\n\n".join(parts)
