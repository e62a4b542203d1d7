"""TensorFlow's native reference: `tf.Variable`s, a `tf.function` train step with `GradientTape`.

TensorFlow has no optimizer of its own outside Keras, so the idiomatic rule steps Keras's Adam
(`keras.optimizers.Adam` on the `tf.Variable`s): this reference measures Keras's `fit`
machinery (its trainer, data adapter, callbacks and metrics), not Keras's ops. The step is
traced without XLA, as Keras's own `jit_compile="auto"` resolves on TensorFlow.
"""

from typing import Any

import numpy as np
import tensorflow as tf

from bench.backends import native
from bench.backends.native import PROBABILITY_EPSILON, AdamSettings, MlpSpec


def forward(variables: list[tf.Variable], x: tf.Tensor, keep: Any = None, rate: float = 0.0):
    """The MLP on `x` (`variables` in Keras's order); `keep` is dropout's mask, or None."""
    *hidden, kernel, bias = variables
    for index in range(0, len(hidden), 2):
        x = tf.nn.relu(tf.matmul(x, hidden[index]) + hidden[index + 1])
    if keep is not None:
        x = tf.where(keep(tf.shape(x)), x / (1 - rate), 0.0)
    return tf.nn.softmax(tf.matmul(x, kernel) + bias, axis=-1)


def crossentropy(probabilities: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Keras's categorical cross-entropy on probabilities, per sample."""
    p = probabilities / tf.reduce_sum(probabilities, axis=-1, keepdims=True)
    p = tf.clip_by_value(p, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return -tf.reduce_sum(y * tf.math.log(p), axis=-1)


class KerasAdam:
    """Keras's Adam written out in TensorFlow ops: ε before the bias correction."""

    def __init__(self, variables: list[tf.Variable], adam: AdamSettings) -> None:
        self.adam = adam
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.momentum = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.velocity = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]

    def apply_gradients(self, pairs) -> None:
        adam = self.adam
        self.iterations.assign_add(1)
        alpha = native.bias_corrected_rate(
            adam.learning_rate, tf.cast(self.iterations, tf.float32), adam.beta_1, adam.beta_2
        )
        for (gradient, variable), m, v in zip(pairs, self.momentum, self.velocity, strict=True):
            m.assign_add((gradient - m) * (1 - adam.beta_1))
            v.assign_add((tf.square(gradient) - v) * (1 - adam.beta_2))
            variable.assign_sub(m * alpha / (tf.sqrt(v) + adam.epsilon))

    @property
    def variables(self) -> list[tf.Variable]:
        learning_rate = tf.constant(self.adam.learning_rate, tf.float32)
        pairs = [s for m, v in zip(self.momentum, self.velocity, strict=True) for s in (m, v)]
        return [self.iterations, learning_rate, *pairs]


class Trainer:
    """The MLP, its loss and optimizer, trained by a `tf.function` step
    (bench.backends.native.Trainer)."""

    def __init__(
        self,
        spec: MlpSpec,
        weights: list[np.ndarray],
        *,
        adam: AdamSettings,
        rule: str = "idiomatic",
        variant: str = "tf.function",
        seed: int = 0,
    ) -> None:
        import keras

        self.rule, self.variant, self.adam, self.rate = rule, variant, adam, spec.dropout_rate
        self.variables = [tf.Variable(np.asarray(w, dtype=np.float32)) for w in weights]
        self.generator = tf.random.Generator.from_seed(seed)  # dropout masks
        if rule == "idiomatic":
            self.optimizer = keras.optimizers.Adam(
                learning_rate=adam.learning_rate,
                beta_1=adam.beta_1,
                beta_2=adam.beta_2,
                epsilon=adam.epsilon,
            )
            self.optimizer.build(self.variables)
        else:
            self.optimizer = KerasAdam(self.variables, adam)
        self._arrays: tuple[int, tf.Tensor, tf.Tensor] | None = None
        # One trace each, the last, shorter batch included.
        arrays = [tf.TensorSpec([None, None], tf.float32)] * 2
        self._indexed_step = tf.function(
            self.indexed_step, input_signature=[*arrays, tf.TensorSpec([None], tf.int64)]
        )
        self._step = tf.function(self.train_step, input_signature=arrays)
        self._predict = tf.function(
            lambda x: forward(self.variables, x), input_signature=arrays[:1]
        )
        self._gradients = tf.function(self.gradients, input_signature=arrays)

    def describe(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "description": "tf.Variables and a tf.function train step with GradientTape (no XLA)",
            "optimizer": "keras.optimizers.Adam (TensorFlow has no optimizer outside Keras)"
            if self.rule == "idiomatic"
            else "Keras's Adam written out in TensorFlow ops",
        }

    def keep_mask(self, shape) -> tf.Tensor:
        return self.generator.uniform(shape) >= self.rate

    def train_step(self, x: tf.Tensor, y: tf.Tensor):
        keep = self.keep_mask if self.rate else None
        with tf.GradientTape() as tape:
            probabilities = forward(self.variables, x, keep, self.rate)
            loss = tf.reduce_mean(crossentropy(probabilities, y))
        gradients = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(gradients, self.variables, strict=True))
        right = tf.argmax(probabilities, -1) == tf.argmax(y, -1)
        return loss, tf.reduce_sum(tf.cast(right, tf.int64))

    def indexed_step(self, x_all: tf.Tensor, y_all: tf.Tensor, index: tf.Tensor):
        return self.train_step(tf.gather(x_all, index), tf.gather(y_all, index))

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> dict:
        if self._arrays is None or self._arrays[0] != id(x):
            self._arrays = (id(x), tf.constant(x), tf.constant(y))
        _, x_all, y_all = self._arrays
        losses, correct = [], []
        for batch in batches:
            loss, right = self._indexed_step(x_all, y_all, tf.constant(batch, tf.int64))
            losses.append(loss)
            correct.append(right)
        return native.epoch_summary(losses, correct, batches)

    def predict(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        found = [
            self._predict(tf.constant(x[start : start + batch_size]))
            for start in range(0, len(x), batch_size)
        ]
        return tf.concat(found, axis=0).numpy()

    def synchronize(self) -> None:
        """Eager TensorFlow returns only once the step's ops are done; nothing is queued."""

    def parameter_count(self) -> int:
        return sum(int(np.prod(v.shape)) for v in self.variables)

    # --- the Stepper side (bench.parity.native_steps) ---------------------------------------

    def load_weights(self, weights: list[np.ndarray]) -> None:
        for variable, value in zip(self.variables, weights, strict=True):
            variable.assign(np.asarray(value, dtype=np.float32))

    def weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.variables]

    def slots(self) -> list[np.ndarray]:
        """The optimizer's state in Keras's `optimizer.variables` order."""
        return [np.asarray(v.numpy()) for v in self.optimizer.variables]

    def load_slots(self, slots: list[np.ndarray]) -> None:
        variables = self.optimizer.variables
        variables[0].assign(int(slots[0]))
        for variable, value in zip(variables[2:], slots[2:], strict=True):
            variable.assign(value)

    def gradients(self, x: tf.Tensor, y: tf.Tensor):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(crossentropy(forward(self.variables, x), y))
        return loss, tape.gradient(loss, self.variables)

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        loss, gradients = self._gradients(tf.constant(x), tf.constant(y))
        return float(loss), [g.numpy() for g in gradients]

    def step_on(self, x: np.ndarray, y: np.ndarray) -> None:
        self._step(tf.constant(x), tf.constant(y))
