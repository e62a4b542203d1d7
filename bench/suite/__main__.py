"""Benchmark one backend the way `nox -s bench` does: repeated fresh-process runs, two profiles.

Usage: python -m bench.suite --backend jax [--repeats 5] [--profiles default,tuned] [-- options]

- First and last, the backend-neutral GEMM probe (numpy, all cores) measures the host's speed;
  its records go to <results-dir>/probes/<machine>/.
- `tuned` first needs its settings: a short search over the settings that decide speed on this
  backend (each candidate a fresh process on a data subset). The search is cached in
  <results-dir>/tuning/<machine>/<backend>-<device>.json and reused while the hardware, host
  speed, versions, options and search space are unchanged (`--retune` forces a new one).
- Then `--repeats` full runs of each profile, each in a fresh process (`python -m bench.run`),
  interleaved (default 1, tuned 1, default 2, ...) so that drift slows both profiles alike.

Options this CLI does not know are passed to every `bench.run`. Exit status 1 if any run failed;
the runs that succeeded keep their results.
"""

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cli
from bench.host import gemm_probe
from bench.host.machine import git_info, machine_info
from bench.suite.child import DEFAULT_TIMEOUT, Outcome
from bench.suite.failures import write_failure
from bench.suite.repeats import DEFAULT_REPEATS, BackendUnavailable, run_repeats
from bench.suite.tuning import settings_args, tuning_record, workload_of
from digitrec_core.config import BACKENDS, DEVICES, PROFILES
from digitrec_core.results import write_result


def probe_host(args: argparse.Namespace, phase: str, log) -> dict[str, Any]:
    """Run the neutral GEMM probe and keep its record under <results-dir>/probes/<machine>/."""
    probe = gemm_probe.neutral_probe()
    machine = machine_info()
    created = datetime.now(UTC)
    record = {
        "check": "neutral-gemm-probe",
        "invocation": args.invocation,
        "phase": phase,
        "suite_backend": args.backend,
        "created_utc": created.isoformat(),
        "machine": machine,
        "git": git_info(),
        "probe": probe,
    }
    name = f"{created:%Y%m%dT%H%M%SZ}-{args.invocation}-{args.backend}-{phase}.json"
    write_result(record, Path(args.results_dir, "probes", machine["id"], name))
    log(
        f"neutral GEMM probe ({phase}): {probe['square_gflops']:.0f} GFLOP/s at 2048², "
        f"{probe['model_shapes_gflops']:.0f} at the model's shapes, "
        f"{probe['busy_cores']:.2f} cores busy"
    )
    return probe


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help=f"runs per profile (default {DEFAULT_REPEATS})",
    )
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first repeat; repeat i uses seed + i"
    )
    cli.add_results_dir(parser)
    parser.add_argument(
        "--retune", action="store_true", help="search again even if a cached search matches"
    )
    cli.add_invocation(
        parser,
        f"id shared by every suite of one nox command (default: ${cli.INVOCATION_ENV}, "
        "else a new one)",
    )
    parser.add_argument(
        "--profiles",
        default="default,tuned",
        help="comma-separated profiles to run (default: default,tuned)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one run may take before it is stopped and recorded as failed "
        f"(default {DEFAULT_TIMEOUT})",
    )
    cli.add_debug(parser)
    args, passthrough = parser.parse_known_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    profiles = [p for p in args.profiles.split(",") if p]
    unknown = sorted(set(profiles) - set(PROFILES))
    if unknown or not profiles:
        parser.error(
            f"--profiles takes a comma-separated subset of {PROFILES}, got {args.profiles}"
        )
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    args.profiles = profiles
    args.invocation = args.invocation or cli.new_invocation_id()
    return args, passthrough


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(argv)
    return cli.run_guarded(
        lambda: run_suite(args, passthrough),
        debug=args.debug,
        interrupted="the run in progress was stopped and wrote nothing; finished runs are kept",
    )


def run_suite(args: argparse.Namespace, passthrough: list[str]) -> int:
    """The probes, the search and the repeats; failed runs are recorded and the rest go on."""

    def log(line: str) -> None:
        print(f"[suite] {line}", flush=True)

    def record(outcome: Outcome, profile: str, index: int | None = None) -> None:
        path = write_failure(
            args.results_dir,
            outcome,
            backend=args.backend,
            device=args.device,
            profile=profile,
            invocation=args.invocation,
            repeat_index=index,
            workload=workload_of(passthrough),
        )
        log(f"failure recorded in {path}")

    log(f"invocation {args.invocation}")
    host_gflops = gemm_probe.host_gflops(probe_host(args, "start", log))
    passthrough += [
        "--results-dir", str(args.results_dir),
        "--device", args.device,
        "--invocation", args.invocation,
    ]  # fmt: skip
    profiles: dict[str, list[str]] = {}
    if "default" in args.profiles:
        profiles["default"] = []
    failures = 0
    if "tuned" in args.profiles:
        trial_args = [*passthrough, "--seed", str(args.seed)]
        try:
            search_record = tuning_record(args, trial_args, host_gflops, log)
        except BackendUnavailable as exc:
            record(exc.outcome, "tuned")
            log(f"error: {args.backend} cannot be imported: {exc}; no runs")
            return 1
        except RuntimeError as exc:
            log(f"error: {exc}; no tuned runs")
            failures += 1
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
                json.dump(search_record, tmp)
            profiles["tuned"] = [
                *settings_args(search_record["chosen"]),
                "--tuning-record",
                tmp.name,
            ]
    try:
        failures += run_repeats(
            args.backend,
            profiles,
            args.repeats,
            passthrough,
            log,
            seed=args.seed,
            on_failure=record,
            timeout=args.timeout,
        )
    finally:
        if "tuned" in profiles:
            Path(profiles["tuned"][-1]).unlink(missing_ok=True)
    probe_host(args, "end", log)
    if failures:
        log(f"{failures} run(s) or search(es) failed; the others' results are kept")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
