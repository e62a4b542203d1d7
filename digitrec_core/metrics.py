"""Classification metrics from true and predicted labels, via scikit-learn."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from digitrec_core.data import NUM_CLASSES


def classification_summary(true_labels: np.ndarray, predicted_labels: np.ndarray) -> dict[str, Any]:
    """Confusion matrix (rows true, columns predicted) and per-class precision, recall and F1."""
    true_labels, predicted_labels = np.asarray(true_labels), np.asarray(predicted_labels)
    if true_labels.shape != predicted_labels.shape or true_labels.ndim != 1:
        raise ValueError(
            "true_labels and predicted_labels must be 1-d arrays of the same length, got "
            f"shapes {true_labels.shape} and {predicted_labels.shape}"
        )
    classes = list(range(NUM_CLASSES))
    matrix = confusion_matrix(true_labels, predicted_labels, labels=classes)
    report = classification_report(
        true_labels, predicted_labels, labels=classes, output_dict=True, zero_division=0
    )
    per_class = [
        {
            "class": digit,
            "precision": report[str(digit)]["precision"],
            "recall": report[str(digit)]["recall"],
            "f1": report[str(digit)]["f1-score"],
            "support": int(report[str(digit)]["support"]),
        }
        for digit in classes
    ]
    return {
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class,
        "macro_f1": report["macro avg"]["f1-score"],
    }


@dataclass(frozen=True)
class TargetReached:
    """Where a run first reached its target accuracy: the epoch (1-based) and training time.

    Both are None for a miss: no epoch's evaluation reached the target.
    """

    target: float
    epoch: int | None
    seconds: float | None

    @property
    def reached(self) -> bool:
        return self.epoch is not None


def time_to_target(
    accuracies: Sequence[float], training_seconds: Sequence[float], target: float
) -> TargetReached:
    """The training time at the end of the first epoch whose test accuracy reaches `target`.

    `accuracies[i]` is the test accuracy after epoch i + 1, `training_seconds[i]` the training
    time from the fit's start to that epoch's end (compile included, evaluation left out).
    """
    if len(accuracies) != len(training_seconds):
        raise ValueError(
            f"one training time per evaluated epoch is needed, got {len(accuracies)} "
            f"accuracies and {len(training_seconds)} times"
        )
    pairs = zip(accuracies, training_seconds, strict=True)
    for epoch, (accuracy, seconds) in enumerate(pairs, start=1):
        if accuracy >= target:
            return TargetReached(target, epoch, float(seconds))
    return TargetReached(target, None, None)
