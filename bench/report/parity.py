"""The report's parity section: the benchmark's own accuracy verdict and nox -s parity's."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.parity_stats import ACCURACY_TOLERANCE, statistical_verdict
from bench.report import figures as plots
from bench.report.speed import values
from bench.report.tables import fmt, to_markdown

REQUIRED = (
    "machine",
    "created_utc",
    "backends",
    "tolerances",
    "same_start",
    "statistical",
    "lockstep",
    "predict_everywhere",
    "passed",
)


def latest_verdicts(results_dir: Path, warn: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """The newest readable `nox -s parity` verdict of each machine, keyed by machine id."""
    verdicts = {}
    for path in sorted(Path(results_dir, "parity").glob("*/*-parity.json")):
        try:
            record = json.loads(path.read_text())
            missing = [key for key in REQUIRED if key not in record]
            if missing:
                raise KeyError(f"missing {missing}")
            machine = record["machine"]["id"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warn(f"skipped parity verdict {path}: {exc!r}")
            continue
        verdicts[machine] = {**record, "path": path}  # sorted by time: the last one wins
    return verdicts


def verdict_word(passed: bool) -> str:
    return "**PASS**" if passed else "**FAIL**"


def pairs_table(pairs: list[dict[str, Any]]) -> str:
    frame = pd.DataFrame(
        {
            "pair": [p["pair"] for p in pairs],
            "difference of means": [f"{p['difference']:+.4f}" for p in pairs],
            "95% CI": [
                "n/a" if p["ci95"] is None else f"{p['ci95'][0]:+.4f} to {p['ci95'][1]:+.4f}"
                for p in pairs
            ],
            "verdict": [verdict_word(p["passed"]) for p in pairs],
        }
    )
    return to_markdown(frame, ["difference of means", "95% CI"])


def summaries_table(summaries: dict[str, dict[str, Any]]) -> str:
    frame = pd.DataFrame(
        {
            "backend": list(summaries),
            "seeds": [str(s["n"]) for s in summaries.values()],
            "mean accuracy": [fmt(s["mean"], ".4f") for s in summaries.values()],
            "sd": [fmt(s["sd"], ".4f") for s in summaries.values()],
            "95% CI": [
                "n/a" if s["ci95"] is None else f"{s['ci95'][0]:.4f} to {s['ci95'][1]:.4f}"
                for s in summaries.values()
            ],
        }
    )
    return to_markdown(frame, ["seeds", "mean accuracy", "sd", "95% CI"])


def bench_accuracy_parity(main: pd.DataFrame) -> list[str]:
    """The statistical verdict on the benchmark's own default full runs (seeds 0..n-1)."""
    parts = []
    full = main[(main["profile"] == "default") & ~main["quick"]]
    for (machine, device), group in full.groupby(["machine", "device"], sort=False):
        samples = {
            row.backend: values(row.group_runs, "metrics.test_accuracy")
            for row in group.itertuples()
        }
        if len(samples) < 2 or min(map(len, samples.values())) < 2:
            continue
        verdict = statistical_verdict(samples, ACCURACY_TOLERANCE)
        parts += [
            f"**These benchmark runs** (`{machine}`, {device}, default profile; one seed per "
            f"repeat): {verdict_word(verdict['passed'])}: {verdict['message']}.",
            summaries_table(verdict["summaries"]),
            pairs_table(verdict["pairs"]),
        ]
    return parts


def draw(verdict: dict[str, Any], figures_dir: Path, link: Callable[[Path], str]) -> dict[str, str]:
    """The parity figures of one verdict; their links by name."""
    machine = verdict["machine"]["id"]
    links = {
        "strips": link(
            plots.plot_accuracy_strips(
                verdict["statistical"]["samples"], figures_dir / f"parity_seeds_{machine}.png"
            )
        ),
        "divergence": link(
            plots.plot_divergence(
                verdict["lockstep"]["divergence"], figures_dir / f"parity_lockstep_{machine}.png"
            )
        ),
    }
    matrices = verdict.get("confusion_matrices") or {}
    if len(matrices) >= 2:
        (a, first), (b, second) = list(matrices.items())[:2]
        difference = np.asarray(first) - np.asarray(second)
        title = f"Confusion matrix {a} minus {b} (seed 0)"
        path = figures_dir / f"parity_confusion_difference_{machine}.png"
        links["difference"] = link(plots.plot_matrix_difference(difference, title, path))
        links["difference_pair"] = f"{a} minus {b}"
    return links


def render(main: pd.DataFrame, verdicts: dict[str, dict[str, Any]], links: dict) -> str:
    """The "Accuracy parity" section."""
    parts = ["## Accuracy parity"]
    parts += bench_accuracy_parity(main)
    if not verdicts:
        parts.append("No `nox -s parity` verdict yet: run `nox -s parity` for the three checks.")
    for machine, verdict in verdicts.items():
        checks = [
            ("Statistical", verdict["statistical"]),
            ("Lockstep", verdict["lockstep"]),
            ("Predict everywhere", verdict["predict_everywhere"]),
        ]
        lines = "\n".join(
            f"- {name}: {verdict_word(check['passed'])}: {check['message']}"
            for name, check in checks
        )
        start = verdict["same_start"]
        parts += [
            f"### `nox -s parity` on `{machine}`: {verdict_word(verdict['passed'])}",
            f"From `{verdict['created_utc'][:19]}` UTC, backends {', '.join(verdict['backends'])}. "
            f"Initial weights identical on every backend: {'yes' if start['passed'] else 'NO'}.",
            lines,
            f"Statistical: {verdict['statistical']['epochs']} epochs per seed, numpy initial "
            "weights and batch order, dropout on; tolerance on a difference of mean accuracy "
            f"{verdict['tolerances']['accuracy']}.",
            summaries_table(verdict["statistical"]["summaries"]),
            pairs_table(verdict["statistical"]["pairs"]),
        ]
        figure_links = links.get(machine, {})
        if "strips" in figure_links:
            parts.append(f"![Per-seed test accuracy]({figure_links['strips']})")
        if "divergence" in figure_links:
            parts.append(
                "Lockstep (dropout off, same start and order): how far the backends drift "
                f"apart epoch by epoch; the verdict is on epoch 1, tolerance "
                f"{verdict['tolerances']['lockstep']:.0e}.\n\n"
                f"![Lockstep divergence per epoch]({figure_links['divergence']})"
            )
        if "difference" in figure_links:
            parts.append(
                f"Where two backends' mistakes differ: {figure_links['difference_pair']}, "
                "seed 0 (positive: more predictions in that cell on the first).\n\n"
                f"![Confusion matrix difference]({figure_links['difference']})"
            )
    return "\n\n".join(parts)
