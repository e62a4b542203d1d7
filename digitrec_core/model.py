"""The documented MLP: 784 → Dense 128 relu → Dense 128 relu → Dropout 0.25 → Dense 10 softmax."""

import keras
from keras import layers

from digitrec_core.architecture import DROPOUT_RATE, HIDDEN_SIZES, INPUT_SIZE, LOSS, OPTIMIZER
from digitrec_core.data import NUM_CLASSES


def mlp_layers(dropout_rate: float = DROPOUT_RATE) -> keras.Sequential:
    """The documented model, not yet compiled (118,282 parameters)."""
    return keras.Sequential(
        [
            keras.Input(shape=(INPUT_SIZE,)),
            *(layers.Dense(units, activation="relu") for units in HIDDEN_SIZES),
            layers.Dropout(dropout_rate),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ],
        name="digitrec_mlp",
    )


def compile_model(
    model: keras.Model,
    *,
    optimizer: str = OPTIMIZER,
    loss: str = LOSS,
    jit_compile: bool | str = "auto",
    steps_per_execution: int = 1,
) -> keras.Model:
    """Compile `model` for training with accuracy as its metric, under the run's settings."""
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def build_model(
    *,
    jit_compile: bool | str = "auto",
    steps_per_execution: int = 1,
    dropout_rate: float = DROPOUT_RATE,
):
    """Build and compile the documented model (118,282 parameters, adam, cross-entropy).

    `dropout_rate=0.0` switches dropout off, for the lockstep parity check only.
    """
    return compile_model(
        mlp_layers(dropout_rate),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
