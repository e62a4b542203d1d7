"""The order of training batches, made with numpy so that every backend sees the same batches."""

import math

import keras
import numpy as np


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the `n` training samples in `epoch` for `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class EpochBatches(keras.utils.PyDataset):
    """One epoch's batches of (x, y) in the numpy order of (seed, epoch); fit with shuffle=False.

    The order is fixed when the object is made: Keras calls `on_epoch_end` at moments that are
    its own business (also once before training, after peeking at a batch), so one object per
    epoch, trained with `epochs=1`, is what keeps the order exact.
    """

    def __init__(self, x, y, *, batch_size: int, seed: int, epoch: int, **kwargs):
        super().__init__(**kwargs)
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.order = epoch_permutation(seed, epoch, len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]
