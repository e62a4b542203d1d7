"""A comparison as a table (terminal and Markdown), as a JSON record, and as one summary line."""

from typing import Any

import pandas as pd

from bench.compare.changes import IMPROVEMENT, REGRESSION, UNCHANGED
from bench.compare.matching import Comparison, MetricChange, NotCompared
from bench.host.gemm_probe import HOST_SPEED_TOLERANCE
from bench.parity.checks import ACCURACY_TOLERANCE
from bench.report.tables import MISSING, to_markdown
from bench.stats import ALPHA, INCONCLUSIVE
from digitrec_core.workloads import DEFAULT_WORKLOAD

VALUE_FORMATS = {"time": ".3f", "rate": ",.0f", "accuracy": ".4f"}
NUMERIC_COLUMNS = ["runs", "baseline", "current", "ratio / Δ", "95% CI"]
# Summary wording: the verdict's count first, singular and plural.
SUMMARY_NAMES = {
    REGRESSION: ("regression", "regressions"),
    IMPROVEMENT: ("improvement", "improvements"),
    UNCHANGED: ("unchanged", "unchanged"),
    INCONCLUSIVE: ("inconclusive", "inconclusive"),
    "not compared": ("not compared", "not compared"),
}


def group_label(group: dict[str, Any]) -> str:
    """backend · device · profile, and · quick for a quick run; the workload first if not mlp."""
    label = f"{group['backend']} · {group['device']} · {group['profile']}"
    if group.get("workload", DEFAULT_WORKLOAD) != DEFAULT_WORKLOAD:
        label = f"{group['workload']} · {label}"
    return label + (" · quick" if group["quick"] else "")


def change_cells(item: MetricChange) -> dict[str, str]:
    """The cells of one compared metric."""
    change, kind = item.change, item.metric.kind
    spec = VALUE_FORMATS[kind]
    ci = change["ci95"]
    if kind == "accuracy":
        shift = f"{change['difference'] * 100:+.2f} pp"
        interval = MISSING if ci is None else f"{ci[0] * 100:+.2f} to {ci[1] * 100:+.2f} pp"
    else:
        shift = f"{change['ratio']:.3f}"
        interval = MISSING if ci is None else f"{ci[0]:.3f} to {ci[1]:.3f}"
    verdict = change["verdict"] + (f" ({change['note']})" if change["note"] else "")
    return {
        "machine": item.group["machine"],
        "backend · device · profile": group_label(item.group),
        "metric": item.metric.label,
        "runs": " / ".join(map(str, change["runs"])),
        "baseline": format(item.baseline, spec),
        "current": format(item.current, spec),
        "ratio / Δ": shift,
        "95% CI": interval,
        "verdict": verdict,
    }


def regression_line(item: MetricChange) -> str:
    """One regression in words: where, which metric, by how much."""
    cells = change_cells(item)
    return (
        f"{cells['machine']}, {cells['backend · device · profile']}, {cells['metric']}: "
        f"{cells['baseline']} → {cells['current']} ({cells['ratio / Δ']}, 95% CI "
        f"{cells['95% CI']})"
    )


def not_compared_cells(item: NotCompared) -> dict[str, str]:
    """The cells of one group left out of the comparison."""
    return {
        "machine": item.group["machine"],
        "backend · device · profile": group_label(item.group),
        **dict.fromkeys(["metric", *NUMERIC_COLUMNS], MISSING),
        "verdict": f"not compared: {item.reason}",
    }


def table(comparison: Comparison) -> str:
    """Every compared metric, then every group not compared, as a GitHub Markdown table."""
    rows = [change_cells(item) for item in comparison.changes]
    rows += [not_compared_cells(item) for item in comparison.not_compared]
    if not rows:
        return "(no groups on either side)"
    return to_markdown(pd.DataFrame(rows), NUMERIC_COLUMNS)


def summary_line(comparison: Comparison) -> str:
    """ "2 regressions, 0 improvements, 10 unchanged, 3 inconclusive, 4 not compared"."""
    parts = []
    for name, count in comparison.counts().items():
        singular, plural = SUMMARY_NAMES[name]
        parts.append(f"{count} {singular if count == 1 else plural}")
    return ", ".join(parts)


def groups(count: int) -> str:
    """ "1 group", "3 groups"."""
    return f"{count} group{'s' * (count != 1)}"


def header(comparison: Comparison) -> str:
    """What was compared with what, and how to read the verdicts."""
    bound = 1 + comparison.min_effect
    return (
        f"The current results in `{comparison.results_dir}` "
        f"({groups(comparison.current_groups)}) against the baseline in "
        f"`{comparison.baseline_dir}` ({groups(comparison.baseline_groups)}), each group the "
        "latest repeat group of one machine, backend, device, mode and profile: "
        f"{groups(comparison.compared_groups())} compared. Only the same machine id is "
        "compared, and not where the two invocations' neutral GEMM probes differ by more than "
        f"{HOST_SPEED_TOLERANCE:.0%}. For times (throughput inverted into a time per sample) "
        "*ratio* is current / baseline of the geometric means, above 1 slower, with Welch's 95% "
        "interval on log times: **REGRESSION** (**IMPROVEMENT**) needs the interval to exclude "
        f"1, a two-sided Mann–Whitney rank test at p < {ALPHA} and a slowdown (speed-up) of at "
        f"least {comparison.min_effect:.0%}; **UNCHANGED** means the whole interval lies within "
        f"{1 / bound:.3f} to {bound:.3f}. For test accuracy *Δ* is current − baseline of the "
        "mean, in percentage points, with Welch's 95% interval: REGRESSION (IMPROVEMENT) needs "
        f"it wholly below (above) 0 and a change of at least {ACCURACY_TOLERANCE * 100:.1f} pp, "
        f"UNCHANGED needs it within ±{ACCURACY_TOLERANCE * 100:.1f} pp. Anything else is "
        "**INCONCLUSIVE**: more runs (`nox -s bench -- --repeats 10`) or a quieter machine "
        "would decide it."
    )


def markdown(comparison: Comparison) -> str:
    """The comparison.md file: a title, the header, the table and the summary line."""
    parts = [
        "# Comparison with a baseline",
        header(comparison),
        table(comparison),
        f"**{summary_line(comparison)}**",
    ]
    return "\n\n".join(parts) + "\n"


def record(comparison: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON-safe data (comparison.json)."""
    counts = comparison.counts()
    return {
        "baseline_dir": str(comparison.baseline_dir),
        "results_dir": str(comparison.results_dir),
        "groups": {
            "baseline": comparison.baseline_groups,
            "current": comparison.current_groups,
            "compared": comparison.compared_groups(),
        },
        "min_effect": comparison.min_effect,
        "accuracy_tolerance": ACCURACY_TOLERANCE,
        "alpha": ALPHA,
        "summary": {
            SUMMARY_NAMES[name][1].replace(" ", "_"): count for name, count in counts.items()
        },
        "metrics": [
            {
                **item.group,
                "metric": item.metric.key,
                "label": item.metric.label,
                "kind": item.metric.kind,
                "baseline": item.baseline,
                "current": item.current,
                **item.change,
            }
            for item in comparison.changes
        ],
        "not_compared": [{**item.group, "reason": item.reason} for item in comparison.not_compared],
    }
