"""Benchmark one backend the way `nox -s bench` does: repeated fresh-process runs, two profiles.

Usage: python -m bench.suite --backend jax [--repeats 3] [--profiles default,tuned] [-- options]

- `default`: the documented settings (Keras defaults), run `--repeats` times, each in a fresh
  process (`python -m bench.run`).
- `tuned`: first a short search over the settings that decide speed on this backend (each
  candidate a fresh process on a data subset), then `--repeats` full runs with the fastest.
  The search is cached in <results-dir>/tuning/<machine>/<backend>-<device>.json and reused
  while the machine, versions and search space are unchanged (`--retune` forces a new one).

Options this CLI does not know are passed to every `bench.run`. Exit status 1 if any run failed;
the runs that succeeded keep their results.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.machine import machine_info
from digitrec_core.config import BACKENDS, DEVICES, PROFILES
from digitrec_core.results import write_text_atomically

# Candidates per backend, first = Keras defaults. torch refuses steps_per_execution > 1, and JAX
# threads can only be limited to one (see bench.backends.environment_for).
SEARCH_SPACE: dict[str, list[dict[str, Any]]] = {
    "tensorflow": [
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None},
        {"jit_compile": False, "steps_per_execution": 32, "threads": None},
        {"jit_compile": True, "steps_per_execution": 32, "threads": None},
        {"jit_compile": False, "steps_per_execution": 32, "threads": 1},
    ],
    "jax": [
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None},
        {"jit_compile": True, "steps_per_execution": 32, "threads": None},
        {"jit_compile": False, "steps_per_execution": 1, "threads": None},
        {"jit_compile": True, "steps_per_execution": 32, "threads": 1},
    ],
    "torch": [
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None},
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": 1},
        {"jit_compile": True, "steps_per_execution": 1, "threads": None},
    ],
}
SEARCH_EPOCHS = 3
SEARCH_TRAIN_SAMPLES = 15_000
SEARCH_TEST_SAMPLES = 1_000


def settings_args(settings: dict[str, Any]) -> list[str]:
    """bench.run options for a settings candidate."""
    args = [
        "--jit-compile",
        str(settings["jit_compile"]).lower(),
        "--steps-per-execution",
        str(settings["steps_per_execution"]),
    ]
    if settings.get("threads") is not None:
        args += ["--threads", str(settings["threads"])]
    return args


def run_once(args: list[str], log) -> bool:
    """Run `python -m bench.run ARGS` in a fresh process, streaming its output."""
    command = [sys.executable, "-m", "bench.run", *args]
    log(f"$ {' '.join(command[1:])}")
    return subprocess.run(command, check=False).returncode == 0


def search(backend: str, passthrough: list[str], log) -> dict[str, Any]:
    """Time every candidate on a data subset; return the record of the search and its choice."""
    candidates = []
    with tempfile.TemporaryDirectory(prefix="digitrec-tune-") as tmp:
        for index, settings in enumerate(SEARCH_SPACE[backend]):
            out = Path(tmp, f"candidate-{index}.json")
            started = time.perf_counter()
            ok = run_once(
                [
                    *passthrough,
                    "--backend", backend,
                    "--epochs", str(SEARCH_EPOCHS),
                    "--train-samples", str(SEARCH_TRAIN_SAMPLES),
                    "--test-samples", str(SEARCH_TEST_SAMPLES),
                    *settings_args(settings),
                    "--training-trial",
                    "--out", str(out),
                ],
                log,
            )  # fmt: skip
            entry: dict[str, Any] = {
                "settings": settings,
                "wall_seconds": time.perf_counter() - started,
            }
            if ok:
                timings = json.loads(out.read_text())["timings"]
                entry["steady_epoch_seconds"] = timings["steady_epoch_seconds"]
                entry["first_epoch_seconds"] = timings["first_epoch_seconds"]
                entry["fit_seconds"] = timings["fit_seconds"]
            else:
                entry["steady_epoch_seconds"] = None
                entry["error"] = "run failed; see the log"
            candidates.append(entry)
    timed = [c for c in candidates if c["steady_epoch_seconds"] is not None]
    if not timed:
        raise RuntimeError(f"every tuning candidate failed for {backend}")
    chosen = min(timed, key=lambda c: c["steady_epoch_seconds"])
    return {
        "metric": "median steady epoch seconds (epochs 2..N), compile time excluded",
        "epochs": SEARCH_EPOCHS,
        "train_samples": SEARCH_TRAIN_SAMPLES,
        "candidates": candidates,
        "chosen": chosen["settings"],
        "speedup_vs_default": candidates[0]["steady_epoch_seconds"] / chosen["steady_epoch_seconds"]
        if candidates[0]["steady_epoch_seconds"]
        else None,
    }


def run_profile(
    backend: str,
    profile: str,
    repeats: int,
    passthrough: list[str],
    log,
    extra: list[str] = (),
    seed: int = 0,
) -> int:
    """Run `repeats` fresh-process runs of one profile, run i with seed `seed + i`.

    Returns how many failed. Different seeds (initial weights, dropout, shuffling) make the
    repeats a sample of the seed-to-seed accuracy spread as well as of timing noise.
    """
    group = f"{backend}-{profile}-{uuid.uuid4().hex[:8]}"
    failures = 0
    for index in range(repeats):
        log(f"== {backend} / {profile}: run {index + 1} of {repeats}")
        ok = run_once(
            [
                *passthrough,
                "--backend", backend,
                "--profile", profile,
                "--seed", str(seed + index),
                *extra,
                "--repeat-group", group,
                "--repeat-index", str(index),
                "--repeat-count", str(repeats),
            ],
            log,
        )  # fmt: skip
        failures += not ok
    return failures


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`, without importing it; None if absent."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def search_key(backend: str, device: str) -> dict[str, Any]:
    """What a search result depends on: when any of it changes, the search runs again."""
    framework = {"tensorflow": "tensorflow", "jax": "jaxlib", "torch": "torch"}[backend]
    return {
        "machine": machine_info()["id"],
        "backend": backend,
        "device": device,
        "keras": installed_version("keras"),
        framework: installed_version(framework),
        "search_space": SEARCH_SPACE[backend],
        "epochs": SEARCH_EPOCHS,
        "train_samples": SEARCH_TRAIN_SAMPLES,
    }


def tuning_record(args: argparse.Namespace, passthrough: list[str], log) -> dict[str, Any]:
    """The search's record: reused from the tuning cache when its key matches, else searched."""
    key = search_key(args.backend, args.device)
    cache = Path(args.results_dir, "tuning", key["machine"], f"{args.backend}-{args.device}.json")
    if cache.exists() and not args.retune:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            log(
                f"reusing the tuning search of {cached['searched_utc']} from {cache} "
                "(--retune searches again)"
            )
            return cached
        log(f"{cache} was searched under other versions or settings: searching again")
    log(f"== {args.backend} / tuned: searching {len(SEARCH_SPACE[args.backend])} settings")
    record = {
        **search(args.backend, passthrough, log),
        "key": key,
        "searched_utc": datetime.now(UTC).isoformat(),
    }
    speedup = record["speedup_vs_default"]
    log(f"chose {record['chosen']}" + (f" ({speedup:.2f}x faster than default)" if speedup else ""))
    write_text_atomically(cache, json.dumps(record, indent=1) + "\n")
    return record


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    parser.add_argument("--repeats", type=int, default=3, help="runs per profile (default 3)")
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first repeat; repeat i uses seed + i"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(os.environ.get("DIGITREC_RESULTS_DIR") or "results"),
    )
    parser.add_argument(
        "--retune", action="store_true", help="search again even if a cached search matches"
    )
    parser.add_argument(
        "--profiles",
        default="default,tuned",
        help="comma-separated profiles to run (default: default,tuned)",
    )
    args, passthrough = parser.parse_known_args(argv)
    profiles = [p for p in args.profiles.split(",") if p]
    unknown = sorted(set(profiles) - set(PROFILES))
    if unknown or not profiles:
        parser.error(
            f"--profiles takes a comma-separated subset of {PROFILES}, got {args.profiles}"
        )
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    args.profiles = profiles
    return args, passthrough


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(argv)

    def log(line: str) -> None:
        print(f"[suite] {line}", flush=True)

    passthrough += ["--results-dir", str(args.results_dir), "--device", args.device]
    trial_args = [*passthrough, "--seed", str(args.seed)]
    failures = 0
    if "default" in args.profiles:
        failures += run_profile(
            args.backend, "default", args.repeats, passthrough, log, seed=args.seed
        )
    if "tuned" in args.profiles:
        try:
            record = tuning_record(args, trial_args, log)
        except RuntimeError as exc:
            log(f"error: {exc}; no tuned runs")
            return 1
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
            json.dump(record, tmp)
        try:
            extra = [*settings_args(record["chosen"]), "--tuning-record", tmp.name]
            failures += run_profile(
                args.backend, "tuned", args.repeats, passthrough, log, extra, seed=args.seed
            )
        finally:
            Path(tmp.name).unlink(missing_ok=True)
    if failures:
        log(f"{failures} run(s) failed; the others' results are kept")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
