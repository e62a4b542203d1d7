"""The report's micro-benchmark section, from pytest-benchmark's JSON under results/micro/."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.tables import to_markdown


def latest_micro(results_dir: Path, warn: Callable[[str], None]) -> dict[tuple[str, str], Any]:
    """The newest readable micro-benchmark JSON per (machine, backend)."""
    latest = {}
    # File names start with a UTC time stamp, so name order is time order.
    for path in sorted(Path(results_dir, "micro").glob("*/*.json"), key=lambda p: p.name):
        try:
            data = json.loads(path.read_text())
            benchmarks = data["benchmarks"]
            backend = benchmarks[0]["extra_info"]["backend"]
            for entry in benchmarks:
                if "median" not in entry["stats"] or "batch_size" not in entry["extra_info"]:
                    raise KeyError(f"benchmark {entry.get('name')!r} lacks stats or batch size")
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            warn(f"skipped micro-benchmark file {path}: {exc!r}")
            continue
        latest[(path.parent.name, backend)] = {"path": path, "benchmarks": benchmarks}
    return latest


def render(latest: dict[tuple[str, str], Any]) -> str:
    """A table per machine: each backend's train step and predict timings."""
    if not latest:
        return ""
    parts = [
        "## Micro-benchmarks",
        "pytest-benchmark timings of single calls on a warmed-up model, each ending with the "
        "backend's synchronisation (`nox -s microbench`): `train_on_batch` at batch 512 and "
        "`predict_on_batch` at batch 1 and 512. Times in microseconds.",
    ]
    machines = dict.fromkeys(machine for machine, _ in latest)
    for machine in machines:
        rows = []
        for (owner, backend), found in latest.items():
            if owner != machine:
                continue
            for entry in found["benchmarks"]:
                stats, info = entry["stats"], entry["extra_info"]
                rows.append({
                    "backend": backend,
                    "call": f"{info.get('kind')} @{info['batch_size']}",
                    "median µs": f"{stats['median'] * 1e6:,.1f}",
                    "IQR µs": f"{stats['iqr'] * 1e6:,.1f}",
                    "mean µs": f"{stats['mean'] * 1e6:,.1f}",
                    "stddev µs": f"{stats['stddev'] * 1e6:,.1f}",
                    "rounds": str(stats["rounds"]),
                    "calls/s": f"{1 / stats['median']:,.0f}",
                    "samples/s": f"{info['batch_size'] / stats['median']:,.0f}",
                })  # fmt: skip
        frame = pd.DataFrame(rows)
        parts += [f"On `{machine}`:", to_markdown(frame, list(frame.columns[2:]))]
    return "\n\n".join(parts)
