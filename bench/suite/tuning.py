"""The tuning search, in rounds: which settings make training fastest here, and its cache.

Each candidate of `bench.backends.search_space` trains in a fresh process on a data subset,
once per round, in a shuffled order (`bench.suite.rounds`), so one disturbed minute slows
one trial of every candidate rather than one candidate's only trial. A candidate is chosen
only where its steady epoch, paired by round with the defaults', is FASTER by the verdict's
own rule (`bench.stats.compare_speed` at the design's level: significant and at least 5%);
of several, the fastest. Otherwise the defaults stand, and the record says whether the search
showed no candidate faster or could not tell. A candidate is no longer run once it is decided.

A lower-precision candidate (bf16 where the hardware has it) is never chosen: the tuned
profile stays float32. Where one is FASTER it is *proposed* (`proposed` in the record), and the
suite then runs it as a profile of its own on full data, where only the accuracy it keeps can
accept it (`bench.analysis.precision`). Each trial's test accuracy is kept beside its speed.

Its cache is `bench.suite.search_cache`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analysis.schedules import CHOSE, NONE_FASTER, UNDECIDED
from bench.backends.search_space import (
    FULL_PRECISION,
    precision_of,
    search_space,
)
from bench.stats import FASTER, INCONCLUSIVE, compare_speed, geometric_mean
from bench.suite.rounds import Cell, Design, Rounds

SEARCH_EPOCHS = 6  # five steady epochs a trial: their median shrugs off a slow second
SEARCH_TRAIN_SAMPLES = 15_000
SEARCH_TEST_SAMPLES = 1_000
SEARCH_DESIGN = Design(min_rounds=3, max_rounds=5)
# In the cache key: a search made by another rule (one run per candidate) is never reused.
SEARCH_RULE = "rounds; a candidate must be FASTER than the defaults, paired by round"
METRIC = (
    "median steady epoch seconds (epochs 2..N), compile time excluded; candidates whose "
    "settings did not take effect are left out"
)


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
    if settings.get("precision") is not None:
        args += ["--precision", settings["precision"]]
    return args


def settings_text(settings: dict[str, Any]) -> str:
    """ "jit false, spe 32, 1 thread": a candidate as the console shows it."""
    threads, precision = settings.get("threads"), settings.get("precision")
    return (
        f"jit {str(settings['jit_compile']).lower()}, spe {settings['steps_per_execution']}"
        + ("" if threads is None else f", {threads} thread{'s' * (threads != 1)}")
        + ("" if precision is None else f", {precision}")
    )


@dataclass(frozen=True)
class Candidate:
    """One candidate of one backend and device's search: its place in the space, its settings."""

    backend: str
    device: str
    index: int
    settings: dict[str, Any]

    @property
    def cell(self) -> Cell:
        return Cell(
            self.backend,
            self.device,
            "search",
            tuple(settings_args(self.settings)),
            label=f"search{' ' + self.device if self.device != 'cpu' else ''} · {self.backend} · "
            f"{settings_text(self.settings)}",
        )


def candidates_of(targets: list[tuple[str, str]], isa: list[str]) -> list[Candidate]:
    """Every candidate of every (backend, device) to search, on hardware with `isa`."""
    return [
        Candidate(backend, device, index, settings)
        for backend, device in targets
        for index, settings in enumerate(search_space(backend, device, isa))
    ]


def trial_options(candidate: Candidate, seed: int, out: Path) -> list[str]:
    """bench.run options of one trial: the subset, the candidate's settings, where to write."""
    return [
        "--epochs", str(SEARCH_EPOCHS),
        "--train-samples", str(SEARCH_TRAIN_SAMPLES),
        "--test-samples", str(SEARCH_TEST_SAMPLES),
        *settings_args(candidate.settings),
        "--seed", str(seed),
        "--training-trial",
        # Only a thread limit needs the busy cores of the framework's own GEMMs.
        "--framework-probe", "none" if candidate.settings.get("threads") is None else "threads",
        "--out", str(out),
    ]  # fmt: skip


def trial_steady(result: dict[str, Any]) -> tuple[float | None, str | None]:
    """A trial's steady epoch, or None and why it does not count."""
    try:
        steady = result["timings"]["steady_epoch_seconds"]
        threads = result["settings"]["threads"]
        in_effect, busy = threads["in_effect"], threads["busy_cores_fit"]
    except (KeyError, TypeError):
        return None, "its trial result lacks the steady epoch or the threads it used"
    if in_effect is False:
        return None, f"threads did not take effect ({busy:.2f} cores busy during fit)"
    if not isinstance(steady, int | float) or not steady > 0:
        return None, "its trial has no steady epoch"
    return float(steady), None


def steady_by_round(by_round: dict[int, dict[str, Any]]) -> tuple[dict[int, float], str | None]:
    """A candidate's steady epochs by round, and why any trial did not count."""
    times, why = {}, None
    for index, result in sorted(by_round.items()):
        steady, problem = trial_steady(result)
        if steady is None:
            why = problem
        else:
            times[index] = steady
    return times, why


def judge(
    candidates: list[Candidate], rounds: Rounds, confidence: float
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (backend, device): every candidate against the defaults, and the choice."""
    by_cell = rounds.results
    judged: dict[tuple[str, str], dict[str, Any]] = {}
    for candidate in candidates:
        key = (candidate.backend, candidate.device)
        times, why = steady_by_round(by_cell.get(candidate.cell, {}))
        entry: dict[str, Any] = {
            "settings": candidate.settings,
            "steady_epoch_seconds": geometric_mean(list(times.values())) if times else None,
            "steady_epoch_samples": [times[r] for r in sorted(times)],
            "rounds": sorted(times),
        }
        if why and not times:
            entry["error"] = why
        results = by_cell.get(candidate.cell, {})
        if results:
            last = results[max(results)]
            entry["first_epoch_seconds"] = last["timings"].get("first_epoch_seconds")
            entry["test_accuracy"] = [
                (result.get("metrics") or {}).get("test_accuracy") for result in results.values()
            ]
            entry["busy_cores_fit"] = last["settings"]["threads"].get("busy_cores_fit")
        elif key in rounds.dropped or candidate.cell.name in rounds.dropped:
            entry["error"] = rounds.dropped.get(candidate.cell.name, "not run")
        elif "error" not in entry:
            entry["error"] = "every trial failed (see the failure records)"
        record = judged.setdefault(key, {"candidates": [], "times": []})
        record["candidates"].append(entry)
        record["times"].append(times)
    for record in judged.values():
        decide_search(record, confidence)
    return judged


def decide_search(record: dict[str, Any], confidence: float) -> None:
    """Compare each candidate with the defaults (the first), paired by round; choose."""
    default_times = record["times"][0]
    faster = []
    for entry, times in zip(record["candidates"][1:], record["times"][1:], strict=True):
        rounds = sorted(default_times.keys() & times.keys())
        if "error" in entry or len(rounds) < 2:
            entry["vs_default"] = {"outcome": INCONCLUSIVE if "error" not in entry else None}
            continue
        found = compare_speed(
            [default_times[r] for r in rounds],
            [times[r] for r in rounds],
            paired=True,
            confidence=confidence,
        )
        entry["vs_default"] = {
            key: found[key] for key in ("ratio", "ci95", "outcome", "n", "confidence")
        }
        if found["outcome"] == FASTER:
            faster.append(entry)
    proposed = [e for e in faster if precision_of(e["settings"]) != FULL_PRECISION]
    faster = [e for e in faster if precision_of(e["settings"]) == FULL_PRECISION]
    record["proposed"] = [e["settings"]["precision"] for e in proposed]
    default = record["candidates"][0]
    undecided = [e for e in record["candidates"][1:] if e["vs_default"]["outcome"] == INCONCLUSIVE]
    if faster:
        chosen = min(faster, key=lambda entry: entry["steady_epoch_seconds"])
        record["outcome"] = CHOSE
    else:
        chosen = default
        full = [e for e in undecided if precision_of(e["settings"]) == FULL_PRECISION]
        record["outcome"] = UNDECIDED if full else NONE_FASTER
    record["chosen"] = chosen["settings"]
    record["speedup_vs_default"] = chosen["vs_default"]["ratio"] if chosen is not default else 1.0
    record["undecided"] = [entry["settings"] for entry in undecided]
    record.pop("times")


def open_candidates(candidates: list[Candidate], confidence: float):
    """`open_items` for the search's rounds: the candidates whose comparison is undecided."""

    def still_open(rounds: Rounds) -> list[str]:
        judged = judge(candidates, rounds, confidence)
        return [
            f"{backend} on {device}: {settings_text(settings)}"
            for (backend, device), record in judged.items()
            for settings in record["undecided"]
        ]

    return still_open


def needed_cells(candidates: list[Candidate], confidence: float):
    """`needed` for the search's rounds: undecided candidates and the defaults they are held to."""

    def needed(rounds: Rounds) -> set[str]:
        judged = judge(candidates, rounds, confidence)
        keep = set()
        for candidate in candidates:
            record = judged[(candidate.backend, candidate.device)]
            if candidate.settings in record["undecided"] or (
                candidate.index == 0 and record["undecided"]
            ):
                keep.add(candidate.cell.name)
        return keep

    return needed


def search_record(record: dict[str, Any], rounds: Rounds) -> dict[str, Any]:
    """What a tuned run carries in `tuning`, and the cache keeps."""
    return {
        "metric": METRIC,
        "rule": SEARCH_RULE,
        "epochs": SEARCH_EPOCHS,
        "train_samples": SEARCH_TRAIN_SAMPLES,
        "rounds": len(rounds.rounds),
        "design": SEARCH_DESIGN.to_dict(),
        "stopped": rounds.stop_text,
        **record,
    }
