import numpy as np
import pytest

from digitrec_core.metrics import classification_summary


def test_confusion_matrix_and_per_class_scores_on_a_known_case():
    true = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2])
    summary = classification_summary(true, predicted)
    matrix = np.array(summary["confusion_matrix"])
    assert matrix.shape == (10, 10)
    np.testing.assert_array_equal(matrix[:3, :3], [[1, 1, 0], [0, 2, 1], [0, 0, 1]])
    assert matrix.sum() == 6 and matrix[3:].sum() == 0
    digit1 = summary["per_class"][1]
    assert digit1 == {
        "class": 1,
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(2 / 3),
        "support": 3,
    }
    assert summary["per_class"][2]["precision"] == pytest.approx(0.5)
    assert summary["per_class"][9] == {
        "class": 9,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
    }


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        classification_summary(np.array([1, 2]), np.array([1]))
