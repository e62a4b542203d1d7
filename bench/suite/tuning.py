"""The tuning search: which settings make training fastest on this machine, and its cache.

Each candidate of `bench.backends.search_space` trains in a fresh process on a data subset; the
search's record is cached in <results-dir>/tuning/<machine>/<backend>-<device>.json and reused
while the hardware, host speed, versions, options and search space are unchanged.
"""

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.backends.search_space import SEARCH_SPACE
from bench.host import gemm_probe
from bench.host.machine import machine_info
from bench.suite import repeats
from bench.suite.child import DEFAULT_TIMEOUT, NO_BACKEND
from bench.suite.repeats import BackendUnavailable
from digitrec_core.config import FRAMEWORK_DISTRIBUTION
from digitrec_core.results import write_text_atomically
from digitrec_core.workloads import DEFAULT_WORKLOAD, file_suffix

SEARCH_EPOCHS = 3
SEARCH_TRAIN_SAMPLES = 15_000
SEARCH_TEST_SAMPLES = 1_000


# Options that say where files are or which invocation a run is part of, not what it does:
# they do not change a search.
BOOKKEEPING_OPTIONS = ("--results-dir", "--data-dir", "--invocation")


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


TRIAL_KEYS = (
    ("timings", "steady_epoch_seconds"),
    ("timings", "first_epoch_seconds"),
    ("timings", "fit_seconds"),
    ("settings", "threads", "busy_cores_fit"),
    ("settings", "threads", "in_effect"),
)


def read_trial(path: Path) -> dict[str, Any] | None:
    """A tuning trial's result, or None when it is unreadable or lacks what the search needs."""
    try:
        trial = json.loads(path.read_text(encoding="utf-8"))
        for keys in TRIAL_KEYS:
            value = trial
            for key in keys:
                value = value[key]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    return trial


def search(
    backend: str, passthrough: list[str], log, timeout: float | None = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """Time every candidate on a data subset; return the record of the search and its choice."""
    candidates = []
    with tempfile.TemporaryDirectory(prefix="digitrec-tune-") as tmp:
        for index, settings in enumerate(SEARCH_SPACE[backend]):
            out = Path(tmp, f"candidate-{index}.json")
            started = time.perf_counter()
            outcome = repeats.run_once(
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
                timeout,
            )  # fmt: skip
            if outcome.status == NO_BACKEND:
                raise BackendUnavailable(outcome)
            entry: dict[str, Any] = {
                "settings": settings,
                "wall_seconds": time.perf_counter() - started,
            }
            entry["steady_epoch_seconds"] = None
            trial = read_trial(out) if outcome.ok else None
            if outcome.ok and trial is None:
                entry["error"] = f"its trial result {out.name} is unreadable"
            elif outcome.ok:
                timings = trial["timings"]
                threads = trial["settings"]["threads"]
                entry["first_epoch_seconds"] = timings["first_epoch_seconds"]
                entry["fit_seconds"] = timings["fit_seconds"]
                entry["busy_cores_fit"] = threads["busy_cores_fit"]
                if threads["in_effect"] is False:
                    entry["error"] = (
                        f"threads={settings['threads']} did not take effect "
                        f"({threads['busy_cores_fit']:.2f} cores busy during fit)"
                    )
                else:
                    entry["steady_epoch_seconds"] = timings["steady_epoch_seconds"]
            else:
                entry["error"] = f"{outcome.status}: {outcome.reason}"
            candidates.append(entry)
    timed = [c for c in candidates if c["steady_epoch_seconds"] is not None]
    if not timed:
        raise RuntimeError(f"every tuning candidate failed for {backend}")
    chosen = min(timed, key=lambda c: c["steady_epoch_seconds"])
    return {
        "metric": "median steady epoch seconds (epochs 2..N), compile time excluded; "
        "candidates whose settings did not take effect are left out",
        "epochs": SEARCH_EPOCHS,
        "train_samples": SEARCH_TRAIN_SAMPLES,
        "candidates": candidates,
        "chosen": chosen["settings"],
        "speedup_vs_default": candidates[0]["steady_epoch_seconds"] / chosen["steady_epoch_seconds"]
        if candidates[0]["steady_epoch_seconds"]
        else None,
    }


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`, without importing it; None if absent."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def behaviour_options(passthrough: list[str]) -> list[str]:
    """`passthrough` without the bookkeeping options (where files are, which invocation)."""
    kept, skip = [], False
    for arg in passthrough:
        if skip:
            skip = False
        elif arg in BOOKKEEPING_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{name}=" for name in BOOKKEEPING_OPTIONS)):
            kept.append(arg)
    return kept


def search_key(backend: str, device: str, passthrough: list[str]) -> dict[str, Any]:
    """What a search result depends on: when any of it changes, the search runs again.

    Host speed is checked apart (`cache_applies`): it is a measurement, not an identity.
    """
    framework = FRAMEWORK_DISTRIBUTION[backend]
    machine = machine_info()
    return {
        "machine": machine["id"],
        "fingerprint": machine["fingerprint"],
        "options": behaviour_options(passthrough),
        "backend": backend,
        "device": device,
        "keras": installed_version("keras"),
        framework: installed_version(framework),
        "search_space": SEARCH_SPACE[backend],
        "epochs": SEARCH_EPOCHS,
        "train_samples": SEARCH_TRAIN_SAMPLES,
    }


def cache_applies(cached: Any, key: dict[str, Any], host_gflops: float | None) -> tuple[bool, str]:
    """Whether a cached search may stand for this one, and if not, why not."""
    if not isinstance(cached, dict) or not isinstance(cached.get("chosen"), dict):
        return False, "it is not a search record"
    if cached.get("key") != key:
        return False, "it was searched on other hardware, versions, options or candidates"
    then = cached.get("host_gflops")
    if host_gflops is None or not isinstance(then, int | float):
        return False, "host speed was not measured then or now"
    if gemm_probe.speeds_differ([then, host_gflops]):
        return False, f"the host's GEMM rate was {then:.0f} GFLOP/s then, {host_gflops:.0f} now"
    return True, ""


def workload_of(passthrough: list[str]) -> str:
    """The --workload the runs were given (bench.run's option), else the default."""
    workload = DEFAULT_WORKLOAD
    for index, arg in enumerate(passthrough):
        if arg == "--workload" and index + 1 < len(passthrough):
            workload = passthrough[index + 1]
        elif arg.startswith("--workload="):
            workload = arg.split("=", 1)[1]
    return workload


def tuning_record(
    args: argparse.Namespace, passthrough: list[str], host_gflops: float | None, log
) -> dict[str, Any]:
    """The search's record: reused from the tuning cache when it applies, else searched."""
    key = search_key(args.backend, args.device, passthrough)
    name = f"{args.backend}-{args.device}{file_suffix(workload_of(passthrough))}.json"
    cache = Path(args.results_dir, "tuning", key["machine"], name)
    if cache.exists() and not args.retune:
        try:
            cached = json.loads(cache.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            cached = None
            log(f"warning: the tuning cache {cache} is unreadable ({exc}); searching again")
        applies, why = cache_applies(cached, key, host_gflops)
        if applies:
            log(
                f"reusing the tuning search of {cached.get('searched_utc')} from {cache} "
                "(--retune searches again)"
            )
            return cached
        if cached is not None:
            log(f"not reusing {cache}: {why}; searching again")
    log(f"== {args.backend} / tuned: searching {len(SEARCH_SPACE[args.backend])} settings")
    record = {
        **search(args.backend, passthrough, log, args.timeout),
        "key": key,
        "host_gflops": host_gflops,
        "searched_utc": datetime.now(UTC).isoformat(),
    }
    speedup = record["speedup_vs_default"]
    log(f"chose {record['chosen']}" + (f" ({speedup:.2f}x faster than default)" if speedup else ""))
    write_text_atomically(cache, json.dumps(record, indent=1) + "\n")
    return record
