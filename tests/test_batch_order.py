import numpy as np
import pytest

from bench.parity.training import BATCH_SIZE, train_in_order
from digitrec_core.batch_order import epoch_permutation
from digitrec_core.preprocess import Prepared

pytestmark = pytest.mark.backend  # needs a Keras backend installed


def test_permutation_depends_on_seed_and_epoch_only():
    first = epoch_permutation(0, 0, 100)
    np.testing.assert_array_equal(first, epoch_permutation(0, 0, 100))
    assert sorted(first) == list(range(100))
    assert not np.array_equal(first, epoch_permutation(0, 1, 100))
    assert not np.array_equal(first, epoch_permutation(1, 0, 100))


class RecordingModel:
    """Stands in for a Keras model: records what fit is given."""

    def __init__(self):
        self.calls = []

    def fit(self, x, y, **kwargs):
        self.calls.append((x[:, 0].astype(int), y.argmax(axis=1), kwargs))


def test_each_epoch_is_fed_in_the_numpy_order_without_shuffling():
    n = 50
    x = np.zeros((n, 784), np.float32)
    x[:, 0] = np.arange(n)  # column 0 holds the sample's index
    y = np.eye(10, dtype=np.float32)[np.arange(n) % 10]
    data = Prepared(x_train=x, y_train=y, x_test=x, y_test=y, test_labels=np.arange(n) % 10)
    model = RecordingModel()
    train_in_order(model, data, seed=7, epochs=2)
    for epoch, (seen, labels, kwargs) in enumerate(model.calls):
        order = epoch_permutation(7, epoch, n)
        np.testing.assert_array_equal(seen, order)
        np.testing.assert_array_equal(labels, order % 10)  # x and y stay paired
        assert kwargs["shuffle"] is False and kwargs["epochs"] == 1
        assert kwargs["batch_size"] == BATCH_SIZE
    assert len(model.calls) == 2
