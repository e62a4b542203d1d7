"""The localizer: which layer is the first to differ, when each is given the same input.

The reference backend runs the model layer by layer on a few samples of a compared step's
batch and keeps, for every layer, its input, its output, the gradient of the loss with respect
to its output (the cotangent) and its weight gradients (`reference_layers`). Another backend,
from the same state, feeds each layer the *reference's* input and cotangent and compares its
output and weight gradients with the reference's (`compare_layers`). A layer that differs there
differs by itself, not because an earlier layer handed it something else.

Only models whose layers form a chain (Sequential, or a Functional model without branches) can
be localized; others get a clear `LocalizerUnavailable`.
"""

import inspect
import itertools
from typing import Any

import numpy as np

from bench.parity.step_compare import relative_error
from bench.parity.stepping import layer_names, loss_function, mean_loss, to_numpy

SAMPLES = 8  # of the step's batch: enough for every layer to see varied inputs, small to keep


class LocalizerUnavailable(ValueError):
    """The model's layers cannot be fed one by one."""


def chain(model: Any) -> list[Any]:
    """The model's layers in order, when each takes the previous one's output alone."""
    import keras

    if isinstance(model, keras.Sequential):
        return list(model.layers)
    everything = list(model.layers)  # a Functional model lists its InputLayer first
    layers = [layer for layer in everything if not isinstance(layer, keras.layers.InputLayer)]
    for previous, layer in itertools.pairwise(everything):
        parents = [
            parent.operation
            for node in getattr(layer, "_inbound_nodes", [])
            for parent in node.parent_nodes
        ]
        if parents != [previous]:
            raise LocalizerUnavailable(
                f"the localizer feeds layers one by one, but {layer.name} does not take "
                f"{previous.name}'s output alone (a branching model); the step check still "
                "judges it, only the first differing layer is not named"
            )
    return layers


def layer_function(layer: Any):
    """`layer` as a function of (its trainable weights, [its input]), in training mode."""
    non_trainable = [v.value for v in layer.non_trainable_variables]
    mode = {"training": True} if "training" in inspect.signature(layer.call).parameters else {}

    def forward(trainable, inputs):
        output, _ = layer.stateless_call(trainable, non_trainable, inputs[0], **mode)
        return output

    return forward


def reference_layers(model: Any, x: np.ndarray, y: np.ndarray, vjp) -> list[dict[str, Any]]:
    """Per layer: input, output, cotangent and weight gradients, on `x`, `y` (numpy)."""
    layers = chain(model)
    inputs, outputs = [x], []
    for layer in layers:
        output = to_numpy(
            layer_function(layer)([v.value for v in layer.trainable_variables], [inputs[-1]])
        )
        outputs.append(output)
        inputs.append(output)
    loss = loss_function(model)
    _, ((cotangent,),) = vjp(lambda p: mean_loss(loss, y, p[0]), [[outputs[-1]]], 1.0)
    cotangent = to_numpy(cotangent)
    records = [None] * len(layers)
    for index in reversed(range(len(layers))):
        layer = layers[index]
        weights = [v.value for v in layer.trainable_variables]
        _, (weight_grads, (input_grad,)) = vjp(
            layer_function(layer), [weights, [inputs[index]]], cotangent
        )
        records[index] = {
            "input": inputs[index],
            "output": outputs[index],
            "cotangent": cotangent,
            "weight_gradients": [to_numpy(g) for g in weight_grads],
        }
        cotangent = to_numpy(input_grad)
    return records


def compare_layers(model: Any, reference: list[dict[str, Any]], vjp) -> list[dict[str, Any]]:
    """Per layer, from the reference's input and cotangent: how far this backend's output and
    weight gradients are from the reference's (relative to their size)."""
    layers = chain(model)
    if len(layers) != len(reference):
        raise ValueError(
            f"the reference has {len(reference)} layers, this model {len(layers)}: another model"
        )
    rows = []
    for name, layer, saved in zip(layer_names(model), layers, reference, strict=True):
        weights = [v.value for v in layer.trainable_variables]
        output, (weight_grads, _) = vjp(
            layer_function(layer), [weights, [saved["input"]]], saved["cotangent"]
        )
        gradients = {
            f"{w.name} gradient": relative_error(to_numpy(g), expected)
            for w, g, expected in zip(
                layer.trainable_variables, weight_grads, saved["weight_gradients"], strict=True
            )
        }
        rows.append({
            "layer": name,
            "kind": type(layer).__name__,
            "errors": {"output": relative_error(to_numpy(output), saved["output"]), **gradients},
        })  # fmt: skip
    return rows
