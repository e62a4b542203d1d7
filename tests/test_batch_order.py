import keras
import numpy as np

from digitrec_core.batch_order import EpochBatches, epoch_permutation


def test_permutation_depends_on_seed_and_epoch_only():
    first = epoch_permutation(0, 0, 100)
    np.testing.assert_array_equal(first, epoch_permutation(0, 0, 100))
    assert sorted(first) == list(range(100))
    assert not np.array_equal(first, epoch_permutation(0, 1, 100))
    assert not np.array_equal(first, epoch_permutation(1, 0, 100))


class RecordingBatches(EpochBatches):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[np.ndarray] = []

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        self.seen.append(x[:, 0].astype(int))  # column 0 holds the sample's index
        return x, y


def test_fit_trains_on_the_numpy_order_batch_by_batch_epoch_by_epoch():
    n, batch_size = 50, 16
    x = np.zeros((n, 784), np.float32)
    x[:, 0] = np.arange(n)
    y = keras.utils.to_categorical(np.arange(n) % 10, 10)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    for epoch in range(2):
        batches = RecordingBatches(x, y, batch_size=batch_size, seed=7, epoch=epoch)
        model.fit(batches, epochs=1, shuffle=False, verbose=0)
        # Keras may peek at a batch before training; what it trains on comes last.
        seen = np.concatenate(batches.seen)[-n:]
        np.testing.assert_array_equal(seen, epoch_permutation(7, epoch, n))
        assert [len(b) for b in batches.seen[-4:]] == [16, 16, 16, 2]
