"""The parity verdict: compare the parity runs of every backend; exit 1 on any FAIL.

Usage: python -m bench.parity [--results-dir DIR] [--accuracy-tolerance 0.004]
           [--lockstep-tolerance 1e-5] [--predict-tolerance 1e-5]

Reads what `python -m bench.parity_runs` left in <results-dir>/parity/<machine>/work (one set per
backend), prints PASS or FAIL with the figures for each check, and writes the verdict to
<results-dir>/parity/<machine>/<time>-parity.json. Imports no backend.
"""

import argparse
import itertools
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import git_info, machine_info
from bench.parity_stats import (
    ACCURACY_TOLERANCE,
    LOCKSTEP_TOLERANCE,
    PREDICT_TOLERANCE,
    lockstep_verdict,
    predict_everywhere_verdict,
    statistical_verdict,
)
from digitrec_core.config import BACKENDS
from digitrec_core.results import write_result


class ParityInputError(RuntimeError):
    """The parity runs needed for a verdict are missing or inconsistent."""


def load_runs(work_dir: Path) -> dict[str, dict[str, Any]]:
    """Each backend's parity-run record, in the usual backend order."""
    runs = {}
    for backend in BACKENDS:
        path = work_dir / f"{backend}.json"
        if path.exists():
            runs[backend] = json.loads(path.read_text())
    missing = [backend for backend in BACKENDS if backend not in runs]
    if missing:
        raise ParityInputError(
            f"no parity runs for {', '.join(missing)} in {work_dir}; run nox -s parity (or "
            f"nox -s \"parity_runs(backend='{missing[0]}')\") first"
        )
    return runs


def same_start(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Whether every backend loaded identical initial weights, seed by seed and for lockstep."""
    hashes = {
        backend: [r["initial_weights_sha256"] for r in run["statistical"]["runs"]]
        + [run["lockstep"]["initial_weights_sha256"]]
        for backend, run in runs.items()
    }
    identical = len({tuple(h) for h in hashes.values()}) == 1
    return {"passed": identical, "initial_weights_sha256": hashes}


def divergence_by_epoch(outputs: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Per pair and epoch, the max |difference| of probabilities and weights."""
    rows = []
    for a, b in itertools.combinations(outputs, 2):
        for epoch in range(len(outputs[a]["probabilities"])):
            pa, pb = outputs[a]["probabilities"][epoch], outputs[b]["probabilities"][epoch]
            wa, wb = outputs[a]["weights"][epoch], outputs[b]["weights"][epoch]
            rows.append({
                "pair": f"{a} vs {b}",
                "epoch": epoch + 1,
                "max_abs_probability_difference": float(np.abs(pa - pb).max()),
                "max_abs_weight_difference": float(np.abs(wa - wb).max()),
                "argmax_agreement": float((pa.argmax(1) == pb.argmax(1)).mean()),
            })  # fmt: skip
    return rows


def verdict(work_dir: Path, tolerances: dict[str, float]) -> dict[str, Any]:
    """Run the three checks on the parity runs in `work_dir`."""
    runs = load_runs(work_dir)
    start = same_start(runs)
    samples = {
        backend: [r["test_accuracy"] for r in run["statistical"]["runs"]]
        for backend, run in runs.items()
    }
    statistical = statistical_verdict(samples, tolerances["accuracy"])

    outputs = {}
    for backend, run in runs.items():
        with np.load(work_dir / run["lockstep"]["outputs"]) as saved:
            outputs[backend] = {
                "probabilities": saved["probabilities"],
                "weights": saved["weights"],
            }
    first_epoch = {
        backend: {"probabilities": out["probabilities"][0], "weights": out["weights"][0]}
        for backend, out in outputs.items()
    }
    lockstep = lockstep_verdict(first_epoch, tolerances["lockstep"])
    if not start["passed"]:
        lockstep["passed"] = False
        lockstep["message"] = "the backends did not start from identical weights: " + str(
            start["initial_weights_sha256"]
        )

    trainers = {run["predict_everywhere"]["trainer"] for run in runs.values()}
    if len(trainers) != 1:
        raise ParityInputError(f"the parity runs used different trainers {sorted(trainers)}")
    trainer = trainers.pop()
    predictions = {
        backend: np.load(work_dir / run["predict_everywhere"]["probabilities"])
        for backend, run in runs.items()
    }
    labels = np.asarray(runs[trainer]["test_labels"])
    everywhere = predict_everywhere_verdict(trainer, predictions, labels, tolerances["predict"])

    return {
        "check": "parity",
        "backends": list(runs),
        "versions": {backend: run["versions"] for backend, run in runs.items()},
        "tolerances": tolerances,
        "same_start": start,
        "statistical": {
            **statistical,
            "samples": samples,
            "epochs": runs[trainer]["statistical"]["epochs"],
        },
        "lockstep": {**lockstep, "divergence": divergence_by_epoch(outputs)},
        "predict_everywhere": {**everywhere, "trainer": trainer},
        "confusion_matrices": {
            backend: run["statistical"]["runs"][0]["confusion_matrix"]
            for backend, run in runs.items()
        },
        "passed": bool(statistical["passed"] and lockstep["passed"] and everywhere["passed"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parity", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(os.environ.get("DIGITREC_RESULTS_DIR") or "results"),
    )
    parser.add_argument("--work-dir", type=Path, help="default <results-dir>/parity/<machine>/work")
    parser.add_argument("--accuracy-tolerance", type=float, default=ACCURACY_TOLERANCE)
    parser.add_argument("--lockstep-tolerance", type=float, default=LOCKSTEP_TOLERANCE)
    parser.add_argument("--predict-tolerance", type=float, default=PREDICT_TOLERANCE)
    args = parser.parse_args(argv)
    machine = machine_info()
    parity_dir = args.results_dir / "parity" / machine["id"]
    work_dir = args.work_dir or parity_dir / "work"
    tolerances = {
        "accuracy": args.accuracy_tolerance,
        "lockstep": args.lockstep_tolerance,
        "predict": args.predict_tolerance,
    }
    try:
        record = verdict(work_dir, tolerances)
    except ParityInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for check in ("statistical", "lockstep", "predict_everywhere"):
        outcome = "PASS" if record[check]["passed"] else "FAIL"
        print(f"{check}: {outcome}: {record[check]['message']}")
    created = datetime.now(UTC)
    record = {**record, "created_utc": created.isoformat(), "machine": machine, "git": git_info()}
    path = write_result(record, parity_dir / f"{created:%Y%m%dT%H%M%SZ}-parity.json")
    print(f"parity {'PASS' if record['passed'] else 'FAIL'}; verdict written to {path}")
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
