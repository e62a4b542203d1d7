"""The documented MLP: 784 → Dense 128 relu → Dense 128 relu → Dropout 0.25 → Dense 10 softmax."""

import keras
from keras import layers


def build_model(
    *, jit_compile: bool | str = "auto", steps_per_execution: int = 1, dropout_rate: float = 0.25
):
    """Build and compile the documented model (118,282 parameters, adam, cross-entropy).

    `dropout_rate=0.0` switches dropout off, for the lockstep parity check only.
    """
    model = keras.Sequential(
        [
            keras.Input(shape=(784,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dropout(dropout_rate),
            layers.Dense(10, activation="softmax"),
        ],
        name="digitrec_mlp",
    )
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model
