"""The report's PNG figures: learning curves, confusion matrices, grids of digit images, speed
and parity charts.

`figure_<name>` builds a figure and returns it (tests inspect it); `plot_<name>` saves it as PNG.
"""

import itertools
import math
import os
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

# No display is needed (or wanted) to write PNG files; Agg must be chosen before pyplot loads.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.ticker import NullLocator

from bench.report.figure_writer import save

WRONG_COLOR = "tab:red"
TITLE_WIDTH_CHARS = 60
# One colour per backend in every figure, so a backend reads the same everywhere.
BACKEND_COLORS = {"tensorflow": "tab:orange", "jax": "tab:blue", "torch": "tab:green"}
OTHER_COLORS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
PROFILE_STYLES = {"default": "-", "tuned": "--", "bf16": ":", "fp16": "-."}


def wrap(title: str, width: int | None = None) -> str:
    """`title` in lines of at most `width` characters (TITLE_WIDTH_CHARS): machine ids are long."""
    return "\n".join(
        textwrap.fill(line, width or TITLE_WIDTH_CHARS) or line for line in title.split("\n")
    )


def split_label(label: str) -> tuple[str, str, str | None]:
    """(backend, profile, machine) of a group label such as "jax/cpu · tuned @ m1 (quick)".

    A label without a profile is the default profile's; one without " @ " names no machine.
    """
    rest, _, machine = label.partition(" @ ")
    machine = machine.removesuffix(" (quick)") or None
    head, _, profile = rest.removesuffix(" (quick)").partition(" · ")
    return head.split("/")[0], profile or "default", machine


def without_machine(label: str) -> str:
    """`label` less its " @ machine" part ("(quick)" kept)."""
    rest, _, machine = label.partition(" @ ")
    return rest + (" (quick)" if machine.endswith(" (quick)") else "")


def other_line_styles() -> Iterator[str | tuple]:
    """Dash patterns unlike any profile's, without end: for unknown profiles and look-alikes."""
    yield (0, (5, 1, 1, 1, 1, 1))
    yield (0, (1, 4))
    yield (0, (8, 2, 2, 2))
    for dash in itertools.count(10, 3):
        yield (0, (dash, 3))


def line_styles(labels: Iterable[str]) -> dict[str, dict[str, str | tuple]]:
    """The colour (by backend) and line style (by profile) of each label's line.

    Two labels that would still look alike (one backend and profile on two devices, or two
    unknown profiles) get different styles, so no two of `labels` share both.
    """
    styles, taken, colors = {}, set(), dict(BACKEND_COLORS)
    for label in labels:
        backend, profile, _ = split_label(label)
        if backend not in colors:
            unused = [c for c in OTHER_COLORS if c not in colors.values()] or OTHER_COLORS
            colors[backend] = unused[0]
        color = colors[backend]
        candidates = itertools.chain([PROFILE_STYLES.get(profile)], other_line_styles())
        linestyle = next(s for s in candidates if s is not None and (color, s) not in taken)
        taken.add((color, linestyle))
        styles[label] = {"color": color, "linestyle": linestyle}
    return styles


def figure_learning_curves(histories: dict[str, dict[str, Sequence[float]]]) -> plt.Figure:
    """Training loss and accuracy per epoch, one history per group (keyed by its label).

    One row of two panels per machine named in the labels (after " @ "); colour by backend,
    line style by profile, the legend below the panels.
    """
    by_machine: dict[str | None, dict[str, dict]] = {}
    for label, history in histories.items():
        by_machine.setdefault(split_label(label)[2], {})[without_machine(label)] = history
    styles = line_styles(dict.fromkeys(name for group in by_machine.values() for name in group))
    several = len(by_machine) > 1
    fig, axes = plt.subplots(
        len(by_machine), 2, figsize=(12, 1 + 4 * len(by_machine)), squeeze=False,
        sharex=True, sharey="col", layout="constrained",
    )  # fmt: skip
    for (loss_ax, accuracy_ax), (machine, group) in zip(axes, by_machine.items(), strict=True):
        where = f" on {machine}" if several and machine else ""
        for name, history in group.items():
            for ax, key in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
                values = history.get(key) or []
                ax.plot(
                    range(1, len(values) + 1), values, marker="o", markersize=3, label=name,
                    **styles[name],
                )  # fmt: skip
        # Each panel is half the figure wide: its title gets fewer characters a line.
        width = TITLE_WIDTH_CHARS * 2 // 3
        loss_ax.set(title=wrap(f"Training loss per epoch{where}", width), ylabel="loss")
        accuracy_ax.set(title=wrap(f"Training accuracy per epoch{where}", width), ylabel="accuracy")
    for ax in axes.flat:
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes[:, 0]:
        handles.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(
        list(handles.values()), list(handles), loc="outside lower center",
        ncols=min(4, max(1, len(handles))), fontsize="small",
    )  # fmt: skip
    return fig


def plot_learning_curves(
    histories: dict[str, dict[str, Sequence[float]]], path: str | os.PathLike
) -> Path:
    """`figure_learning_curves`, saved to `path`: one history per group."""
    return save(figure_learning_curves(histories), path)


def figure_accuracy_vs_time(
    curves: Sequence[dict], *, target: float | None, title: str
) -> plt.Figure:
    """Test accuracy after each epoch against training time, one line per group.

    Each curve: label, seconds (training time at each epoch's end, compile included, the
    evaluations left out) and accuracy, both medians over the group's runs. Where two curves
    cross, which group is faster depends on the target; `target` is drawn dashed.
    """
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    styles = line_styles(curve["label"] for curve in curves)
    for curve in curves:
        ax.plot(
            curve["seconds"], curve["accuracy"], marker="o", markersize=3, label=curve["label"],
            **styles[curve["label"]],
        )  # fmt: skip
    later = [value for curve in curves for value in curve["accuracy"][1:]]
    if later:
        low = min(min(later), target if target is not None else 1.0)
        ax.set_ylim(low - 0.002, max(later) + 0.002)
    if target is not None:
        ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set(
        title=wrap(title),
        xlabel="training time, s (compile included; evaluation paused)",
        ylabel="test accuracy after each epoch",
    )
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize="small")
    return fig


def plot_accuracy_vs_time(
    curves: Sequence[dict], path: str | os.PathLike, *, target: float | None, title: str
) -> Path:
    """`figure_accuracy_vs_time`, saved to `path`."""
    return save(figure_accuracy_vs_time(curves, target=target, title=title), path)


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


def plot_divergence(
    rows: Sequence[dict],
    path: str | os.PathLike,
    *,
    tolerance: float | None = None,
    title: str | None = None,
) -> Path:
    """Lockstep divergence per epoch: max |Δ| of probabilities and of weights, one line per pair.

    `tolerance` is drawn on the probability panel; rows with "argmax_agreement" add a third
    panel; `title`, where given, heads the figure.
    """
    with_agreement = any(row.get("argmax_agreement") is not None for row in rows)
    columns = 3 if with_agreement else 2
    fig, axes = plt.subplots(1, columns, figsize=(5.5 * columns, 4.2), layout="constrained")
    for ax, key, title in (
        (axes[0], "max_abs_probability_difference", "test-set probabilities"),
        (axes[1], "max_abs_weight_difference", "weights"),
    ):
        _plot_per_pair(ax, rows, key)
        ax.set(yscale="log", ylabel="max |difference|", title=title)
    if tolerance is not None:
        axes[0].axhline(tolerance, color="gray", linestyle="--", label=f"tolerance {tolerance:g}")
    if with_agreement:
        _plot_per_pair(axes[2], rows, "argmax_agreement")
        lowest = min(
            row["argmax_agreement"] for row in rows if row.get("argmax_agreement") is not None
        )
        axes[2].set(
            ylim=(min(0.99, lowest), 1.0005),
            ylabel="agreement",
            title="argmax agreement\n(share of test images with the same predicted class)",
        )
    axes[0].legend(fontsize="small")
    if title:
        fig.suptitle(wrap(title))
    return save(fig, path)


def plot_step_divergence(
    rows: Sequence[dict],
    path: str | os.PathLike,
    *,
    tolerance: float,
    first_beyond: dict[str, int] | None = None,
    title: str = "Free-running lockstep: each backend from its own previous step",
) -> Path:
    """The free-running lockstep epoch: per pair, the largest relative weight difference at each
    saved step (log scale), the rounding tolerance, and where each pair leaves it."""
    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    for pair in dict.fromkeys(row["pair"] for row in rows):
        points = [(row["step"], row["relative"]) for row in rows if row["pair"] == pair]
        (line,) = ax.plot(*zip(*points, strict=True), label=pair)
        step = (first_beyond or {}).get(pair)
        if step is not None:
            ax.axvline(step, color=line.get_color(), linestyle=":", alpha=0.8)
    ax.axhline(tolerance, color="gray", linestyle="--", label=f"rounding tolerance {tolerance:g}")
    ax.set(
        yscale="log",
        xlabel="training step of epoch 1 (dotted: where the pair leaves rounding)",
        ylabel="largest relative weight difference",
        title=wrap(title),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save(fig, path)


def _plot_per_pair(ax: plt.Axes, rows: Sequence[dict], key: str) -> None:
    """One line per pair of `key` against epoch, on a grid with whole-number epochs."""
    for pair in dict.fromkeys(row["pair"] for row in rows):
        points = [
            (row["epoch"], row[key])
            for row in rows
            if row["pair"] == pair and row.get(key) is not None
        ]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=pair)
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)


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
    ax.set(title=wrap(title), xlabel="predicted label", ylabel="true label")
    return save(fig, path)


def error_scale(matrices: Mapping[str, Sequence[Sequence[int]]]) -> int:
    """The largest off-diagonal (misclassification) count over all `matrices`, at least 1."""
    largest = 0
    for matrix in matrices.values():
        errors = np.asarray(matrix, dtype=int).copy()
        np.fill_diagonal(errors, 0)
        largest = max(largest, int(errors.max(initial=0)))
    return max(1, largest)


def annotate_errors(ax: plt.Axes, counts: np.ndarray, scale: int) -> None:
    """Write each non-zero off-diagonal count in its cell, white on the dark ones."""
    for (row, column), count in np.ndenumerate(counts):
        if count and row != column:
            color = "white" if count > 0.6 * scale else "black"
            ax.text(column + 0.5, row + 0.5, str(count), ha="center", va="center",
                    fontsize=7, color=color)  # fmt: skip


def plot_confusion_grid(
    matrices: dict[str, Sequence[Sequence[int]]], path: str | os.PathLike, *, columns: int = 3
) -> Path:
    """Every run's confusion matrix as one panel (titled by its label) with the diagonal masked.

    The colour scale is shared and set by the largest error count, so that errors stand out
    instead of fading next to the (much larger) correct counts; empty cells are not annotated.
    """
    if not matrices:
        raise ValueError("matrices is empty; expected at least one confusion matrix")
    columns = max(1, min(columns, len(matrices)))
    rows = math.ceil(len(matrices) / columns)
    # seaborn draws the whole figure in every heatmap call (to check its tick labels), so the
    # grid would cost time quadratic in its panels: every panel but the one being made stays
    # hidden until all are made, and the layout and annotations come once, at the end.
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.4 * columns + 1, 4 * rows), squeeze=False, layout="none"
    )
    scale = error_scale(matrices)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, (label, matrix) in zip(axes.flat, matrices.items(), strict=False):
        ax.set_visible(True)
        counts = np.asarray(matrix, dtype=int)
        diagonal = np.eye(*counts.shape, dtype=bool)
        # The masked diagonal shows the axes background: grey marks "correct, not counted here".
        ax.set_facecolor("0.88")
        sns.heatmap(
            counts, mask=diagonal, vmin=0, vmax=scale, cmap="Reds", cbar=False, square=True,
            linewidths=0.3, linecolor="white", ax=ax,
        )  # fmt: skip
        ax.set_title(label, fontsize=10)
        ax.tick_params(labelsize=8, length=0)
        ax.set_visible(False)
    for ax, matrix in zip(axes.flat, matrices.values(), strict=False):
        ax.set_visible(True)
        annotate_errors(ax, np.asarray(matrix, dtype=int), scale)
    fig.supxlabel("predicted label")
    fig.supylabel("true label")
    fig.set_layout_engine("constrained")
    fig.colorbar(
        axes.flat[0].collections[0], ax=axes, label="misclassified test images", shrink=0.8
    )
    return save(fig, path)


def bars_by_machine(bars: Sequence[dict]) -> dict[str, list[dict]]:
    """`bars` grouped by their "machine" (in first-seen order), fastest median first in each."""
    groups: dict[str, list[dict]] = {}
    for bar in bars:
        groups.setdefault(bar["machine"], []).append(bar)
    return {
        machine: sorted(group, key=lambda bar: bar["median"]) for machine, group in groups.items()
    }


def figure_steady_epoch_bars(bars: Sequence[dict]) -> plt.Figure:
    """Median steady-epoch seconds per label as horizontal bars, with 95% intervals where known.

    One panel per machine, stacked vertically, each with its own labels and scale.
    """
    groups = bars_by_machine(bars)
    if not groups:
        raise ValueError("bars is empty; expected at least one steady-epoch bar")
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(8, 1.2 + 0.45 * len(bars) + 0.6 * len(groups)),
        squeeze=False,
        height_ratios=[len(group) for group in groups.values()],
        layout="constrained",
    )
    for ax, (machine, group) in zip(axes[:, 0], groups.items(), strict=True):
        positions = np.arange(len(group))
        medians = [bar["median"] for bar in group]
        ax.barh(positions, medians, color="tab:blue", alpha=0.8)
        for position, bar in zip(positions, group, strict=True):
            if bar.get("low") is not None and bar.get("high") is not None:
                below, above = bar["median"] - bar["low"], bar["high"] - bar["median"]
                ax.errorbar(
                    bar["median"], position, xerr=[[below], [above]], color="black", capsize=3
                )
        ax.set_yticks(positions, [bar["label"] for bar in group])
        ax.invert_yaxis()
        ax.set(title=wrap(machine), xlabel="steady epoch, s (median, 95% interval)")
        ax.grid(axis="x", alpha=0.3)
    return fig


def plot_steady_epoch_bars(bars: Sequence[dict], path: str | os.PathLike) -> Path:
    """`figure_steady_epoch_bars`, saved to `path`."""
    return save(figure_steady_epoch_bars(bars), path)


def figure_throughput_vs_batch(curves: dict[str, dict[int, float]], *, title: str) -> plt.Figure:
    """Prediction throughput against batch size on log-log axes, one line per label."""
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for label, curve in curves.items():
        batch_sizes = sorted(curve)
        ax.plot(batch_sizes, [curve[size] for size in batch_sizes], marker="o", label=label)
    ax.set(xscale="log", yscale="log", title=wrap(title))
    ax.set(xlabel="batch size", ylabel="prediction throughput, samples/s")
    batch_sizes = sorted({size for curve in curves.values() for size in curve})
    ax.set_xticks(batch_sizes, [str(size) for size in batch_sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def plot_throughput_vs_batch(
    curves: dict[str, dict[int, float]], path: str | os.PathLike, *, title: str
) -> Path:
    """`figure_throughput_vs_batch`, saved to `path`."""
    return save(figure_throughput_vs_batch(curves, title=title), path)


def figure_time_to_model(bars: Sequence[dict], *, title: str) -> plt.Figure:
    """Compile plus steady training seconds as stacked horizontal bars, totals at their ends."""
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.45 * len(bars)), layout="constrained")
    positions = np.arange(len(bars))
    compile_seconds = np.array([bar["compile"] for bar in bars], dtype=float)
    training_seconds = np.array([bar["training"] for bar in bars], dtype=float)
    ax.barh(
        positions,
        compile_seconds,
        color="tab:orange",
        label="compile (first epoch \N{MINUS SIGN} steady epoch)",
    )
    ax.barh(positions, training_seconds, left=compile_seconds, color="tab:blue", label="training")
    for position, total in zip(positions, compile_seconds + training_seconds, strict=True):
        ax.text(total, position, f" {total:.1f} s", va="center", fontsize=9)
    ax.set_yticks(positions, [bar["label"] for bar in bars])
    ax.invert_yaxis()
    # Room on the right for the totals.
    ax.margins(x=0.12)
    ax.set(title=wrap(title), xlabel="time to a trained model, s")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize="small")
    return fig


def plot_time_to_model(bars: Sequence[dict], path: str | os.PathLike, *, title: str) -> Path:
    """`figure_time_to_model`, saved to `path`."""
    return save(figure_time_to_model(bars, title=title), path)


def plot_paired_differences(
    pairs: Sequence[dict],
    margin: float,
    path: str | os.PathLike,
    *,
    title: str = "Paired accuracy differences",
) -> Path:
    """Per pair, per-seed accuracy differences, their mean with its 90% interval, and ±margin."""
    fig, ax = plt.subplots(figsize=(2.2 * len(pairs) + 3, 4.5), layout="constrained")
    ax.axhspan(-margin, margin, color="tab:green", alpha=0.15, label=f"tolerance ±{margin:g}")
    ax.axhline(0, color="gray", linestyle="--", linewidth=1)
    for position, pair in enumerate(pairs):
        differences = np.asarray(pair["differences"], dtype=float)
        # Fixed, not random, jitter: the same data always draws the same figure.
        offsets = np.linspace(-0.12, 0.12, len(differences)) if len(differences) > 1 else [0.0]
        seed_label = "one seed" if position == 0 else None
        ax.scatter(position + np.asarray(offsets), differences, s=25, alpha=0.6, label=seed_label)
        mean, (low, high) = differences.mean(), pair["ci"]
        mean_label = "mean, 90% interval" if position == 0 else None
        interval = [[mean - low], [high - mean]]
        ax.errorbar(
            position + 0.3, mean, yerr=interval, fmt="D", color="black", capsize=4, label=mean_label
        )
    ax.set_xticks(range(len(pairs)), [pair["pair"] for pair in pairs])
    ax.set_xlim(-0.6, len(pairs) - 0.4)
    ax.set(ylabel="test accuracy difference (per seed)", title=wrap(title))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return save(fig, path)
