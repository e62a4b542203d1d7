"""Training for the parity checks: same initial weights, same batch order on every backend."""

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from digitrec_core import train
from digitrec_core.batch_order import epoch_permutation
from digitrec_core.initial_weights import numpy_initialise, weights_sha256
from digitrec_core.model import compile_model
from digitrec_core.preprocess import Prepared
from digitrec_core.workloads import MLP, Workload

BATCH_SIZE = MLP.batch_size  # the MLP's; other workloads train at their own
PREDICT_BATCH_SIZE = 512


def crossentropy_on_probabilities(y_true, y_pred):
    """Categorical cross-entropy from the clipped probabilities, the same way on every backend.

    Keras' TensorFlow backend reaches back from a softmax output to its logits and uses the
    unclipped formula, where JAX and torch clip the probabilities to [1e-7, 1 - 1e-7]: a sample
    whose true-class probability falls under 1e-7 then adds a full gradient on TensorFlow and
    none elsewhere (measured: one such sample at step 41 of epoch 1 moves 13,000 weights apart,
    3e-2 in the probabilities after the epoch). A copy of the probabilities has no logits, so
    every backend takes the clipped path.
    """
    return keras.losses.categorical_crossentropy(y_true, keras.ops.multiply(y_pred, 1.0))


def initialised_model(
    seed: int,
    *,
    workload: Workload = MLP,
    dropout_rate: float | None = None,
    same_loss_path: bool = False,
    optimizer: Any = None,
) -> tuple[keras.Model, str]:
    """The workload's model with the numpy initial weights of `seed`, and their hash as loaded.

    Every random stream is seeded with `seed` *before* the model is built: Dropout takes its
    seed generator's state from the global RNG when it is constructed, so building first would
    draw dropout masks from whatever state the process was in. `dropout_rate=0.0` switches every
    Dropout off (lockstep); `same_loss_path` computes categorical cross-entropy as
    `crossentropy_on_probabilities`; `optimizer` replaces the workload's (tests).
    """
    keras.utils.set_random_seed(seed)
    model = workload.build_model()
    if dropout_rate is not None:
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = dropout_rate
    loss = workload.loss
    if same_loss_path and loss == "categorical_crossentropy":
        loss = crossentropy_on_probabilities
    compile_model(model, optimizer=optimizer or workload.optimizer, loss=loss)
    numpy_initialise(model, seed)
    return model, weights_sha256(model.get_weights())


def train_in_order(
    model: keras.Model,
    data: Prepared,
    *,
    seed: int,
    epochs: int,
    batch_size: int = BATCH_SIZE,
    after_epoch: Callable[[int, keras.Model], None] | None = None,
    first_epoch: int = 0,
) -> None:
    """Train epoch by epoch on the numpy batch order of `seed`, with shuffling off.

    `first_epoch` > 0 continues a model already trained that many epochs in this order.

    Each epoch's arrays are permuted here and fed with `shuffle=False`, so every backend's
    plain array adapter makes the same batches in the same order. (A PyDataset is not used:
    TensorFlow's adapter peeks at batches before training, which makes its batches differ.)
    """
    for epoch in range(first_epoch, epochs):
        order = epoch_permutation(seed, epoch, len(data.x_train))
        model.fit(
            data.x_train[order],
            data.y_train[order],
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        if after_epoch is not None:
            after_epoch(epoch, model)


def flat_weights(model: keras.Model) -> np.ndarray:
    """Every weight of `model` in one float32 vector."""
    return np.concatenate([np.ravel(w) for w in model.get_weights()]).astype(np.float32)


def lockstep_outputs(
    model: keras.Model,
    data: Prepared,
    *,
    seed: int,
    epochs: int,
    batch_size: int = BATCH_SIZE,
    first_epoch: int = 0,
):
    """Test-set probabilities and flat weights after each of `epochs` ordered epochs.

    With `first_epoch` > 0 the model has trained that many epochs already (batch by batch, in
    `bench.parity.trajectory`); its outputs as it stands come first.
    """
    probabilities, weights = [], []

    def record(epoch: int, trained: keras.Model) -> None:
        probabilities.append(train.predict(trained, data.x_test, batch_size=PREDICT_BATCH_SIZE))
        weights.append(flat_weights(trained))

    if first_epoch:
        record(first_epoch - 1, model)
    train_in_order(
        model, data, seed=seed, epochs=epochs, batch_size=batch_size, after_epoch=record,
        first_epoch=first_epoch,
    )  # fmt: skip
    return {"probabilities": np.stack(probabilities), "weights": np.stack(weights)}
