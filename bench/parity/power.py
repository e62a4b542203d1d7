"""How many seeds the statistical check needs, planned from a verdict's measured paired spread.

Usage: python -m bench.parity.power [VERDICT.json] [--target 0.95]
           (default: the latest verdict under <results-dir>/parity/)

The planning sd is the 95% upper confidence bound of the largest paired sd among the pairs, so
a lucky small estimate cannot shrink the plan. Each pair must pass identical backends with
probability 1 - (1 - target) / pairs, so that all pairs pass together at least `target` of the
time (a union bound). TOST keeps a true difference at the tolerance from passing more than
ALPHA = 5% of the time whatever the number of seeds.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench import cli
from bench.stats import ALPHA, sd_upper_bound, seeds_for_power, tost_power
from digitrec_core.workloads import DEFAULT_WORKLOAD, file_suffix, load_workload

SHOWN_SEEDS = range(3, 9)


def plan(verdict: dict[str, Any], target: float = 0.95) -> dict[str, Any]:
    """The seeds needed for `target`, from the paired sds of a verdict's statistical check."""
    statistical = verdict["statistical"]
    pairs, margin = statistical["pairs"], statistical["tolerance"]
    n = len(statistical["seeds"])
    largest = max(pairs, key=lambda pair: pair["sd"])
    planning_sd = sd_upper_bound(largest["sd"], n)
    per_pair = 1 - (1 - target) / len(pairs)
    table = {
        seeds: {
            "pass_if_identical_per_pair": tost_power(seeds, planning_sd, margin),
            "pass_if_identical_all_pairs_at_least": max(
                0.0, 1 - len(pairs) * (1 - tost_power(seeds, planning_sd, margin))
            ),
            "pass_at_the_tolerance": tost_power(seeds, planning_sd, margin, margin),
        }
        for seeds in SHOWN_SEEDS
    }
    return {
        "measured_from": {"seeds": n, "largest_paired_sd": largest["sd"], "pair": largest["pair"]},
        "paired_sds": {pair["pair"]: pair["sd"] for pair in pairs},
        "planning_sd": planning_sd,
        "margin": margin,
        "alpha": ALPHA,
        "target_all_pairs": target,
        "target_per_pair": per_pair,
        "seeds_needed": seeds_for_power(planning_sd, margin, per_pair),
        "table": table,
    }


def latest_verdict(results_dir: Path, workload: str = DEFAULT_WORKLOAD) -> Path:
    """The newest parity verdict file of `workload` under `results_dir`/parity."""
    pattern = f"*-parity{file_suffix(workload)}.json"
    found = sorted(Path(results_dir, "parity").glob(f"*/{pattern}"), key=lambda p: p.name)
    if not found:
        raise FileNotFoundError(
            f"no parity verdict of {workload} under {results_dir}/parity: run nox -s parity"
        )
    return found[-1]


def parse_verdict_choice(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """A verdict file (default: the workload's latest) and the pass-rate target."""
    parser.add_argument("verdict", nargs="?", type=Path, help="a *-parity*.json verdict file")
    parser.add_argument(
        "--workload", default=DEFAULT_WORKLOAD, help="whose latest verdict (default mlp)"
    )
    cli.add_results_dir(parser)
    parser.add_argument(
        "--target",
        type=float,
        default=0.95,
        help="how often identical backends must pass all pairs together (default 0.95)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.target < 1:
        parser.error(f"--target is a probability strictly between 0 and 1, got {args.target}")
    return args


def chosen_verdict(args: argparse.Namespace) -> Path:
    """The verdict file given, else the newest of the workload's."""
    return args.verdict or latest_verdict(args.results_dir, load_workload(args.workload).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parity.power", description=__doc__.split("\n")[0]
    )
    args = parse_verdict_choice(parser, argv)
    try:
        path = chosen_verdict(args)
        result = plan(json.loads(path.read_text()), args.target)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # WorkloadError is a ValueError
        print(
            f"error: cannot plan from {args.verdict or args.results_dir}: {exc!r}; give a "
            "*-parity.json verdict written by nox -s parity",
            file=sys.stderr,
        )
        return 2
    measured = result["measured_from"]
    print(
        f"{path}: largest paired sd {measured['largest_paired_sd']:.5f} ({measured['pair']}, "
        f"{measured['seeds']} seeds); planning sd (95% upper bound) {result['planning_sd']:.5f}; "
        f"margin ±{result['margin']}"
    )
    print("seeds  P(pass | identical), one pair  all pairs at least  P(pass | at the margin)")
    for seeds, row in result["table"].items():
        print(
            f"{seeds:>5}  {row['pass_if_identical_per_pair']:>29.4f}  "
            f"{row['pass_if_identical_all_pairs_at_least']:>18.4f}  "
            f"{row['pass_at_the_tolerance']:>23.4f}"
        )
    needed = result["seeds_needed"]
    print(
        f"seeds needed for all pairs to pass identical backends {result['target_all_pairs']:.0%} "
        f"of the time: {needed if needed is not None else 'more than 1000'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
