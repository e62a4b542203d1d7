"""The tuning search's cache: <results-dir>/tuning/<machine>/<backend>-<device>.json.

A search is reused while the hardware, the host's speed (the median of the suite's three
start probes, within 10% of the median of every probe taken until the search it reuses
ended), keras and the framework as installed for
that backend, the options passed to the runs, the candidates and the search's own rule and
design are unchanged; `--retune` always searches again.
"""

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.backends.search_space import search_space
from bench.host import gemm_probe
from bench.host.machine import machine_info
from bench.suite.tuning import SEARCH_DESIGN, SEARCH_EPOCHS, SEARCH_RULE, SEARCH_TRAIN_SAMPLES
from digitrec_core.results import write_text_atomically
from digitrec_core.workloads import DEFAULT_WORKLOAD, file_suffix

# Options that say where files are or which invocation a run is part of, not what it does:
# they do not change a search.
BOOKKEEPING_OPTIONS = ("--results-dir", "--data-dir", "--invocation")


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


def search_key(
    backend: str,
    device: str,
    passthrough: list[str],
    versions: dict[str, str | None],
    isa: list[str],
) -> dict[str, Any]:
    """What a search result depends on: when any of it changes, the search runs again.

    `versions`: keras and the framework as installed where the backend runs. Host speed is
    checked apart (`cache_applies`): it is a measurement, not an identity.
    """
    machine = machine_info()
    return {
        "machine": machine["id"],
        "fingerprint": machine["fingerprint"],
        "options": behaviour_options(passthrough),
        "backend": backend,
        "device": device,
        **versions,
        "search_space": search_space(backend, device, isa),
        "epochs": SEARCH_EPOCHS,
        "train_samples": SEARCH_TRAIN_SAMPLES,
        "rule": SEARCH_RULE,
        "design": SEARCH_DESIGN.to_dict(),
    }


def cache_applies(cached: Any, key: dict[str, Any], host_gflops: float | None) -> tuple[bool, str]:
    """Whether a cached search may stand for this one, and if not, why not."""
    if not isinstance(cached, dict) or not isinstance(cached.get("chosen"), dict):
        return False, "it is not a search record"
    if cached.get("key") != key:
        return False, "it was searched on other hardware, versions, options or by another rule"
    then = cached.get("host_gflops")
    if host_gflops is None or not isinstance(then, int | float) or not math.isfinite(then):
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


def cache_path(results_dir: Path, key: dict[str, Any], passthrough: list[str]) -> Path:
    """Where the search of `key`'s backend and device is cached."""
    name = f"{key['backend']}-{key['device']}{file_suffix(workload_of(passthrough))}.json"
    return Path(results_dir, "tuning", key["machine"], name)


def read_cache(
    path: Path, key: dict[str, Any], host_gflops: float | None, retune: bool, log
) -> dict[str, Any] | None:
    """The cached search at `path` where it applies (and --retune is off), else None."""
    if retune or not path.exists():
        return None
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log(f"warning: the tuning cache {path} is unreadable ({exc}); searching again")
        return None
    applies, why = cache_applies(cached, key, host_gflops)
    if applies:
        log(f"reusing the tuning search of {cached.get('searched_utc')} from {path} (--retune "
            "searches again)")  # fmt: skip
        return cached
    log(f"not reusing {path}: {why}; searching again")
    return None


def write_cache(path: Path, record: dict[str, Any], key: dict[str, Any], host: float | None):
    """Keep a finished search, with what it depends on, for later suites."""
    cached = {
        **record,
        "key": key,
        "host_gflops": host,
        "searched_utc": datetime.now(UTC).isoformat(),
    }
    write_text_atomically(path, json.dumps(cached, indent=1) + "\n")
    return cached
