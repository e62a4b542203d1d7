"""The report's figures: which are drawn from which runs, and the links the text uses."""

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.collect import get, same_random_sample, short_labels
from bench.analysis.targets import target_accuracies
from bench.analysis.tidy import groups_table, runs_table
from bench.report import figures as plots
from bench.report import parity_section
from bench.report.gallery import Figures
from bench.report.samples import TestSet, find_disagreements
from bench.report.speed import throughput_curves
from bench.report.summary import FULL_SUMMARY_MACHINES
from digitrec_core.results import decode_images

PREDICTIONS_PER_LINE = 3


def draw_parity(
    verdicts: dict[str, dict[str, Any]], main: pd.DataFrame, figures_dir: Path, link
) -> dict[str, dict[str, str]]:
    """Each machine's parity figures, titled by alias; a figure equal to one drawn is reused."""
    drawn: dict = {}
    return {
        machine: parity_section.draw(
            verdict,
            figures_dir,
            link,
            alias=parity_section.alias_of(main, machine).strip("`"),
            drawn=drawn,
        )
        for machine, verdict in verdicts.items()
    }


# The figures a workload section shows (the data and sample figures are the default's).
WORKLOAD_FIGURES = (
    "learning_curves",
    "confusion_grid",
    "steady_bars",
    "time_to_model",
    "accuracy_vs_time",
    "throughput",
)


def relink(figures: Figures, figures_dir: Path, link: Callable[[Path], str]) -> Figures:
    """The figures a workload section shows, linked again by `link` (relative to the report)."""

    def again(value):
        if isinstance(value, str) and value.endswith(".png"):
            return link(figures_dir / Path(value).name)
        if isinstance(value, dict):
            return {key: again(item) for key, item in value.items()}
        return value

    kept = {name: again(getattr(figures, name)) for name in WORKLOAD_FIGURES}
    return Figures(**kept, per_machine_left_out=figures.per_machine_left_out)


def draw_figures(
    main: pd.DataFrame,
    figures_dir: Path,
    report_dir: Path,
    test_set: TestSet | None = None,
    groups: pd.DataFrame | None = None,
) -> tuple[Figures, set[Path]]:
    """Draw every figure of the report; return their links and the files written.

    `groups`: the group table (bench.analysis.tidy) the speed figures read their values from.
    """
    if groups is None:
        groups = groups_table(runs_table(main))
    figures, written = Figures(), set()

    def link(path: Path) -> str:
        written.add(path)
        return relative(path, report_dir)

    # Learning curves and confusion matrices: one line and one panel per group; beyond a few
    # machines, per backend, device and profile over every machine (they do not depend on its
    # speed, and 20 machines' panels would not be read).
    pooled = pooled_runs(main)
    histories = {
        label: history for label, runs in pooled.items() if (history := median_history(runs))
    }
    if histories:
        path = plots.plot_learning_curves(histories, figures_dir / "learning_curves.png")
        figures.learning_curves = link(path)

    matrices = {}
    for label, runs in pooled.items():
        found = [np.asarray(get(r, "metrics.confusion_matrix", [])) for r in runs]
        found = [m for m in found if m.ndim == 2 and m.size and np.issubdtype(m.dtype, np.number)]
        if found and len({m.shape for m in found}) == 1:
            accuracy = np.mean([r["metrics"]["test_accuracy"] for r in runs])
            machines = len({get(r, "machine.id") for r in runs})
            where = f" on {machines} machines" if machines > 1 else ""
            summed = f"{len(found)} runs summed{where}" if len(found) > 1 else "1 run"
            matrices[f"{label}\nmean accuracy {accuracy:.4f}\n{summed}"] = sum(found)
    if matrices:
        path = plots.plot_confusion_grid(matrices, figures_dir / "confusion_matrices.png")
        figures.confusion_grid = link(path)

    draw_speed_figures(main[~main["quick"]], groups, figures, figures_dir, link)

    for result in main["result"]:
        first = images_of(get(result, "samples.first_of_each_class.images"))
        labels = get(result, "samples.first_of_each_class.labels") or []
        if first is not None and len(first) == len(labels):
            titles = [f"label {label}" for label in labels]
            path = plots.plot_digits(first, titles, figures_dir / "first_of_each_class.png")
            figures.first_of_each_class, figures.data_result = link(path), result
            break

    draw_samples(main, figures, figures_dir, link, test_set)
    return figures, written


def pooled_runs(main: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The runs of each group, by label; beyond FULL_SUMMARY_MACHINES machines, every run of a
    backend, device and profile (and quick mode) over all machines, one panel or line each."""
    if main["machine"].nunique() <= FULL_SUMMARY_MACHINES:
        return {row.label: list(row.group_runs) for row in main.itertuples()}
    pooled: dict[str, list[dict[str, Any]]] = {}
    for row in main.itertuples():
        label = f"{row.backend}/{row.device} · {row.profile}" + (" (quick)" if row.quick else "")
        pooled.setdefault(label, []).extend(row.group_runs)
    return pooled


def median_history(runs: list[dict[str, Any]]) -> dict[str, list[float]] | None:
    """Per history key, the median over the runs at each epoch (runs of another length left out)."""
    histories = [h for r in runs if isinstance(h := get(r, "metrics.history"), dict)]
    if not histories:
        return None
    found = {}
    for key in histories[-1]:
        curves = [h[key] for h in histories if isinstance(h.get(key), list)]
        length = len(curves[-1]) if curves else 0
        curves = [c for c in curves if len(c) == length]
        if length and curves:
            found[key] = np.median(np.asarray(curves, dtype=float), axis=0).tolist()
    return found or None


def draw_speed_figures(
    full: pd.DataFrame, groups: pd.DataFrame, figures: Figures, figures_dir: Path, link
) -> None:
    """Steady epochs with intervals; per machine, time to a trained model and throughput.

    Values are the group table's (geometric means; compile a mean), as in every table. Beyond
    FULL_SUMMARY_MACHINES machines the tables alone carry them: a figure per machine would not
    be read, and drawing it would cost the report its speed.
    """
    if full["machine"].nunique() > FULL_SUMMARY_MACHINES:
        figures.per_machine_left_out = True
        return
    bars = []
    for row in full.itertuples():
        steady = groups.at[row.group_key, "steady_epoch_seconds"]
        if steady is None or pd.isna(steady):
            continue
        half = groups.at[row.group_key, "steady_resolution"]
        known = half is not None and not pd.isna(half)
        bars.append({
            "machine": row.alias,
            "label": f"{row.backend}/{row.device} · {row.profile}",
            "median": steady,
            "low": steady / (1 + half) if known else None,
            "high": steady * (1 + half) if known else None,
        })  # fmt: skip
    if bars:
        path = plots.plot_steady_epoch_bars(bars, figures_dir / "steady_epoch.png")
        figures.steady_bars = link(path)
    for index, (_, machine_groups) in enumerate(full.groupby("machine", sort=False), 1):
        alias = machine_groups["alias"].iloc[0]
        splits = []
        for row in machine_groups.itertuples():
            fit = groups.at[row.group_key, "fit_seconds"]
            compile_seconds = groups.at[row.group_key, "compile_seconds"]
            if not pd.isna(fit) and not pd.isna(compile_seconds):
                compile_seconds = max(0.0, compile_seconds)  # below 0 is noise: none measured
                name = f"{row.backend}/{row.device} · {row.profile}"
                splits.append(
                    {"label": name, "compile": compile_seconds, "training": fit - compile_seconds}
                )
        if splits:
            title = f"Time to a trained model on {alias} (geometric means)"
            path = figures_dir / f"time_to_model_{index}.png"
            drawn = plots.plot_time_to_model(splits, path, title=title)
            figures.time_to_model[alias] = link(drawn)
        learning = accuracy_curves(machine_groups)
        if learning:
            runs = [r for row in machine_groups.itertuples() for r in row.group_runs]
            targets = target_accuracies(runs)
            path = figures_dir / f"accuracy_vs_time_{index}.png"
            drawn = plots.plot_accuracy_vs_time(
                learning,
                path,
                target=targets.pop() if len(targets) == 1 else None,
                title=f"Test accuracy against training time on {alias} (medians per epoch)",
            )
            figures.accuracy_vs_time[alias] = link(drawn)
        curves = throughput_curves(machine_groups)
        if curves:
            title = f"Prediction throughput on {alias} (medians)"
            path = figures_dir / f"throughput_{index}.png"
            figures.throughput[alias] = link(
                plots.plot_throughput_vs_batch(curves, path, title=title)
            )


def accuracy_curves(groups: pd.DataFrame) -> list[dict[str, Any]]:
    """Per group: the median over its runs of training time and test accuracy at each epoch."""
    found = []
    for row in groups.itertuples():
        pairs = [
            (get(result, "timings.training_seconds"), get(result, "metrics.history.test_accuracy"))
            for result in row.group_runs
        ]
        pairs = [(t, a) for t, a in pairs if isinstance(t, list) and t and len(t) == len(a or [])]
        if not pairs or len({len(t) for t, _ in pairs}) != 1:
            continue
        found.append({
            "label": f"{row.backend}/{row.device} · {row.profile}",
            "profile": row.profile,
            "seconds": np.median([t for t, _ in pairs], axis=0).tolist(),
            "accuracy": np.median([a for _, a in pairs], axis=0).tolist(),
        })  # fmt: skip
    return found


def draw_samples(main: pd.DataFrame, figures: Figures, figures_dir: Path, link, test_set) -> None:
    """The test images where the default runs disagree or err; else their random sample."""
    # Tuned runs predict like default ones; one grid per profile would repeat itself.
    default = main[main["profile"] == "default"]
    runs = default if len(default) else main
    runs = runs.assign(short=short_labels(runs))
    found = find_disagreements(runs[~runs["quick"]].reset_index(drop=True), test_set)
    if found is not None and len(found.indices):
        shown = runs[~runs["quick"]].reset_index(drop=True)
        predictions = [found.predicted[short] for short in shown["short"]]
        titles, wrong = titles_for(found.labels.tolist(), shown["short"], predictions)
        path = figures_dir / "disagreements.png"
        plots.plot_digits(found.images, titles, path, columns=4, wrong=wrong)
        figures.random_test, figures.random_runs = link(path), shown
        figures.disagreements = found
        return
    shown, left_out = same_random_sample(runs)
    figures.random_runs, figures.random_left_out = shown, left_out
    if not shown.empty:
        sample = get(shown["result"].iloc[0], "samples.random_test")
        predictions = [get(r, "samples.random_test.predicted") for r in shown["result"]]
        titles, wrong = titles_for(sample["labels"], shown["short"], predictions)
        images = images_of(sample["images"])
        if images is not None and len(images) == len(titles):
            path = figures_dir / "random_test.png"
            plots.plot_digits(images, titles, path, columns=4, wrong=wrong)
            figures.random_test = link(path)


def titles_for(
    labels: list[int], shorts: Iterable[str], predictions: list[Sequence[int]]
) -> tuple[list[str], list[bool]]:
    """Per image: "true N" over each run's prediction, and whether any run is wrong."""
    shorts = list(shorts)
    titles, wrong = [], []
    for index, label in enumerate(labels):
        guesses = [int(predicted[index]) for predicted in predictions]
        words = [f"{short} {guess}" for short, guess in zip(shorts, guesses, strict=True)]
        lines = [
            " · ".join(words[start : start + PREDICTIONS_PER_LINE])
            for start in range(0, len(words), PREDICTIONS_PER_LINE)
        ]
        titles.append("\n".join([f"true {label}", *lines]))
        wrong.append(any(guess != label for guess in guesses))
    return titles, wrong


def images_of(packed: Any) -> np.ndarray | None:
    """Decode images stored by `encode_images`; None when they are missing or damaged."""
    try:
        images = decode_images(packed)
    except (KeyError, TypeError, ValueError):
        return None
    return images if images.ndim == 3 else None


def relative(path: Path, start: Path) -> str:
    """`path` relative to `start`, with forward slashes (as Markdown links want)."""
    return Path(os.path.relpath(path, start)).as_posix()
