"""The free-running lockstep epoch, step by step: each backend from its own previous step.

Every backend trains epoch 1 from the numpy initial weights on the numpy batch order with
dropout off, one `train_on_batch` per batch (the train step `fit` runs). Along the way it keeps:

- its weights at every step up to `EVERY_STEP_UNTIL`, then every `CHECKPOINT_EVERY` steps and
  at the last, for the divergence figure;
- at every step, a digest of which ReLU units are active and which element wins each max-pool
  window on that step's batch, to say what changed where the trajectories part;
- on the reference backend only: its full state before each compared step, and the layer-by-
  layer records the localizer needs (`bench.parity.localize`), which the other backends start
  their teacher-forced steps from.
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.parity.localize import (
    SAMPLES,
    LocalizerUnavailable,
    chain,
    layer_function,
    reference_layers,
)
from bench.parity.stepping import State, Stepper, layer_names, to_numpy
from digitrec_core.batch_order import batch_indices

FIRST_STEPS = 20  # every step from the start: where a wrong operation shows at once
LATER_STEPS = 8  # spread over the rest of the epoch: states a trained model passes through
EVERY_STEP_UNTIL = 64
CHECKPOINT_EVERY = 8


def epoch_batches(seed: int, samples: int, batch_size: int) -> list[np.ndarray]:
    """The sample indices of each batch of epoch 1, as `fit` with shuffle off would cut them."""
    return batch_indices(seed, 0, samples, batch_size)


def compared_steps(steps: int) -> list[int]:
    """Steps 1..FIRST_STEPS, then LATER_STEPS spread evenly up to the last (1-based)."""
    first = list(range(1, min(FIRST_STEPS, steps) + 1))
    if steps <= FIRST_STEPS:
        return first
    later = np.linspace(FIRST_STEPS + 1, steps, LATER_STEPS + 1)[1:]
    return sorted(set(first) | {round(step) for step in later})


def checkpoint_steps(steps: int) -> list[int]:
    every = range(1, min(EVERY_STEP_UNTIL, steps) + 1)
    sparse = range(EVERY_STEP_UNTIL + CHECKPOINT_EVERY, steps + 1, CHECKPOINT_EVERY)
    return sorted({*every, *sparse, steps})


def is_relu(layer: Any) -> bool:
    import keras

    activation = getattr(layer, "activation", None)
    return activation is keras.activations.relu or isinstance(layer, keras.layers.ReLU)


def pool_choices(layer: Any, inputs: np.ndarray) -> np.ndarray | None:
    """Which element wins each window of a 2-d max pooling (non-overlapping, valid, channels
    last); None for any other pooling, which then gets no digest."""
    import keras

    if not isinstance(layer, keras.layers.MaxPooling2D):
        return None
    (ph, pw), strides = tuple(layer.pool_size), tuple(layer.strides)
    if strides != (ph, pw) or layer.padding != "valid" or layer.data_format != "channels_last":
        return None
    n, height, width, channels = inputs.shape
    h, w = height // ph, width // pw
    windows = inputs[:, : h * ph, : w * pw].reshape(n, h, ph, w, pw, channels)
    return windows.transpose(0, 1, 3, 5, 2, 4).reshape(n, h, w, channels, ph * pw).argmax(-1)


def digest(layers: list[Any], names: list[str], x: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per ReLU or max-pool layer: a hash of its sign pattern or window choices on `x`."""
    found, value = {}, x
    for name, layer in zip(names, layers, strict=True):
        output = to_numpy(
            layer_function(layer)([v.value for v in layer.trainable_variables], [value])
        )
        pattern, what, count = None, None, None
        if is_relu(layer):
            pattern, what = output > 0, "ReLU signs"
            count = int(pattern.sum())
        else:
            choices = pool_choices(layer, value)
            if choices is not None:
                pattern, what, count = (
                    choices.astype(np.uint8),
                    "max-pool choices",
                    int(choices.size),
                )
        if pattern is not None:
            bits = np.packbits(pattern) if pattern.dtype == bool else pattern
            found[name] = {
                "what": what,
                "count": count,
                "sha256": hashlib.sha256(np.ascontiguousarray(bits).tobytes()).hexdigest()[:16],
            }
        value = output
    return found


@dataclass
class Trajectory:
    """What one backend's free-running epoch kept (see the module's docstring)."""

    steps: list[int]
    weights: np.ndarray
    digests: dict[int, dict[str, dict[str, Any]]]
    states: dict[int, State] = field(default_factory=dict)
    layers: dict[int, list[dict[str, Any]] | str] = field(default_factory=dict)


def flat(weights: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(w) for w in weights]).astype(np.float32)


def free_running_epoch(
    stepper: Stepper,
    model: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    seed: int,
    batch_size: int,
    vjp,
    reference: bool,
    samples: int = SAMPLES,
) -> Trajectory:
    """Train epoch 1 batch by batch; keep checkpoints, digests and (reference) states with the
    localizer's records on the first `samples` of each compared step's batch."""
    batches = epoch_batches(seed, len(x_train), batch_size)
    compared, kept = set(compared_steps(len(batches))), set(checkpoint_steps(len(batches)))
    try:
        layers = chain(model)
    except LocalizerUnavailable:
        layers = None
    names = layer_names(model)
    steps, weights, digests = [], [], {}
    states, layer_records = {}, {}
    for step, indices in enumerate(batches, start=1):
        x, y = x_train[indices], y_train[indices]
        if layers is not None:
            digests[step] = digest(layers, names, x)
        if reference and step in compared:
            states[step] = stepper.state()
            try:
                layer_records[step] = reference_layers(model, x[:samples], y[:samples], vjp)
            except LocalizerUnavailable as exc:
                layer_records[step] = str(exc)
        model.train_on_batch(x, y)
        if step in kept:
            steps.append(step)
            weights.append(flat(model.get_weights()))
    return Trajectory(steps, np.stack(weights), digests, states, layer_records)
