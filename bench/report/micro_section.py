"""The report's micro-benchmark section, from pytest-benchmark's JSON under results/micro/."""

import json
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.collect import BACKEND_ORDER, Skipped
from bench.report.tables import to_markdown

CALLS = {"train_on_batch": "train step", "predict_on_batch": "predict"}
# pytest-benchmark stat -> its column in the report (times, in the table's unit).
SPREAD_STATS = {"median": "median", "iqr": "IQR", "mean": "mean", "stddev": "stddev"}


@dataclass(frozen=True)
class MicroFile:
    """One readable micro-benchmark JSON: its benchmarks as plain rows."""

    path: Path
    backend: str
    framework: str | None
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class MicroResults:
    """The latest readable file per (machine, backend), and the files that could not be read."""

    latest: dict[tuple[str, str], MicroFile] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def benchmark_row(entry: Any) -> dict[str, Any]:
    """One pytest-benchmark entry as a row; ValueError naming what is missing or wrong."""
    if not isinstance(entry, dict):
        raise ValueError(f"a benchmark is a {type(entry).__name__}, not an object")
    name = entry.get("name")
    stats, info = entry.get("stats"), entry.get("extra_info")
    if not isinstance(stats, dict) or not isinstance(info, dict):
        raise ValueError(f"benchmark {name!r} lacks stats or extra_info")
    bad = [key for key in (*SPREAD_STATS, "rounds") if not is_number(stats.get(key))]
    if bad or stats["median"] <= 0:
        raise ValueError(f"benchmark {name!r}: stats {bad or ['median']} missing or not valid")
    batch, backend = info.get("batch_size"), info.get("backend")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"benchmark {name!r}: extra_info batch_size {batch!r} is not a count")
    if not isinstance(backend, str) or not backend:
        raise ValueError(f"benchmark {name!r}: extra_info names no backend")
    return {
        "backend": backend,
        "kind": str(info.get("kind", name)),
        "batch_size": batch,
        **{key: float(stats[key]) for key in SPREAD_STATS},
        "rounds": int(stats["rounds"]),
        "framework": info.get("framework_version"),
    }


def read_micro(path: Path) -> MicroFile:
    """Read one pytest-benchmark JSON; ValueError (or OSError) saying why it is unusable."""
    data = json.loads(path.read_text(encoding="utf-8"))
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list) or not benchmarks:
        raise ValueError("no 'benchmarks' list: not a pytest-benchmark JSON, or an empty one")
    rows = [benchmark_row(entry) for entry in benchmarks]
    backends = {row["backend"] for row in rows}
    if len(backends) != 1:
        raise ValueError(f"benchmarks of several backends {sorted(backends)} in one file")
    return MicroFile(path, backends.pop(), rows[0]["framework"], rows)


def latest_micro(results_dir: str | Path, warn: Callable[[str], None]) -> MicroResults:
    """The newest readable micro-benchmark JSON per (machine, backend) under results_dir/micro."""
    results = MicroResults()
    # File names start with a UTC time stamp, so name order is time order.
    paths = sorted(Path(results_dir, "micro").glob("*/*.json"), key=lambda p: (p.name, p))
    for path in paths:
        shown = path.relative_to(results_dir)
        try:
            found = read_micro(path)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            warn(f"skipped micro-benchmark file {path}: {exc}")
            results.skipped.append(Skipped(shown, str(exc)))
            continue
        results.latest[(path.parent.name, found.backend)] = replace(found, path=shown)
    return results


def time_unit(seconds: list[float]) -> tuple[str, float, str]:
    """The unit a table of these durations reads best in: name, scale from seconds, format."""
    return ("µs", 1e6, ",.1f") if min(seconds) < 1e-3 else ("ms", 1e3, ",.2f")


def backend_key(backend: str) -> tuple[int, str]:
    """Sort key putting backends in the report's usual order, unknown ones last."""
    order = BACKEND_ORDER.index(backend) if backend in BACKEND_ORDER else len(BACKEND_ORDER)
    return order, backend


def row_key(row: dict[str, Any]) -> tuple:
    """Sort key: backend, then train step before predict, then batch size."""
    calls = list(CALLS)
    call = calls.index(row["kind"]) if row["kind"] in calls else len(calls)
    return *backend_key(row["backend"]), call, row["kind"], row["batch_size"]


def machine_table(files: list[MicroFile]) -> str:
    """One row per backend and call: spread of the times, rounds and throughput."""
    rows = sorted((row for found in files for row in found.rows), key=row_key)
    unit, scale, spec = time_unit([row["median"] for row in rows])
    frame = pd.DataFrame(
        {
            "backend": [row["backend"] for row in rows],
            "benchmark": [f"{CALLS.get(r['kind'], r['kind'])} @{r['batch_size']}" for r in rows],
            **{
                f"{column} {unit}": [format(row[stat] * scale, spec) for row in rows]
                for stat, column in SPREAD_STATS.items()
            },
            "rounds": [format(row["rounds"], ",") for row in rows],
            "ops/s": [format(1 / row["median"], ",.0f") for row in rows],
            "samples/s": [format(row["batch_size"] / row["median"], ",.0f") for row in rows],
        }
    )
    return to_markdown(frame, numeric=list(frame.columns[2:]))


def render(results: MicroResults) -> str:
    """The "Micro-benchmarks" section: a table per machine; empty without micro results."""
    if not results.latest and not results.skipped:
        return ""
    parts = [
        "## Micro-benchmarks",
        "pytest-benchmark timings of single calls on a warmed-up model, each ending with the "
        "backend's synchronisation (`nox -s microbench`): *train step* is `train_on_batch`, "
        "*predict* is `predict_on_batch`, after `@` the batch size. Random float32 data, so "
        "only the shapes matter. *ops/s* is 1 / median (pytest-benchmark's own OPS uses the "
        "mean); *samples/s* is batch size \N{MULTIPLICATION SIGN} ops/s. The latest file of "
        "each machine and backend is used.",
    ]
    machines = dict.fromkeys(machine for machine, _ in sorted(results.latest))
    for machine in machines:
        files = sorted(
            (found for (owner, _), found in results.latest.items() if owner == machine),
            key=lambda found: backend_key(found.backend),
        )
        sources = ", ".join(
            f"`{found.path.as_posix()}`" + (f" ({found.framework})" if found.framework else "")
            for found in files
        )
        parts += [f"On `{machine}`:", machine_table(files), f"From {sources}."]
    if results.skipped:
        listed = "; ".join(f"`{s.path.as_posix()}` ({s.reason})" for s in results.skipped)
        parts.append(f"Skipped unreadable micro-benchmark files: {listed}.")
    return "\n\n".join(parts)
