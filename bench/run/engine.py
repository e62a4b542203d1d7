"""What trains, evaluates and predicts in a run: Keras's compiled model, or a native reference."""

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from bench.run import timing
from digitrec_core import train
from digitrec_core.config import RunConfig


@dataclass(frozen=True)
class Engine:
    """What trains, evaluates and predicts in a run: Keras's model, or a native reference.

    `fit(timer)` trains every epoch and returns the history, calling the timer's epoch hooks;
    `model` is None for a native reference (no Keras predict paths to benchmark).
    """

    fit: Callable[[timing.EpochTimer], dict[str, list[float]]]
    evaluate: Callable[[], tuple[float, float]]
    predict: Callable[[], np.ndarray]
    synchronize: Callable[[], None]
    model: keras.Model | None


def keras_engine(config: RunConfig, model: keras.Model, prepared, support) -> Engine:
    """Keras's `fit`, `evaluate` and `predict` on the compiled model."""

    def fit(timer: timing.EpochTimer) -> dict[str, list[float]]:
        return train.fit(
            model, prepared, epochs=config.epochs, batch_size=config.batch_size, callbacks=[timer]
        )

    return Engine(
        fit=fit,
        evaluate=lambda: train.evaluate(model, prepared, batch_size=config.predict_batch_size),
        predict=lambda: train.predict(model, prepared.x_test, batch_size=config.predict_batch_size),
        synchronize=lambda: support.synchronize(model),
        model=model,
    )
