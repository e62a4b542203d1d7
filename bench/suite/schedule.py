"""The schedule record: per invocation, the design, every round, its probes, why it stopped.

<results-dir>/schedules/<machine>/<invocation>.json, rewritten atomically after every round,
so that an interrupted suite still leaves what it did. The report reads it for the rounds it
leaves out (disturbed ones), why the suite stopped, and what each tuning search decided.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.analysis.schedules import SCHEDULES_DIR
from bench.host.drift import typical_rate
from bench.host.machine import git_info, machine_info
from bench.suite.rounds import Cell, Design, Rounds
from digitrec_core.results import write_text_atomically

RULE = (
    "each round runs every backend, device and profile once, each in a fresh process, in an "
    "order drawn from the order seed and the round's number; margins between groups of one "
    "invocation are paired by round; from min_rounds on, every verdict margin is looked at "
    "after each round, each look's interval at 1 - 0.05 / looks (Bonferroni over the looks "
    "max_rounds allows); a round is flagged disturbed when the neutral probes before and "
    "after it both read more than 10% off the invocation's median, and stays in the margins"
)


def schedule_path(results_dir: Path, machine_id: str, invocation: str) -> Path:
    return Path(results_dir, SCHEDULES_DIR, machine_id, f"{invocation}.json")


def portable_python(python: str) -> str:
    """An interpreter as the record keeps it: relative to the project, or its name alone."""
    path = Path(python)
    if not path.is_absolute():
        return python
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return f"{path.name} (outside the project)"


def portable_options(options: tuple[str, ...]) -> list[str]:
    """A cell's bench.run options without the temporary file its tuning record travels in."""
    kept = list(options)
    for index, option in enumerate(kept[:-1]):
        if option == "--tuning-record":
            kept[index + 1] = "<tuning record>"
    return kept


def cell_entry(cell: Cell, group: str, python: str) -> dict[str, Any]:
    return {
        "name": cell.name,
        "backend": cell.backend,
        "device": cell.device,
        "profile": cell.profile,
        "implementation": cell.implementation,
        "options": portable_options(cell.options),
        "group": group,
        "python": portable_python(python),
    }


def build_schedule(
    *,
    invocation: str,
    design: Design,
    order_seed: int,
    seed: int,
    cells: list[dict[str, Any]],
    rounds: Rounds | None,
    start_rates: list[float],
    searches: dict[str, Any],
    started_utc: datetime,
    wall_seconds: float,
    status: str,
    failures: int,
    phase_seconds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The record of one invocation's rounds, as far as they went."""
    return {
        "check": "schedule",
        "invocation": invocation,
        "status": status,
        "machine": machine_info(),
        "git": git_info(),
        "started_utc": started_utc.isoformat(),
        "updated_utc": datetime.now(UTC).isoformat(),
        "rule": RULE,
        "design": design.to_dict(),
        "order_seed": order_seed,
        "seed": seed,
        "cells": cells,
        "start_probes_gflops": start_rates,
        "host_gflops": typical_rate(start_rates),
        "searches": searches,
        "rounds": [] if rounds is None else [r.to_dict() for r in rounds.rounds],
        "disturbed_rounds": [] if rounds is None else rounds.disturbed,
        "stopped": None
        if rounds is None or rounds.stopped is None
        else {"reason": rounds.stopped, "text": rounds.stop_text, "open": rounds.open},
        "dropped": {} if rounds is None else rounds.dropped,
        "failed_runs": failures,
        "wall_seconds": wall_seconds,
        "phase_seconds": phase_seconds or {},
    }


def write_schedule(path: Path, record: dict[str, Any]) -> Path:
    """Write the schedule record atomically (it replaces this invocation's earlier one)."""
    return write_text_atomically(path, json.dumps(record, indent=1, allow_nan=False) + "\n")


def relative_to(path: Path, folder: Path) -> str:
    """`path` relative to `folder` where it lies inside it (as files in results/ name others)."""
    return os.path.relpath(path, folder)
