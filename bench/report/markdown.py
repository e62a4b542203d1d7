"""Assemble the report's Markdown text from the selected runs and the figures made for them."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.analysis.hosts import Probes
from bench.report import environment, speed, tables
from bench.report import profiles as profile_tables
from bench.report.samples import Disagreements
from bench.stats import MIN_SPEED_EFFECT

QUICK_NOTE = (
    "> **Quick runs** (`python -m bench.run --quick`, or a `--train-samples`/`--test-samples` "
    "subset) train and test on a small part of MNIST, usually for fewer epochs: their accuracy "
    "and timings are **not comparable** with full runs."
)


@dataclass
class Figures:
    """Links (relative to the report) of the figures made, and what went into them."""

    learning_curves: str | None = None
    confusion_grid: str | None = None
    data_result: dict[str, Any] | None = None
    first_of_each_class: str | None = None
    random_test: str | None = None
    random_runs: pd.DataFrame | None = None
    random_left_out: pd.DataFrame | None = None
    disagreements: Disagreements | None = None
    steady_bars: str | None = None
    time_to_model: dict[str, str] = field(default_factory=dict)  # machine -> link
    accuracy_vs_time: dict[str, str] = field(default_factory=dict)  # machine -> link
    throughput: dict[str, str] = field(default_factory=dict)  # machine -> link


def render(
    *,
    main: pd.DataFrame,
    aside: pd.DataFrame,
    runs_found: int,
    skipped: list[tuple[str, str]],
    figures: Figures,
    runs_dir: str,
    other_skipped: list[str] = (),
    host_notes: list[str] = (),
    probes: Probes | None = None,
    verdict_section: str = "",
    matrix_section: str = "",
    failed_section: str = "",
    parity_section: str = "",
    environment_section: str = "",
    roofline_section: str = "",
    selfcheck_section: str = "",
    micro_section: str = "",
    workload_sections: Sequence[str] = (),
    workloads: Sequence[str] = ("mlp",),
    generated: datetime,
) -> str:
    """The whole report as Markdown text: the verdict first, the details after."""
    sections = [
        intro(runs_dir, generated, workloads),
        verdict_section,
        matrix_section,
        failed_section,
        training(main, aside, runs_found, len(skipped) + len(other_skipped), figures, host_notes),
        prediction(main, figures),
        profiles(main, probes),
        parity_section,
        environment_section,
        declared_settings(main),
        roofline_section,
        selfcheck_section,
        learning_curves(figures),
        confusion_matrices(main, figures),
        per_class(main),
        samples_section(figures),
        the_data(figures),
        *workload_sections,
        micro_section,
        appendix(main, aside),
        skipped_files(skipped, other_skipped),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def intro(runs_dir: str, generated: datetime, workloads: Sequence[str] = ("mlp",)) -> str:
    """Title, what this report is, when it was made and how to rebuild it."""
    first, others = workloads[0], list(workloads[1:])
    workload_line = ""
    if others:
        workload_line = (
            f" Everything up to the workload sections is about `{first}`; "
            + ", ".join(f"`{name}`" for name in others)
            + (
                " has a section of its own"
                if len(others) == 1
                else " each have a section of their own"
            )
            + " (**Workload: …**), with its own verdict."
        )
    elif first != "mlp":
        workload_line = f" This report is about the workload `{first}`."
    return (
        "# digitrec benchmark report\n\n"
        "digitrec trains Keras 3 models (by default the MNIST MLP: Dense 128 relu → Dense 128 "
        "relu → Dropout 0.25 → Dense 10 softmax) under the TensorFlow, JAX and PyTorch backends "
        "with `python -m bench.run`, and records each run in a JSON result file. This report "
        f"compiles the result files under `{runs_dir}`: the accuracy each backend reaches, how "
        f"long training and prediction take, and which digits the models get wrong.{workload_line}"
        "\n\n"
        f"Generated {generated:%Y-%m-%d %H:%M:%S} UTC. Rebuild it with `nox -s report` "
        "(or `python -m bench.report`); add runs with `nox -s bench`."
    )


def training(
    main: pd.DataFrame,
    aside: pd.DataFrame,
    runs_found: int,
    skipped: int,
    figures: Figures,
    host_notes: list[str] = (),
) -> str:
    """Accuracy and training times of every group, the speed figures, noisy flags, quick runs."""
    used = len(main) + len(aside)
    table, notes = speed.training_table(main)
    parts = [
        "## Training",
        f"Found {runs_found} readable result file{'s' * (runs_found != 1)}"
        + (f" ({skipped} more skipped, see [Skipped files](#skipped-files))" if skipped else "")
        + ". For each machine, backend, device, mode (full or quick) and profile the report "
        f"uses the latest group of repeats: {used} group{'s' * (used != 1)}. Figures are "
        "medians across a group's runs (each in a fresh process, round i with seed i). *time "
        "to a trained model* is the whole `fit`, compile included; *compile s* is first epoch "
        "minus steady epoch; the steady epoch's ± is the half-width of the 95% interval of its "
        f"typical value across runs, {speed.NOISY} where that is wider than "
        f"±{MIN_SPEED_EFFECT:.0%}, the smallest difference the report calls a speed-up.",
        table,
        *([f"**Noisy:** {' '.join(notes)}"] if notes else []),
        *host_notes,
        accuracy_spread(main),
    ]
    if figures.steady_bars:
        parts.append(f"![Steady epoch per backend, median and 95% interval]({figures.steady_bars})")
    for machine, link in figures.time_to_model.items():
        parts.append(f"![Time to a trained model on {machine}: compile and training]({link})")
    if main["quick"].any() or len(aside):
        parts.append(QUICK_NOTE)
    if len(aside):
        parts += [
            "### Quick runs (not comparable)",
            "These quick runs have a full run of the same machine, backend and device above, "
            "so they are shown only here.",
            speed.training_table(aside)[0],
        ]
    return "\n\n".join(parts)


def appendix(main: pd.DataFrame, aside: pd.DataFrame) -> str:
    """Every run behind the report, by group: its id, seed, steady epoch and accuracy."""
    rows = []
    for row in pd.concat([main, aside]).itertuples():
        for result in row.group_runs:
            rows.append({
                "group": row.label,
                "run id": f"`{get(result, 'run_id')}`",
                "seed": tables.fmt(get(result, "config.seed")),
                "steady epoch s": tables.fmt(get(result, "timings.steady_epoch_seconds"), ".3f"),
                "test accuracy": tables.fmt(get(result, "metrics.test_accuracy"), ".4f"),
            })  # fmt: skip
    return "\n\n".join([
        "## Appendix: runs used",
        tables.to_markdown(pd.DataFrame(rows), ["seed", "steady epoch s", "test accuracy"]),
    ])  # fmt: skip


def profiles(main: pd.DataFrame, probes: Probes | None = None) -> str:
    """What the tuned profile gains, per steady epoch and for the whole job; each search."""
    table = profile_tables.default_vs_tuned(main, probes)
    lower = profile_tables.lower_precision(main)
    lower_part = [] if lower is None else [LOWER_PRECISION_INTRO, lower]
    if table is None:
        return "\n\n".join(["## Tuned profiles", *lower_part]) if lower_part else ""
    tuned = main[main["profile"] == "tuned"].itertuples()
    searches = [found for row in tuned if (found := profile_tables.tuning_candidates(row))]
    intro = (
        "*default* runs the documented workflow with Keras' defaults; *tuned* keeps the model, "
        "data and hyper-parameters and runs them with the settings a short search found "
        "fastest on this machine. **Tuned means tuned for training**: the search minimises the "
        "median steady epoch (compile excluded), and prediction settings are not searched, so "
        "a tuned profile can predict slower. Gains are default / tuned (> 1: tuned is faster) "
        "with their 95% interval, paired run by run where the suite interleaved the profiles; "
        "FASTER or SLOWER needs the interval to exclude 1 and an effect of at least "
        f"{MIN_SPEED_EFFECT:.0%}, SAME an interval within it, else INCONCLUSIVE. *time to a "
        "trained model* is the documented job (the whole 10-epoch fit, compile included); "
        "*break-even* is the number of epochs after which tuned's faster steady epoch has paid "
        "back its extra compile time (medians); a profile SLOWER for the documented job is "
        "flagged and never recommended for it."
    )
    searches_intro = (
        f"The search behind each tuned group, from its latest run; {profile_tables.CHOSEN} "
        "marks the settings chosen."
    )
    return "\n\n".join([
        "## Tuned profiles",
        intro,
        table,
        *lower_part,
        *([searches_intro, *searches] if searches else []),
    ])  # fmt: skip


LOWER_PRECISION_INTRO = (
    "**Lower precision.** A bf16 profile runs the default settings under Keras' "
    "`mixed_bfloat16` policy (fp16: `mixed_float16`, on GPUs), in the same rounds as float32. "
    "It is ACCEPTED only if it reaches the target accuracy in every run and its test accuracy "
    "is equivalent to float32's on the paired seeds (two one-sided tests, the workload's "
    "margin, 90% interval); otherwise it is REJECTED and never competes in the verdict, "
    "however fast. Gains are float32 / bf16 (> 1: bf16 is faster), paired by round."
)


def prediction(main: pd.DataFrame, figures: Figures | None = None) -> str:
    """Latency, first call and bulk throughput of prediction; throughput against batch size."""
    table = speed.prediction_table(main)
    if table is None:
        return ""
    intro = (
        "After warm-up, on the fastest single-sample path Keras offers on each backend (*path*, "
        "chosen per run by timing them): batch-1 latency percentiles over 300 calls, the first "
        "`predict` call of the run (it pays for tracing or compiling), and throughput at the "
        "largest batch measured. Medians across the group's runs."
    )
    links = (figures.throughput if figures else {}).items()
    plots = [f"![Prediction throughput against batch size on {m}]({link})" for m, link in links]
    return "\n\n".join(["## Prediction", intro, table, *plots])


def declared_settings(main: pd.DataFrame) -> str:
    """The settings that decide speed, as asked and as resolved."""
    table = speed.settings_table(main)
    if table is None:
        return ""
    intro = "As recorded by each group's latest run; environment variables left unset are omitted."
    return "\n\n".join(["### Declared settings", intro, table])


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
    """The learning-curves figures: per epoch, and test accuracy against training time."""
    if figures.learning_curves is None:
        return "## Learning curves\n\nNo run recorded a training history."
    on_time = [
        f"![Test accuracy against training time on {machine}]({link})"
        for machine, link in figures.accuracy_vs_time.items()
    ]
    time_text = (
        "\n\nTest accuracy after each epoch against the training time at that epoch's end "
        "(compile included, the clock paused for the evaluation), the median of each group's "
        "runs per epoch: the learning curve on a time axis. Where two curves cross, the faster "
        "group depends on the target.\n\n" + "\n\n".join(on_time)
        if on_time
        else ""
    )
    return (
        "## Learning curves\n\n"
        "Training loss and accuracy at the end of each epoch, one line per group (its latest "
        "run).\n\n"
        f"![Training loss and accuracy per epoch]({figures.learning_curves}){time_text}"
    )


def confusion_matrices(main: pd.DataFrame, figures: Figures) -> str:
    """Every group's confusion matrix in one grid, the diagonal masked."""
    if figures.confusion_grid is None:
        return "## Confusion matrices\n\nNo run recorded a confusion matrix."
    return (
        "## Confusion matrices\n\n"
        "Rows are the true digits, columns the predicted ones; only the errors are coloured "
        "(the diagonal, the correct predictions, is masked), on one scale for every panel.\n\n"
        f"![Confusion matrices, errors only]({figures.confusion_grid})"
    )


def per_class(main: pd.DataFrame) -> str:
    """One table: F1 of each digit per backend."""
    table = environment.per_class_table(main)
    if table is None:
        return ""
    return "\n\n".join(["## Per-class F1", "F1 of each digit on the test set.", table])


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


def samples_section(figures: Figures) -> str:
    """Where the backends disagree or all err; else each run's random sample."""
    found = figures.disagreements
    if found is not None and figures.random_test is not None:
        runs = figures.random_runs
        legend = ", ".join(f"{row.short} = {row.label}" for row in runs.itertuples())
        return "\n\n".join([
            "## Where the backends disagree",
            f"Of the 10,000 test images, the backends' default runs predict {found.disagreeing} "
            f"differently and all get {found.all_wrong} wrong. Shown: the first "
            f"{len(found.indices)} of them (disagreements first), test indices "
            f"{found.indices.tolist()}. Each panel shows the true label and each run's "
            "prediction; the title is red where any run is wrong.",
            f"![Test images where the backends disagree or err]({figures.random_test})",
            f"Runs: {legend}.",
        ])  # fmt: skip
    return random_samples(figures)


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
        "is wrong. (With the MNIST folder set in `DIGITREC_DATA_DIR`, the report shows the "
        "images where the backends disagree instead.)",
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
