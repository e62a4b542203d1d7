"""Native references: the workload's model trained by its framework alone, in that framework's
own idiom, to show what Keras costs on each backend (docs/methodology.md, "Keras overhead").

Each `_<framework>.py` module imports its framework directly, as `bench.backends._<backend>`
does, and offers `Trainer`: one implementation of the MLP, its loss and its optimizer, that
trains an epoch on given batches, evaluates, predicts and, for the numerical comparison with
Keras, implements `bench.parity.stepping.Stepper`. What they train comes from the shared core:
the layer sizes and dropout from `digitrec_core.architecture`, the optimizer's settings from
Keras's own `adam` (its config), the initial weights and batch order from numpy, as the parity
runs use them. Nothing here imports a framework.

Two update rules:
- "idiomatic", for timing: the framework's own optimizer (`torch.optim.Adam`, `optax.adam`;
  TensorFlow has none outside Keras, so its reference steps Keras's Adam from a `tf.function`
  with `GradientTape`: it measures Keras's `fit` machinery, not Keras's ops);
- "keras-adam", for the numerical comparison: Keras's Adam written out in the framework,
  ε added before the bias correction (`m·α/(√v + ε)`, α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)), where
  `torch.optim.Adam` and optax add it after, so that both sides define the update alike.
"""

import importlib
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from digitrec_core.architecture import DROPOUT_RATE, LAYER_SIZES

NATIVE_WORKLOADS = ("mlp",)  # the workloads a native reference exists for
RULES = ("idiomatic", "keras-adam")
# Keras's categorical cross-entropy on probabilities clips them to [ε, 1 − ε] with this ε
# (keras.config.epsilon()); the native losses do the same.
PROBABILITY_EPSILON = 1e-7
VARIANTS = {
    "torch": {"native": "eager", "native-compiled": "compiled"},
    "jax": {"native": "jit"},
    "tensorflow": {"native": "tf.function"},
}


class NativeError(ValueError):
    """A native reference asked for where none exists, or for settings it does not have."""


@dataclass(frozen=True)
class MlpSpec:
    """The documented MLP as a native implementation needs it: layer sizes, dropout after the
    last hidden layer, ReLU inside and softmax out (digitrec_core.architecture)."""

    layer_sizes: tuple[int, ...] = LAYER_SIZES
    dropout_rate: float = DROPOUT_RATE

    def without_dropout(self) -> "MlpSpec":
        """The same model with dropout off, as the step comparison takes it (as lockstep does)."""
        return replace(self, dropout_rate=0.0)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """Keras's `get_weights()` order: kernel (in, out), then bias (out,), per Dense layer."""
        pairs = zip(self.layer_sizes[:-1], self.layer_sizes[1:], strict=True)
        return [shape for fan_in, fan_out in pairs for shape in ((fan_in, fan_out), (fan_out,))]


@dataclass(frozen=True)
class AdamSettings:
    """The Adam hyperparameters, read from Keras's optimizer of the workload."""

    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float


# Keras optimizer options a native reference does not implement: each must be off.
UNSUPPORTED_OPTIONS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    "amsgrad": False,
}


def adam_settings(optimizer: Any) -> AdamSettings:
    """The settings of the workload's optimizer (a name or a Keras optimizer), refused unless it
    is Adam with none of the options a native reference leaves out."""
    import keras

    found = keras.optimizers.get(optimizer)
    config = found.get_config()
    # Each backend has its own subclass of Adam, named Adam too; a user's subclass is refused.
    if not isinstance(found, keras.optimizers.Adam) or type(found).__name__ != "Adam":
        raise NativeError(
            f"a native reference implements Adam only; the workload's optimizer is "
            f"{type(found).__name__}: run it without --implementation"
        )
    set_options = [
        name for name, off in UNSUPPORTED_OPTIONS.items() if config.get(name, off) != off
    ]
    if set_options or not isinstance(config["learning_rate"], float):
        raise NativeError(
            "a native reference implements plain Adam with a constant learning rate; this "
            f"optimizer sets {set_options or ['a learning-rate schedule']}"
        )
    return AdamSettings(
        learning_rate=float(config["learning_rate"]),
        beta_1=float(config["beta_1"]),
        beta_2=float(config["beta_2"]),
        epsilon=float(config["epsilon"]),
    )


def spec_for(workload_name: str) -> MlpSpec:
    """The native model of a workload; NativeError where digitrec has none."""
    if workload_name not in NATIVE_WORKLOADS:
        raise NativeError(
            f"digitrec has a native reference for {', '.join(NATIVE_WORKLOADS)} only, not "
            f"{workload_name!r}: run it without --implementation"
        )
    return MlpSpec()


class Trainer(Protocol):
    """What each framework's native reference provides (and `Stepper`'s load/state/step)."""

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, batches: list[np.ndarray]) -> dict:
        """Train one epoch on `x[b], y[b]` for each `b` in order; the mean loss and accuracy."""

    def predict(self, x: np.ndarray, batch_size: int) -> np.ndarray: ...

    def synchronize(self) -> None: ...

    def weights(self) -> list[np.ndarray]:
        """The weights in Keras's `get_weights()` order and layout (kernels (in, out))."""

    def parameter_count(self) -> int: ...

    def describe(self) -> dict[str, Any]:
        """variant, description and optimizer, as the result's `implementation` section."""


def load_native(backend: str) -> Any:
    """The native reference module of `backend`'s framework (imports that framework)."""
    if backend not in VARIANTS:
        raise NativeError(f"no native reference for backend {backend!r}")
    return importlib.import_module(f"bench.backends.native._{backend}")


def variant_of(backend: str, implementation: str) -> str:
    """The native variant an implementation names ("native-compiled" → "compiled" on torch)."""
    variants = VARIANTS.get(backend, {})
    if implementation not in variants:
        raise NativeError(
            f"--implementation {implementation} does not exist for {backend}: choose "
            f"{' or '.join(['keras', *variants])}"
        )
    return variants[implementation]


def bias_corrected_rate(learning_rate: Any, step: Any, beta_1: float, beta_2: float) -> Any:
    """Keras's Adam step size α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ) at step `t` (1 first); any framework's
    scalars or tensors. The one place the "keras-adam" rule of every framework takes it from."""
    return learning_rate * (1 - beta_2**step) ** 0.5 / (1 - beta_1**step)


def epoch_summary(losses: Any, correct: Any, batches: list[np.ndarray]) -> dict[str, float]:
    """An epoch's training loss (each batch's mean, weighted by its size) and accuracy, from
    the per-batch values a loop kept on the device until the epoch's end."""
    sizes = np.array([len(batch) for batch in batches], dtype=np.float64)
    losses = np.asarray([float(loss) for loss in losses])
    correct = np.asarray([float(right) for right in correct])
    return {
        "loss": float(losses @ sizes / sizes.sum()),
        "accuracy": float(correct.sum() / sizes.sum()),
    }


def evaluate(trainer: Trainer, x: np.ndarray, y: np.ndarray, batch_size: int):
    """(test loss, test accuracy) of `trainer` on `x`, `y`: Keras's categorical cross-entropy
    on the probabilities it predicts, in numpy, and the share of argmaxes right."""
    probabilities = trainer.predict(x, batch_size)
    p = probabilities / probabilities.sum(axis=-1, keepdims=True)
    p = np.clip(p, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    loss = float(np.mean(-np.sum(y * np.log(p), axis=-1)))
    return loss, float(np.mean(probabilities.argmax(axis=1) == y.argmax(axis=1)))
