"""Compare the current results with a baseline results folder, metric by metric.

Usage: python -m bench.compare BASELINE_DIR [--results-dir DIR] [--out FILE]
                               [--min-effect 0.05] [--fail-on-regression]
"""

import argparse
import json
import sys
from pathlib import Path

from bench import cli
from bench.analysis.collect import NoResultsError
from bench.compare.matching import compare_sides, read_side
from bench.compare.table import markdown, record, regression_line, summary_line, table
from bench.report.build import warn_on_stderr
from bench.stats import MIN_SPEED_EFFECT
from digitrec_core.results import write_text_atomically


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "baseline_dir", type=Path, help="the baseline's results folder (the one holding runs/)"
    )
    cli.add_results_dir(parser, "current results, whose runs/ holds the result files")
    parser.add_argument(
        "--out",
        type=Path,
        help="Markdown file (default: <results-dir>/comparison.md); the JSON goes beside it",
    )
    parser.add_argument(
        "--min-effect",
        type=float,
        default=MIN_SPEED_EFFECT,
        help="smallest slowdown or speed-up called a regression or an improvement "
        f"(default {MIN_SPEED_EFFECT})",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit with status 1 when any compared metric is a REGRESSION",
    )
    cli.add_debug(parser)
    args = parser.parse_args(argv)
    if not 0 < args.min_effect < 1:
        parser.error(f"--min-effect must lie between 0 and 1, got {args.min_effect}")
    args.out = args.out or args.results_dir / "comparison.md"
    if args.out.suffix == ".json":
        parser.error(f"--out names the Markdown file, got {args.out}; its JSON goes beside it")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run_guarded(lambda: run(args), debug=args.debug, interrupted="no comparison written")


def run(args: argparse.Namespace) -> int:
    try:
        baseline = read_side(
            args.baseline_dir,
            warn_on_stderr,
            "pass the baseline's results folder, the one whose runs/ holds its result files",
        )
        current = read_side(
            args.results_dir,
            warn_on_stderr,
            "run `nox -s bench` first, or point --results-dir (or DIGITREC_RESULTS_DIR) at the "
            "folder whose runs/ holds the current results",
        )
    except NoResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    comparison = compare_sides(baseline, current, args.min_effect)
    json_path = args.out.with_suffix(".json")
    write_text_atomically(args.out, markdown(comparison))
    text = json.dumps(record(comparison), indent=1, allow_nan=False)
    write_text_atomically(json_path, text + "\n")
    print(table(comparison))
    print(f"\ncomparison written to {args.out} and {json_path}")
    print(summary_line(comparison))
    regressions = comparison.regressions()
    if args.fail_on_regression and regressions:
        for item in regressions:
            print(f"regression: {regression_line(item)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
