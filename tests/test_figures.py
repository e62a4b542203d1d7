"""The report's figure functions: each draws a readable PNG from small, realistic data."""

import copy
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.text import Text

from bench.report import figures, parity_section
from tests.report_fixtures import parity_step_verdict, parity_verdict

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAIRS = ("tensorflow vs jax", "tensorflow vs torch", "jax vs torch")
BACKENDS = ("tensorflow", "jax", "torch")
# Machine ids are long; titles that name one must still fit.
LONG_MACHINE = "intel-r-xeon-r-platinum-8480c-processor-112c-2xnvidia-h200-141gb-0123456789abcdef"
LONG_TITLE = f"Time to a trained model on {LONG_MACHINE}"[:90]
LONG_MACHINE_BARS = [
    {"machine": LONG_TITLE, "label": "jax/cpu · tuned", "median": 4.1, "low": 3.9, "high": 4.4},
    {"machine": "h200", "label": "torch/cuda", "median": 0.6, "low": None, "high": None},
]


def read_png(path: Path) -> np.ndarray:
    """The pixels of the PNG at `path`, after checking it is one and is not empty."""
    assert path.read_bytes().startswith(PNG_MAGIC), path
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4) and pixels.size > 0
    # A blank canvas would be a single colour.
    assert pixels.std() > 0
    return pixels


def confusion_matrix(correct: int, errors: dict[tuple[int, int], int]) -> list[list[int]]:
    """A 10x10 confusion matrix with `correct` on the diagonal and the given error cells."""
    matrix = np.diag([correct] * 10)
    for (true, predicted), count in errors.items():
        matrix[true, predicted] = count
    return matrix.tolist()


def divergence_rows(*, with_agreement: bool) -> list[dict]:
    """Three epochs of lockstep divergence for each pair of three backends."""
    rows = []
    for number, pair in enumerate(PAIRS):
        for epoch in (1, 2, 3):
            row = {
                "pair": pair,
                "epoch": epoch,
                "max_abs_probability_difference": 1e-6 * 10**epoch * (number + 1),
                "max_abs_weight_difference": 1e-7 * 10**epoch * (number + 1),
            }
            if with_agreement:
                row["argmax_agreement"] = 1.0 - 0.0002 * epoch * number
            rows.append(row)
    return rows


def test_error_scale_ignores_a_huge_diagonal():
    matrices = {
        "jax": confusion_matrix(100_000, {(4, 9): 17, (7, 2): 3}),
        "torch": confusion_matrix(50_000, {(3, 5): 11}),
    }
    assert figures.error_scale(matrices) == 17


def test_error_scale_is_at_least_one_without_errors():
    assert figures.error_scale({"perfect": confusion_matrix(980, {})}) == 1


def test_confusion_grid_draws_every_run_in_one_png(tmp_path):
    matrices = {
        f"{backend} (acc 0.99{n})": confusion_matrix(980 + n, {(4, 9): 5 + n, (7, 2): 2})
        for n, backend in enumerate(("jax", "tensorflow", "torch", "jax · tuned"))
    }
    path = figures.plot_confusion_grid(matrices, tmp_path / "grid.png", columns=3)
    assert path == tmp_path / "grid.png"
    read_png(path)


def test_confusion_grid_rejects_no_matrices(tmp_path):
    with pytest.raises(ValueError, match="matrices is empty"):
        figures.plot_confusion_grid({}, tmp_path / "grid.png")


def test_bars_by_machine_groups_and_puts_the_fastest_first():
    bars = [
        {"machine": "cpu", "label": "torch", "median": 9.0},
        {"machine": "gpu", "label": "jax", "median": 2.0},
        {"machine": "cpu", "label": "jax", "median": 4.0},
        {"machine": "gpu", "label": "torch", "median": 1.5},
    ]
    groups = figures.bars_by_machine(bars)
    assert list(groups) == ["cpu", "gpu"]
    assert [bar["label"] for bar in groups["cpu"]] == ["jax", "torch"]
    assert [bar["label"] for bar in groups["gpu"]] == ["torch", "jax"]


def test_steady_epoch_bars_with_two_machines_and_missing_intervals(tmp_path):
    bars = [
        {"machine": "laptop-2c", "label": "jax · tuned", "median": 4.1, "low": 3.9, "high": 4.4},
        {"machine": "laptop-2c", "label": "torch", "median": 7.8, "low": None, "high": None},
        {"machine": "h200", "label": "jax · tuned", "median": 0.41, "low": 0.40, "high": 0.43},
        {"machine": "h200", "label": "tensorflow", "median": 0.62, "low": None, "high": None},
    ]
    read_png(figures.plot_steady_epoch_bars(bars, tmp_path / "steady.png"))


def test_throughput_vs_batch(tmp_path):
    curves = {
        "jax": {1: 900.0, 32: 21_000.0, 1024: 180_000.0},
        "torch": {1: 1_400.0, 32: 30_000.0, 1024: 95_000.0},
    }
    path = figures.plot_throughput_vs_batch(curves, tmp_path / "t.png", title="Predict, CPU")
    read_png(path)


def test_time_to_model(tmp_path):
    bars = [
        {"label": "jax", "compile": 2.4, "training": 36.0},
        {"label": "tensorflow", "compile": 5.1, "training": 48.5},
        {"label": "torch", "compile": 0.3, "training": 61.2},
    ]
    path = figures.plot_time_to_model(bars, tmp_path / "ttm.png", title="12 epochs, CPU")
    read_png(path)


def test_paired_differences(tmp_path):
    rng = np.random.default_rng(0)
    pairs = []
    for pair in PAIRS:
        differences = rng.normal(0.0, 0.0012, size=8)
        half_width = 1.9 * differences.std(ddof=1) / np.sqrt(len(differences))
        ci = [differences.mean() - half_width, differences.mean() + half_width]
        pairs.append({"pair": pair, "differences": differences.tolist(), "ci": ci})
    read_png(figures.plot_paired_differences(pairs, 0.002, tmp_path / "paired.png"))


def test_divergence_without_agreement_keeps_two_panels(tmp_path):
    rows = divergence_rows(with_agreement=False)
    read_png(figures.plot_divergence(rows, tmp_path / "divergence.png"))


def test_divergence_with_agreement_adds_a_panel(tmp_path):
    two = read_png(
        figures.plot_divergence(
            divergence_rows(with_agreement=False), tmp_path / "two.png", tolerance=1e-3
        )
    )
    three = read_png(
        figures.plot_divergence(
            divergence_rows(with_agreement=True), tmp_path / "three.png", tolerance=1e-3
        )
    )
    assert three.shape[1] > 1.3 * two.shape[1]


def look(line) -> tuple[str, tuple]:
    """What tells a line apart: its colour and its dash pattern (get_linestyle() calls every
    custom pattern "--")."""
    return to_hex(line.get_color()), line._unscaled_dash_pattern


def learning_histories() -> dict[str, dict[str, list[float]]]:
    """One history per group: 2 machines x 3 backends x 2 profiles, labelled as the report does."""
    histories = {}
    for m, machine in enumerate(("laptop-2c", LONG_MACHINE)):
        for b, backend in enumerate(BACKENDS):
            for p, profile in enumerate(("default", "tuned")):
                shift = 0.01 * (m + b + p)
                histories[f"{backend}/cpu · {profile} @ {machine}"] = {
                    "loss": [0.5 - shift, 0.3 - shift, 0.2 - shift],
                    "accuracy": [0.85 + shift, 0.92 + shift, 0.95 + shift],
                }
    return histories


def assert_distinguishable(axes) -> None:
    """In each axes no two lines look alike, and each backend has one colour everywhere."""
    color_of_backend = {}
    for ax in axes:
        lines = [line for line in ax.get_lines() if not line.get_label().startswith("target")]
        looks = [look(line) for line in lines]
        assert len(set(looks)) == len(looks), f"look-alike lines in {ax.get_title()!r}: {looks}"
        for line in lines:
            backend = line.get_label().split("/")[0]
            color = color_of_backend.setdefault(backend, to_hex(line.get_color()))
            assert to_hex(line.get_color()) == color, f"{backend} changes colour"
    assert len(set(color_of_backend.values())) == len(color_of_backend), color_of_backend


def test_learning_curves_draw_no_two_lines_alike_in_one_panel():
    fig = figures.figure_learning_curves(learning_histories())
    assert len(fig.axes) == 4  # loss and accuracy for each machine
    for ax in fig.axes:
        assert len(ax.get_lines()) == 6
    assert_distinguishable(fig.axes)
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert styles["jax/cpu · default"] == "-" and styles["jax/cpu · tuned"] == "--"
    assert any(LONG_MACHINE[:20] in ax.get_title().replace("\n", "") for ax in fig.axes)


def test_the_learning_curve_legend_lies_below_the_panels():
    fig = figures.figure_learning_curves(learning_histories())
    fig.canvas.draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    lowest = min(ax.get_tightbbox().y0 for ax in fig.axes)
    assert box.y1 <= lowest + 1
    assert len(legend.get_texts()) == 6  # one entry per backend and profile, not per machine


def test_one_label_style_for_every_line_figure():
    labels = ["jax/cpu", "jax/cpu · tuned", "torch/cpu · bf16", "tensorflow/cpu · fp16"]
    styles = figures.line_styles(labels)
    assert [style["linestyle"] for style in styles.values()] == ["-", "--", ":", "-."]
    assert styles["jax/cpu"]["color"] == figures.BACKEND_COLORS["jax"]
    curves = [
        {"label": label, "seconds": [1.0, 2.0, 3.0], "accuracy": [0.95, 0.97, 0.975 + i / 1000]}
        for i, label in enumerate(labels)
    ]
    fig = figures.figure_accuracy_vs_time(curves, target=0.974, title="MLP")
    (ax,) = fig.axes
    for line in ax.get_lines()[: len(labels)]:
        expected = styles[line.get_label()]
        assert to_hex(line.get_color()) == to_hex(expected["color"])
        assert line.get_linestyle() == expected["linestyle"]
    assert_distinguishable(fig.axes)


def test_lines_that_would_look_alike_get_different_styles():
    labels = ["jax/cpu", "jax/gpu", "jax/cpu · warm", "jax/gpu · warm", "mxnet/cpu", "paddle/cpu"]
    styles = figures.line_styles(labels)
    pairs = [(style["color"], str(style["linestyle"])) for style in styles.values()]
    assert len(set(pairs)) == len(pairs)
    assert styles["mxnet/cpu"]["color"] != styles["paddle/cpu"]["color"]


def test_split_label_reads_the_report_labels():
    assert figures.split_label("jax/cpu · tuned @ m-1 (quick)") == ("jax", "tuned", "m-1")
    assert figures.split_label("torch/cuda") == ("torch", "default", None)
    assert figures.without_machine("jax/cpu · tuned @ m-1 (quick)") == "jax/cpu · tuned (quick)"


def outside_text(fig) -> list[str]:
    """The text of the figure that is drawn past its edges (tick labels: only those drawn)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    tick_labels, outside = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                tick_labels.update((tick.label1, tick.label2))
            box = axis.get_tightbbox(renderer)  # the drawn tick labels and the axis label
            if box is not None and not canvas.expanded(1.001, 1.001).contains(box.x0, box.y0):
                outside.append(f"{axis.axis_name} axis of {ax.get_title()!r}")
            if box is not None and not canvas.expanded(1.001, 1.001).contains(box.x1, box.y1):
                outside.append(f"{axis.axis_name} axis of {ax.get_title()!r}")
    for text in fig.findobj(Text):
        if text in tick_labels or not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        inside = (
            box.x0 >= canvas.x0 - 1 and box.y0 >= canvas.y0 - 1
            and box.x1 <= canvas.x1 + 1 and box.y1 <= canvas.y1 + 1
        )  # fmt: skip
        if not inside:
            outside.append(text.get_text())
    return outside


@pytest.mark.parametrize(
    "draw",
    [
        lambda: figures.figure_time_to_model(
            [
                {"label": "jax/cpu · tuned", "compile": 2.4, "training": 36.0},
                {"label": "tensorflow/cpu · default", "compile": 5.1, "training": 48.5},
            ],
            title=LONG_TITLE,
        ),
        lambda: figures.figure_throughput_vs_batch(
            {"jax/cpu": {1: 900.0, 32: 21_000.0}, "torch/cpu": {1: 1_400.0, 32: 30_000.0}},
            title=LONG_TITLE,
        ),
        lambda: figures.figure_accuracy_vs_time(
            [{"label": "jax/cpu · default", "seconds": [1.0, 2.0], "accuracy": [0.96, 0.975]}],
            target=0.974,
            title=LONG_TITLE,
        ),
        lambda: figures.figure_steady_epoch_bars(LONG_MACHINE_BARS),
        lambda: figures.figure_learning_curves(learning_histories()),
    ],
    ids=["time_to_model", "throughput", "accuracy_vs_time", "steady_epoch", "learning_curves"],
)
def test_every_text_of_a_figure_with_a_long_title_stays_on_the_canvas(draw):
    assert len(LONG_TITLE) == 90
    assert outside_text(draw()) == []


def test_a_title_past_the_edge_is_caught(monkeypatch):
    # The check above must be able to fail: unwrapped, the long title runs off the canvas.
    monkeypatch.setattr(figures, "TITLE_WIDTH_CHARS", 1000)
    bars = [{"label": "jax", "compile": 2.4, "training": 36.0}]
    assert outside_text(figures.figure_time_to_model(bars, title=LONG_TITLE)) != []


def test_save_writes_one_png_and_leaves_no_partial_file(tmp_path):
    path = figures.plot_learning_curves(learning_histories(), tmp_path / "curves.png")
    read_png(path)
    assert list(tmp_path.iterdir()) == [path]


def with_machine(verdict: dict, machine: str) -> dict:
    """A copy of `verdict` from another machine."""
    return {**copy.deepcopy(verdict), "machine": {"id": machine}}


def draw_for_machines(verdicts, figures_dir: Path) -> dict[str, dict[str, str]]:
    """`parity_section.draw` for each verdict with one cache, as the report does."""
    drawn = {}
    return {
        v["machine"]["id"]: parity_section.draw(v, figures_dir, lambda p: p.name, drawn=drawn)
        for v in verdicts
    }


@pytest.mark.parametrize("make_verdict", [parity_verdict, parity_step_verdict])
def test_the_same_parity_figures_on_two_machines_are_drawn_once(tmp_path, make_verdict):
    first = with_machine(make_verdict(0.0), "box-a")
    links = draw_for_machines([first, with_machine(first, "box-b")], tmp_path)
    figure_names = {name for key, name in links["box-a"].items() if key != "difference_pair"}
    assert {path.name for path in tmp_path.glob("*.png")} == figure_names
    assert not list(tmp_path.glob("*box-b*"))
    for name in ("strips", "difference", "steps" if "steps" in links["box-a"] else "divergence"):
        assert links["box-b"][name] == links["box-a"][name]
        assert links["box-b"][f"{name}_same_as"] == "box-a"
        assert f"{name}_same_as" not in links["box-a"]
    for path in tmp_path.glob("*.png"):
        read_png(path)


def test_different_confusion_differences_are_drawn_each_and_differ(tmp_path):
    first = with_machine(parity_verdict(0.0), "box-a")
    second = with_machine(first, "box-b")
    second["confusion_matrices"]["jax"][3][5] += 4
    links = draw_for_machines([first, second], tmp_path)
    assert "difference_same_as" not in links["box-b"]
    a, b = (tmp_path / links[m]["difference"] for m in ("box-a", "box-b"))
    assert a != b and read_png(a).shape and read_png(b).shape
    assert a.read_bytes() != b.read_bytes()
    assert links["box-b"]["strips_same_as"] == "box-a"  # the seeds' accuracies are the same


def test_the_parity_figures_name_the_machine_or_its_alias(tmp_path, monkeypatch):
    titles = []
    real = figures.plot_matrix_difference
    monkeypatch.setattr(
        figures,
        "plot_matrix_difference",
        lambda difference, title, path: titles.append(title) or real(difference, title, path),
    )
    verdict = with_machine(parity_verdict(0.0), "box-a")
    parity_section.draw(verdict, tmp_path / "one", lambda p: p.name)
    parity_section.draw(verdict, tmp_path / "two", lambda p: p.name, alias="machine 1")
    assert "box-a" in titles[0] and "machine 1" in titles[1]


def test_the_report_says_which_machine_a_repeated_difference_equals(tmp_path):
    import pandas as pd

    first = with_machine(parity_verdict(0.0), "box-a")
    verdicts = {"box-a": first, "box-b": with_machine(first, "box-b")}
    links = draw_for_machines(verdicts.values(), tmp_path)
    empty = pd.DataFrame(columns=["profile", "quick", "machine", "device", "backend"])
    text = parity_section.render(empty, verdicts, links)
    assert text.count("![Confusion matrix difference]") == 1
    assert "the same difference as on box-a" in text
