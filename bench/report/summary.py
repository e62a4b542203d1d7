"""The report's first screen: per workload, machine and device, one sentence and one table.

The table has the tasks as rows and the backends as columns; each cell is the value of that
backend's best group (the group table's geometric mean, `bench.analysis.tidy`), the fastest in
bold and every backend tied with it in bold too, and the last column the fastest one's margins.
Beyond FULL_SUMMARY_MACHINES machines a workload gets the matrix, one row per machine.
"""

from dataclasses import dataclass

import pandas as pd

from bench.analysis.decision import (
    MISSED,
    TASKS,
    TIME_TO_MODEL,
    TIME_TO_TARGET,
    Candidate,
    MachineVerdict,
    Task,
    TaskVerdict,
    display,
)
from bench.analysis.targets import missed_text, target_accuracies
from bench.report import headline, verdict_details
from bench.report.parity_section import ParityLine
from bench.report.tables import to_markdown

FULL_SUMMARY_MACHINES = 3
NOT_MEASURED = "—"
# Which group-table column holds each task's value (bench.analysis.tidy.QUANTITIES).
TASK_COLUMNS = {
    TIME_TO_TARGET.name: "time_to_target_seconds",
    TIME_TO_MODEL.name: "fit_seconds",
    "steady training throughput": "train_samples_per_second",
    "batch-1 latency p50": "latency_p50_ms",
    "bulk prediction throughput": "bulk_samples_per_second",
}
MARGIN_COLUMN = "the fastest's margin (95% CI)"


@dataclass(frozen=True)
class Place:
    """One workload on one machine and device: its verdict and parity line."""

    workload: str
    verdict: MachineVerdict
    parity: ParityLine | None
    overhead: str = ""  # the Keras overhead table and line, where native references ran
    native_differs: bool = False  # a native step check FAILed: Keras and native code differ


def task_title(task: TaskVerdict, groups: pd.DataFrame) -> str:
    """The row's name with its unit: "time to 0.974 accuracy, s", "bulk prediction, ..."."""
    unit = task.task.unit
    if task.task is TIME_TO_TARGET:
        runs = [r for c in candidates(task).values() for r in c.row.group_runs]
        targets = target_accuracies(runs)
        target = f"{targets.pop():g} " if len(targets) == 1 else "target "
        return f"time to {target}accuracy, {unit}"
    if TASK_COLUMNS.get(task.task.name) == "bulk_samples_per_second":
        batches = {
            groups.at[c.row.group_key, "bulk_batch"]
            for c in candidates(task).values()
            if c.row.group_key in groups.index
        }
        batch = batches.pop() if len(batches) == 1 else None
        at = f" at batch {int(batch):,}" if batch and str(batch).isdigit() else ""
        return f"bulk prediction, {unit}{at}"
    return f"{task.task.name}, {unit}"


def candidates(task: TaskVerdict) -> dict[str, Candidate]:
    """Each backend's best group for the task: the winner's and every margin's other."""
    found = {} if task.winner is None else {task.winner.backend: task.winner}
    for margin in task.margins:
        found[margin.other.backend] = margin.other
    return found


def best_backends(task: TaskVerdict) -> set[str]:
    """The fastest backend and every one tied with it; none where the task has a problem."""
    if task.winner is None or task.problem:
        return set()
    tied = {m.other.backend for m in task.margins if m.tie and m.outcome != MISSED}
    return {task.winner.backend, *tied}


def value_cell(candidate: Candidate | None, task: Task, groups: pd.DataFrame, best: bool) -> str:
    """The group's value as the Training and Prediction tables show it, its profile, misses."""
    if candidate is None:
        return NOT_MEASURED
    group = candidate.row.group_key
    value = groups.at[group, TASK_COLUMNS[task.name]] if group in groups.index else None
    if value is None or pd.isna(value):
        text = NOT_MEASURED
    else:
        text = format(value, task.spec)
        text = f"**{text}**" if best else text
    if candidate.row.profile != "default":
        text += f" ({candidate.row.profile})"
    if candidate.missed:
        text += f", {missed_text(candidate.missed, candidate.runs)}"
    return text


def margins_cell(task: TaskVerdict) -> str:
    """The fastest backend's margin over each other one, or why there is none."""
    if task.winner is None or task.problem:
        problem = task.problem or "not measured"
        return headline.PROBLEM_TEXT.get(problem, problem)
    name = display(task.winner.backend)
    parts = [f"vs {display(m.other.backend)} {m.text()}" for m in task.margins]
    return f"{name}: " + "; ".join(parts)


def summary_table(verdict: MachineVerdict, groups: pd.DataFrame) -> str:
    """Tasks as rows, backends as columns, the unit in each row's name, the best in bold."""
    backends = headline.backends_of(verdict)
    rows = []
    for task in TASKS:
        found = verdict.get(task)
        if found.problem == "not measured":
            continue  # e.g. time to target, which results before schema 4 do not record
        best = best_backends(found)
        by_backend = candidates(found)
        rows.append({
            "task": task_title(found, groups),
            **{
                display(b): value_cell(by_backend.get(b), task, groups, b in best)
                for b in backends
            },
            MARGIN_COLUMN: margins_cell(found),
        })  # fmt: skip
    return to_markdown(pd.DataFrame(rows), [display(b) for b in backends])


def undecided_line(verdict: MachineVerdict) -> str:
    """The fewest rounds that would likely decide an undecided tie, as a command; or ""."""
    needed = [
        (margin.repeats_to_decide, task.task.name, margin.other.name)
        for task in verdict.tasks.values()
        if task.scope == "any"
        for margin in task.margins
        if not margin.decisive and margin.outcome != "SAME"
    ]
    if not needed:
        return ""
    decidable = sorted((n, name, other) for n, name, other in needed if n and n > 0)
    if not decidable:
        return (
            f"**Undecided**: {len(needed)} tie(s) the noise of this host cannot decide; "
            "a quieter machine would."
        )
    rounds, name, other = decidable[0]
    return (
        f"**Undecided**: {len(needed)} tie(s); about {rounds} rounds in all would likely decide "
        f"{name} against {other} (`nox -s bench -- --max-rounds {rounds} --budget 0`)."
    )


def precision_short(verdict: MachineVerdict) -> str:
    """Each lower precision's status and speed, in a line (details in the appendix)."""
    parts = []
    for judged in verdict.precision:
        speed = judged.speed or {}
        ratio = f" {speed['ratio']:.2f}× {speed['outcome']}" if speed else ""
        parts.append(f"{display(judged.row.backend)} {judged.status}{ratio}")
    if not parts:
        return ""
    profiles = sorted({judged.row.profile for judged in verdict.precision})
    return (
        f"**{'/'.join(profiles)}** (float32 / lower-precision time to a trained model): "
        + "; ".join(parts)
        + "."
    )


def rounds_short(verdict: MachineVerdict) -> str:
    """How many paired rounds ran and why they stopped."""
    parts = []
    for info in verdict.rounds:
        stopped = (info.schedule.get("stopped") or {}).get("text") or "it did not finish"
        parts.append(f"{info.rounds} paired rounds; it stopped because {stopped}")
    return "**Rounds**: " + "; ".join(parts) + "." if parts else ""


def section(place: Place, groups: pd.DataFrame) -> str:
    """One workload on one machine and device: the sentence, the table, parity, the rest."""
    verdict = place.verdict
    link = verdict_details.anchor(verdict_details.verdict_heading(verdict, place.workload))
    lines = [
        place.parity.text if place.parity else "",
        precision_short(verdict),
        rounds_short(verdict),
        undecided_line(verdict),
    ]
    return "\n\n".join([
        f"### {place.workload} on {headline.where(verdict)}",
        headline.recommendation(verdict, place.parity),
        summary_table(verdict, groups),
        *[line for line in lines if line],
        *([place.overhead] if place.overhead else []),
        f"Every margin, default settings apart, and what limits it: [details](#{link}).",
    ])  # fmt: skip


def render(places: list[Place], groups: pd.DataFrame) -> str:
    """The "Summary": a section per place, or per workload the matrix beyond a few machines."""
    parts = ["## Summary"]
    for workload in dict.fromkeys(place.workload for place in places):
        mine = [place for place in places if place.workload == workload]
        if len(mine) <= FULL_SUMMARY_MACHINES:
            parts += [section(place, groups) for place in mine]
            continue
        parts += [
            f"### {workload}: which backend on which machine",
            verdict_details.matrix([place.verdict for place in mine], workload),
            *[place.overhead for place in mine if place.overhead],
        ]
    return "\n\n".join(parts)
