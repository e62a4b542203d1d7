"""Propose a workload's parity tolerances and seeds from what its parity runs measured.

Usage: python -m bench.parity.tolerances [--workload convnet] [VERDICT.json] [--target 0.95]
           (default: the workload's latest verdict under <results-dir>/parity/)

Run `nox -s parity -- --workload NAME` first (with the tolerances the workload has, or the
defaults): its verdict holds the measurements, whatever the tolerances were. The rules are the
MLP's own:

- accuracy: the smallest margin, in steps of 0.1 percentage point, at which the default number
  of seeds passes identical backends in every pair at least `target` of the time, planned from
  the 95% upper bound of the largest paired seed-to-seed sd (as `bench.parity.power` plans);
  then the fewest seeds that reach `target` at that margin;
- step, lockstep and predict: the largest difference measured (relative to each tensor's size
  in a teacher-forced step, leaving out tensors judged by their rounding noise and steps a
  near-tie explains; |difference| after the free-running epoch 1; |difference| when every
  backend predicts from the same file) times LOCKSTEP_HEADROOM, rounded up to a power of ten
  (the MLP measured 2.2e-6 for steps and uses 1e-4).

Prints the proposal and the `Tolerances(...)` to put in the workload's definition. Imports no
backend.
"""

import argparse
import json
import math
import sys
from typing import Any

from bench.parity import options
from bench.parity.power import chosen_verdict, parse_verdict_choice
from bench.stats import ALPHA, sd_upper_bound, seeds_for_power, tost_power
from digitrec_core.workloads import DEFAULT_WORKLOAD

MARGIN_STEP = 0.001
MAX_MARGIN = 0.05
LOCKSTEP_HEADROOM = 5
# A lockstep or predict tolerance wider than this would let a real bug through (a broken
# layer moves probabilities by far more than float32 noise but less than this); none is proposed.
WIDEST_USEFUL = 1e-3


def power_of_ten_above(value: float) -> float:
    """The smallest power of ten at or above `value` (> 0)."""
    return 10.0 ** math.ceil(math.log10(value))


def accuracy_proposal(statistical: dict[str, Any], seeds: int, target: float) -> dict[str, Any]:
    """The smallest margin at which `seeds` pass identical backends `target` of the time."""
    pairs = statistical["pairs"]
    measured_seeds = len(statistical["seeds"])
    largest = max(pairs, key=lambda pair: pair["sd"])
    planning_sd = sd_upper_bound(largest["sd"], measured_seeds)
    per_pair = 1 - (1 - target) / len(pairs)
    steps = round(MAX_MARGIN / MARGIN_STEP)
    margin = next(
        (
            round(step * MARGIN_STEP, 6)
            for step in range(1, steps + 1)
            if tost_power(seeds, planning_sd, step * MARGIN_STEP) >= per_pair
        ),
        None,
    )
    return {
        "largest_paired_sd": largest["sd"],
        "pair": largest["pair"],
        "measured_seeds": measured_seeds,
        "planning_sd": planning_sd,
        "margin": margin,
        "seeds": None if margin is None else seeds_for_power(planning_sd, margin, per_pair),
        "alpha": ALPHA,
    }


def largest_difference(verdict: dict[str, Any], check: str) -> float | None:
    """The largest difference a step, lockstep (epoch 1) or predict-everywhere check measured;
    None where the verdict has no such measurement (steps, before the step check)."""
    if check == "step":
        stepped = verdict.get("teacher_forced")
        if stepped is None:
            return None
        return max(
            row["largest_at_tolerance"]["error"]
            if "largest_at_tolerance" in row
            else row["error"]
            if row["allowed"] <= stepped["tolerance"]
            else 0.0
            for pair in stepped["pairs"]
            for row in pair["by_step"]
            if not row.get("near_tie")
        )
    if check == "lockstep":
        if "lockstep" in verdict:
            rows = verdict["lockstep"]["pairs"]
        else:
            rows = [r for r in verdict["free_running"]["by_epoch"] if r["epoch"] == 1]
        return max(
            max(row["max_abs_probability_difference"], row["max_abs_weight_difference"])
            for row in rows
        )
    return max(row["max_abs_difference"] for row in verdict["predict_everywhere"]["backends"])


def propose(verdict: dict[str, Any], seeds: int, target: float) -> dict[str, Any]:
    """Every proposal from one parity verdict."""
    accuracy = accuracy_proposal(verdict["statistical"], seeds, target)
    measured = {
        check: value
        for check in ("step", "lockstep", "predict")
        if (value := largest_difference(verdict, check)) is not None
    }
    # A measured 0 (bit-identical) still gets float32's headroom, as the MLP's 1e-5 does.
    floor = 1e-6
    proposed = {
        check: power_of_ten_above(max(value, floor) * LOCKSTEP_HEADROOM)
        for check, value in measured.items()
    }
    return {
        "workload": (verdict.get("config") or {}).get("workload", DEFAULT_WORKLOAD),
        "target": target,
        "accuracy": accuracy,
        "measured": measured,
        "tolerances": {
            "accuracy": accuracy["margin"],
            **{
                check: value if value <= WIDEST_USEFUL else None
                for check, value in proposed.items()
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parity.tolerances", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=options.DEFAULT_SEEDS,
        help=f"seeds the parity check will run (default {options.DEFAULT_SEEDS})",
    )
    args = parse_verdict_choice(parser, argv)
    try:
        path = chosen_verdict(args)
        proposal = propose(json.loads(path.read_text()), args.seeds, args.target)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # WorkloadError is a ValueError
        print(
            f"error: cannot propose tolerances from {args.verdict or args.results_dir}: {exc}; "
            f"run nox -s parity -- --workload {args.workload} first",
            file=sys.stderr,
        )
        return 2
    accuracy, tolerances = proposal["accuracy"], proposal["tolerances"]
    print(
        f"{path} ({proposal['workload']}): largest paired accuracy sd "
        f"{accuracy['largest_paired_sd']:.5f} ({accuracy['pair']}, {accuracy['measured_seeds']} "
        f"seeds), planning sd {accuracy['planning_sd']:.5f}"
    )
    if accuracy["margin"] is None:
        print(f"accuracy: no margin up to {MAX_MARGIN} passes with {args.seeds} seeds; run more")
    else:
        print(
            f"accuracy: margin ±{accuracy['margin']:.3f} with {accuracy['seeds']} seeds passes "
            f"identical backends in every pair at least {args.target:.0%} of the time"
        )
    for check, value in proposal["measured"].items():
        if tolerances[check] is None:
            print(
                f"{check}: largest |difference| measured {value:.1e}: the backends do not agree "
                f"within {WIDEST_USEFUL:.0e}, so no tolerance is proposed (one wide enough to pass "
                "would not catch a bug); find out why they diverge first"
            )
        else:
            print(f"{check}: largest |difference| measured {value:.1e} -> {tolerances[check]:.0e}")
    fields = ", ".join(
        f"{name}={value:g}" for name, value in tolerances.items() if value is not None
    )
    print(f"Tolerances({fields})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
