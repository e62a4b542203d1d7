"""One training step from a given state: what the teacher-forced parity check runs.

`Stepper` is what the check needs from any implementation: load a state (weights, non-trainable
state and optimizer slots), take one step on a batch, and hand back the loss, the gradients and
the state after the step, all as numpy. `KerasStepper` is the implementation for a compiled
Keras model under the active backend; a native framework loop can implement the same protocol
and be compared by the same code (`bench.parity.step_compare`).
"""

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class State:
    """Everything a step reads: `weights` in `model.get_weights()` order (each layer's trainable
    then non-trainable weights) and the optimizer's `slots` in `optimizer.variables` order."""

    weights: list[np.ndarray]
    slots: list[np.ndarray]


@dataclass
class StepOutputs:
    """What one step from a state gives: its loss, each trainable weight's gradient, the state
    after the update."""

    loss: float
    gradients: list[np.ndarray]
    after: State


@dataclass(frozen=True)
class TensorNames:
    """Display names of a state's tensors ("conv2d_1/kernel"), and which weights are trainable
    (indices into `weights`, in the gradients' order)."""

    weights: list[str]
    trainable: list[int]
    slots: list[str]
    layers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "trainable": self.trainable,
            "slots": self.slots,
            "layers": self.layers,
        }


class Stepper(Protocol):
    """One implementation of a training step that the teacher-forced check can drive."""

    names: TensorNames

    def load(self, state: State) -> None: ...

    def state(self) -> State: ...

    def step(self, x: np.ndarray, y: np.ndarray) -> StepOutputs: ...


def model_layers(model: Any) -> list[Any]:
    """The model's layers, without the InputLayer a Functional model lists first."""
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def layer_names(model: Any) -> list[str]:
    """The model's layer names as a fresh process would give them: a layer Keras named itself
    ("dense_12" in a process that built other models) becomes its class's ordinal within this
    model ("dense", "dense_1", ...); a name the user chose stays."""
    names, seen = [], {}
    for layer in model_layers(model):
        base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", type(layer).__name__).lower()
        count = seen.get(base, 0)
        seen[base] = count + 1
        automatic = re.fullmatch(rf"{re.escape(base)}(_\d+)?", layer.name)
        names.append((base if count == 0 else f"{base}_{count}") if automatic else layer.name)
    return names


def slot_names(model: Any, names: list[str]) -> list[str]:
    """The optimizer's variables named after the weights they belong to ("dense_1/bias
    momentum"), as fresh as `layer_names` makes the layers; others by their own name."""
    owners = {}
    for name, layer in zip(names, model_layers(model), strict=True):
        for weight in layer.trainable_weights:
            owners[weight.path.replace("/", "_")] = f"{name}/{weight.name}"
    found = []
    for variable in model.optimizer.variables:
        own = variable.name
        owner = max((key for key in owners if own.startswith(key + "_")), key=len, default=None)
        found.append(own if owner is None else f"{owners[owner]} {own[len(owner) + 1 :]}")
    return found


def to_numpy(value: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def loss_function(model: Any):
    """The compiled model's loss as a function of (y_true, y_pred), per sample."""
    import keras

    if not callable(model.loss) and not isinstance(model.loss, str):
        raise ValueError(
            f"the step check needs a model compiled with one loss (a name or a function), got "
            f"{model.loss!r}"
        )
    return keras.losses.get(model.loss)


def mean_loss(loss, y_true, y_pred, extra_losses=()):
    """The compiled loss as `fit` reduces it: the mean over the batch, plus any layer losses."""
    import keras

    total = keras.ops.mean(loss(y_true, y_pred))
    for extra in extra_losses:
        total = total + extra
    return total


class KerasStepper:
    """A compiled Keras model and its optimizer, stepped by `train_on_batch` (the same train
    step `fit` runs); gradients come from the backend's autodiff (`Backend.vjp`) on the same
    loss, outside the update, so that a step's gradient and update are compared apart."""

    def __init__(self, model: Any, vjp) -> None:
        self.model, self.vjp = model, vjp
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        weights = model.weights
        trainable_ids = [id(v) for v in model.trainable_variables]
        where = {id(v): index for index, v in enumerate(weights)}
        names = layer_names(model)
        self.names = TensorNames(
            weights=[
                f"{name}/{w.name}"
                for name, layer in zip(names, model_layers(model), strict=True)
                for w in layer.weights
            ],
            trainable=[where[i] for i in trainable_ids],
            slots=slot_names(model, names),
            layers=names,
        )
        if len(self.names.weights) != len(weights):
            raise ValueError(
                "the step check needs every weight to belong to one of the model's layers "
                f"({len(self.names.weights)} named, {len(weights)} weights)"
            )
        self.loss = loss_function(model)

    def load(self, state: State) -> None:
        self.model.set_weights(state.weights)
        variables = self.model.optimizer.variables
        if len(variables) != len(state.slots):
            raise ValueError(
                f"the state holds {len(state.slots)} optimizer slots, this optimizer has "
                f"{len(variables)}: it was saved from another optimizer"
            )
        for variable, value in zip(variables, state.slots, strict=True):
            variable.assign(value)

    def state(self) -> State:
        return State(
            weights=[np.array(w) for w in self.model.get_weights()],
            slots=[to_numpy(v.value) for v in self.model.optimizer.variables],
        )

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        model = self.model
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss_of(trainable):
            y_pred, _, losses = model.stateless_call(
                trainable, non_trainable, x, training=True, return_losses=True
            )
            return mean_loss(self.loss, y, y_pred, losses)

        loss, (gradients,) = self.vjp(loss_of, [[v.value for v in model.trainable_variables]], 1.0)
        return float(to_numpy(loss)), [to_numpy(g) for g in gradients]

    def step(self, x: np.ndarray, y: np.ndarray) -> StepOutputs:
        loss, gradients = self.loss_and_gradients(x, y)  # stateless: the state is untouched
        self.model.train_on_batch(x, y)
        return StepOutputs(loss=loss, gradients=gradients, after=self.state())
