"""The report's PNG figures: learning curves, confusion matrices and grids of digit images."""

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

# No display is needed (or wanted) to write PNG files; Agg must be chosen before pyplot loads.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns

DPI = 100
WRONG_COLOR = "tab:red"


def save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Write `fig` to `path` as PNG and free it."""
    path = Path(path)
    try:
        fig.savefig(path, dpi=DPI, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return path


def plot_learning_curves(
    histories: dict[str, dict[str, Sequence[float]]], path: str | os.PathLike
) -> Path:
    """Training loss and accuracy per epoch in two panels, one line per run (keyed by label)."""
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    for label, history in histories.items():
        for ax, name in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
            values = history.get(name) or []
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    loss_ax.set(title="Training loss per epoch", xlabel="epoch", ylabel="loss")
    accuracy_ax.set(title="Training accuracy per epoch", xlabel="epoch", ylabel="accuracy")
    for ax in (loss_ax, accuracy_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    fig.legend(
        *loss_ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small"
    )
    return save(fig, path)


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], title: str, path: str | os.PathLike):
    """A seaborn heatmap of `matrix` (rows true, columns predicted) with counts in the cells."""
    fig, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    sns.heatmap(np.asarray(matrix, dtype=int), annot=True, fmt="d", cmap="Blues", ax=ax)
    ax.set(title=title, xlabel="predicted label", ylabel="true label")
    return save(fig, path)


def plot_digits(
    images: np.ndarray,
    titles: Sequence[str],
    path: str | os.PathLike,
    *,
    columns: int = 10,
    wrong: Sequence[bool] | None = None,
) -> Path:
    """Grey-scale images in a grid, each under its title; titles where `wrong` is true in red."""
    if len(images) != len(titles):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles; expected one each")
    wrong = wrong if wrong is not None else [False] * len(images)
    columns = max(1, min(columns, len(images)))
    rows = max(1, math.ceil(len(images) / columns))
    lines = [line for title in titles for line in title.split("\n")]
    lines_per_title = max(title.count("\n") + 1 for title in titles) if titles else 1
    # Long titles (one prediction per run) need wider panels to stay readable.
    width = max(1.4, 0.09 * max(map(len, lines), default=0))
    height = 1.6 + 0.2 * lines_per_title
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * width, rows * height), squeeze=False, layout="constrained"
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title, is_wrong in zip(axes.flat, images, titles, wrong, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=9, color=WRONG_COLOR if is_wrong else "black")
    return save(fig, path)


def plot_accuracy_strips(samples: dict[str, Sequence[float]], path: str | os.PathLike) -> Path:
    """Per-seed test accuracy of each backend as a strip plot, with each backend's mean."""
    names = [name for name, values in samples.items() for _ in values]
    accuracies = [value for values in samples.values() for value in values]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    sns.stripplot(x=names, y=accuracies, hue=names, size=8, jitter=0.1, ax=ax, legend=False)
    for position, values in enumerate(samples.values()):
        ax.hlines(np.mean(values), position - 0.3, position + 0.3, color="black", linewidth=1)
    ax.set(title="Test accuracy per seed (line: mean)", ylabel="test accuracy")
    ax.grid(axis="y", alpha=0.3)
    return save(fig, path)


def plot_divergence(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Lockstep divergence per epoch: max |Δ| of probabilities and of weights, one line per pair."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    pairs = dict.fromkeys(row["pair"] for row in rows)
    for ax, key, title in (
        (axes[0], "max_abs_probability_difference", "test-set probabilities"),
        (axes[1], "max_abs_weight_difference", "weights"),
    ):
        for pair in pairs:
            points = [(row["epoch"], row[key]) for row in rows if row["pair"] == pair]
            ax.plot(*zip(*points, strict=True), marker="o", label=pair)
        ax.set(yscale="log", xlabel="epoch", ylabel="max |difference|", title=title)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return save(fig, path)


def plot_matrix_difference(
    difference: Sequence[Sequence[int]], title: str, path: str | os.PathLike
) -> Path:
    """A diverging heatmap of the difference between two confusion matrices."""
    matrix = np.asarray(difference, dtype=int)
    limit = max(1, int(np.abs(matrix).max()))
    fig, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    sns.heatmap(
        matrix, annot=True, fmt="d", cmap="RdBu_r", vmin=-limit, vmax=limit, center=0, ax=ax
    )
    ax.set(title=title, xlabel="predicted label", ylabel="true label")
    return save(fig, path)
