"""The order of training batches, made with numpy so that every backend sees the same batches."""

import numpy as np


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the `n` training samples in `epoch` for `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(n)
