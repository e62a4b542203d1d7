"""The report's opening: per machine and device the verdict table, parity and a recommendation."""

import pandas as pd

from bench.analysis import decision
from bench.analysis.collect import BACKEND_ORDER
from bench.analysis.decision import (
    PREDICTION_TASKS,
    SCOPES,
    TASKS,
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
from bench.analysis.schedules import CHOSE
from bench.analysis.targets import target_accuracies
from bench.parity.checks import ACCURACY_TOLERANCE
from bench.report.parity_section import ParityLine
from bench.report.tables import MISSING, to_markdown
from bench.stats import MIN_SPEED_EFFECT, SAME

OWN = "—"
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


def margin_cell(task: TaskVerdict, backend: str) -> str:
    """The winner's margin over `backend` for one task, or why there is none."""
    if task.winner is None:
        return MISSING
    if task.winner.backend == backend:
        return OWN
    margin = next((m for m in task.margins if m.other.backend == backend), None)
    if margin is None:
        return PROBLEM_TEXT.get(task.problem or "", MISSING)
    return margin.text()


def verdict_table(verdict: MachineVerdict) -> str:
    """Per task: the fastest group and its margins, with default settings and best profile.

    Where both scopes find the same group with the same margins, one row says so.
    """
    backends = backends_of(verdict)
    rows = []
    for task in TASKS:
        cells = {}
        for scope in SCOPES:
            found = verdict.get(task, scope)
            winner = found.winner
            cells[scope] = {
                "fastest": MISSING if winner is None else f"**{winner.name}**",
                "its value": found.winner_value() or MISSING,
                **{f"vs {display(b)}": margin_cell(found, b) for b in backends},
            }
        if cells["default"] == cells["any"]:
            rows.append({"task": task.name, "profiles": "default = best", **cells["any"]})
            continue
        for scope, scope_name in SCOPES.items():
            rows.append({"task": task.name, "profiles": scope_name, **cells[scope]})
    return to_markdown(pd.DataFrame(rows), ["its value", *(f"vs {display(b)}" for b in backends)])


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


def undecided_notes(verdict: MachineVerdict) -> list[str]:
    """For each undecided tie, host mismatch or noisy group: what to run to decide it."""
    notes = []
    for task in verdict.tasks.values():
        if task.scope != "any":
            continue
        if task.problem == "hosts of different speed":
            notes.append(
                f"{task.task.name}: not ranked, the groups ran on hosts of different speed; "
                "run every backend in one `nox -s bench` to decide it."
            )
        for margin in task.margins:
            if margin.decisive or margin.outcome == SAME:
                continue
            n = margin.repeats_to_decide
            if n and margin.paired:
                more = n - (margin.rounds or 0)
                run = (
                    f"about {n} rounds in all, {more} more than these, would likely decide it "
                    f"(`nox -s bench -- --max-rounds {n} --budget 0`)"
                )
            elif n:
                run = (
                    "they did not run side by side: one `nox -s bench` runs them in the same "
                    f"rounds, paired, which usually decides sooner (unpaired, about {n} runs "
                    "per group would)"
                )
            else:
                run = (
                    "more runs than is practical would be needed: on this host the two are "
                    "within its noise"
                )
            notes.append(
                f"{task.task.name}: {task.winner.name} against {margin.other.name}, "
                f"{margin.text()}, is not decisive; {run}."
            )
    in_rounds = {info.invocation for info in verdict.rounds}
    for invocation in verdict.unsteady_hosts:
        if invocation in in_rounds:
            continue  # rounds_notes says what its disturbed rounds do to the verdict
        notes.append(
            f"The host's speed changed during invocation `{invocation}` (its neutral GEMM "
            "probes differ by more than 10%; see Roofline and host speed): every margin above "
            "is suspect. Rerun `nox -s bench` on a quiet machine."
        )
    if verdict.noisy:
        notes.append(noisy_text(verdict))
    return notes


def noisy_text(verdict: MachineVerdict) -> str:
    """One sentence: how many groups cannot resolve the minimum effect on their own, and which."""
    return (
        f"{len(verdict.noisy)} group(s) cannot resolve ±{MIN_SPEED_EFFECT:.0%} from their steady "
        f"epochs alone (⚠ in Training): {', '.join(verdict.noisy)}. Their margins rest on the "
        "paired rounds; a quieter machine or more rounds narrows them."
    )


def rounds_line(verdict: MachineVerdict) -> str:
    """How the verdict's rounds ran and why they stopped, in a line under its table."""
    parts = []
    for info in verdict.rounds:
        design = info.schedule.get("design") or {}
        stopped = (info.schedule.get("stopped") or {}).get("text") or "it did not finish"
        looks, level = design.get("looks"), design.get("confidence")
        level_text = (
            f"each look's interval at {level:.2%} (95% over {looks} looks)"
            if looks and looks > 1 and isinstance(level, float)
            else "95% intervals"
        )
        parts.append(
            f"invocation `{info.invocation}` ran every backend and profile once per round for "
            f"{info.rounds} rounds, in orders drawn from seed {info.schedule.get('order_seed')}; "
            f"its margins are paired by round, {level_text}. It stopped because {stopped}."
        )
    return "**Rounds**: " + " ".join(parts) if parts else ""


def without_disturbed_text(changes) -> str:
    """What the verdict would say without its disturbed rounds, in a sentence."""
    if changes.flipped:
        return (
            "⚠ Without the disturbed rounds these margins would be decided otherwise: "
            + "; ".join(changes.flipped)
            + ". Rerun `nox -s bench` on a quieter machine."
        )
    parts = []
    if changes.opened:
        parts.append(f"{changes.opened} decided margin(s) would be undecided with fewer rounds")
    if changes.closed:
        parts.append(f"{changes.closed} undecided one(s) would be decided")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"Without the disturbed rounds no decided margin would be decided otherwise{detail}."


def rounds_notes(verdict: MachineVerdict) -> list[str]:
    """Disturbed rounds and what leaving them out would change; searches that kept defaults."""
    notes = []
    for info in verdict.rounds:
        for index, before, after in info.disturbed_probes():
            probes = " and ".join(f"{rate:.0f}" for rate in (before, after) if rate)
            typical = info.schedule.get("host_gflops")
            notes.append(
                f"Round {index + 1} of `{info.invocation}` was flagged disturbed: the neutral "
                f"probes around it read {probes} GFLOP/s, both more than 10% off the "
                f"invocation's median{f' ({typical:.0f})' if typical else ''}. The paired "
                "margins keep it: with the order shuffled, a change of speed during a round is "
                "noise their interval counts, not a bias."
            )
        changes = info.changed_without_disturbed
        if changes is not None:
            notes.append(without_disturbed_text(changes))
        for place, search in (info.schedule.get("searches") or {}).items():
            if isinstance(search, dict) and search.get("outcome") != CHOSE:
                notes.append(f"Tuned profile of {place}: {search.get('text')}.")
    return notes


def flagged_notes(verdict: MachineVerdict, main: pd.DataFrame) -> list[str]:
    """Tuned profiles that lose on the documented job, and are therefore never recommended."""
    mine = main[(main["machine"] == verdict.machine) & (main["device"] == verdict.device)]
    labels = mine.loc[mine["repeat_group"].isin(verdict.flagged), "label"]
    return [
        f"⚠ {label} is slower than its default profile for the documented job (10-epoch fit, "
        "compile included), so it is never recommended for it; see Tuned profiles."
        for label in labels
    ]


def precision_line(verdict: MachineVerdict) -> str:
    """Each lower-precision profile's status in a line: accepted or rejected, and why."""
    parts = []
    for judged in verdict.precision:
        speed = judged.speed
        ratio = ""
        if speed:
            ratio = (
                f"; float32 / {judged.row.profile} time to a trained model "
                f"{speed['ratio']:.2f}× {interval_text(speed['ci95'])} {speed['outcome']}"
            )
        parts.append(
            f"{display(judged.row.backend)} {judged.row.profile} **{judged.status}**: "
            f"{judged.reason}{ratio}"
        )
    if not parts:
        return ""
    return "**Lower precision** (see Tuned profiles): " + "; ".join(parts) + "."


def limits_notes(
    verdict: MachineVerdict, main: pd.DataFrame, failed: list[str] | None = None
) -> list[str]:
    """What limits one machine's verdict, and what to run: failures, ties, rounds, flags."""
    return (
        list(failed or [])
        + undecided_notes(verdict)
        + rounds_notes(verdict)
        + flagged_notes(verdict, main)
    )


def details(
    verdicts: list[MachineVerdict],
    main: pd.DataFrame,
    parity_lines: dict[tuple, ParityLine],
    failed: dict[tuple[str, str], list[str]] | None = None,
    workload: str = "mlp",
    level: str = "##",
) -> str:
    """The verdict in full, per machine and device: both scopes, every note and what to run."""
    parts = [
        f"{level} Verdict details: {workload}",
        "Per machine and device and task: the fastest group with Keras' default settings and "
        "with each backend's best profile, its value (the geometric mean of its runs) and its "
        "margin over each other backend's best group, with its 95% interval. "
        "[Methodology](../docs/methodology.md) says how margins are paired and decided.",
    ]
    for verdict in verdicts:
        parity = parity_lines.get((verdict.machine, verdict.device))
        notes = limits_notes(verdict, main, (failed or {}).get((verdict.machine, verdict.device)))
        parts += [
            f"{level}# {verdict_heading(verdict, workload)}",
            verdict_table(verdict),
            *[line for line in (precision_line(verdict), rounds_line(verdict)) if line],
            *([parity.text] if parity else []),
        ]
        if notes:
            parts.append(
                "What limits this verdict, and what to run:\n\n"
                + "\n".join(f"- {note}" for note in notes)
            )
    return "\n\n".join(parts)


def verdict_heading(verdict: MachineVerdict, workload: str) -> str:
    """The appendix heading of one machine's verdict details (the summary links to it)."""
    return f"{workload} verdict on {where(verdict)}"


def anchor(heading: str) -> str:
    """The anchor python-markdown's toc and GitHub give a plain heading: "mlp-verdict-on-m2-cpu"."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return "-".join(kept.split())


def matrix(verdicts: list[MachineVerdict], workload: str) -> str:
    """Which backend on which machine: rows machine and device, columns tasks, best profiles."""
    rows = []
    for verdict in verdicts:
        link = anchor(verdict_heading(verdict, workload))
        row = {"machine": f"[{where(verdict)}](#{link})"}
        for task in TASKS:
            row[task.name] = matrix_cell(verdict.get(task))
        rows.append(row)
    return "\n\n".join([
        "Each cell: the fastest backend (best profile) and its margin over the closest other "
        "backend, or the backends that tie; each row compares runs of one machine only. The "
        "machine links to its verdict in the appendix.",
        to_markdown(pd.DataFrame(rows)),
    ])  # fmt: skip


def matrix_cell(task: TaskVerdict) -> str:
    """ "JAX (tuned) 1.5×", "tie: JAX, TensorFlow", or the problem."""
    if task.winner is None or task.problem:
        return (
            PROBLEM_TEXT.get(task.problem or "", MISSING)
            if task.winner is None
            else (f"{task.winner.name} ({PROBLEM_TEXT.get(task.problem, task.problem)})")
        )
    ties = [m.other.name for m in task.margins if m.tie]
    if ties:
        return "tie: " + ", ".join([task.winner.name, *ties])
    closest = min(task.margins, key=lambda m: m.ratio)
    return f"**{task.winner.name}** {closest.ratio:.2f}×"
