"""The parity verdict: compare every backend's parity runs; exit 1 on FAIL or INCONCLUSIVE.

Usage: python -m bench.parity [--results-dir DIR] [--work-dir DIR] [--session ID]
           [--workload mlp] [--accuracy-tolerance A] [--step-tolerance S]
           [--lockstep-tolerance L] [--predict-tolerance P]

Reads what `python -m bench.parity.runs` left in <results-dir>/parity/<machine>/work (one set per
backend), refuses records that do not come from one session, commit, configuration and data,
prints PASS, FAIL or INCONCLUSIVE with the figures for each check, and writes the verdict to
<results-dir>/parity/<machine>/<time>-parity.json. Imports no backend.
"""

import argparse
import itertools
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import cli
from bench.host.machine import git_info, machine_info
from bench.parity import options, teacher
from bench.parity.checks import (
    overall_outcome,
    predict_everywhere_verdict,
    statistical_verdict,
)
from bench.parity.step_compare import free_running, teacher_forced_verdict
from bench.stats import FAIL, PASS
from digitrec_core.config import BACKENDS
from digitrec_core.results import write_result
from digitrec_core.workloads import DEFAULT_WORKLOAD, file_suffix, load_workload

# The verdict's layout: 2 judges lockstep by teacher-forced steps (1, and none: a whole epoch).
FORMAT = 2

# What every backend's record must share for the verdict to compare like with like.
MUST_AGREE = {
    "session": "session",
    "commit": "git.commit",
    "uncommitted changes": "git.dirty",
    "configuration": "config",
    "data": "data.content_sha256",
    "data checksums verified": "data.checksums_verified",
    "machine": "machine.id",
    "trained model file": "predict_everywhere.model_sha256",
    "teacher-forced states": "teacher_forced.reference_sha256",
    "teacher-forced batches": "teacher_forced.batches_sha256",
    "test labels": "test_labels",
}
RERUN = "rerun every backend in one session: nox -s parity"


class ParityInputError(RuntimeError):
    """The parity runs needed for a verdict are missing or inconsistent."""


def dotted(record: Mapping[str, Any], path: str) -> Any:
    """The value at `path` ("git.commit") in `record`; None where it is absent."""
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def load_records(work_dir: Path) -> dict[str, dict[str, Any]]:
    """Each backend's parity-run record, in the usual backend order."""
    records, missing = {}, []
    for backend in BACKENDS:
        path = work_dir / f"{backend}.json"
        if not path.exists():
            missing.append(backend)
            continue
        try:
            records[backend] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ParityInputError(f"{path} is unreadable ({exc}); {RERUN}") from exc
    if missing:
        raise ParityInputError(
            f"no parity runs for {', '.join(missing)} in {work_dir}; run nox -s parity (or "
            f"nox -s \"parity_runs(backend='{missing[0]}')\") first"
        )
    return records


def check_consistent(records: Mapping[str, Mapping[str, Any]], session: str | None) -> None:
    """Refuse records from other sessions, commits, configurations, data or machines."""
    for name, path in MUST_AGREE.items():
        values = {backend: dotted(record, path) for backend, record in records.items()}
        if any(value is None for value in values.values()) and path != "git.dirty":
            lacking = [backend for backend, value in values.items() if value is None]
            raise ParityInputError(
                f"the parity records of {', '.join(lacking)} lack their {name} ({path}); they "
                f"were written by an older digitrec: {RERUN}"
            )
        if len({json.dumps(value, sort_keys=True) for value in values.values()}) > 1:
            shown = ", ".join(f"{backend}: {str(value)[:40]}" for backend, value in values.items())
            raise ParityInputError(
                f"the parity records do not belong together: their {name} differs ({shown}); "
                + RERUN
            )
    found = dotted(next(iter(records.values())), "session")
    if session is not None and found != session:
        raise ParityInputError(
            f"the parity records come from session {found}, not from this session {session}; "
            f"{RERUN}"
        )


def load_arrays(work_dir: Path, records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
    """Each backend's lockstep, free-running and teacher-forced outputs and its predictions."""
    arrays = {}
    for backend, record in records.items():
        try:
            with np.load(work_dir / record["lockstep"]["outputs"]) as saved:
                lockstep = {"probabilities": saved["probabilities"], "weights": saved["weights"]}
            with np.load(work_dir / record["free_running"]["outputs"]) as saved:
                path = {"steps": saved["steps"].tolist(), "weights": saved["weights"]}
            steps = teacher.load_outputs(work_dir / record["teacher_forced"]["outputs"])
            predictions = np.load(work_dir / record["predict_everywhere"]["probabilities"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ParityInputError(
                f"the parity outputs of {backend} in {work_dir} are missing or unreadable "
                f"({exc!r}); {RERUN}"
            ) from exc
        arrays[backend] = {
            **lockstep,
            "free_running": path,
            "teacher_forced": steps,
            "predict_everywhere": predictions,
        }
    return arrays


def same_start(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Whether every backend loaded identical initial weights, seed by seed and for lockstep."""
    hashes = {
        backend: [r["initial_weights_sha256"] for r in record["statistical"]["runs"]]
        + [record["lockstep"]["initial_weights_sha256"]]
        for backend, record in records.items()
    }
    identical = len({tuple(h) for h in hashes.values()}) == 1
    return {"passed": identical, "initial_weights_sha256": hashes}


def divergence_by_epoch(arrays: Mapping[str, Mapping[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Per pair and epoch, the max |difference| of probabilities and weights."""
    rows = []
    for a, b in itertools.combinations(arrays, 2):
        for epoch in range(len(arrays[a]["probabilities"])):
            pa, pb = arrays[a]["probabilities"][epoch], arrays[b]["probabilities"][epoch]
            wa, wb = arrays[a]["weights"][epoch], arrays[b]["weights"][epoch]
            rows.append({
                "pair": f"{a} vs {b}",
                "epoch": epoch + 1,
                "max_abs_probability_difference": float(np.abs(pa - pb).max()),
                "max_abs_weight_difference": float(np.abs(wa - wb).max()),
                "argmax_agreement": float((pa.argmax(1) == pb.argmax(1)).mean()),
            })  # fmt: skip
    return rows


def decide(
    records: Mapping[str, Mapping[str, Any]],
    arrays: Mapping[str, Mapping[str, np.ndarray]],
    tolerances: Mapping[str, float],
) -> dict[str, Any]:
    """The three checks on every backend's (in-memory) parity runs."""
    start = same_start(records)
    accuracies = {
        backend: {r["seed"]: r["test_accuracy"] for r in record["statistical"]["runs"]}
        for backend, record in records.items()
    }
    try:
        statistical = statistical_verdict(accuracies, tolerances["accuracy"])
    except ValueError as exc:
        raise ParityInputError(f"no statistical verdict: {exc}") from exc

    first = next(iter(records.values()))
    taught = first["teacher_forced"]
    try:
        stepped = teacher_forced_verdict(
            {backend: out["teacher_forced"] for backend, out in arrays.items()},
            taught["names"],
            tolerances["step"],
            reference=first["predict_everywhere"]["trainer"],
            localized={
                backend: {
                    int(step): rows for step, rows in record["teacher_forced"]["localizer"].items()
                }
                for backend, record in records.items()
            },
            samples=taught["samples"],
            digests={
                backend: {
                    int(step): found
                    for step, found in record["teacher_forced"].get("digests", {}).items()
                }
                for backend, record in records.items()
            },
        )
        diagnostic = free_running(
            {backend: out["free_running"] for backend, out in arrays.items()},
            first["free_running"]["sizes"],
            tolerances["step"],
            {
                backend: {int(s): d for s, d in record["free_running"]["digests"].items()}
                for backend, record in records.items()
            },
        )
    except ValueError as exc:
        raise ParityInputError(f"no lockstep verdict: {exc}; {RERUN}") from exc
    if not start["passed"]:
        stepped = {
            **stepped,
            "outcome": FAIL,
            "passed": False,
            "message": "the backends did not start from identical weights: "
            + str(start["initial_weights_sha256"]),
        }
    first = next(iter(records.values()))
    trainer = first["predict_everywhere"]["trainer"]
    everywhere = predict_everywhere_verdict(
        trainer,
        {backend: out["predict_everywhere"] for backend, out in arrays.items()},
        np.asarray(first["test_labels"]),
        tolerances["predict"],
    )
    outcome = overall_outcome([statistical["outcome"], stepped["outcome"], everywhere["outcome"]])
    return {
        "check": "parity",
        "format": FORMAT,
        "backends": list(records),
        "versions": {backend: record.get("versions") for backend, record in records.items()},
        "tolerances": dict(tolerances),
        "same_start": start,
        "statistical": {**statistical, "epochs": first["statistical"]["epochs"]},
        "teacher_forced": {**stepped, "localizer_samples": taught["samples"]},
        "free_running": {
            **diagnostic,
            "by_epoch": divergence_by_epoch(arrays),
            "epoch_tolerance": tolerances["lockstep"],
        },
        "predict_everywhere": {**everywhere, "trainer": trainer},
        "confusion_matrices": {
            backend: record["statistical"]["runs"][0]["confusion_matrix"]
            for backend, record in records.items()
        },
        "outcome": outcome,
        "passed": outcome == PASS,
    }


def verdict(
    work_dir: Path, tolerances: Mapping[str, float], session: str | None = None
) -> dict[str, Any]:
    """Load the parity runs in `work_dir`, check they belong together, and decide."""
    records = load_records(work_dir)
    check_consistent(records, session)
    result = decide(records, load_arrays(work_dir, records), tolerances)
    first = next(iter(records.values()))
    provenance = {key: first[key] for key in ("session", "config", "data")}
    return {**result, **provenance, "runs_git": first["git"]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.parity", description=__doc__.split("\n")[0]
    )
    options.add_verdict_options(parser)
    options.add_shared_options(parser)
    options.add_runs_options(parser, shown=False)
    cli.add_debug(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run_guarded(lambda: run(args), debug=args.debug, interrupted="no verdict written")


def run(args: argparse.Namespace) -> int:
    machine = machine_info()
    parity_dir = options.parity_dir(args.results_dir, machine["id"])
    try:
        workload = load_workload(args.workload)
        work_dir = args.work_dir or options.work_dir_for(
            args.results_dir, machine["id"], workload.name
        )
        record = verdict(work_dir, options.tolerances_of(args, workload), args.session)
        if record["config"].get("workload", DEFAULT_WORKLOAD) != workload.name:
            raise ParityInputError(
                f"the parity runs in {work_dir} are of workload "
                f"{record['config'].get('workload')!r}, not {workload.name!r}; {RERUN}"
            )
    except (ParityInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for check in ("statistical", "teacher_forced", "free_running", "predict_everywhere"):
        if check == "free_running":
            print(f"free-running (a diagnostic): {record[check]['message']}")
            continue
        print(f"{check}: {record[check]['outcome']}: {record[check]['message']}")
    created = datetime.now(UTC)
    record = {**record, "created_utc": created.isoformat(), "machine": machine, "git": git_info()}
    suffix = file_suffix(workload.name)
    path = write_result(record, parity_dir / f"{created:%Y%m%dT%H%M%SZ}-parity{suffix}.json")
    print(f"parity {record['outcome']}; verdict written to {path}")
    return 0 if record["passed"] else 1
