"""Host speed and the roofline: the neutral GEMM probes, one peak per machine and invocation."""

from collections.abc import Iterable
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.hosts import Probes, invocation_of
from bench.analysis.measures import median_of
from bench.host.gemm_probe import HOST_SPEED_TOLERANCE, speeds_differ
from bench.report.tables import MISSING, fmt, to_markdown
from bench.run.roofline import PEAK_RULE, machine_peak, percent_of_peak

HOST_SPEED_FLAG = "⚠ host speed differs"


def group_peak(row: Any, all_runs: pd.DataFrame, probes: Probes) -> tuple[float | None, str]:
    """The GEMM peak a group's "% of peak" divides by, and where it comes from.

    Within an invocation: the highest rate of its neutral probes and of every run's framework
    probe on the machine (PEAK_RULE). A group run outside any invocation falls back to its own
    runs' framework probes, and says so.
    """
    invocation = invocation_of(row)
    if invocation is None:
        own = [get(result, "roofline.framework_gemm") for result in row.group_runs]
        return machine_peak(own), "own framework probe only (not run through bench.suite)"
    same = all_runs[(all_runs["machine"] == row.machine) & (all_runs["invocation"] == invocation)]
    framework = [get(result, "roofline.framework_gemm") for result in same["result"]]
    neutral = [record["probe"] for record in probes.records(row.machine, invocation)]
    return machine_peak([*neutral, *framework]), f"invocation {invocation}"


def host_speed_notes(groups: pd.DataFrame, probes: Probes) -> list[str]:
    """Flags for one machine's groups measured on hosts (or at times) of different speed."""
    notes = []
    speeds = {}
    changed: dict[tuple[str, str], list[str]] = {}  # (machine, invocation) -> its groups
    for row in groups.itertuples():
        invocation = invocation_of(row)
        speeds[row.label] = probes.host_gflops(row.machine, invocation)
        if probes.changed_during(row.machine, invocation):
            changed.setdefault((row.machine, invocation), []).append(row.label)
    for (machine, invocation), labels in changed.items():
        rates = probes.rates(machine, invocation)
        notes.append(
            f"{HOST_SPEED_FLAG}: during invocation `{invocation}` ({', '.join(labels)}) two "
            f"neutral 2048² GEMM probes in a row read more than {HOST_SPEED_TOLERANCE:.0%} off "
            f"its median of {probes.host_gflops(machine, invocation):.0f} GFLOP/s (all of them: "
            f"{min(rates):.0f} to {max(rates):.0f}): the host's speed changed while it ran. "
            "Margins paired by round within it keep their meaning (see the verdict's notes); "
            "unpaired ones are suspect: rerun nox -s bench on a quiet machine."
        )
    measured = {label: rate for label, rate in speeds.items() if rate}
    if speeds_differ(list(measured.values())):
        listed = ", ".join(f"{label} {rate:.0f}" for label, rate in measured.items())
        notes.append(
            f"{HOST_SPEED_FLAG}: these groups ran on hosts whose neutral 2048² GEMM rates differ "
            f"by more than {HOST_SPEED_TOLERANCE:.0%} ({listed} GFLOP/s), so they are not "
            "ranked against each other: run them together (one nox -s bench)."
        )
    unmeasured = [label for label, rate in speeds.items() if rate is None]
    if unmeasured and measured:
        notes.append(
            f"Host speed unknown for {', '.join(unmeasured)} (no neutral probe of its "
            "invocation): comparisons with the other groups assume the same host."
        )
    return notes


def roofline_table(groups: pd.DataFrame, all_runs: pd.DataFrame, probes: Probes) -> str | None:
    """Per group: achieved GFLOP/s, the peak it is divided by, its framework's GEMM rates."""
    rows = []
    for row in groups.itertuples():
        runs = row.group_runs
        achieved = median_of(runs, "roofline.achieved_gflops")
        if achieved is None:
            continue
        peak, source = group_peak(row, all_runs, probes)
        rows.append({
            "group": row.label,
            "achieved GFLOP/s": fmt(achieved, ".1f"),
            "% of peak": fmt(percent_of_peak(achieved, peak), ".0f"),
            "peak GFLOP/s": fmt(peak, ".0f"),
            "GEMM, model shapes": fmt(
                median_of(runs, "roofline.framework_gemm.model_shapes_gflops"), ".0f"
            ),
            "GEMM, 2048²": fmt(median_of(runs, "roofline.framework_gemm.square_gflops"), ".0f"),
            "peak RSS MiB": fmt(median_of(runs, "memory.peak_rss_mib"), ",.0f"),
            "peak from": source,
        })  # fmt: skip
    if not rows:
        return None
    numeric = [c for c in rows[0] if c not in ("group", "peak from")]
    return to_markdown(pd.DataFrame(rows), numeric)


def probe_table(
    machine: str, invocations: Iterable[str], probes: Probes, alias: str | None = None
) -> str | None:
    """The neutral probes of a machine's invocations: when, rates, busy cores."""
    rows = []
    for invocation in invocations:
        for record in sorted(
            probes.records(machine, invocation), key=lambda r: str(r.get("created_utc"))
        ):
            probe = record["probe"]
            rows.append({
                "machine": alias or machine,
                "invocation": invocation,
                "suite": str(record.get("suite_backend", MISSING)),
                "phase": str(record.get("phase", MISSING)),
                "at (UTC)": str(record.get("created_utc", ""))[:19] or MISSING,
                "model shapes GFLOP/s": fmt(probe.get("model_shapes_gflops"), ".0f"),
                "2048² GFLOP/s": fmt(probe.get("square_gflops"), ".0f"),
                "busy cores": fmt(probe.get("busy_cores"), ".2f"),
            })  # fmt: skip
    if not rows:
        return None
    return to_markdown(pd.DataFrame(rows), ["model shapes GFLOP/s", "2048² GFLOP/s", "busy cores"])


def render(main: pd.DataFrame, all_runs: pd.DataFrame, probes: Probes) -> str:
    """The "Roofline and host speed" section."""
    parts = []
    for machine, groups in main.groupby("machine", sort=False):
        table = roofline_table(groups, all_runs, probes)
        invocations = sorted({inv for row in groups.itertuples() if (inv := invocation_of(row))})
        probe_rows = probe_table(machine, invocations, probes, groups["alias"].iloc[0])
        if table is None and probe_rows is None:
            continue
        if table:
            parts.append(table)
        if probe_rows:
            parts += [
                "The neutral GEMM probes of these invocations (numpy, all cores):",
                probe_rows,
            ]
    if not parts:
        return ""
    intro = (
        "Achieved GFLOP/s is the training FLOPs of an epoch (docs/methodology.md, Roofline) "
        "over the steady "
        f"epoch. *% of peak* divides it by one peak per machine and invocation: {PEAK_RULE}. "
        "*framework GEMM* is what the run's own framework reached in its probe (its kernels, "
        "its thread setting), shown beside the peak rather than used as its own denominator."
    )
    return "\n\n".join(["## Roofline and host speed", intro, *parts])
