"""Failed runs: one record each under <results>/failures/<machine id>/, for the report to list.

A run that fails writes no result file; the suite writes this record instead, so that a backend
that cannot be imported, a run that hangs or one killed from outside shows up as failed rather
than as silently missing.
"""

import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.host.machine import git_info, machine_info
from bench.suite.child import ERROR, INTERRUPTED, KILLED, NO_BACKEND, REFUSED, TIMEOUT, Outcome
from digitrec_core.results import write_result
from digitrec_core.workloads import DEFAULT_WORKLOAD

FIXES = {
    NO_BACKEND: "install the backend (nox -s bench creates its virtualenv, or pip install -e "
    "'.[<backend>]' into the Python named with --python) and check that its libraries load "
    "(python -c 'import <backend>')",
    TIMEOUT: "raise the limit (nox -s bench -- --timeout SECONDS) if the machine is slow, or "
    "run it alone (python -m bench.run ...) to see where it hangs",
    KILLED: "check whether the machine ran out of memory (dmesg) or something stopped the run, "
    "then rerun",
    REFUSED: "see the reason: fix the option or data it names",
    INTERRUPTED: "rerun it",
    ERROR: "read its log (named in this record), or rerun it alone with --debug for the "
    "traceback (python -m bench.run --backend <backend> --debug)",
}
KEYS = ("machine", "backend", "device", "profile", "status", "reason", "created_utc")


def write_failure(
    results_dir: str | Path,
    outcome: Outcome,
    *,
    backend: str,
    device: str,
    profile: str,
    invocation: str | None,
    repeat_index: int | None = None,
    workload: str = DEFAULT_WORKLOAD,
    log: str | None = None,
) -> Path:
    """Record one failed run (atomically, never overwriting); return the record's path.

    `log`: the run's log file (its whole output), relative to the results folder.
    """
    machine = machine_info()
    created = datetime.now(UTC)
    fix = FIXES.get(outcome.status, FIXES[ERROR]).replace("<backend>", backend)
    record = {
        "check": "failed-run",
        "status": outcome.status,
        "reason": outcome.reason,
        "fix": fix,
        "returncode": outcome.returncode,
        "seconds": round(outcome.seconds, 3),
        "workload": workload,
        "backend": backend,
        "device": device,
        "profile": profile,
        "repeat_index": repeat_index,
        "log": log,
        "invocation": invocation,
        "created_utc": created.isoformat(),
        "machine": machine,
        "git": git_info(),
    }
    name = f"{created:%Y%m%dT%H%M%SZ}-{backend}-{device}-{profile}-{uuid.uuid4().hex[:6]}.json"
    return write_result(record, Path(results_dir, "failures", machine["id"], name))


def read_failures(results_dir: str | Path, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every readable failure record, oldest first; unreadable ones are `warn`ed about."""
    found = []
    for path in sorted(Path(results_dir, "failures").glob("*/*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, found {type(record).__name__}")
            missing = [key for key in KEYS if record.get(key) in (None, "")]
            if missing:
                raise ValueError(f"missing {missing}")
            if not isinstance(record["machine"], dict) or "id" not in record["machine"]:
                raise ValueError("machine.id is missing")
            seconds = record.get("seconds")
            if isinstance(seconds, float) and not math.isfinite(seconds):
                raise ValueError("seconds is not a finite number")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            warn(f"skipped failure record {path}: {exc}")
            continue
        found.append(record)
    return sorted(found, key=lambda record: record["created_utc"])
