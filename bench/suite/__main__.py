"""Benchmark every backend in one invocation, in interleaved rounds, until the verdict is decided.

Usage: python -m bench.suite [--backends tensorflow,jax,torch] [--devices cpu] [--python SPEC]
           [--min-rounds 3] [--max-rounds 6] [--budget 5] [--profiles default,tuned] [run options]

1. Three neutral GEMM probes (numpy, all cores): the host's speed is their median.
2. The tuned profile's settings: a search in rounds (`bench.suite.tuning`), unless its cache
   applies. A backend whose search keeps the defaults runs no separate tuned profile.
3. Rounds (`bench.suite.rounds`): every backend, device and profile once per round, each a
   fresh `python -m bench.run` in its backend's Python (by default the virtualenv nox made for
   it), in a shuffled order; a short probe after each round; from --min-rounds on, every
   verdict margin is looked at after each round, and the suite stops once each is decided, at
   --max-rounds, or when the next round would likely end past --budget minutes.
4. A full probe, and the schedule record: <results-dir>/schedules/<machine>/<invocation>.json.

Options this CLI does not know go to every bench.run. Each run's output goes to its own log
(<results-dir>/logs/...); the console shows one line per finished run (--verbose: everything).
Exit status 1 if any run failed; the runs that succeeded keep their results.
"""

import argparse
import secrets
import shutil
import sys
from pathlib import Path

from bench import cli
from bench.suite.child import DEFAULT_TIMEOUT
from bench.suite.invocation import Suite
from bench.suite.pythons import (
    DEFAULT_VENVS,
    PythonSpecError,
    parse_specs,
)
from digitrec_core.config import BACKENDS, DEVICES, PROFILES

# A typical 2-core machine runs four rounds of the MLP's four to six groups in these 5.5 minutes,
# and the whole `nox -s bench` within six (docs/methodology.md, Speed verdicts).
DEFAULT_MIN_ROUNDS, DEFAULT_MAX_ROUNDS, DEFAULT_BUDGET_MINUTES = 3, 4, 5.5


def default_devices() -> list[str]:
    """The CPU, and the GPU where one is present (nvidia-smi is found)."""
    return ["cpu", *(["gpu"] if shutil.which("nvidia-smi") else [])]


def comma_list(allowed: tuple[str, ...], what: str):
    """An argparse type: a comma-separated subset of `allowed`, in the order given."""

    def parse(text: str) -> list[str]:
        found = [part for part in text.split(",") if part]
        unknown = [part for part in found if part not in allowed]
        if unknown or not found:
            raise argparse.ArgumentTypeError(
                f"{what} takes a comma-separated subset of {','.join(allowed)}, got {text!r}"
            )
        return list(dict.fromkeys(found))

    return parse


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--backends",
        type=comma_list(BACKENDS, "--backends"),
        default=list(BACKENDS),
        help=f"comma-separated backends to run in the rounds (default {','.join(BACKENDS)})",
    )
    parser.add_argument(
        "--devices",
        type=comma_list(DEVICES, "--devices"),
        default=None,
        help="comma-separated devices (default: cpu, and gpu where nvidia-smi is found)",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="SPEC",
        help="the Python that runs a backend: PATH for all, BACKEND=PATH or "
        "BACKEND:DEVICE=PATH (default: the virtualenv nox -s bench made for it)",
    )
    parser.add_argument(
        "--venvs",
        type=Path,
        default=DEFAULT_VENVS,
        help=f"where nox keeps its virtualenvs (default {DEFAULT_VENVS})",
    )
    parser.add_argument(
        "--profiles",
        type=comma_list(PROFILES, "--profiles"),
        default=list(PROFILES),
        help=f"comma-separated profiles to run (default: {','.join(PROFILES)}); bf16 and fp16 "
        "run the default settings at mixed_bfloat16 and mixed_float16, where the hardware has "
        "them (see --lower-precision)",
    )
    parser.add_argument(
        "--lower-precision",
        choices=("proposed", "all"),
        default="proposed",
        help="which lower-precision profiles the rounds run: those the tuning search proposed "
        "(faster on its subset; default) or all the hardware has; either way only the accuracy "
        "they keep on full data accepts them",
    )
    parser.add_argument(
        "--native",
        action="store_true",
        help="also run each framework's native reference of the MLP (torch: eager and "
        "torch.compile) in the same rounds, for the report's Keras overhead table; kept out of "
        "the ranking",
    )
    parser.add_argument(
        "--min-rounds",
        type=int,
        default=DEFAULT_MIN_ROUNDS,
        help=f"rounds before the verdict is first looked at (default {DEFAULT_MIN_ROUNDS})",
    )
    parser.add_argument(
        "--max-rounds",
        type=int,
        help=f"the most rounds to run (default {DEFAULT_MAX_ROUNDS}, or --min-rounds if more)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_MINUTES,
        metavar="MINUTES",
        help="start no round (beyond --min-rounds) that would likely end past this many "
        "minutes since the first round started; 0: no budget (default "
        f"{DEFAULT_BUDGET_MINUTES:g})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first round; round i uses seed + i"
    )
    parser.add_argument(
        "--order-seed", type=int, help="seed of every round's order (default: a new one, recorded)"
    )
    cli.add_results_dir(parser)
    parser.add_argument(
        "--retune", action="store_true", help="search again even if a cached search matches"
    )
    cli.add_invocation(
        parser,
        f"id shared by everything one nox command runs (default: ${cli.INVOCATION_ENV}, "
        "else a new one)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one run may take before it is stopped and recorded as failed "
        f"(default {DEFAULT_TIMEOUT})",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show every run's own output (framework logs, one line per epoch) as well",
    )
    cli.add_debug(parser)
    args, passthrough = parser.parse_known_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.max_rounds is None:
        args.max_rounds = max(args.min_rounds, DEFAULT_MAX_ROUNDS)
    if not 1 <= args.min_rounds <= args.max_rounds:
        parser.error(
            "--min-rounds and --max-rounds must satisfy 1 <= min <= max, got "
            f"{args.min_rounds} and {args.max_rounds}"
        )
    if not args.budget >= 0:
        parser.error(
            f"--budget must be 0 (none) or a positive number of minutes, got {args.budget}"
        )
    try:
        args.python = parse_specs(args.python)
    except PythonSpecError as exc:
        parser.error(str(exc))
    args.devices = args.devices or default_devices()
    args.invocation = args.invocation or cli.new_invocation_id()
    if args.order_seed is None:
        args.order_seed = secrets.randbelow(2**31)
    return args, passthrough


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(argv)
    suite = Suite(args, passthrough)
    return cli.run_guarded(
        suite.run,
        debug=args.debug,
        interrupted="the run in progress was stopped and wrote nothing; finished runs are kept",
    )


if __name__ == "__main__":
    sys.exit(main())
