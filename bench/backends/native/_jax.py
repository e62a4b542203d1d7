"""JAX's native reference: a pure function of a list of arrays, a `jax.jit` train step and
`optax.adam`."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bench.backends import native
from bench.backends.native import PROBABILITY_EPSILON, AdamSettings, MlpSpec


def forward(params: list[jax.Array], x: jax.Array, key: jax.Array | None, rate: float):
    """The MLP on `x`: `params` is Keras's weight list (kernel (in, out), bias, per layer);
    dropout with `key` at `rate` (None: off, as in evaluation)."""
    *hidden, kernel, bias = params
    for index in range(0, len(hidden), 2):
        x = jax.nn.relu(x @ hidden[index] + hidden[index + 1])
    if key is not None and rate:
        keep = jax.random.bernoulli(key, 1 - rate, x.shape)
        x = jnp.where(keep, x / (1 - rate), 0.0)
    return jax.nn.softmax(x @ kernel + bias, axis=-1)


def crossentropy(probabilities: jax.Array, y: jax.Array) -> jax.Array:
    """Keras's categorical cross-entropy on probabilities, per sample."""
    p = probabilities / probabilities.sum(axis=-1, keepdims=True)
    p = jnp.clip(p, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    return -(y * jnp.log(p)).sum(axis=-1)


class KerasAdamState(NamedTuple):
    count: jax.Array
    momentum: list[jax.Array]
    velocity: list[jax.Array]


def keras_adam(adam: AdamSettings) -> optax.GradientTransformation:
    """Keras's Adam written out as an optax transformation: ε before the bias correction."""

    def init(params):
        zeros = [jnp.zeros_like(p) for p in params]
        return KerasAdamState(jnp.zeros([], jnp.int32), zeros, list(zeros))

    def update(gradients, state, params=None):
        count = state.count + 1
        alpha = native.bias_corrected_rate(
            adam.learning_rate, count.astype(jnp.float32), adam.beta_1, adam.beta_2
        )
        momentum = [
            m + (g - m) * (1 - adam.beta_1) for m, g in zip(state.momentum, gradients, strict=True)
        ]
        velocity = [
            v + (g * g - v) * (1 - adam.beta_2)
            for v, g in zip(state.velocity, gradients, strict=True)
        ]
        updates = [
            -(m * alpha) / (jnp.sqrt(v) + adam.epsilon)
            for m, v in zip(momentum, velocity, strict=True)
        ]
        return updates, KerasAdamState(count, momentum, velocity)

    return optax.GradientTransformation(init, update)


class Trainer:
    """The MLP, its loss and optimizer, trained by a jitted step (bench.backends.native.Trainer)."""

    def __init__(
        self,
        spec: MlpSpec,
        weights: list[np.ndarray],
        *,
        adam: AdamSettings,
        rule: str = "idiomatic",
        variant: str = "jit",
        seed: int = 0,
    ) -> None:
        self.rule, self.variant, self.adam = rule, variant, adam
        self.rate = spec.dropout_rate
        self.key = jax.random.key(seed)  # dropout masks, one fold per step
        self.optimizer = (
            optax.adam(adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon)
            if rule == "idiomatic"
            else keras_adam(adam)
        )
        self.load_weights(weights)
        self.opt_state = self.optimizer.init(self.params)
        self.steps = 0
        self._arrays: tuple[int, jax.Array, jax.Array] | None = None

        def loss_of(params, x, y, key):
            probabilities = forward(params, x, key, self.rate)
            return crossentropy(probabilities, y).mean(), probabilities

        def step(params, opt_state, x, y, step_number):
            key = jax.random.fold_in(self.key, step_number)
            (loss, probabilities), grads = jax.value_and_grad(loss_of, has_aux=True)(
                params, x, y, key
            )
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            correct = jnp.sum(jnp.argmax(probabilities, -1) == jnp.argmax(y, -1))
            return optax.apply_updates(params, updates), opt_state, loss, correct

        def indexed_step(params, opt_state, x_all, y_all, index, step_number):
            return step(params, opt_state, x_all[index], y_all[index], step_number)

        self._step = jax.jit(step)
        self._indexed_step = jax.jit(indexed_step)
        self._predict = jax.jit(lambda params, x: forward(params, x, None, 0.0))
        self._gradients = jax.jit(
            lambda params, x, y: jax.value_and_grad(
                lambda p: crossentropy(forward(p, x, None, 0.0), y).mean()
            )(params)
        )

    def describe(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "description": "a pure JAX function of the weights, a jax.jit train step",
            "optimizer": "optax.adam"
            if self.rule == "idiomatic"
            else "Keras's Adam written out as an optax transformation",
        }

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> dict:
        if self._arrays is None or self._arrays[0] != id(x):
            self._arrays = (id(x), jnp.asarray(x), jnp.asarray(y))
        _, x_all, y_all = self._arrays
        losses, correct = [], []
        for batch in batches:
            self.params, self.opt_state, loss, right = self._indexed_step(
                self.params, self.opt_state, x_all, y_all, batch, self.steps
            )
            self.steps += 1
            losses.append(loss)
            correct.append(right)
        return native.epoch_summary(losses, correct, batches)

    def predict(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        found = [
            self._predict(self.params, x[start : start + batch_size])
            for start in range(0, len(x), batch_size)
        ]
        return np.asarray(jnp.concatenate(found))

    def synchronize(self) -> None:
        jax.block_until_ready((self.params, self.opt_state))

    def parameter_count(self) -> int:
        return sum(int(p.size) for p in self.params)

    # --- the Stepper side (bench.parity.native_steps) ---------------------------------------

    def load_weights(self, weights: list[np.ndarray]) -> None:
        self.params = [jnp.asarray(w, dtype=jnp.float32) for w in weights]

    def weights(self) -> list[np.ndarray]:
        return [np.array(p) for p in self.params]

    def slots(self) -> list[np.ndarray]:
        """The "keras-adam" state in Keras's `optimizer.variables` order."""
        state = self.opt_state
        found = [np.int64(state.count), np.float32(self.adam.learning_rate)]
        for m, v in zip(state.momentum, state.velocity, strict=True):
            found += [np.array(m), np.array(v)]
        return found

    def load_slots(self, slots: list[np.ndarray]) -> None:
        moments = [jnp.asarray(s, dtype=jnp.float32) for s in slots[2:]]
        self.opt_state = KerasAdamState(
            jnp.asarray(int(slots[0]), jnp.int32), moments[0::2], moments[1::2]
        )

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        loss, gradients = self._gradients(self.params, x, y)
        return float(loss), [np.array(g) for g in gradients]

    def step_on(self, x: np.ndarray, y: np.ndarray) -> None:
        self.params, self.opt_state, _, _ = self._step(self.params, self.opt_state, x, y, 0)
