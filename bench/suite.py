"""Benchmark one backend the way `nox -s bench` does: repeated fresh-process runs, two profiles.

Usage: python -m bench.suite --backend jax [--repeats 5] [--profiles default,tuned] [-- options]

- First and last, the backend-neutral GEMM probe (numpy, all cores) measures the host's speed;
  its records go to <results-dir>/probes/<machine>/.
- `tuned` first needs its settings: a short search over the settings that decide speed on this
  backend (each candidate a fresh process on a data subset). The search is cached in
  <results-dir>/tuning/<machine>/<backend>-<device>.json and reused while the hardware, host
  speed, versions, options and search space are unchanged (`--retune` forces a new one).
- Then `--repeats` full runs of each profile, each in a fresh process (`python -m bench.run`),
  interleaved (default 1, tuned 1, default 2, ...) so that drift slows both profiles alike.

Options this CLI does not know are passed to every `bench.run`. Exit status 1 if any run failed;
the runs that succeeded keep their results.
"""

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import cli, gemm_probe
from bench.backends.search_space import SEARCH_SPACE
from bench.child import DEFAULT_TIMEOUT, NO_BACKEND, Outcome, run_child
from bench.failures import write_failure
from bench.machine import git_info, machine_info
from digitrec_core.config import BACKENDS, DEVICES, FRAMEWORK_DISTRIBUTION, PROFILES
from digitrec_core.results import write_result, write_text_atomically

SEARCH_EPOCHS = 3
SEARCH_TRAIN_SAMPLES = 15_000
SEARCH_TEST_SAMPLES = 1_000
DEFAULT_REPEATS = 5
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


class BackendUnavailable(RuntimeError):
    """A run could not import its backend: no later run of that backend can do better."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.reason)
        self.outcome = outcome


def run_once(args: list[str], log, timeout: float | None = DEFAULT_TIMEOUT) -> Outcome:
    """Run `python -m bench.run ARGS` in a fresh process, streaming its output."""
    command = [sys.executable, "-m", "bench.run", *args]
    log(f"$ {' '.join(command[1:])}")
    outcome = run_child(command, timeout)
    if not outcome.ok:
        log(f"run failed ({outcome.status}): {outcome.reason}")
    return outcome


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
            outcome = run_once(
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


def repeat_args(profile: str, index: int, count: int, group: str, seed: int) -> list[str]:
    """bench.run options that place one run in its profile's group of repeats."""
    return [
        "--profile", profile,
        "--seed", str(seed + index),
        "--repeat-group", group,
        "--repeat-index", str(index),
        "--repeat-count", str(count),
    ]  # fmt: skip


def run_repeats(
    backend: str,
    profiles: dict[str, list[str]],
    repeats: int,
    passthrough: list[str],
    log,
    seed: int = 0,
    on_failure: Callable[[Outcome, str, int], None] = lambda outcome, profile, index: None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> int:
    """Run `repeats` fresh-process runs of each profile, interleaved; return how many failed.

    `profiles` maps each profile to its extra options. Run i of every profile uses seed
    `seed + i`, so the repeats sample the seed-to-seed accuracy spread as well as timing
    noise, and the profiles' runs i are neighbours in time: a pair that drift hits alike.
    Each failed run goes to `on_failure`; a backend that cannot be imported stops them all.
    """
    groups = {profile: f"{backend}-{profile}-{uuid.uuid4().hex[:8]}" for profile in profiles}
    interleaved = ["--interleaved"] if len(profiles) > 1 else []
    failures = 0
    for index in range(repeats):
        for profile, extra in profiles.items():
            log(f"== {backend} / {profile}: run {index + 1} of {repeats}")
            where = repeat_args(profile, index, repeats, groups[profile], seed)
            command = [*passthrough, "--backend", backend, *where, *extra, *interleaved]
            outcome = run_once(command, log, timeout)
            if outcome.ok:
                continue
            failures += 1
            on_failure(outcome, profile, index)
            if outcome.status == NO_BACKEND:
                log(f"{backend} cannot be imported: its remaining runs are skipped")
                return failures
    return failures


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


def tuning_record(
    args: argparse.Namespace, passthrough: list[str], host_gflops: float | None, log
) -> dict[str, Any]:
    """The search's record: reused from the tuning cache when it applies, else searched."""
    key = search_key(args.backend, args.device, passthrough)
    cache = Path(args.results_dir, "tuning", key["machine"], f"{args.backend}-{args.device}.json")
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


def probe_host(args: argparse.Namespace, phase: str, log) -> dict[str, Any]:
    """Run the neutral GEMM probe and keep its record under <results-dir>/probes/<machine>/."""
    probe = gemm_probe.neutral_probe()
    machine = machine_info()
    created = datetime.now(UTC)
    record = {
        "check": "neutral-gemm-probe",
        "invocation": args.invocation,
        "phase": phase,
        "suite_backend": args.backend,
        "created_utc": created.isoformat(),
        "machine": machine,
        "git": git_info(),
        "probe": probe,
    }
    name = f"{created:%Y%m%dT%H%M%SZ}-{args.invocation}-{args.backend}-{phase}.json"
    write_result(record, Path(args.results_dir, "probes", machine["id"], name))
    log(
        f"neutral GEMM probe ({phase}): {probe['square_gflops']:.0f} GFLOP/s at 2048², "
        f"{probe['model_shapes_gflops']:.0f} at the model's shapes, "
        f"{probe['busy_cores']:.2f} cores busy"
    )
    return probe


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--backend", required=True, choices=BACKENDS)
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help=f"runs per profile (default {DEFAULT_REPEATS})",
    )
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first repeat; repeat i uses seed + i"
    )
    cli.add_results_dir(parser)
    parser.add_argument(
        "--retune", action="store_true", help="search again even if a cached search matches"
    )
    cli.add_invocation(
        parser,
        f"id shared by every suite of one nox command (default: ${cli.INVOCATION_ENV}, "
        "else a new one)",
    )
    parser.add_argument(
        "--profiles",
        default="default,tuned",
        help="comma-separated profiles to run (default: default,tuned)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one run may take before it is stopped and recorded as failed "
        f"(default {DEFAULT_TIMEOUT})",
    )
    cli.add_debug(parser)
    args, passthrough = parser.parse_known_args(argv)
    if not args.timeout > 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    profiles = [p for p in args.profiles.split(",") if p]
    unknown = sorted(set(profiles) - set(PROFILES))
    if unknown or not profiles:
        parser.error(
            f"--profiles takes a comma-separated subset of {PROFILES}, got {args.profiles}"
        )
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    args.profiles = profiles
    args.invocation = args.invocation or cli.new_invocation_id()
    return args, passthrough


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(argv)
    return cli.run_guarded(
        lambda: run_suite(args, passthrough),
        debug=args.debug,
        interrupted="the run in progress was stopped and wrote nothing; finished runs are kept",
    )


def run_suite(args: argparse.Namespace, passthrough: list[str]) -> int:
    """The probes, the search and the repeats; failed runs are recorded and the rest go on."""

    def log(line: str) -> None:
        print(f"[suite] {line}", flush=True)

    def record(outcome: Outcome, profile: str, index: int | None = None) -> None:
        path = write_failure(
            args.results_dir,
            outcome,
            backend=args.backend,
            device=args.device,
            profile=profile,
            invocation=args.invocation,
            repeat_index=index,
        )
        log(f"failure recorded in {path}")

    log(f"invocation {args.invocation}")
    host_gflops = gemm_probe.host_gflops(probe_host(args, "start", log))
    passthrough += [
        "--results-dir", str(args.results_dir),
        "--device", args.device,
        "--invocation", args.invocation,
    ]  # fmt: skip
    profiles: dict[str, list[str]] = {}
    if "default" in args.profiles:
        profiles["default"] = []
    failures = 0
    if "tuned" in args.profiles:
        trial_args = [*passthrough, "--seed", str(args.seed)]
        try:
            search_record = tuning_record(args, trial_args, host_gflops, log)
        except BackendUnavailable as exc:
            record(exc.outcome, "tuned")
            log(f"error: {args.backend} cannot be imported: {exc}; no runs")
            return 1
        except RuntimeError as exc:
            log(f"error: {exc}; no tuned runs")
            failures += 1
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as tmp:
                json.dump(search_record, tmp)
            profiles["tuned"] = [
                *settings_args(search_record["chosen"]),
                "--tuning-record",
                tmp.name,
            ]
    try:
        failures += run_repeats(
            args.backend,
            profiles,
            args.repeats,
            passthrough,
            log,
            seed=args.seed,
            on_failure=record,
            timeout=args.timeout,
        )
    finally:
        if "tuned" in profiles:
            Path(profiles["tuned"][-1]).unlink(missing_ok=True)
    probe_host(args, "end", log)
    if failures:
        log(f"{failures} run(s) or search(es) failed; the others' results are kept")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
