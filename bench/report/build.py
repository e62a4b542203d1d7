"""Build the report: collect the runs, draw the figures, write report.md atomically."""

import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report import figures as plots
from bench.report import micro, parity, probes, selfchecks
from bench.report.collect import (
    add_labels,
    collect_runs,
    get,
    same_random_sample,
    select_latest,
    short_labels,
    split_quick,
)
from bench.report.markdown import Figures, render
from digitrec_core.results import decode_images, write_text_atomically

FIGURES_DIR = "figures"
PREDICTIONS_PER_LINE = 3


class NoResultsError(FileNotFoundError):
    """No readable result file under the results folder."""


def warn_on_stderr(message: str) -> None:
    """Print `message` as a warning on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def build_report(
    results_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    warn: Callable[[str], None] = warn_on_stderr,
    now: datetime | None = None,
) -> Path:
    """Compile the results under `results_dir` into `out` (default results_dir/report.md).

    Figures go to `results_dir/figures`, whose PNGs the new report does not use are removed.
    Unreadable result files are skipped with a `warn`ing; NoResultsError if none is readable.
    """
    results_dir = Path(results_dir)
    out = Path(out) if out is not None else results_dir / "report.md"
    other_skipped: list[str] = []

    def warn_and_list(message: str) -> None:
        other_skipped.append(message.removeprefix("skipped "))
        warn(message)

    collection = collect_runs(results_dir)
    for skipped in collection.skipped:
        warn(f"skipped {skipped.path}: {skipped.reason}")
    if collection.runs.empty:
        count = len(collection.skipped)
        found = f" ({count} unreadable files skipped)" if count else ""
        raise NoResultsError(
            f"no readable benchmark results under {results_dir / 'runs'}{found}; run "
            "`nox -s bench` first, or point --results-dir (or DIGITREC_RESULTS_DIR) at the "
            "folder that holds the runs/ of your results"
        )
    main, aside = split_quick(add_labels(select_latest(collection.runs)))

    figures_dir = results_dir / FIGURES_DIR
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures, written = draw_figures(main, figures_dir, out.parent)
    verdicts = parity.latest_verdicts(results_dir, warn_and_list)
    host_probes = probes.load_probes(results_dir, warn_and_list)
    peaks = {
        row.repeat_group: probes.group_peak(row, collection.runs, host_probes)[0]
        for row in main.itertuples()
    }
    host_notes = [
        note
        for _, groups in main.groupby("machine", sort=False)
        for note in probes.host_speed_notes(groups, host_probes)
    ]

    def link(path: Path) -> str:
        written.add(path)
        return relative(path, out.parent)

    parity_links = {m: parity.draw(v, figures_dir, link) for m, v in verdicts.items()}
    micro_section = micro.render(micro.latest_micro(results_dir, warn_and_list))
    text = render(
        main=main,
        aside=aside,
        runs_found=len(collection.runs),
        skipped=[(relative(s.path, out.parent), s.reason) for s in collection.skipped],
        other_skipped=other_skipped,
        figures=figures,
        peaks=peaks,
        host_notes=host_notes,
        probes=host_probes,
        parity_section=parity.render(main, verdicts, parity_links),
        roofline_section=probes.render(main, collection.runs, host_probes),
        selfcheck_section=selfchecks.render(
            selfchecks.latest_selfchecks(results_dir, warn_and_list)
        ),
        micro_section=micro_section,
        runs_dir=str(results_dir / "runs"),
        generated=now or datetime.now(UTC),
    )
    write_text_atomically(out, text)
    for png in figures_dir.glob("*.png"):
        if png not in written:
            png.unlink()
    return out


def draw_figures(
    main: pd.DataFrame, figures_dir: Path, report_dir: Path
) -> tuple[Figures, set[Path]]:
    """Draw every figure of the report; return their links and the files written."""
    figures, written = Figures(), set()

    def link(path: Path) -> str:
        written.add(path)
        return relative(path, report_dir)

    histories = {
        row.label: history
        for row in main.itertuples()
        if isinstance(history := get(row.result, "metrics.history"), dict)
    }
    if histories:
        path = plots.plot_learning_curves(histories, figures_dir / "learning_curves.png")
        figures.learning_curves = link(path)

    for row in main.itertuples():
        matrix = np.asarray(get(row.result, "metrics.confusion_matrix", []))
        if matrix.ndim == 2 and matrix.size and np.issubdtype(matrix.dtype, np.number):
            title = f"{row.label}: test accuracy {row.test_accuracy:.4f}"
            path = figures_dir / f"confusion_{file_safe(row.run_id)}.png"
            figures.confusion[row.run_id] = link(plots.plot_confusion_matrix(matrix, title, path))

    for result in main["result"]:
        first = images_of(get(result, "samples.first_of_each_class.images"))
        labels = get(result, "samples.first_of_each_class.labels") or []
        if first is not None and len(first) == len(labels):
            titles = [f"label {label}" for label in labels]
            path = plots.plot_digits(first, titles, figures_dir / "first_of_each_class.png")
            figures.first_of_each_class, figures.data_result = link(path), result
            break

    # Tuned runs predict like default ones; one grid per profile would repeat itself.
    default = main[main["profile"] == "default"]
    shown, left_out = same_random_sample(default if len(default) else main)
    shown = shown.assign(short=short_labels(shown))
    figures.random_runs, figures.random_left_out = shown, left_out
    if not shown.empty:
        sample = get(shown["result"].iloc[0], "samples.random_test")
        titles, wrong = prediction_titles(sample["labels"], shown)
        images = images_of(sample["images"])
        if images is not None and len(images) == len(titles):
            path = figures_dir / "random_test.png"
            plots.plot_digits(images, titles, path, columns=4, wrong=wrong)
            figures.random_test = link(path)
    return figures, written


def prediction_titles(labels: list[int], runs: pd.DataFrame) -> tuple[list[str], list[bool]]:
    """Per image: "true N" over each run's prediction, and whether any run is wrong."""
    predictions = [get(result, "samples.random_test.predicted") for result in runs["result"]]
    titles, wrong = [], []
    for index, label in enumerate(labels):
        guesses = [predicted[index] for predicted in predictions]
        words = [f"{short} {guess}" for short, guess in zip(runs["short"], guesses, strict=True)]
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


def file_safe(name: str) -> str:
    """`name` with anything but letters, digits, dot, dash and underscore replaced by dashes."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def relative(path: Path, start: Path) -> str:
    """`path` relative to `start`, with forward slashes (as Markdown links want)."""
    return Path(os.path.relpath(path, start)).as_posix()
