"""Benchmarks of the suite itself: its overhead, and whether it measures what a bare script does.

    python -m bench.checks.selfcheck faithfulness --backend jax [--pairs 3]
        Alternates `bench.checks.bare` (plain model.fit) and `bench.run` in fresh processes and
        compares their steady epochs. Target: the suite within +-10% of the bare script.
    python -m bench.checks.selfcheck overhead [-- options for nox -s bench]
        Runs `nox -s bench` (virtualenvs in place) and compares its wall time with the fit and
        predict time its runs recorded. Target: at most 1.3x.

Each writes one JSON to <results-dir>/selfcheck/<machine id>/ and prints a summary.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cli
from bench.host.machine import git_info, machine_info
from digitrec_core.config import BACKENDS
from digitrec_core.results import iter_result_paths, read_result, write_result

FAITHFULNESS_TOLERANCE = 0.10
OVERHEAD_TARGET = 1.3
# What a run's "fit and predict time" is made of, from its timings.
RECORDED_TIMINGS = (
    "fit_seconds",
    "evaluate_seconds",
    "predict_first_call_seconds",
    "predict_seconds",
    "predict_benchmark_seconds",
)


def python_module(module: str, *args: str) -> subprocess.CompletedProcess:
    """Run `python -m module args` with this interpreter, capturing stdout."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=True
    )


def faithfulness(backend: str, pairs: int, data_dir: str | None) -> dict[str, Any]:
    """Steady epoch of bench.run against bench.checks.bare, alternating so drift hits both alike."""
    data_args = ["--data-dir", data_dir] if data_dir else []
    suite_steady, bare_steady = [], []
    with tempfile.TemporaryDirectory(prefix="digitrec-selfcheck-") as tmp:
        for index in range(pairs):
            bare = python_module("bench.checks.bare", "--backend", backend, *data_args)
            bare_steady.append(
                json.loads(bare.stdout.strip().splitlines()[-1])["steady_epoch_seconds"]
            )
            out = Path(tmp, f"run-{index}.json")
            python_module(
                "bench.run", "--backend", backend, *data_args, "--training-trial",
                "--out", str(out),
            )  # fmt: skip
            suite_steady.append(json.loads(out.read_text())["timings"]["steady_epoch_seconds"])
            print(f"pair {index + 1}: bare {bare_steady[-1]:.3f} s, suite {suite_steady[-1]:.3f} s")
    ratio = statistics.median(suite_steady) / statistics.median(bare_steady)
    return {
        "check": "faithfulness",
        "backend": backend,
        "pairs": pairs,
        "bare_steady_epoch_seconds": bare_steady,
        "suite_steady_epoch_seconds": suite_steady,
        "suite_over_bare": ratio,
        "tolerance": FAITHFULNESS_TOLERANCE,
        "within_target": abs(ratio - 1) <= FAITHFULNESS_TOLERANCE,
    }


def recorded_seconds(result: dict[str, Any]) -> float:
    """The fit and predict time one run recorded (see RECORDED_TIMINGS)."""
    return sum(result["timings"].get(name) or 0.0 for name in RECORDED_TIMINGS)


def overhead_breakdown(
    wall_seconds: float, results: list[dict[str, Any]], started_utc: str = ""
) -> dict[str, Any]:
    """Where the wall time of a suite run went, from the results it wrote.

    A tuning search counts only if it ran in this measurement (searched at or after
    `started_utc`, an ISO time): a search reused from the cache cost nothing now.
    """
    recorded = sum(recorded_seconds(result) for result in results)
    process = sum(result["timings"].get("process_wall_seconds") or 0.0 for result in results)
    searches = {
        result["tuning"].get("searched_utc"): result["tuning"]
        for result in results
        if result.get("tuning") and str(result["tuning"].get("searched_utc")) >= started_utc
    }
    search_wall = sum(
        candidate.get("wall_seconds") or 0.0
        for record in searches.values()
        for candidate in record["candidates"]
    )
    ratio = wall_seconds / recorded if recorded else None
    return {
        "wall_seconds": wall_seconds,
        "runs": len(results),
        "recorded_fit_predict_seconds": recorded,
        "recorded_timings": list(RECORDED_TIMINGS),
        "run_processes_seconds": process,
        "in_process_overhead_seconds": process - recorded,
        "tuning_search_seconds": search_wall,
        "outside_runs_seconds": wall_seconds - process - search_wall,
        "wall_over_recorded": ratio,
        "target": OVERHEAD_TARGET,
        "within_target": ratio is not None and ratio <= OVERHEAD_TARGET,
    }


def overhead(results_dir: Path, nox_args: list[str]) -> dict[str, Any]:
    """Time `nox -s bench` and relate it to the runs it wrote into `results_dir`."""
    before = set(iter_result_paths(results_dir))
    started_utc = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    command = [sys.executable, "-m", "nox", "-s", "bench", "--", *nox_args]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(
        command, check=True, env={**os.environ, "DIGITREC_RESULTS_DIR": str(results_dir)}
    )
    wall = time.perf_counter() - started
    new = [read_result(path) for path in iter_result_paths(results_dir) if path not in before]
    if not new:
        raise RuntimeError(f"nox -s bench wrote no result under {results_dir}")
    return {"check": "overhead", "nox_args": nox_args, **overhead_breakdown(wall, new, started_utc)}


def save(record: dict[str, Any], results_dir: Path) -> Path:
    """Write a self-check record with the machine and commit it was measured on."""
    machine = machine_info()
    created = datetime.now(UTC)
    record = {**record, "created_utc": created.isoformat(), "machine": machine, "git": git_info()}
    name = f"{created:%Y%m%dT%H%M%SZ}-{record['check']}-{record.get('backend', 'all')}.json"
    return write_result(record, results_dir / "selfcheck" / machine["id"] / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.checks.selfcheck", description=__doc__.split("\n")[0]
    )
    parser.add_argument("check", choices=("faithfulness", "overhead"))
    parser.add_argument("--backend", choices=BACKENDS, help="for faithfulness")
    parser.add_argument("--pairs", type=int, default=3, help="bare/suite pairs (faithfulness)")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(cli.DATA_DIR_ENV) or None,
        help=f"MNIST folder for the faithfulness runs (default: ${cli.DATA_DIR_ENV})",
    )
    cli.add_results_dir(parser)
    args, rest = parser.parse_known_args(argv)
    if args.check == "faithfulness":
        if args.backend is None or rest:
            parser.error("faithfulness takes --backend and no other options")
        record = faithfulness(args.backend, args.pairs, args.data_dir)
        summary = f"suite / bare steady epoch = {record['suite_over_bare']:.3f}"
    else:
        record = overhead(args.results_dir, [arg for arg in rest if arg != "--"])
        summary = (
            f"nox -s bench wall {record['wall_seconds']:.0f} s / recorded fit+predict "
            f"{record['recorded_fit_predict_seconds']:.0f} s = {record['wall_over_recorded']:.2f}x"
        )
    verdict = "within target" if record["within_target"] else "OUTSIDE target"
    print(f"{summary}: {verdict}; written to {save(record, args.results_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
