"""Train, evaluate and predict with the documented model on prepared arrays."""

from collections.abc import Sequence

import keras
import numpy as np

from digitrec_core.preprocess import Prepared


def fit(
    model: keras.Model,
    data: Prepared,
    *,
    epochs: int,
    batch_size: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float]]:
    """Train on the training split; return the per-epoch loss and accuracy history."""
    history = model.fit(
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks),
        verbose=0,
    )
    return {name: [float(v) for v in history.history[name]] for name in ("loss", "accuracy")}


def evaluate(model: keras.Model, data: Prepared, *, batch_size: int) -> tuple[float, float]:
    """Return (test loss, test accuracy)."""
    loss, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0)
    return float(loss), float(accuracy)


def predict(model: keras.Model, images: np.ndarray, *, batch_size: int) -> np.ndarray:
    """Return class probabilities (n, 10) as a numpy array."""
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
