"""Build the report: collect the runs, draw the figures, write report.md atomically."""

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis import decision
from bench.analysis.collect import (
    add_labels,
    get,
    read_runs,
    select_latest,
    split_quick,
)
from bench.analysis.hosts import Probes, load_probes
from bench.analysis.overhead import NativeGroup, native_groups
from bench.analysis.rounds import attach_rounds
from bench.analysis.schedules import load_schedules
from bench.analysis.tidy import groups_table, runs_table
from bench.report import (
    banner,
    environment,
    failed_runs,
    figure_writer,
    gallery,
    markdown,
    micro_section,
    overhead_section,
    parity_section,
    probes,
    selfchecks,
    summary,
    verdict_details,
)
from bench.report.drawing import draw_figures, draw_parity, relative, relink
from bench.report.html import to_html
from bench.report.markdown import demote, render
from bench.report.samples import TestSet, load_test_set
from bench.suite.failures import read_failures
from digitrec_core.results import write_text_atomically
from digitrec_core.workloads import DEFAULT_WORKLOAD

FIGURES_DIR = "figures"


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
    natives = native_groups(collection.native)
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
            name, every_main[every_main["workload"] == name], host_probes, schedules, verdicts,
            [group for group in natives if group.workload == name],
        )  # fmt: skip
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
        native_found=len(collection.native),
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
        verdict_section=verdict_details.details(
            mlp.verdicts,
            main,
            mlp.parity_lines,
            failed_runs.verdict_notes(failures, names[0]),
            workload=names[0],
        ),
        native_section=overhead_section.details(main, natives),
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
    natives: list[NativeGroup] = (),
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
    places = [
        summary.Place(
            name,
            v,
            lines[(v.machine, v.device)],
            overhead_section.render(v, main, natives),
            overhead_section.step_check_failed(v, main, natives),
        )
        for v in verdicts
    ]
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
        verdict_details.details(judged.verdicts, main, judged.parity_lines, failed, workload=name),
        markdown.training(main, aside, runs_found, 0, figures, groups),
        markdown.prediction(main, groups, figures),
        markdown.profiles(main, host_probes),
        parity_section.render(main, judged.parity_verdicts, parity_links),
        gallery.learning_curves(figures),
        gallery.confusion_matrices(main, figures),
    ]
    body = "\n\n".join(demote(part) for part in parts if part)
    return (
        f"## Workload: {name}\n\n{description}. Nothing here is compared with another "
        f"workload's runs.\n\n{body}"
    )
