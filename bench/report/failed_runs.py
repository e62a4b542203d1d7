"""The report's failed runs: what the suite recorded for runs that wrote no result."""

from typing import Any

import pandas as pd

from bench.analysis.collect import parse_utc
from bench.report.tables import plain, to_markdown
from digitrec_core.workloads import DEFAULT_WORKLOAD


def failure_workload(record: dict[str, Any]) -> str:
    """A failure's workload; records from before workloads were the MLP's."""
    return record.get("workload") or DEFAULT_WORKLOAD


def current_failures(failures: list[dict[str, Any]], main: pd.DataFrame) -> list[dict[str, Any]]:
    """The failures no later successful group of the same workload, backend, device and
    profile replaced."""
    latest_success = {}
    for row in main[~main["quick"]].itertuples():
        key = (row.workload, row.machine, row.backend, row.device, row.profile)
        latest_success[key] = max(latest_success.get(key, row.created_utc), row.created_utc)
    current = []
    for record in failures:
        key = (
            failure_workload(record),
            record["machine"]["id"],
            record["backend"],
            record["device"],
            record["profile"],
        )
        when = parse_utc(str(record["created_utc"]))
        succeeded = latest_success.get(key)
        if when is None or succeeded is None or when > succeeded:
            current.append(record)
    return current


def verdict_notes(
    failures: list[dict[str, Any]], workload: str = DEFAULT_WORKLOAD
) -> dict[tuple[str, str], list[str]]:
    """Per (machine, device): one line per backend that failed there, for `workload`'s verdict."""
    notes: dict[tuple[str, str], dict[str, str]] = {}
    for record in failures:
        if failure_workload(record) != workload:
            continue
        place = (record["machine"]["id"], record["device"])
        notes.setdefault(place, {})[record["backend"]] = (
            f"⚠ {record['backend']} ({record['profile']}) failed here ({record['status']}): "
            f"{plain(record['reason'])}. It is missing from this verdict; "
            f"{plain(record.get('fix', ''))}."
        )
    return {place: list(lines.values()) for place, lines in notes.items()}


def render(failures: list[dict[str, Any]]) -> str:
    """The "Failed runs" section; empty when nothing failed."""
    if not failures:
        return ""
    rows = [
        {
            "machine": record["machine"]["id"],
            "workload": failure_workload(record),
            "backend": record["backend"],
            "device": record["device"],
            "profile": record["profile"],
            "status": f"**{record['status']}**",
            "when (UTC)": str(record["created_utc"])[:19],
            "reason": plain(record["reason"]),
            "what to do": plain(record.get("fix", "")),
        }
        for record in failures
    ]
    return "\n\n".join([
        "## Failed runs",
        "Runs that wrote no result, as the suite recorded them (`results/failures/`): a backend "
        "that cannot be imported, a run stopped by `--timeout`, one killed from outside, one "
        "that refused its input or failed. A failure followed by a successful group of the "
        "same workload, machine, backend, device and profile is left out.",
        to_markdown(pd.DataFrame(rows)),
    ])  # fmt: skip
