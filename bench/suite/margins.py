"""The margins the suite watches between rounds: the verdict's own, from this invocation's runs.

They come from `bench.analysis.decision`, the code the report's verdict comes from, so the
suite stops on exactly the margins the report then shows: every task and scope's winner
against each other backend, and each backend's tuned profile against its default for the
documented job, and each lower-precision profile whose accuracy is not yet shown equivalent
to float32's.
"""

from typing import Any

from bench.analysis.collect import add_labels, runs_frame, select_latest, split_native
from bench.analysis.decision import SCOPES, decide_machine, display
from bench.analysis.hosts import Probes
from bench.stats import FASTER, MISSED, SAME, SLOWER
from bench.suite.rounds import Rounds

DECIDED_OUTCOMES = (FASTER, SAME, MISSED)


def undecided_margins(results: list[dict[str, Any]]) -> list[str]:
    """Every verdict margin among `results` that is neither decided faster nor the same."""
    if not results:
        return []
    keras_runs, _ = split_native(runs_frame(results, [None] * len(results)))
    if keras_runs.empty:
        return []
    groups = add_labels(select_latest(keras_runs))
    found = []
    for (machine, device), same_place in groups.groupby(["machine", "device"], sort=False):
        verdict = decide_machine(machine, device, same_place, Probes())
        for task in verdict.tasks.values():
            found += [
                f"{task.task.name} ({SCOPES[task.scope]}): {task.winner.name} against "
                f"{margin.other.name}, {margin.text()}"
                for margin in task.margins
                if margin.outcome not in DECIDED_OUTCOMES
            ]
        found += [
            f"tuned against default for the documented job: {display(backend)}"
            for backend, outcome in verdict.tuned_job_gain.items()
            if outcome not in (*DECIDED_OUTCOMES, SLOWER)
        ]
        found += [
            f"{judged.row.profile} accuracy against float32: {display(judged.row.backend)}, "
            f"{judged.reason}"
            for judged in verdict.precision
            if judged.undecided
        ]
    return found


def open_margins(rounds: Rounds) -> list[str]:
    """`open_items` for the benchmark's rounds: the verdict margins still undecided."""
    return undecided_margins(rounds.all_results())
