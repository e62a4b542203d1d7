"""The report's parity section: the benchmark's own accuracy verdict and nox -s parity's."""

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.collect import get
from bench.analysis.measures import values
from bench.parity.checks import ACCURACY_TOLERANCE, statistical_verdict
from bench.report import figures as plots
from bench.report.tables import MISSING, fmt, to_markdown
from bench.stats import MIN_SEEDS
from digitrec_core.workloads import DEFAULT_WORKLOAD

# Every key the section reads, so an incomplete verdict is skipped instead of crashing it.
REQUIRED = (
    "machine.id",
    "created_utc",
    "backends",
    "tolerances.accuracy",
    "same_start.passed",
    "statistical.outcome",
    "statistical.message",
    "statistical.summaries",
    "statistical.pairs",
    "statistical.samples",
    "statistical.epochs",
    "predict_everywhere.outcome",
    "predict_everywhere.message",
    "outcome",
)
PAIR_KEYS = ("pair", "mean_difference", "ci", "outcome")
# The lockstep part of each verdict layout: format 2 judges teacher-forced steps and shows the
# free-running epoch as a diagnostic; older verdicts judged one whole free-running epoch.
STEP_KEYS = (
    "tolerances.step",
    "teacher_forced.outcome",
    "teacher_forced.message",
    "free_running.message",
    "free_running.divergence",
)
EPOCH_KEYS = ("tolerances.lockstep", "lockstep.outcome", "lockstep.message", "lockstep.divergence")
OLD_LOCKSTEP = "lockstep (one whole free-running epoch; verdicts before the step check)"


def judges_steps(record: dict[str, Any]) -> bool:
    """Whether a verdict comes from the teacher-forced step check (format 2 and later)."""
    return (record.get("format") or 1) >= 2


def lockstep_checks(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, check) of a verdict's judged lockstep check, as its format has it."""
    if judges_steps(record):
        return [("teacher-forced steps", record["teacher_forced"])]
    return [(OLD_LOCKSTEP, record["lockstep"])]


def check_verdict(record: Any) -> None:
    """Raise ValueError naming the first key the section needs that `record` lacks."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, found {type(record).__name__}")
    for dotted in REQUIRED + (STEP_KEYS if judges_steps(record) else EPOCH_KEYS):
        if get(record, dotted) is None:
            raise ValueError(f"missing {dotted!r}")
    for pair in record["statistical"]["pairs"]:
        missing = [key for key in PAIR_KEYS if not isinstance(pair, dict) or key not in pair]
        if missing:
            raise ValueError(f"a statistical pair lacks {missing}")


def latest_verdicts(
    results_dir: Path, warn: Callable[[str], None], workload: str = DEFAULT_WORKLOAD
) -> dict[str, dict[str, Any]]:
    """The newest usable `nox -s parity` verdict of `workload` per machine, keyed by machine id.

    Verdicts written before workloads (no `config.workload`) are the MLP's.
    """
    verdicts = {}
    for path in sorted(Path(results_dir, "parity").glob("*/*-parity*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            check_verdict(record)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            if workload == DEFAULT_WORKLOAD:  # warn once, not once per workload
                warn(f"skipped parity verdict {path}: {exc}")
            continue
        if (record.get("config") or {}).get("workload", DEFAULT_WORKLOAD) != workload:
            continue
        verdicts[record["machine"]["id"]] = {**record, "path": path}  # by time: the last wins
    return verdicts


def verdict_word(outcome: str | bool) -> str:
    """**PASS**, **FAIL** or **INCONCLUSIVE** (booleans: older verdicts)."""
    if isinstance(outcome, bool):
        outcome = "PASS" if outcome else "FAIL"
    return f"**{outcome}**"


def pairs_table(pairs: list[dict[str, Any]]) -> str:
    """Each pair's paired mean difference, 90% TOST interval, verdict and seeds to decide."""
    frame = pd.DataFrame(
        {
            "pair": [p["pair"] for p in pairs],
            "mean paired difference": [f"{p['mean_difference']:+.4f}" for p in pairs],
            "paired sd": [fmt(p.get("sd"), ".4f") for p in pairs],
            "90% CI (TOST)": [f"{p['ci'][0]:+.4f} to {p['ci'][1]:+.4f}" for p in pairs],
            "TOST p": [fmt(p.get("p_value"), ".3f") for p in pairs],
            "verdict": [verdict_word(p["outcome"]) for p in pairs],
            "seeds to decide": [fmt(p.get("seeds_to_decide")) for p in pairs],
        }
    )
    return to_markdown(frame, ["mean paired difference", "paired sd", "90% CI (TOST)", "TOST p"])


def summaries_table(summaries: dict[str, dict[str, Any]]) -> str:
    """Per backend: seeds, mean accuracy, sd and the 95% interval of the mean."""
    frame = pd.DataFrame(
        {
            "backend": list(summaries),
            "seeds": [str(s["n"]) for s in summaries.values()],
            "mean accuracy": [fmt(s["mean"], ".4f") for s in summaries.values()],
            "sd": [fmt(s["sd"], ".4f") for s in summaries.values()],
            "95% CI": [
                MISSING if s["ci95"] is None else f"{s['ci95'][0]:.4f} to {s['ci95'][1]:.4f}"
                for s in summaries.values()
            ],
        }
    )
    return to_markdown(frame, ["seeds", "mean accuracy", "sd", "95% CI"])


def accuracy_by_seed(group_runs: list[dict[str, Any]]) -> dict[int, float]:
    """A group's test accuracy keyed by each run's seed (runs without either left out)."""
    found = {}
    for result in group_runs:
        seed, accuracy = get(result, "config.seed"), values([result], "metrics.test_accuracy")
        if isinstance(seed, int) and accuracy:
            found[seed] = accuracy[0]
    return found


def bench_parity(groups: pd.DataFrame) -> tuple[list[int], dict[str, Any] | None]:
    """Paired TOST on one machine and device's default full groups, paired by seed.

    Returns the seeds every backend shares and the verdict; None with fewer than two
    backends or fewer than MIN_SEEDS shared seeds.
    """
    by_backend = {row.backend: accuracy_by_seed(row.group_runs) for row in groups.itertuples()}
    if len(by_backend) < 2:
        return [], None
    common = sorted(set.intersection(*(set(seeds) for seeds in by_backend.values())))
    if len(common) < MIN_SEEDS:
        return common, None
    paired = tuple(
        (b, tuple((seed, by_seed[seed]) for seed in common)) for b, by_seed in by_backend.items()
    )
    return common, paired_verdict(paired)


@functools.lru_cache(maxsize=1024)  # the summary and the parity section ask for the same one
def paired_verdict(paired: tuple[tuple[str, tuple[tuple[int, float], ...]], ...]) -> dict:
    """`statistical_verdict` of (backend, ((seed, accuracy), ...)) pairs, computed once."""
    return statistical_verdict({b: dict(seeds) for b, seeds in paired}, ACCURACY_TOLERANCE)


def default_full(main: pd.DataFrame) -> pd.DataFrame:
    """The default-profile groups of full (not quick) runs."""
    return main[(main["profile"] == "default") & ~main["quick"]]


def bench_accuracy_parity(main: pd.DataFrame) -> list[str]:
    """Paired TOST on the benchmark's own default full runs, paired by seed."""
    parts = []
    for (machine, device), group in default_full(main).groupby(["machine", "device"], sort=False):
        common, verdict = bench_parity(group)
        if group["backend"].nunique() < 2:
            continue
        heading = (
            f"**These benchmark runs** ({alias_of(main, machine)}, {device}, default profile, "
            "paired by seed)"
        )
        if verdict is None:
            parts.append(
                f"{heading}: no verdict: the backends share {len(common)} seed(s) "
                f"({common}); the check needs at least {MIN_SEEDS} (nox -s bench -- --repeats "
                f"{MIN_SEEDS} or more)."
            )
            continue
        parts += [
            f"{heading}: {verdict_word(verdict['outcome'])}. Seeds {common}; each seed starts "
            "every backend from the same numpy initial weights, but batch order and dropout "
            "are each backend's own, so the paired spread is wider than in `nox -s parity`.",
            summaries_table(verdict["summaries"]),
            pairs_table(verdict["pairs"]),
        ]
    return parts


@dataclass(frozen=True)
class ParityLine:
    """The one line on accuracy parity for a machine and device, and what it found.

    `statistical`: `nox -s parity`'s statistical outcome where the machine has a verdict, else
    the benchmark runs' own paired one (None: neither). `failed`: the names of the checks of
    that verdict that FAILed, so no sentence calls accuracy equivalent without saying so.
    """

    text: str
    statistical: str | None
    failed: tuple[str, ...] = ()


def parity_line(
    main: pd.DataFrame,
    machine: str,
    device: str,
    verdicts: dict[str, dict[str, Any]],
    command: str = "nox -s parity",
) -> ParityLine:
    """One line on accuracy parity for a machine and device (see ParityLine)."""
    parts, outcome, failed = [], None, []
    record = verdicts.get(machine)
    if record is not None:
        seeds = (record.get("config") or {}).get("seeds")
        checks = [
            ("statistical", record["statistical"]),
            *lockstep_checks(record),
            ("predict everywhere", record["predict_everywhere"]),
        ]
        failed = [name for name, check in checks if verdict_word(check["outcome"]) == "**FAIL**"]
        listed = " · ".join(f"{name} {verdict_word(check['outcome'])}" for name, check in checks)
        when = f"{seeds} seeds, " if seeds else ""
        parts.append(f"`{command}` ({when}{record['created_utc'][:10]}): {listed}")
        outcome = record["statistical"]["outcome"]
    groups = default_full(main)
    groups = groups[(groups["machine"] == machine) & (groups["device"] == device)]
    common, verdict = bench_parity(groups)
    if verdict is not None:
        parts.append(
            f"these benchmark runs, paired by seed ({len(common)} seeds): "
            f"{verdict_word(verdict['outcome'])}"
        )
        outcome = outcome or verdict["outcome"]
    if record is None:
        parts.append(f"no `{command}` verdict for this machine yet (run `{command}`)")
    tolerance = f"±{ACCURACY_TOLERANCE * 100:.1f} pp"
    text = f"**Accuracy parity** (equivalence within {tolerance}): " + "; ".join(parts) + "."
    return ParityLine(text, None if outcome is None else str(outcome), tuple(failed))


def alias_of(main: pd.DataFrame, machine: str) -> str:
    """The machine's alias in the report ("M2"), or its id in code where it has no runs."""
    if "alias" in main:
        found = main.loc[main["machine"] == machine, "alias"]
        if len(found):
            return str(found.iloc[0])
    return f"`{machine}`"


def paired_differences(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """Per pair: the per-seed accuracy differences (seeds in the same order) and the interval."""
    samples = verdict["statistical"]["samples"]
    found = []
    for pair in verdict["statistical"]["pairs"]:
        first, _, second = pair["pair"].partition(" vs ")
        if first in samples and second in samples and len(samples[first]) == len(samples[second]):
            differences = np.subtract(samples[first], samples[second]).tolist()
            found.append({"pair": pair["pair"], "differences": differences, "ci": pair["ci"]})
    return found


def draw(
    verdict: dict[str, Any],
    figures_dir: Path,
    link: Callable[[Path], str],
    *,
    alias: str | None = None,
    drawn: dict | None = None,
) -> dict[str, str]:
    """The parity figures of one verdict, titled with its machine (or `alias`); links by name.

    Pass one `drawn` dict for every verdict of a section: a figure whose content was already
    drawn there for another machine is not drawn again; its link is reused and
    "<name>_same_as" names the machine it was drawn for.
    """
    machine = verdict["machine"]["id"]
    shown = alias or machine
    drawn = {} if drawn is None else drawn
    links = {}
    figures_dir.mkdir(parents=True, exist_ok=True)

    def once(name: str, content: Any, plot: Callable[[], Path]) -> None:
        key = (str(figures_dir), name, json.dumps(content, sort_keys=True, default=str))
        if key in drawn:
            links[name], links[f"{name}_same_as"] = drawn[key]
        else:
            links[name] = link(plot())
            drawn[key] = (links[name], shown)

    pairs = paired_differences(verdict)
    if pairs:
        margin = verdict["tolerances"]["accuracy"]
        once(
            "strips",
            [pairs, margin],
            lambda: plots.plot_paired_differences(
                pairs,
                margin,
                figures_dir / f"parity_seeds_{machine}.png",
                title=f"Paired accuracy differences on {shown}",
            ),
        )
    if judges_steps(verdict):
        free = verdict["free_running"]
        once(
            "steps",
            [free["divergence"], free["tolerance"], free.get("first_step_beyond_rounding")],
            lambda: plots.plot_step_divergence(
                free["divergence"],
                figures_dir / f"parity_free_running_{machine}.png",
                tolerance=free["tolerance"],
                first_beyond=free.get("first_step_beyond_rounding"),
                title=f"Free-running lockstep on {shown}: each backend from its own previous step",
            ),
        )
    else:
        lockstep, tolerance = verdict["lockstep"]["divergence"], verdict["tolerances"]["lockstep"]
        once(
            "divergence",
            [lockstep, tolerance],
            lambda: plots.plot_divergence(
                lockstep,
                figures_dir / f"parity_lockstep_{machine}.png",
                tolerance=tolerance,
                title=f"Lockstep divergence on {shown}",
            ),
        )
    matrices = verdict.get("confusion_matrices") or {}
    if len(matrices) >= 2:
        (a, first), (b, second) = list(matrices.items())[:2]
        difference = np.asarray(first) - np.asarray(second)
        title = f"Confusion matrix {a} minus {b} (seed 0) on {shown}"
        path = figures_dir / f"parity_confusion_difference_{machine}.png"
        once(
            "difference",
            [a, b, difference.tolist()],
            lambda: plots.plot_matrix_difference(difference, title, path),
        )
        links["difference_pair"] = f"{a} minus {b}"
    return links


def render(main: pd.DataFrame, verdicts: dict[str, dict[str, Any]], links: dict) -> str:
    """The "Accuracy parity" section."""
    parts = [
        "## Accuracy parity",
        "Statistical verdicts are two one-sided tests (TOST) on paired seeds: a pair of "
        f"backends is **PASS** when the 90% interval of its mean paired accuracy difference "
        f"lies within ±{ACCURACY_TOLERANCE}, **FAIL** when it lies wholly beyond, and "
        "**INCONCLUSIVE** otherwise, with the number of seeds that would likely decide it "
        "(docs/methodology.md, Accuracy parity).",
    ]
    parts += bench_accuracy_parity(main)
    if not verdicts:
        parts.append("No `nox -s parity` verdict yet: run `nox -s parity` for the three checks.")
    for machine, verdict in verdicts.items():
        checks = [
            ("Statistical", verdict["statistical"]),
            *((name.capitalize(), check) for name, check in lockstep_checks(verdict)),
            ("Predict everywhere", verdict["predict_everywhere"]),
        ]
        lines = "\n".join(
            f"- {name}: {verdict_word(check['outcome'])}: {check['message']}"
            for name, check in checks
        )
        if judges_steps(verdict):
            lines += (
                "\n- Free-running lockstep epoch (a diagnostic, not judged): "
                + verdict["free_running"]["message"]
            )
        start = verdict["same_start"]
        session = verdict.get("session")
        config = verdict.get("config") or {}
        parts += [
            f"### `nox -s parity` on {alias_of(main, machine)}: {verdict_word(verdict['outcome'])}",
            f"From `{verdict['created_utc'][:19]}` UTC, backends {', '.join(verdict['backends'])}"
            + (f", session `{session}`" if session else "")
            + (f", {config.get('seeds')} seeds" if config.get("seeds") else "")
            + ". Initial weights identical on every backend: "
            + ("yes" if start["passed"] else "NO")
            + ".",
            lines,
            f"Statistical: {verdict['statistical']['epochs']} epochs per seed, numpy initial "
            "weights and batch order, dropout on; equivalence margin on the mean paired "
            f"accuracy difference ±{verdict['tolerances']['accuracy']}.",
            summaries_table(verdict["statistical"]["summaries"]),
            pairs_table(verdict["statistical"]["pairs"]),
        ]
        figure_links = links.get(machine, {})
        captions = {
            "strips": (
                "Per seed, each pair's accuracy difference; the diamond is the mean with its "
                "90% interval, the band the equivalence margin: PASS needs the interval inside it",
                "Paired accuracy differences per seed",
            ),
            "steps": (
                "Free-running lockstep (dropout off, same start and batches, each backend from "
                "its own previous step): how far the weights drift apart step by step; the "
                "verdict is the teacher-forced steps above",
                "Free-running divergence per step",
            ),
            "divergence": (
                "Lockstep (dropout off, same start and order): how far the backends drift apart "
                "epoch by epoch, and the share of test images on which they predict the same "
                "class; the verdict is on epoch 1, tolerance "
                f"{(verdict['tolerances'].get('lockstep') or 0):.0e}",
                "Lockstep divergence per epoch",
            ),
        }
        for name, (caption, alt) in captions.items():
            if f"{name}_same_as" in figure_links:
                same = figure_links[f"{name}_same_as"]
                parts.append(f"{caption}: the same figure as on {same}.")
            elif name in figure_links:
                parts.append(f"{caption}.\n\n![{alt}]({figure_links[name]})")
        if "difference_same_as" in figure_links:
            parts.append(
                f"Where two backends' mistakes differ: {figure_links['difference_pair']}, "
                f"seed 0: the same difference as on {figure_links['difference_same_as']}."
            )
        elif "difference" in figure_links:
            parts.append(
                f"Where two backends' mistakes differ: {figure_links['difference_pair']}, "
                "seed 0 (positive: more predictions in that cell on the first).\n\n"
                f"![Confusion matrix difference]({figure_links['difference']})"
            )
    return "\n\n".join(parts)
