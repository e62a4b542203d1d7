"""The verdict in full, per machine and device, for the appendix: both scopes, every note and
what to run; and the matrix of machines the summary shows beyond a few."""

import pandas as pd

from bench.analysis.decision import (
    SCOPES,
    TASKS,
    MachineVerdict,
    TaskVerdict,
    display,
)
from bench.analysis.schedules import CHOSE
from bench.report.headline import PROBLEM_TEXT, backends_of, interval_text, where
from bench.report.parity_section import ParityLine
from bench.report.tables import MISSING, to_markdown
from bench.stats import MIN_SPEED_EFFECT, SAME

OWN = "—"


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
