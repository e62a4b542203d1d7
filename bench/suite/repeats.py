"""Repeated runs of one backend, each `python -m bench.run` in a fresh process."""

import sys
import uuid
from collections.abc import Callable

from bench.suite.child import DEFAULT_TIMEOUT, NO_BACKEND, Outcome, run_child

DEFAULT_REPEATS = 5


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
