"""The order of training batches, made with numpy so that every backend sees the same batches."""

import numpy as np


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the `n` training samples in `epoch` for `seed`."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(seed: int, epoch: int, n: int, batch_size: int) -> list[np.ndarray]:
    """The samples of each batch of `epoch`, in order: the epoch's permutation cut into
    `batch_size` slices, the last one shorter, as `fit` cuts the permuted arrays with
    shuffling off (the parity runs) and the native references cut theirs."""
    order = epoch_permutation(seed, epoch, n)
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]
