"""Compile the result files into a Markdown report with figures.

Usage: python -m bench.report [--results-dir DIR] [--out PATH]
"""

import argparse
import sys
from pathlib import Path

from bench import cli
from bench.analysis.collect import NoResultsError
from bench.report.build import build_report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n")[0]
    )
    cli.add_results_dir(
        parser, "results, whose runs/ holds the result files (figures go to its figures/)"
    )
    parser.add_argument("--out", type=Path, help="report file (default: <results-dir>/report.md)")
    cli.add_debug(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run_guarded(
        lambda: run(args),
        debug=args.debug,
        interrupted="the report file was not replaced; rerun it",
    )


def run(args: argparse.Namespace) -> int:
    try:
        path = build_report(args.results_dir, args.out)
    except NoResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
