"""The schedule records of rounds invocations: the design, disturbed rounds, why they stopped."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEDULES_DIR = "schedules"
# A tuning search's outcomes, as its record and the schedule record name them.
CHOSE, NONE_FASTER, UNDECIDED = "chose a candidate", "no candidate faster", "undecided"
REQUIRED = ("invocation", "machine", "design", "rounds", "disturbed_rounds")


def load_schedules(
    results_dir: str | Path, warn: Callable[[str], None]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every readable schedule record, by (machine id, invocation id)."""
    found = {}
    for path in sorted(Path(results_dir, SCHEDULES_DIR).glob("*/*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, found {type(record).__name__}")
            missing = [key for key in REQUIRED if key not in record]
            if missing:
                raise ValueError(f"missing {missing}")
            key = (record["machine"]["id"], record["invocation"])
            if not all(isinstance(part, str) for part in key):
                raise ValueError(f"machine id and invocation must be text, got {key!r}")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            warn(f"skipped schedule record {path}: {exc}")
            continue
        found[key] = record
    return found
