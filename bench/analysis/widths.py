"""What pairing by round buys: every cross-backend margin's interval, paired and unpaired.

    python -m bench.analysis.widths [--results-dir results] [--invocation ID]

For the rounds invocation given (default: the latest one with a schedule record), each verdict
margin between two backends is computed twice from the same runs: paired by round, as the
verdict does, and unpaired (Welch), as it would be had the backends run in separate windows.
The widths are the intervals' high / low, at the invocation's level.
"""

import argparse
import sys

import numpy as np

from bench import cli
from bench.analysis.collect import NoResultsError, add_labels, read_runs, select_latest
from bench.analysis.decision import SCOPES, TASKS, as_times, best_per_backend, task_key
from bench.analysis.pairing import confidence_of, paired_samples
from bench.analysis.schedules import load_schedules
from bench.stats import compare_speed


def margin_pair(winner, other, task) -> tuple[dict, dict] | None:
    """(paired, unpaired) compare_speed of `other` against `winner` for `task`, same runs."""
    dotted = task_key([*winner.row.group_runs, *other.row.group_runs], task)
    if dotted is None:
        return None
    slow, fast, paired = paired_samples(other.row, winner.row, dotted)
    if not paired:
        return None
    slow, fast = as_times(slow, task), as_times(fast, task)
    level = confidence_of(other.row, winner.row, True)
    return (
        compare_speed(slow, fast, paired=True, confidence=level),
        compare_speed(slow, fast, paired=False, confidence=level),
    )


def widths(groups) -> list[dict]:
    """One row per task, scope and margin: its ratio and both intervals."""
    rows = []
    for task in TASKS:
        for scope, scope_name in SCOPES.items():
            candidates = best_per_backend(groups, task, scope, set())
            for other in candidates[1:]:
                found = margin_pair(candidates[0], other, task)
                if found is None:
                    continue
                paired, unpaired = found
                rows.append({
                    "margin": f"{task.name} ({scope_name}): {candidates[0].name} over "
                    f"{other.name}",
                    "ratio": paired["ratio"],
                    "paired": paired["ci95"],
                    "unpaired": unpaired["ci95"],
                })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analysis.widths", description=__doc__.split("\n")[0]
    )
    cli.add_results_dir(parser)
    parser.add_argument("--invocation", help="a rounds invocation (default: the latest)")
    args = parser.parse_args(argv)
    try:
        runs = read_runs(args.results_dir, lambda message: None, "run `nox -s bench` first").runs
    except NoResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return cli.EXIT_REFUSED
    schedules = load_schedules(args.results_dir, lambda message: None)
    invocation = args.invocation or max(
        (key[1] for key in schedules), default=None, key=lambda inv: inv or ""
    )
    chosen = runs[runs["invocation"] == invocation]
    if invocation is None or chosen.empty:
        where = f"{invocation or ''} under {args.results_dir}"
        print(f"error: no runs of a rounds invocation {where}", file=sys.stderr)
        return cli.EXIT_REFUSED
    groups = add_labels(select_latest(chosen, schedules))
    rows = widths(groups)
    print(
        f"invocation {invocation}: {len(rows)} cross-backend margins, intervals at the "
        "invocation's level, paired by round and unpaired (Welch), from the same runs"
    )
    ratios = []
    for row in rows:
        low, high = row["paired"]
        ulow, uhigh = row["unpaired"]
        ratios.append(np.log(high / low) / np.log(uhigh / ulow))
        print(
            f"{row['margin']}: {row['ratio']:.2f}×  paired [{low:.2f}–{high:.2f}]  "
            f"unpaired [{ulow:.2f}–{uhigh:.2f}]"
        )
    if ratios:
        print(f"median paired / unpaired width (on log scale): {np.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
