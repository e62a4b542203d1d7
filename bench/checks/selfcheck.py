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
from bench.analysis.schedules import SCHEDULES_DIR
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


# Where a run process's time goes, beside its fit and predict time (timings keys).
PROCESS_PARTS = (
    "startup_seconds",
    "data_load_seconds",
    "model_build_seconds",
    "framework_probe_seconds",
)


def overhead_breakdown(
    wall_seconds: float,
    results: list[dict[str, Any]],
    schedules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Where the wall time of a suite run went, from the results and schedule records it wrote.

    The suite's own phases (start and end probes, the tuning search, the rounds with their
    between-round probes) come from its schedule records; inside the run processes, what they
    recorded: fit and predict (RECORDED_TIMINGS) and the parts in PROCESS_PARTS, the rest
    being the record and its writing.
    """
    recorded = sum(recorded_seconds(result) for result in results)
    process = sum(result["timings"].get("process_wall_seconds") or 0.0 for result in results)
    parts = {
        name: sum(result["timings"].get(name) or 0.0 for result in results)
        for name in PROCESS_PARTS
    }
    phases: dict[str, float] = {}
    for schedule in schedules or []:
        for name, seconds in (schedule.get("phase_seconds") or {}).items():
            phases[name] = phases.get(name, 0.0) + seconds
    search = phases.get("tuning search", 0.0)
    rounds = phases.get("rounds")
    ratio = wall_seconds / recorded if recorded else None
    return {
        "wall_seconds": wall_seconds,
        "runs": len(results),
        "rounds": sum(len(s.get("rounds") or []) for s in schedules or []),
        "stopped": [(s.get("stopped") or {}).get("text") for s in schedules or []],
        "recorded_fit_predict_seconds": recorded,
        "recorded_timings": list(RECORDED_TIMINGS),
        "run_processes_seconds": process,
        "in_process_overhead_seconds": process - recorded,
        "in_process_parts_seconds": {
            **parts,
            "rest_seconds": process - recorded - sum(parts.values()),
        },
        "suite_phase_seconds": phases,
        "between_runs_seconds": None if rounds is None else rounds - process,
        "tuning_search_seconds": search,
        "outside_suite_seconds": wall_seconds - sum(phases.values()) if phases else None,
        "wall_over_recorded": ratio,
        "target": OVERHEAD_TARGET,
        "within_target": ratio is not None and ratio <= OVERHEAD_TARGET,
    }


def overhead(results_dir: Path, nox_args: list[str]) -> dict[str, Any]:
    """Time `nox -s bench` and relate it to the runs it wrote into `results_dir`."""
    before = set(iter_result_paths(results_dir))
    schedules_before = set(Path(results_dir, SCHEDULES_DIR).glob("*/*.json"))
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
    schedules = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(Path(results_dir, SCHEDULES_DIR).glob("*/*.json"))
        if path not in schedules_before
    ]
    breakdown = overhead_breakdown(wall, new, schedules)
    return {"check": "overhead", "nox_args": nox_args, **breakdown}


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
