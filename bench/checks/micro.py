"""Run the pytest-benchmark micro-benchmarks under KERAS_BACKEND and keep their JSON.

Usage: python -m bench.checks.micro [--results-dir DIR] [pytest options,
       e.g. --benchmark-max-time=2]

Writes pytest-benchmark's own JSON (machine_info, commit_info, stats, raw data), unchanged, to
<results-dir>/micro/<machine id>/<UTC time>-<backend>.json and prints its path.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import cli
from bench.host.machine import machine_info
from digitrec_core.config import BACKENDS
from digitrec_core.results import write_text_atomically

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks" / "test_micro.py"


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """This CLI's options, and the rest, which go to pytest."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.checks.micro",
        description=__doc__.split("\n")[0],
        epilog="Any other option goes to pytest (and so to pytest-benchmark).",
        allow_abbrev=False,
    )
    cli.add_results_dir(parser, "results, whose micro/ receives the JSON")
    args, pytest_args = parser.parse_known_args(argv)
    backend = os.environ.get("KERAS_BACKEND")
    if backend not in BACKENDS:
        parser.error(
            f"KERAS_BACKEND must be one of {BACKENDS}, got {backend!r}: run through "
            "`nox -s microbench`, or set it in a virtualenv that has that backend"
        )
    args.backend = backend
    return args, [arg for arg in pytest_args if arg != "--"]


def main(argv: list[str] | None = None) -> int:
    args, pytest_args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="digitrec-micro-") as tmp:
        json_path = Path(tmp, "benchmark.json")
        command = [
            sys.executable, "-m", "pytest", str(BENCHMARKS), "-q", "-p", "no:cacheprovider",
            f"--benchmark-json={json_path}", *pytest_args,
        ]  # fmt: skip
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            message = f"error: the micro-benchmarks failed (pytest exit {done.returncode})"
            print(message, file=sys.stderr)
            return done.returncode
        text = json_path.read_text(encoding="utf-8") if json_path.exists() else "{}"
    if not json.loads(text).get("benchmarks"):
        message = "error: pytest-benchmark timed nothing (--benchmark-disable?), so nothing is kept"
        print(message, file=sys.stderr)
        return 1
    created = datetime.now(UTC)
    name = f"{created:%Y%m%dT%H%M%SZ}-{args.backend}.json"
    out = args.results_dir / "micro" / machine_info()["id"] / name
    if out.exists():
        print(f"error: {out} exists; results are never overwritten", file=sys.stderr)
        return 1
    write_text_atomically(out, text)
    print(f"micro-benchmarks written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
