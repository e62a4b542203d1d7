"""A run of a native reference: the workload trained by its framework alone, timed as Keras is.

The same numpy initial weights as the Keras run of the seed (their hash is recorded alike), the
numpy batch order of the parity runs, the framework's idiomatic optimizer for timing, and, once
timing is done, the step check against Keras (`bench.parity.native_steps`).
"""

from dataclasses import dataclass, field
from typing import Any

from bench.backends import native as references
from bench.run import timing
from bench.run.engine import Engine
from digitrec_core.batch_order import batch_indices
from digitrec_core.config import RunConfig
from digitrec_core.initial_weights import glorot_uniform_for_shapes, weights_sha256
from digitrec_core.preprocess import Prepared
from digitrec_core.workloads import Workload


def native_trainer(
    config: RunConfig, workload: Workload, *, rule: str = "idiomatic", dropout: bool = True
) -> Any:
    """The native reference for `config` (its framework, variant and seed), built from the
    shared core: the workload's layer sizes, Keras's Adam settings, numpy's initial weights."""
    spec = references.spec_for(workload.name)
    spec = spec if dropout else spec.without_dropout()
    module = references.load_native(config.backend)
    return module.Trainer(
        spec,
        glorot_uniform_for_shapes(config.seed, spec.shapes),
        adam=references.adam_settings(workload.optimizer),
        rule=rule,
        variant=references.variant_of(config.backend, config.implementation),
        seed=config.seed,
    )


@dataclass
class NativeRun:
    """The native side of one run: its trainer, what it is, and the step check once taken."""

    config: RunConfig
    workload: Workload
    prepared: Prepared
    trainer: Any
    step_check: dict[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        # As loaded into the framework, before any step: equal to the Keras run's of the seed.
        self.initial_weights_sha256 = weights_sha256(self.trainer.weights())

    def fit(self, timer: timing.EpochTimer) -> dict[str, list[float]]:
        """Every epoch on numpy's batch order of the seed, with the timer's epoch hooks."""
        config, x, y = self.config, self.prepared.x_train, self.prepared.y_train
        timer.set_params({"epochs": config.epochs})
        timer.on_train_begin()
        history: dict[str, list[float]] = {"loss": [], "accuracy": []}
        for epoch in range(config.epochs):
            timer.on_epoch_begin(epoch)
            logs = self.trainer.fit_epoch(
                x, y, batch_indices(config.seed, epoch, len(x), config.batch_size)
            )
            timer.on_epoch_end(epoch, logs)
            for name in history:
                history[name].append(float(logs[name]))
        return history

    def parameter_count(self) -> int:
        return self.trainer.parameter_count()

    def settings(self) -> dict[str, Any]:
        """The speed settings Keras's own do not describe for native code."""
        variant = self.trainer.describe()["variant"]
        return {"jit_compile_resolved": variant in ("jit", "compiled")}

    def record(self) -> dict[str, Any]:
        return {"kind": "native", **self.trainer.describe(), "step_check": self.step_check}

    def check_steps(self, support: Any) -> None:
        """Keras against this native code from one state, step by step (after the timing)."""
        self.step_check = step_check(self.config, self.workload, self.prepared, support)


def native_engine(
    config: RunConfig, workload: Workload, prepared: Prepared, log
) -> tuple[Engine, NativeRun]:
    """The engine that trains `config`'s native reference, and the run's native record."""
    run = NativeRun(config, workload, prepared, native_trainer(config, workload))
    trainer, batch_size = run.trainer, config.predict_batch_size
    log(f"native reference: {trainer.describe()['description']}, {trainer.describe()['optimizer']}")
    engine = Engine(
        fit=run.fit,
        evaluate=lambda: references.evaluate(trainer, prepared.x_test, prepared.y_test, batch_size),
        predict=lambda: trainer.predict(prepared.x_test, batch_size),
        synchronize=trainer.synchronize,
        model=None,
    )
    return engine, run


def step_check(
    config: RunConfig,
    workload: Workload,
    prepared: Prepared,
    support: Any,
    steps: int | None = None,
) -> dict[str, Any]:
    """`bench.parity.native_steps.compare_steps` on the first batches of the run's first epoch:
    the Keras model of the seed, dropout off, against the native code with Keras's Adam."""
    from bench.parity.native_steps import CHECKED_STEPS, NativeStepper, compare_steps
    from bench.parity.stepping import KerasStepper
    from bench.parity.training import initialised_model

    model, _ = initialised_model(config.seed, workload=workload, dropout_rate=0.0)
    keras_side = KerasStepper(model, support.vjp)
    native_side = NativeStepper(
        native_trainer(config, workload, rule="keras-adam", dropout=False), keras_side.names
    )
    x, y = prepared.x_train, prepared.y_train
    batches = batch_indices(config.seed, 0, len(x), config.batch_size)[: steps or CHECKED_STEPS]
    return compare_steps(
        keras_side, native_side, [(x[b], y[b]) for b in batches], workload.tolerances.step
    )
