"""Run the pytest-benchmark micro-benchmarks under KERAS_BACKEND and keep their JSON.

Usage: python -m bench.micro [--results-dir DIR] [-- extra pytest options]
Writes pytest-benchmark's own JSON (machine_info, commit_info, stats, raw data) to
<results-dir>/micro/<machine id>/<UTC time>-<backend>.json.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import machine_info
from digitrec_core.results import write_text_atomically

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks" / "test_micro.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.micro", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(os.environ.get("DIGITREC_RESULTS_DIR") or "results"),
    )
    args, pytest_args = parser.parse_known_args(argv)
    backend = os.environ.get("KERAS_BACKEND")
    if not backend:
        parser.error("KERAS_BACKEND is not set: run through nox -s microbench, or set it")
    with tempfile.TemporaryDirectory(prefix="digitrec-micro-") as tmp:
        json_path = Path(tmp, "benchmark.json")
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(BENCHMARKS),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={json_path}",
            *[a for a in pytest_args if a != "--"],
        ]
        done = subprocess.run(command, check=False)
        if done.returncode != 0 or not json_path.exists():
            print(f"error: the micro-benchmarks failed (exit {done.returncode})", file=sys.stderr)
            return 1
        created = datetime.now(UTC)
        out = (
            args.results_dir
            / "micro"
            / machine_info()["id"]
            / (f"{created:%Y%m%dT%H%M%SZ}-{backend}.json")
        )
        if out.exists():
            print(f"error: {out} exists; results are never overwritten", file=sys.stderr)
            return 1
        write_text_atomically(out, json_path.read_text())
    print(f"micro-benchmarks written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
