"""The report's figure sections: learning curves, confusion matrices, the test images where
the backends disagree, the data; and the links of the figures they show (`Figures`)."""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bench.analysis.collect import get
from bench.report.samples import Disagreements


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
    per_machine_left_out: bool = False  # too many machines for a speed figure each


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
        "Training loss and accuracy at the end of each epoch, one line per group (beyond three "
        "machines, per backend, device and profile over all of them): the median of its runs "
        "per epoch; colour is the backend, line style the profile.\n\n"
        f"![Training loss and accuracy per epoch]({figures.learning_curves}){time_text}"
    )


def confusion_matrices(main: pd.DataFrame, figures: Figures) -> str:
    """Every group's confusion matrix in one grid, the diagonal masked."""
    if figures.confusion_grid is None:
        return "## Confusion matrices\n\nNo run recorded a confusion matrix."
    return (
        "## Confusion matrices\n\n"
        "Rows are the true digits, columns the predicted ones; only the errors are coloured "
        "(the diagonal, the correct predictions, is masked), on one scale for every panel. "
        "Each panel sums the confusion matrices of its group's runs (beyond three machines, "
        "of a backend, device and profile's runs on all of them).\n\n"
        f"![Confusion matrices, errors only]({figures.confusion_grid})"
    )


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
