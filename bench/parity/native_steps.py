"""Keras against a native reference, one teacher-forced step at a time, with one update rule.

Both sides start every step from Keras's state (weights and Adam's slots) and take it on the
same batch, dropout off: Keras through `train_on_batch` (`KerasStepper`), the native code
through its framework with Keras's Adam written out (`bench.backends.native`, rule
"keras-adam"), so the two define the update alike. The step's loss, gradients, weights and
slots after it are compared as the parity step check compares backends
(`bench.parity.step_compare.step_errors`): within the workload's step tolerance, or a multiple
of the tensor's rounding noise where that is larger (Keras's step taken again on the batch
reordered, from one-ulp neighbours of the state; `bench.parity.teacher.rounding_noise`), as the
parity check allows. A difference beyond it is a finding about Keras (or the native code), and
the report says so.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.parity.step_compare import NOISE_MULTIPLE, allowed, step_errors
from bench.parity.stepping import State, StepOutputs, Stepper, TensorNames
from bench.parity.teacher import NOISE_DRAWS, as_outputs, rounding_noise
from bench.stats import FAIL, PASS

CHECKED_STEPS = 3  # the first batches of the run's first epoch


class NativeStepper:
    """A native `Trainer` (rule "keras-adam", dropout off) as a `Stepper`."""

    def __init__(self, trainer: Any, names: TensorNames) -> None:
        self.trainer, self.names = trainer, names

    def load(self, state: State) -> None:
        self.trainer.load_weights(state.weights)
        self.trainer.load_slots(state.slots)

    def state(self) -> State:
        return State(weights=self.trainer.weights(), slots=self.trainer.slots())

    def step(self, x: np.ndarray, y: np.ndarray) -> StepOutputs:
        loss, gradients = self.trainer.loss_and_gradients(x, y)
        self.trainer.step_on(x, y)
        return StepOutputs(loss=loss, gradients=gradients, after=self.state())


def compare_steps(
    keras_side: Stepper,
    native_side: Stepper,
    batches: Sequence[tuple[np.ndarray, np.ndarray]],
    tolerance: float,
) -> dict[str, Any]:
    """Teacher-forced steps on `batches`: per step the tensor furthest apart, and the verdict.

    PASS when every tensor of every step agrees within `tolerance` (relative to its size).
    """
    names = keras_side.names.as_dict()
    rng = np.random.default_rng(0)
    by_step = []
    for number, (x, y) in enumerate(batches):
        start = keras_side.state()
        native_side.load(start)
        ours, theirs = keras_side.step(x, y), native_side.step(x, y)
        exact = as_outputs(ours)
        order = rng.permutation(len(x))
        noise = rounding_noise(
            keras_side, start, x[order], y[order], exact, NOISE_DRAWS, seed=number
        )
        keras_side.load(ours.after)  # the next step starts where Keras's own step ended
        errors = step_errors(exact, as_outputs(theirs), names)
        limits = allowed(tolerance, noise, len(errors))
        worst = int(
            np.argmax([error / limit for (_, error), limit in zip(errors, limits, strict=True)])
        )
        tensor, error = errors[worst]
        by_step.append(
            {"step": number, "tensor": tensor, "error": error, "allowed": float(limits[worst])}
        )
    if not by_step:
        raise ValueError("the step comparison needs at least one batch")
    worst_step = max(by_step, key=lambda row: row["error"] / row["allowed"])
    return {
        "rule": "Keras's Adam written out in the native code (ε before the bias correction), "
        "dropout off, each step from Keras's state on the same batch; a tensor is allowed the "
        f"tolerance, or {NOISE_MULTIPLE} times its rounding noise where larger "
        "(bench.parity.step_compare)",
        "steps": len(by_step),
        "tolerance": tolerance,
        "largest_error": worst_step["error"],
        "allowed": worst_step["allowed"],
        "tensor": worst_step["tensor"],
        "outcome": PASS if all(row["error"] <= row["allowed"] for row in by_step) else FAIL,
        "by_step": by_step,
    }
