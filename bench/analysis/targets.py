"""Target accuracies: which runs reached theirs, and whether a workload's target is well chosen.

    python -m bench.analysis.targets [--results-dir results] [--workload mlp] [--target 0.975]

A workload's target must be reached within its documented epochs by every backend's default
profile in at least 90% of seeds. This reads every full default-profile run with a per-epoch
test accuracy (one per backend and seed: the latest), and prints per backend the share of
seeds that reached the target, a one-sided 95% lower bound on it (Clopper-Pearson), the epoch
it was reached at, and the highest target at least 90% of each backend's seeds reach.
"""

import argparse
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bench import cli
from bench.analysis.collect import NoResultsError, get, read_runs

REQUIRED_SHARE = 0.90
BOUND_CONFIDENCE = 0.95


def target_misses(group_runs: list[dict[str, Any]]) -> tuple[int, int]:
    """(runs that missed the target, runs that measured it): runs without a target left out."""
    targets = [get(result, "metrics.target") for result in group_runs]
    measured = [target for target in targets if isinstance(target, dict)]
    return sum(not target.get("reached") for target in measured), len(measured)


def target_accuracies(group_runs: list[dict[str, Any]]) -> set[float]:
    """The target accuracies the group's runs were held to."""
    return {
        float(target["accuracy"])
        for result in group_runs
        if isinstance(target := get(result, "metrics.target"), dict)
    }


def missed_text(missed: int, runs: int) -> str:
    return f"missed {missed} of {runs}"


def first_epoch_reaching(curve: list[float], target: float) -> int | None:
    """The first epoch (1-based) whose test accuracy reaches `target`; None if none does."""
    return next((epoch for epoch, value in enumerate(curve, 1) if value >= target), None)


def lower_bound(reached: int, seeds: int, confidence: float = BOUND_CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound on the share of seeds that reach the target."""
    if reached == 0:
        return 0.0
    return float(stats.beta.ppf(1 - confidence, reached, seeds - reached + 1))


def highest_target(best: list[float]) -> float:
    """The highest target that at least REQUIRED_SHARE of seeds reach, from each seed's best
    test accuracy over its epochs (sorted)."""
    return float(best[len(best) - math.ceil(REQUIRED_SHARE * len(best))])


def curves(runs: pd.DataFrame, workload: str) -> pd.DataFrame:
    """Per backend and seed, the latest full default-profile run's test accuracy per epoch."""
    rows = []
    for row in runs.itertuples():
        result = row.result
        curve = get(result, "metrics.history.test_accuracy")
        if (
            row.workload != workload
            or row.quick
            or row.profile != "default"
            or not isinstance(curve, list)
            or not curve
        ):
            continue
        rows.append({
            "machine": row.machine,
            "backend": row.backend,
            "device": row.device,
            "seed": get(result, "config.seed"),
            "created": row.created_utc,
            "epochs": get(result, "config.epochs"),
            "documented_epochs": get(result, "workload.settings.epochs"),
            "curve": curve,
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame[frame["epochs"] == frame["documented_epochs"]]
    keys = ["machine", "backend", "device", "seed"]
    return frame.sort_values("created").groupby(keys, as_index=False).tail(1)


def check_target(found: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per machine, backend and device: seeds, share reaching `target`, its lower bound."""
    rows = []
    for (machine, backend, device), same in found.groupby(["machine", "backend", "device"]):
        epochs = [first_epoch_reaching(curve, target) for curve in same["curve"]]
        reached = [epoch for epoch in epochs if epoch is not None]
        best = sorted(max(curve) for curve in same["curve"])
        rows.append({
            "machine": machine,
            "backend": backend,
            "device": device,
            "seeds": len(epochs),
            "reached": len(reached),
            "share": len(reached) / len(epochs),
            "lower_bound": lower_bound(len(reached), len(epochs)),
            "median_epoch": float(np.median(reached)) if reached else None,
            "highest_target_90": highest_target(best),
        })  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analysis.targets", description=__doc__.split("\n")[0]
    )
    cli.add_results_dir(parser)
    parser.add_argument("--workload", default="mlp")
    parser.add_argument("--target", type=float, help="default: the workload's own")
    args = parser.parse_args(argv)
    from digitrec_core.workloads import WorkloadError, load_workload

    try:
        target = args.target or load_workload(args.workload).target_accuracy
        runs = read_runs(args.results_dir, lambda message: None, "run `nox -s bench` first").runs
    except (NoResultsError, WorkloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_REFUSED
    if target is None:
        print(f"error: workload {args.workload!r} has no target; pass --target", file=sys.stderr)
        return cli.EXIT_REFUSED
    found = curves(runs, args.workload)
    if found.empty:
        print(
            f"error: no full default-profile run of {args.workload!r} with a per-epoch test "
            "accuracy: run `nox -s bench` (schema version 4 runs record it)",
            file=sys.stderr,
        )
        return cli.EXIT_REFUSED
    table = check_target(found, target)
    print(
        f"{args.workload}: target {target} within the documented epochs, default profile; "
        f"needed: at least {REQUIRED_SHARE:.0%} of seeds per backend"
    )
    for row in table.itertuples():
        verdict = "ok" if row.share >= REQUIRED_SHARE else "TOO HIGH"
        epoch = "—" if row.median_epoch is None else f"{row.median_epoch:g}"
        print(
            f"  {row.machine} {row.backend}/{row.device}: {row.reached} of {row.seeds} seeds "
            f"({row.share:.0%}, one-sided {BOUND_CONFIDENCE:.0%} lower bound "
            f"{row.lower_bound:.0%}), median epoch {epoch}; 90% of its seeds reach "
            f"{row.highest_target_90:.4f}: {verdict}"
        )
    return 0 if (table["share"] >= REQUIRED_SHARE).all() else 1


if __name__ == "__main__":
    sys.exit(main())
