"""Assemble the report's Markdown text from the selected runs and the figures made for them."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from bench.report import profiles as profile_tables
from bench.report import speed, tables
from bench.report.collect import get
from bench.report.probes import Probes

QUICK_NOTE = (
    "> **Quick runs** (`python -m bench.run --quick`, or a `--train-samples`/`--test-samples` "
    "subset) train and test on a small part of MNIST, usually for fewer epochs: their accuracy "
    "and timings are **not comparable** with full runs."
)


@dataclass
class Figures:
    """Links (relative to the report) of the figures made, and what went into them."""

    learning_curves: str | None = None
    confusion: dict[str, str] = field(default_factory=dict)
    data_result: dict[str, Any] | None = None
    first_of_each_class: str | None = None
    random_test: str | None = None
    random_runs: pd.DataFrame | None = None
    random_left_out: pd.DataFrame | None = None


def render(
    *,
    main: pd.DataFrame,
    aside: pd.DataFrame,
    runs_found: int,
    skipped: list[tuple[str, str]],
    figures: Figures,
    runs_dir: str,
    other_skipped: list[str] = (),
    peaks: dict[str, float | None] | None = None,
    host_notes: list[str] = (),
    probes: Probes | None = None,
    parity_section: str = "",
    roofline_section: str = "",
    selfcheck_section: str = "",
    micro_section: str = "",
    generated: datetime,
) -> str:
    """The whole report as Markdown text."""
    sections = [
        intro(runs_dir, generated),
        summary(main, aside, runs_found, len(skipped) + len(other_skipped), peaks, host_notes),
        profiles(main, probes),
        prediction(main),
        declared_settings(main),
        roofline_section,
        parity_section,
        selfcheck_section,
        learning_curves(figures),
        confusion_matrices(main, figures),
        details(main),
        the_data(figures),
        random_samples(figures),
        micro_section,
        skipped_files(skipped, other_skipped),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def intro(runs_dir: str, generated: datetime) -> str:
    """Title, what this report is, when it was made and how to rebuild it."""
    return (
        "# digitrec benchmark report\n\n"
        "digitrec trains one Keras 3 model, the MNIST MLP (Dense 128 relu → Dense 128 relu → "
        "Dropout 0.25 → Dense 10 softmax), under the TensorFlow, JAX and PyTorch backends with "
        "`python -m bench.run`, and records each run in a JSON result file. This report compiles "
        f"the result files under `{runs_dir}`: the accuracy each backend reaches, how long "
        "training and prediction take, and which digits the models get wrong.\n\n"
        f"Generated {generated:%Y-%m-%d %H:%M:%S} UTC. Rebuild it with `nox -s report` "
        "(or `python -m bench.report`); add runs with `nox -s bench`."
    )


def summary(
    main: pd.DataFrame,
    aside: pd.DataFrame,
    runs_found: int,
    skipped: int,
    peaks: dict[str, float | None] | None = None,
    host_notes: list[str] = (),
) -> str:
    """The summary table across repeats, noisy flags, the accuracy spread, quick runs apart."""
    used = len(main) + len(aside)
    main_table, notes = speed.summary_table(main, peaks)
    parts = [
        "## Summary",
        f"Found {runs_found} readable result file{'s' * (runs_found != 1)}"
        + (f" ({skipped} more skipped, see [Skipped files](#skipped-files))" if skipped else "")
        + ". For each machine, backend, device, mode (full or quick) and profile the report "
        f"uses the latest group of repeats: {used} group{'s' * (used != 1)}. Figures are "
        "medians across a group's runs (each in a fresh process, repeat i with seed i); *IQR* "
        "and *CV* are the spread of the steady epoch across them. A group is flagged noisy "
        "when the 95% interval of its steady epoch is wider than ±5%, the smallest difference "
        "the report calls a speed-up, and so is a run whose own steady epochs are. *compile s* "
        "is first epoch minus steady epoch; *GFLOP/s*, where runs measured it, is the training "
        "FLOPs of an epoch over the steady epoch, with its % of the machine's GEMM peak in "
        "that invocation (see Roofline and host speed).",
        main_table,
        *([f"**Noisy:** {' '.join(notes)}"] if notes else []),
        *host_notes,
        accuracy_spread(main),
    ]
    if main["quick"].any() or len(aside):
        parts.append(QUICK_NOTE)
    if len(aside):
        parts += [
            "### Quick runs (not comparable)",
            "These quick runs have a full run of the same machine, backend and device above, "
            "so they are shown only here.",
            speed.summary_table(aside)[0],
        ]
    used_ids = [
        get(result, "run_id") for runs in pd.concat([main, aside])["group_runs"] for result in runs
    ]
    parts.append("Runs used: " + ", ".join(f"`{run_id}`" for run_id in used_ids) + ".")
    return "\n\n".join(parts)


def per_machine(main: pd.DataFrame, section: Callable[[pd.DataFrame], str | None]) -> list[str]:
    """`section` of each machine's groups, under the machine's name; machines without left out."""
    parts = []
    for machine, groups in main.groupby("machine", sort=False):
        text = section(groups)
        if text:
            parts.append(f"On `{machine}`:\n\n{text}")
    return parts


def profiles(main: pd.DataFrame, probes: Probes | None = None) -> str:
    """Default and tuned side by side per machine, and each tuning search."""

    def machine_part(groups: pd.DataFrame) -> str | None:
        table = profile_tables.default_vs_tuned(groups, probes)
        if table is None:
            return None
        tuned = groups[groups["profile"] == "tuned"].itertuples()
        searches = [found for row in tuned if (found := profile_tables.tuning_candidates(row))]
        return "\n\n".join([table, *searches])

    parts = per_machine(main, machine_part)
    if not parts:
        return ""
    intro = (
        "*default* runs the documented workflow with Keras' defaults; *tuned* keeps the model, "
        "data and hyper-parameters and runs them with the settings a short search found "
        "fastest on this machine (README, Profiles). Speed-up = default / tuned steady epoch "
        "(geometric means across each group's runs) with its 95% interval, paired run by run "
        "where the suite interleaved the profiles; the verdict is FASTER or SLOWER only when "
        "the interval excludes 1 and the effect is at least 5%, SAME when the whole interval "
        "lies within 5%, INCONCLUSIVE otherwise. Below each table, the search behind each tuned "
        f"group, from its latest run; {profile_tables.CHOSEN} marks the settings chosen."
    )
    return "\n\n".join(["## Default vs tuned", intro, *parts])


def prediction(main: pd.DataFrame) -> str:
    """Latency and throughput of prediction, per machine."""
    parts = per_machine(main, speed.prediction_table)
    if not parts:
        return ""
    intro = (
        "After warm-up, on the fastest single-sample path Keras offers on each backend (*path*, "
        "chosen per run by timing them): batch-1 latency percentiles over 300 calls, and "
        "throughput at each batch size. Medians across the group's runs."
    )
    return "\n\n".join(["## Prediction", intro, *parts])


def declared_settings(main: pd.DataFrame) -> str:
    """The settings that decide speed, as asked and as resolved, per machine."""
    parts = per_machine(main, speed.settings_table)
    if not parts:
        return ""
    intro = "As recorded by each group's latest run; environment variables left unset are omitted."
    return "\n\n".join(["## Declared settings", intro, *parts])


def accuracy_spread(runs: pd.DataFrame) -> str:
    """One line per machine (and mode): max minus min test accuracy across its runs."""
    lines = []
    for (machine, quick), group in runs.groupby(["machine", "quick"], sort=False):
        mode = " (quick runs, not comparable)" if quick else ""
        if len(group) < 2:
            lines.append(f"Accuracy spread across backends on `{machine}`{mode}: only one run.")
            continue
        spread = group["test_accuracy"].max() - group["test_accuracy"].min()
        lines.append(
            f"Accuracy spread across backends on `{machine}`{mode}: "
            f"max \N{MINUS SIGN} min = {spread:.4f} ({len(group)} runs)."
        )
    return "  \n".join(lines)


def learning_curves(figures: Figures) -> str:
    """The learning-curves figure."""
    if figures.learning_curves is None:
        return "## Learning curves\n\nNo run recorded a training history."
    return (
        "## Learning curves\n\n"
        "Training loss and accuracy at the end of each epoch, one line per run.\n\n"
        f"![Training loss and accuracy per epoch]({figures.learning_curves})"
    )


def confusion_matrices(main: pd.DataFrame, figures: Figures) -> str:
    """One confusion-matrix heatmap per run."""
    parts = ["## Confusion matrices", "Rows are the true digits, columns the predicted ones."]
    for row in main.itertuples():
        link = figures.confusion.get(row.run_id)
        if link is None:
            parts.append(f"{row.label}: no confusion matrix recorded.")
        else:
            parts.append(f"![Confusion matrix of {row.label}]({link})")
    return "\n\n".join(parts)


def details(main: pd.DataFrame) -> str:
    """Per run: config, versions, machine and data, then per-class metrics."""
    parts = ["## Per-backend details"]
    for row in main.itertuples():
        result = row.result
        parts += [f"### {row.label}", tables.run_details(result)]
        group = row.group_runs
        if len(group) > 1:
            listed = ", ".join(
                f"`{get(r, 'run_id')}` (seed {get(r, 'config.seed')}: steady epoch "
                f"{tables.fmt(get(r, 'timings.steady_epoch_seconds'), '.3f')} s, accuracy "
                f"{tables.fmt(get(r, 'metrics.test_accuracy'), '.4f')})"
                for r in group
            )
            parts.append(
                f"The {len(group)} runs of this group: {listed}. The table above "
                "is the latest of them."
            )
        per_class = get(result, "metrics.per_class")
        if per_class:
            macro_f1 = tables.fmt(get(result, "metrics.macro_f1"), ".4f")
            parts += [f"Per-class metrics on the test set (macro F1 {macro_f1}):"]
            parts.append(tables.per_class_table(per_class))
        else:
            parts.append("No per-class metrics recorded.")
    return "\n\n".join(parts)


def the_data(figures: Figures) -> str:
    """The first image of each class and the first labels of each split."""
    result = figures.data_result
    if result is None or figures.first_of_each_class is None:
        return "## The data\n\nNo run recorded sample images."
    train = get(result, "samples.first_train_labels")
    test = get(result, "samples.first_test_labels")
    return (
        "## The data\n\n"
        "The first training image of each class (every run reads the same MNIST files):\n\n"
        f"![The first training image of each class]({figures.first_of_each_class})\n\n"
        f"First 10 training labels: `{train}`  \nFirst 10 test labels: `{test}`"
    )


def random_samples(figures: Figures) -> str:
    """The random test images with each run's prediction, and the runs left out."""
    runs = figures.random_runs
    if figures.random_test is None or runs is None or runs.empty:
        return "## Random test samples\n\nNo run recorded random test samples."
    sample = get(runs["result"].iloc[0], "samples.random_test")
    parts = [
        "## Random test samples",
        f"Test images {sample.get('indices')} (drawn with seed {sample.get('seed')}). Each "
        "panel shows the true label and each run's prediction; the title is red where any run "
        "is wrong.",
        f"![Random test images with each run's prediction]({figures.random_test})",
    ]
    legend = ", ".join(f"{row.short} = {row.label}" for row in runs.itertuples())
    parts.append(f"Runs: {legend}.")
    left_out = figures.random_left_out
    if left_out is not None and not left_out.empty:
        labels = ", ".join(left_out["label"])
        parts.append(
            f"Left out because their random sample is different images (or missing): {labels}."
        )
    return "\n\n".join(parts)


def skipped_files(skipped: list[tuple[str, str]], others: list[str] = ()) -> str:
    """The result, verdict, probe and self-check files that could not be used, and why."""
    if not skipped and not others:
        return ""
    parts = ["## Skipped files"]
    if skipped:
        parts += [
            "These files are not readable digitrec results and were left out:",
            tables.skipped_table(skipped),
        ]
    if others:
        parts += [
            "These records could not be used and were left out:",
            "\n".join(f"- {line}" for line in others),
        ]
    return "\n\n".join(parts)
