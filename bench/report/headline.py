"""The report's opening: per machine and device the verdict table, parity and a recommendation."""

from bench.analysis import decision
from bench.analysis.collect import BACKEND_ORDER
from bench.analysis.decision import (
    PREDICTION_TASKS,
    TIME_TO_MODEL,
    TIME_TO_TARGET,
    Candidate,
    MachineVerdict,
    Margin,
    TaskVerdict,
    ci_text,
    display,
)
from bench.analysis.precision import ACCEPTED
from bench.analysis.targets import target_accuracies
from bench.parity.checks import ACCURACY_TOLERANCE
from bench.report.parity_section import ParityLine

PROBLEM_TEXT = {
    "not measured": "not measured",
    "only one backend measured": "only one backend measured",
    "hosts of different speed": "⚠ not ranked: hosts of different speed",
}


def where(verdict: MachineVerdict) -> str:
    """ "M2 (CPU)": the machine's alias (the legend in the appendix gives its id)."""
    return f"{verdict.alias or verdict.machine} ({verdict.device.upper()})"


def backends_of(verdict: MachineVerdict) -> list[str]:
    """The backends with a measured group on this machine and device, in report order."""
    found = {
        candidate.backend
        for task in verdict.tasks.values()
        for candidate in [task.winner, *(margin.other for margin in task.margins)]
        if candidate is not None
    }
    return sorted(found, key=lambda b: BACKEND_ORDER.index(b) if b in BACKEND_ORDER else 99)


def accuracy_clause(parity: ParityLine | None) -> str:
    """What the parity line says for the recommendation: never "equivalent" beside a FAIL."""
    tolerance = f"±{ACCURACY_TOLERANCE * 100:.1f} pp"
    outcome = None if parity is None else parity.statistical
    failed = [] if parity is None else [name for name in parity.failed if name != "statistical"]
    if outcome == "PASS" and failed:
        return (
            f"accuracy is equivalent within {tolerance}, but parity FAILs its {joined(failed)} "
            "check: read the parity line before choosing"
        )
    if outcome == "PASS":
        return f"accuracy is equivalent within {tolerance} (two one-sided tests)"
    if outcome == "FAIL":
        return (
            f"but accuracy is NOT equivalent within {tolerance} (parity FAIL): read Accuracy "
            "parity before choosing"
        )
    if outcome == "INCONCLUSIVE":
        return (
            f"accuracy equivalence within {tolerance} is not yet shown (INCONCLUSIVE): run "
            "`nox -s parity` with the seeds it suggests"
        )
    return "accuracy parity is not checked here yet: run `nox -s parity`"


def interval_text(ci: list[float] | None) -> str:
    return ci_text(ci)


def faster_clause(margin: Margin) -> str:
    if margin.outcome == decision.MISSED:
        return f"ahead of {margin.other.name}, which {margin.text()} runs"
    return f"{margin.ratio:.2f}× faster than {margin.other.name} {ci_text(margin.ci)}"


def joined(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def headline_task(verdict: MachineVerdict) -> TaskVerdict:
    """Time to target accuracy where runs measured it and one reached it, else the whole fit."""
    found = verdict.get(TIME_TO_TARGET)
    if found.winner is not None and found.problem in (None, *PROBLEM_TEXT):
        return found
    return verdict.get(TIME_TO_MODEL)


def job_phrase(job: TaskVerdict) -> str:
    """What the headline task's winner does first: "reaches 0.974 test accuracy"."""
    if job.task is TIME_TO_TARGET and job.winner is not None:
        targets = target_accuracies(job.winner.row.group_runs)
        target = f"{targets.pop():g} " if len(targets) == 1 else "the target "
        return f"reaches {target}test accuracy"
    return "gets to a trained model"


def recommendation(verdict: MachineVerdict, parity: ParityLine | None) -> str:
    """One sentence, from the numbers: which backend to use here for the headline task."""
    job = headline_task(verdict)
    place = f"On {where(verdict)}"
    winner = job.winner
    if winner is None:
        return f"{place}: no full run measured the documented job yet: run `nox -s bench`."
    if job.problem == "only one backend measured":
        return (
            f"{place}: only {winner.name} was measured, so there is nothing to choose between "
            "yet: run `nox -s bench` for the other backends."
        )
    if job.problem == "hosts of different speed":
        return (
            f"{place}: no recommendation: the backends were measured on hosts of different "
            "speed (see the host-speed notes), so their times are not comparable; run every "
            "backend in one `nox -s bench`."
        )
    wins = [faster_clause(m) for m in job.margins if m.decisive]
    ties = [m for m in job.margins if m.tie]
    if not ties:
        head = f"**{display(winner.backend)}** ({profile_advice(verdict, winner)}): it "
        head += f"{job_phrase(job)} {joined(wins)}"
    else:
        names = joined([f"**{winner.name}**", *(f"**{m.other.name}**" for m in ties)])
        tie_text = "; ".join(
            f"{m.ratio:.2f}× {interval_text(m.ci)} over {m.other.name}" for m in ties
        )
        head = f"{names} tie for {job.task.name} ({winner.name} {tie_text})"
        if wins:
            head += f"; {winner.name} is {joined(wins)}"
    return f"{place}: {head}; {accuracy_clause(parity)}.{prediction_clause(verdict)}"


def profile_advice(verdict: MachineVerdict, winner: Candidate) -> str:
    """Which of the winner's profiles to use for the documented job, and why."""
    accepted = [p for p in verdict.precision if p.row.repeat_group == winner.row.repeat_group]
    if accepted and accepted[0].status == ACCEPTED:
        return f"{winner.row.profile} profile, accepted: it keeps float32's accuracy"
    if winner.row.profile != "tuned":
        return f"{winner.row.profile} settings"
    outcome = verdict.tuned_job_gain.get(winner.backend)
    if outcome == decision.FASTER:
        return "tuned profile, shown faster than its default for this job"
    return "default or tuned: the tuned profile is not shown faster for this job"


def prediction_clause(verdict: MachineVerdict) -> str:
    """A sentence on prediction when its fastest backend differs from the training winner."""
    job_winner = headline_task(verdict).winner
    parts = []
    for task in PREDICTION_TASKS:
        found = verdict.get(task)
        if found.winner is None or not found.decisive:
            continue
        if job_winner is not None and found.winner.backend == job_winner.backend:
            continue
        closest = min(found.margins, key=lambda m: m.ratio)
        parts.append(
            f"{found.winner.name} leads {task.name} ({closest.ratio:.1f}× over "
            f"{closest.other.name})"
        )
    return f" For prediction, {joined(parts)}." if parts else ""
