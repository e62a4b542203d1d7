"""Classification metrics from true and predicted labels, via scikit-learn."""

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
