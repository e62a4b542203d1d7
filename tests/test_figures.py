"""The report's figure functions: each draws a readable PNG from small, realistic data."""

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from bench.report import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PAIRS = ("tensorflow vs jax", "tensorflow vs torch", "jax vs torch")


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
