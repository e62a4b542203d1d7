"""Test images worth looking at: where the backends disagree, then where they all err.

Result files keep every predicted class but not the 10,000 test images, so the images come
from the MNIST folder named by DIGITREC_DATA_DIR, and only once that data is shown to be the
data the runs were tested on (each run's recorded accuracy and per-class support must follow
from its predictions and these labels). Without it the report falls back to each run's own
random sample.
"""

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.collect import get
from bench.cli import DATA_DIR_ENV
from digitrec_core.data import load_mnist
from digitrec_core.idx import DataFileError

SHOWN = 16
# evaluate() and predict() may round a near-tie differently: allow ten images of 10,000.
ACCURACY_SLACK = 1e-3


@dataclass(frozen=True)
class TestSet:
    images: np.ndarray
    labels: np.ndarray


def load_test_set() -> TestSet | None:
    """MNIST's test split from DIGITREC_DATA_DIR (checksums verified); None where unavailable."""
    folder = os.environ.get(DATA_DIR_ENV)
    if not folder:
        return None
    try:
        mnist = load_mnist(folder)
    except (DataFileError, OSError, ValueError):
        return None
    return TestSet(mnist.x_test, mnist.y_test)


def predictions_of(result: dict, labels: np.ndarray) -> np.ndarray | None:
    """The run's predicted classes, if they are consistent with `labels` as its test set."""
    predicted = get(result, "metrics.predicted_classes")
    if not isinstance(predicted, list) or len(predicted) != len(labels):
        return None
    predicted = np.asarray(predicted)
    accuracy = get(result, "metrics.test_accuracy")
    if not isinstance(accuracy, float | int):
        return None
    if abs(float(np.mean(predicted == labels)) - accuracy) > ACCURACY_SLACK:
        return None
    matrix = np.asarray(get(result, "metrics.confusion_matrix", []))
    if matrix.ndim != 2 or not np.array_equal(
        matrix.sum(axis=1), np.bincount(labels, minlength=len(matrix))
    ):
        return None
    return predicted


@dataclass(frozen=True)
class Disagreements:
    """The chosen test images, their labels, each run's predictions, and how many of each kind."""

    indices: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    predicted: dict[str, np.ndarray]  # short run label -> predictions at `indices`
    disagreeing: int
    all_wrong: int


def find_disagreements(
    runs: pd.DataFrame, test_set: TestSet | None, shown: int = SHOWN
) -> Disagreements | None:
    """Up to `shown` images: every disagreement first (in test-set order), then shared errors.

    `runs` needs ``result`` and ``short`` columns. None without a test set the runs match.
    """
    if test_set is None or runs.empty:
        return None
    found = {}
    for row in runs.itertuples():
        predicted = predictions_of(row.result, test_set.labels)
        if predicted is None:
            return None
        found[row.short] = predicted
    stacked = np.stack(list(found.values()))
    disagree = (stacked != stacked[0]).any(axis=0)
    all_wrong = (stacked != test_set.labels).all(axis=0)
    chosen = np.concatenate([np.flatnonzero(disagree), np.flatnonzero(all_wrong & ~disagree)])
    chosen = chosen[:shown]
    return Disagreements(
        indices=chosen,
        images=test_set.images[chosen],
        labels=test_set.labels[chosen],
        predicted={short: predicted[chosen] for short, predicted in found.items()},
        disagreeing=int(disagree.sum()),
        all_wrong=int(all_wrong.sum()),
    )
