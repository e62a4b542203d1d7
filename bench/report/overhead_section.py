"""The summary's "Keras overhead" table: per backend, Keras's time over its framework's native
reference, paired by round of one invocation (`bench.analysis.overhead`), and the line that
says where native code would change the answer. The recommendation stays about Keras."""

import pandas as pd

from bench.analysis.decision import TIME_TO_MODEL, MachineVerdict, ci_text, display
from bench.analysis.overhead import (
    OVERHEAD_TASKS,
    NativeGroup,
    Overhead,
    StepCheck,
    native_winner,
    overheads,
)
from bench.analysis.tidy import BY_COLUMN, group_value
from bench.report.headline import where
from bench.report.tables import plain, to_markdown
from bench.stats import FASTER, SAME, SLOWER

TASK_COLUMN = {"steady epoch": "steady_epoch_seconds", TIME_TO_MODEL.name: "fit_seconds"}
OUTCOME_WORDS = {FASTER: "native faster", SLOWER: "Keras faster", SAME: "the same"}
NOT_SIDE_BY_SIDE = "— (not in the same rounds)"
VARIANT_WORDS = {
    "eager": "eager",
    "compiled": "torch.compile",
    "jit": "jax.jit",
    "tf.function": "tf.function",
}


def value_text(runs: list, column: str) -> str:
    value = group_value(runs, column)
    return "—" if value is None else format(value, BY_COLUMN[column].spec)


def ratio_cell(row: Overhead, task_name: str) -> str:
    """ "0.82 / 0.47 s: 1.74× [1.66–1.83], native faster" (Keras's value over native's)."""
    found = row.gains.get(task_name)
    if found is None:
        return NOT_SIDE_BY_SIDE
    column = TASK_COLUMN[task_name]
    keras, native = (value_text(g.group_runs, column) for g in (row.keras, row.native))
    values = f"{keras} / {native} s"
    interval = "" if found["ci95"] is None else f" {ci_text(found['ci95'])}"
    word = OUTCOME_WORDS.get(found["outcome"], "undecided")
    return f"{values}: {found['ratio']:.2f}×{interval}, {word}"


def check_cell(check: StepCheck | None) -> str:
    if check is None:
        return "not checked"
    relation = "≤" if check.outcome == "PASS" else ">"
    where = "" if check.outcome == "PASS" else f" in {plain(check.tensor)}"
    return (
        f"{check.outcome}: {check.largest_error:.0e}{where} {relation} {check.allowed:.0e} "
        f"allowed ({check.runs} runs)"
    )


def native_name(group: NativeGroup) -> str:
    described = group.describe()
    optimizer = str(described.get("optimizer", "")).split(" (")[0]
    return f"{VARIANT_WORDS.get(group.variant, plain(group.variant))}, {plain(optimizer)}"


def overhead_table(rows: list[Overhead]) -> str:
    header = ["backend", "native reference"]
    header += [f"{task.name}: Keras / native" for task in OVERHEAD_TASKS]
    header += ["one step, Keras vs native"]
    body = [
        [display(row.native.backend), native_name(row.native)]
        + [ratio_cell(row, task.name) for task in OVERHEAD_TASKS]
        + [check_cell(row.check)]
        for row in rows
    ]
    return to_markdown(pd.DataFrame(body, columns=header))


def answer_line(verdict: MachineVerdict, natives: list[NativeGroup]) -> str:
    """Where native code would change the answer: a native reference that trains a model
    faster than the recommended Keras group, paired in the same rounds."""
    task = verdict.get(TIME_TO_MODEL, "any")
    if task.winner is None:
        return ""
    winner = task.winner
    mine = [g for g in natives if (g.machine, g.device) == (verdict.machine, verdict.device)]
    beaten = native_winner(winner.row, mine)
    if beaten:
        group, found = beaten[0]
        return (
            f"**Where native code changes the answer**: native {display(group.backend)} code "
            f"({native_name(group)}) trains a model {found['ratio']:.2f}× "
            f"{ci_text(found['ci95'])} faster than Keras on {winner.name}, the fastest Keras "
            "backend; for Keras users the recommendation stands."
        )
    in_rounds = any(g.invocation == winner.row.invocation for g in mine)
    if not in_rounds:
        return (
            f"**Native code**: Keras on {winner.name} ran in other rounds than the native "
            "references, so whether native code would change the answer is not measured."
        )
    return (
        f"**Native code would not change the answer**: no native reference trains a model "
        f"provably faster than Keras on {winner.name} in the same rounds."
    )


def place_rows(
    verdict: MachineVerdict, groups: pd.DataFrame, natives: list[NativeGroup]
) -> list[Overhead]:
    place = groups[(groups["machine"] == verdict.machine) & (groups["device"] == verdict.device)]
    return overheads(place[~place["quick"]], natives)


def step_check_failed(
    verdict: MachineVerdict, groups: pd.DataFrame, natives: list[NativeGroup]
) -> bool:
    """Whether a native reference of this place differs from Keras beyond rounding."""
    rows = place_rows(verdict, groups, natives)
    return any(row.check is not None and row.check.outcome != "PASS" for row in rows)


def render(verdict: MachineVerdict, groups: pd.DataFrame, natives: list[NativeGroup]) -> str:
    """The table and the line for one place; "" where no native reference ran there."""
    rows = place_rows(verdict, groups, natives)
    if not rows:
        return ""
    caption = (
        f"**Keras overhead on {where(verdict)}**: each backend's Keras default runs against its "
        "framework's own "
        "code in the same rounds, Keras's time over native time with its paired interval (above "
        "1: Keras is slower). Native runs are kept out of the ranking; the step check compares "
        "Keras with the native code from one state "
        "([methodology](../docs/methodology.md#keras-overhead))."
    )
    return "\n\n".join(
        part for part in (caption, overhead_table(rows), answer_line(verdict, natives)) if part
    )


def accuracy_cell(found: dict | None) -> str:
    """ "PASS: −0.0004 [−0.0011, +0.0003] within ±0.004" (native − Keras, paired by seed)."""
    if found is None:
        return "— (too few paired rounds)"
    low, high = found["ci"]
    return (
        f"{found['outcome']}: {found['mean_difference']:+.4f} [{low:+.4f}, {high:+.4f}] "
        f"within ±{found['margin']:g}"
    )


def details(groups: pd.DataFrame, natives: list[NativeGroup]) -> str:
    """The appendix's "Native references": every native group beside its Keras default group,
    with the values the summary's ratios come from, accuracy and the step checks."""
    rows = []
    for _, place in groups[~groups["quick"]].groupby(["machine", "device"], sort=False):
        for row in overheads(place, natives):
            keras, native = row.keras.group_runs, row.native.group_runs
            rows.append({
                "machine": row.keras.alias,
                "backend": display(row.native.backend),
                "native reference": native_name(row.native),
                "runs": len(native),
                "test accuracy, Keras / native": f"{value_text(keras, 'test_accuracy')} / "
                f"{value_text(native, 'test_accuracy')}",
                "native − Keras accuracy (90% CI, paired)": accuracy_cell(row.accuracy),
                "compile s, Keras / native": f"{value_text(keras, 'compile_seconds')} / "
                f"{value_text(native, 'compile_seconds')}",
                "one step, Keras vs native": check_cell(row.check),
            })  # fmt: skip
    if not rows:
        return ""
    return "\n\n".join([
        "## Native references",
        "Each framework's own code beside its backend's Keras default runs, in the same rounds "
        "(`--native`). Accuracy is compared paired by round (each round's seed gives both the "
        "same initial weights; batch order and dropout masks differ) with two one-sided tests "
        "within the workload's parity tolerance. *compile s* is first epoch minus steady epoch. "
        "The steady epochs and fits behind the ratios are in the summary's Keras overhead "
        "table ([methodology](../docs/methodology.md#keras-overhead)).",
        to_markdown(pd.DataFrame(rows), numeric=["runs"]),
    ])  # fmt: skip
