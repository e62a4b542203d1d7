"""What a workload is: data, preprocessing, a model, training settings and parity tolerances.

A workload is one plain `Workload` object. digitrec compiles its model (with the optimizer and
loss named here, and the speed settings of the run), times it, counts its FLOPs from the layer
shapes where it can, and checks parity with its tolerances. Nothing here imports keras: a
workload's `build_model` does, when it is called.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitrec_core.data import Mnist, load_mnist


class WorkloadError(ValueError):
    """A workload that cannot be found, or that does not fit the Workload protocol."""


@dataclass(frozen=True)
class Tolerances:
    """How close two backends must be to count as the same on this workload.

    `accuracy`: equivalence margin of the mean test accuracy (two one-sided tests);
    `step`: largest difference, relative to each tensor's size, of a training step's loss,
    gradients and state after the update, when every backend takes it from the same state on
    the same batch (the teacher-forced lockstep check);
    `lockstep`: largest |difference| of weights or predictions after a free-running lockstep
    epoch (shown as a diagnostic; the verdict of parity records before the step check);
    `predict`: largest |difference| of the probabilities one set of weights predicts.
    The defaults are the MLP's; measure a workload's own (`python -m bench.parity.tolerances`).
    """

    accuracy: float = 0.004
    step: float = 1e-4
    lockstep: float = 1e-5
    predict: float = 1e-5


@dataclass(frozen=True)
class Workload:
    """One model to benchmark, defined once for every backend.

    - `build_model()`: a new, *uncompiled* keras model (it may import keras)
    - `prepare_images(images)`: uint8 images (n, 28, 28) → the model's float32 inputs
    - `load_data(data_dir, verify_checksums=...)`: an `Mnist` of numpy arrays, checked as
      `digitrec_core.data.load_mnist` checks MNIST (the default), offline when given a folder
    - `epochs`, `batch_size`, `optimizer`, `loss`: the documented training
    - `tolerances`: parity tolerances, measured for this workload (`Tolerances`)
    - `target_accuracy`: the test accuracy a run must reach for *time to target*, chosen from
      measurement so that every backend's default profile reaches it within `epochs` in at
      least 90% of seeds (`python -m bench.analysis.targets` checks it); None: no target
    """

    name: str
    description: str
    build_model: Callable[[], Any]
    prepare_images: Callable[[np.ndarray], np.ndarray]
    epochs: int
    batch_size: int
    optimizer: str = "adam"
    loss: str = "categorical_crossentropy"
    tolerances: Tolerances = field(default_factory=Tolerances)
    target_accuracy: float | None = None
    load_data: Callable[..., Mnist] = load_mnist

    def settings(self) -> dict[str, Any]:
        """The training settings as plain data (what the record keeps)."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "loss": self.loss,
            "tolerances": vars(self.tolerances),
            "target_accuracy": self.target_accuracy,
        }


REQUIRED = {
    "name": str,
    "description": str,
    "build_model": callable,
    "prepare_images": callable,
    "epochs": int,
    "batch_size": int,
}


def check_workload(candidate: Any, where: str) -> Workload:
    """`candidate` if it fits the protocol; else WorkloadError naming every missing piece."""
    if isinstance(candidate, Workload):
        fields = vars(candidate)
    else:
        fields = {name: getattr(candidate, name, None) for name in REQUIRED}
    problems = []
    for name, kind in REQUIRED.items():
        value = fields.get(name)
        if kind is callable:
            if not callable(value):
                problems.append(f"{name} (a function) is missing")
        elif not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{name} ({kind.__name__}) is missing or a {type(value).__name__}")
        elif kind is int and value < 1:
            problems.append(f"{name} must be a positive integer, got {value}")
    target = fields.get("target_accuracy", getattr(candidate, "target_accuracy", None))
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 1
    ):
        problems.append(f"target_accuracy must be a number in (0, 1] or None, got {target!r}")
    if problems:
        raise WorkloadError(
            f"{where} is not a digitrec workload: {'; '.join(problems)}. Define it as "
            "digitrec_core.workloads.Workload(name=..., description=..., build_model=..., "
            "prepare_images=..., epochs=..., batch_size=...) "
            "(docs/workloads.md, 'Your own workload')"
        )
    if isinstance(candidate, Workload):
        return candidate
    own = {name: getattr(candidate, name) for name in REQUIRED}
    return Workload(**own, target_accuracy=target)


def definition_sha256(workload: Workload, model_config: dict[str, Any]) -> str:
    """A hash of what defines the workload: its settings and its model's architecture."""
    definition = {"name": workload.name, **workload.settings(), "model": model_config}
    text = json.dumps(definition, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
