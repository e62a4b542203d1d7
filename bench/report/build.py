"""Build the report: collect the runs, draw the figures, write report.md atomically."""

import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis import decision
from bench.analysis.collect import (
    add_labels,
    get,
    read_runs,
    same_random_sample,
    select_latest,
    short_labels,
    split_quick,
)
from bench.analysis.hosts import Probes, load_probes
from bench.analysis.rounds import attach_rounds
from bench.analysis.schedules import load_schedules
from bench.analysis.targets import target_accuracies
from bench.analysis.tidy import groups_table, runs_table
from bench.report import (
    banner,
    environment,
    failed_runs,
    figure_writer,
    headline,
    markdown,
    micro_section,
    parity_section,
    probes,
    selfchecks,
    summary,
)
from bench.report import figures as plots
from bench.report.html import to_html
from bench.report.markdown import Figures, render
from bench.report.samples import TestSet, find_disagreements, load_test_set
from bench.report.speed import throughput_curves
from bench.report.summary import FULL_SUMMARY_MACHINES
from bench.suite.failures import read_failures
from digitrec_core.results import decode_images, write_text_atomically
from digitrec_core.workloads import DEFAULT_WORKLOAD

FIGURES_DIR = "figures"
PREDICTIONS_PER_LINE = 3


def warn_on_stderr(message: str) -> None:
    """Print `message` as a warning on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def build_report(
    results_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    warn: Callable[[str], None] = warn_on_stderr,
    now: datetime | None = None,
    test_set: TestSet | bool | None = True,
) -> Path:
    """Compile the results under `results_dir` into `out` (default results_dir/report.md).

    Figures go to `results_dir/figures`, whose PNGs the new report does not use are removed.
    Unreadable result files are skipped with a `warn`ing; NoResultsError if none is readable.
    A self-contained HTML copy goes beside `out`. `test_set`: MNIST's test images for the
    disagreement figure; True loads them from DIGITREC_DATA_DIR where set, None goes without.
    """
    if test_set is True:
        test_set = load_test_set()
    results_dir = Path(results_dir)
    out = Path(out) if out is not None else results_dir / "report.md"
    other_skipped: list[str] = []

    def warn_and_list(message: str) -> None:
        other_skipped.append(message.removeprefix("skipped "))
        warn(message)

    collection = read_runs(
        results_dir,
        warn,
        "run `nox -s bench` first, or point --results-dir (or DIGITREC_RESULTS_DIR) at the "
        "folder that holds the runs/ of your results",
    )
    schedules = load_schedules(results_dir, warn_and_list)
    figures_dir = results_dir / FIGURES_DIR
    figures_dir.mkdir(parents=True, exist_ok=True)
    # The figures render in worker processes while the text is built; the HTML copy and the
    # clean-up of old PNGs wait until every file is written.
    with figure_writer.in_parallel():
        text, written = compose(
            results_dir, out, collection, schedules, warn_and_list, other_skipped, test_set, now
        )
    write_text_atomically(out, text)
    write_text_atomically(out.with_suffix(".html"), to_html(text, out.parent))
    for png in figures_dir.rglob("*.png"):
        if png not in written:
            png.unlink()
    for folder in sorted(figures_dir.glob("*/"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return out


def compose(
    results_dir: Path,
    out: Path,
    collection,
    schedules: dict[tuple[str, str], dict[str, Any]],
    warn_and_list: Callable[[str], None],
    other_skipped: list[str],
    test_set: TestSet | None,
    now: datetime | None,
) -> tuple[str, set[Path]]:
    """The report's Markdown and the figure files it links (drawn on the way)."""
    every_main, every_aside = split_quick(add_labels(select_latest(collection.runs, schedules)))
    names = workload_names(every_main, every_aside)
    groups = groups_table(runs_table(pd.concat([every_main, every_aside])))
    # The default workload's details fill the appendix as they always have; each other one
    # gets a section of its own there. Every workload has its places in the summary.
    main, aside = (frame[frame["workload"] == names[0]] for frame in (every_main, every_aside))

    figures_dir = results_dir / FIGURES_DIR
    figures, written = draw_figures(main, figures_dir, out.parent, test_set, groups)
    host_probes = load_probes(results_dir, warn_and_list)
    host_notes = [
        note
        for _, machine_groups in main.groupby("machine", sort=False)
        for note in probes.host_speed_notes(machine_groups, host_probes)
    ]

    def link(path: Path) -> str:
        written.add(path)
        return relative(path, out.parent)

    failures = failed_runs.current_failures(read_failures(results_dir, warn_and_list), every_main)
    places, workload_parts = [], {}
    for name in names:
        verdicts = parity_section.latest_verdicts(results_dir, warn_and_list, name)
        judged = judge_workload(
            name, every_main[every_main["workload"] == name], host_probes, schedules, verdicts
        )
        places += judged.places
        workload_parts[name] = judged
    mlp = workload_parts[names[0]]
    parity_links = draw_parity(mlp.parity_verdicts, main, figures_dir, link)
    workload_sections = [
        workload_section(
            name,
            every_main[every_main["workload"] == name],
            every_aside[every_aside["workload"] == name],
            figures_dir / name,
            link,
            host_probes,
            workload_parts[name],
            failed_runs.verdict_notes(failures, name),
            int((collection.runs["workload"] == name).sum()),
            groups,
        )
        for name in names[1:]
    ]
    skipped = [(relative(s.path, out.parent), s.reason) for s in collection.skipped]
    text = render(
        main=main,
        aside=aside,
        groups=groups,
        runs_found=len(collection.runs),
        skipped=skipped,
        other_skipped=other_skipped,
        figures=figures,
        host_notes=host_notes,
        probes=host_probes,
        banner=banner.render(
            banner.warnings(
                places, failures=len(failures), skipped=len(skipped) + len(other_skipped)
            )
        ),
        summary_section=summary.render(places, groups),
        verdict_section=headline.details(
            mlp.verdicts,
            main,
            mlp.parity_lines,
            failed_runs.verdict_notes(failures, names[0]),
            workload=names[0],
        ),
        failed_section=failed_runs.render(failures),
        parity_section=parity_section.render(main, mlp.parity_verdicts, parity_links),
        environment_section=environment.render(every_main),
        workload_sections=workload_sections,
        workloads=names,
        roofline_section=probes.render(main, collection.runs, host_probes),
        selfcheck_section=selfchecks.render(
            selfchecks.latest_selfchecks(results_dir, warn_and_list)
        ),
        micro_section=micro_section.render(micro_section.latest_micro(results_dir, warn_and_list)),
        runs_dir=relative(results_dir / "runs", out.parent),
        generated=now or datetime.now(UTC),
    )
    return text, written


@dataclass
class JudgedWorkload:
    """One workload's verdict per machine and device, with its parity verdicts and lines."""

    verdicts: list[decision.MachineVerdict]
    parity_verdicts: dict[str, dict[str, Any]]
    parity_lines: dict[tuple[str, str], parity_section.ParityLine]
    places: list[summary.Place]


def judge_workload(
    name: str,
    main: pd.DataFrame,
    host_probes: Probes,
    schedules: dict[tuple[str, str], dict[str, Any]],
    parity_verdicts: dict[str, dict[str, Any]],
) -> JudgedWorkload:
    """Decide one workload on every machine and device, and read its parity lines."""
    verdicts = decision.decide(main, host_probes)
    attach_rounds(verdicts, main, schedules, host_probes)
    spec = next((get(r, "workload.spec") for r in main["result"]), name) if len(main) else name
    command = "nox -s parity" if name == DEFAULT_WORKLOAD else f"nox -s parity -- --workload {spec}"
    lines = {
        (v.machine, v.device): parity_section.parity_line(
            main, v.machine, v.device, parity_verdicts, command
        )
        for v in verdicts
    }
    places = [summary.Place(name, v, lines[(v.machine, v.device)]) for v in verdicts]
    return JudgedWorkload(verdicts, parity_verdicts, lines, places)


def workload_names(main: pd.DataFrame, aside: pd.DataFrame) -> list[str]:
    """The workloads with runs: the default first when it has any, then the others by name."""
    found = set(main["workload"]) | set(aside["workload"])
    return sorted(found, key=lambda name: (name != DEFAULT_WORKLOAD, name))


def workload_section(
    name: str,
    main: pd.DataFrame,
    aside: pd.DataFrame,
    figures_dir: Path,
    link: Callable[[Path], str],
    host_probes: Probes,
    judged: JudgedWorkload,
    failed: dict[tuple[str, str], list[str]],
    runs_found: int,
    groups: pd.DataFrame,
) -> str:
    """A workload other than the default, in the appendix: its verdict details and tables."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures, _ = draw_figures(main, figures_dir, figures_dir, None, groups)
    figures = relink(figures, figures_dir, link)
    results = [*main["result"], *aside["result"]]
    description = next((get(result, "workload.description") for result in results), "")
    parity_links = draw_parity(judged.parity_verdicts, main, figures_dir, link)
    parts = [
        headline.details(judged.verdicts, main, judged.parity_lines, failed, workload=name),
        markdown.training(main, aside, runs_found, 0, figures, groups),
        markdown.prediction(main, groups, figures),
        markdown.profiles(main, host_probes),
        parity_section.render(main, judged.parity_verdicts, parity_links),
        markdown.learning_curves(figures),
        markdown.confusion_matrices(main, figures),
    ]
    body = "\n\n".join(demote(part) for part in parts if part)
    return (
        f"## Workload: {name}\n\n{description}. Nothing here is compared with another "
        f"workload's runs.\n\n{body}"
    )


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


def demote(section: str) -> str:
    """Every Markdown heading of `section` one level down (## → ###)."""
    return re.sub(r"^(#+) ", r"#\1 ", section, flags=re.M)


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

    # Learning curves and confusion matrices do not depend on a machine's speed: one line and
    # one panel per backend, device and profile, from the runs of every machine.
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
    """Every run of each backend, device and profile (and quick mode), over all machines."""
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
