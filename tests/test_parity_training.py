"""The parity checks can fail: mutations under the active backend must be caught, one at a time."""

import importlib
import os
import random

import keras
import numpy as np
import pytest

from bench import backends
from bench.parity import training
from bench.parity.checks import (
    ACCURACY_TOLERANCE,
    LOCKSTEP_TOLERANCE,
    PREDICT_TOLERANCE,
    predict_everywhere_verdict,
)
from bench.parity.runs import ParityConfig, run_checks, statistical_run
from bench.parity.step_compare import STEP_TOLERANCE
from bench.parity.verdict import decide
from bench.stats import FAIL, PASS
from digitrec_core import train
from digitrec_core.data import load_mnist
from digitrec_core.initial_weights import glorot_uniform_weights
from digitrec_core.model import compile_model, mlp_layers
from digitrec_core.preprocess import preprocess

pytestmark = pytest.mark.backend  # needs a Keras backend installed

ACTIVE = os.environ["KERAS_BACKEND"]
TOLERANCES = {
    "accuracy": ACCURACY_TOLERANCE,
    "step": STEP_TOLERANCE,
    "lockstep": LOCKSTEP_TOLERANCE,
    "predict": PREDICT_TOLERANCE,
}


@pytest.fixture
def tiny_data(tiny_mnist_dir):
    return preprocess(load_mnist(tiny_mnist_dir, verify_checksums=False))


def test_the_lockstep_loss_path_is_kept_when_the_optimizer_changes():
    model, _ = training.initialised_model(
        0, dropout_rate=0.0, same_loss_path=True, optimizer=keras.optimizers.Adam(0.0011)
    )
    assert model.loss is training.crossentropy_on_probabilities
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.0011)


def mutate_adam_square_root(monkeypatch, backend: str) -> None:
    """Move a small epsilon inside the square root of Adam's second moment, sqrt(v + 1e-10).

    The patch goes where that backend's own code takes the root: torch's parallel Adam calls
    torch._foreach_sqrt; TensorFlow and JAX run Keras' Adam on their backend's sqrt op.
    """
    if backend == "torch":
        torch_adam = importlib.import_module("keras.src.backend.torch.optimizers.torch_adam")
        real = torch_adam.torch

        class MutatedTorch:
            def __getattr__(self, name):
                return getattr(real, name)

            def _foreach_sqrt(self, tensors):
                return real._foreach_sqrt(real._foreach_add(tensors, 1e-10))

        monkeypatch.setattr(torch_adam, "torch", MutatedTorch())
    else:
        ops = importlib.import_module(f"keras.src.backend.{backend}.numpy")
        real_sqrt = ops.sqrt
        monkeypatch.setattr(ops, "sqrt", lambda x: real_sqrt(ops.add(x, 1e-10)))


def test_a_mutation_inside_the_backends_adam_fails_the_step_check_only(
    tiny_data, tmp_path, monkeypatch
):
    config = ParityConfig(seeds=3, epochs=10, lockstep_epochs=1, trainer=ACTIVE)
    model_path = tmp_path / "trained.keras"
    quiet = {"is_trainer": True, "log": lambda line: None, "vjp": backends.load(ACTIVE).vjp}
    reference, reference_arrays = run_checks(tiny_data, config, model_path, **quiet)
    mutate_adam_square_root(monkeypatch, ACTIVE)
    quiet["is_trainer"] = False  # loads the reference's saved model, as other backends do
    mutated, mutated_arrays = run_checks(tiny_data, config, model_path, **quiet)

    verdict = decide(
        {ACTIVE: reference, "mutated": mutated},
        {ACTIVE: reference_arrays, "mutated": mutated_arrays},
        TOLERANCES,
    )
    assert verdict["teacher_forced"]["outcome"] == FAIL, verdict["teacher_forced"]["message"]
    assert verdict["teacher_forced"]["first_difference"]["step"] == 1
    assert verdict["statistical"]["outcome"] == PASS, verdict["statistical"]["message"]
    assert verdict["predict_everywhere"]["outcome"] == PASS
    assert verdict["same_start"]["passed"] and verdict["outcome"] == FAIL


def test_statistical_runs_reproduce_bit_for_bit_whatever_the_global_rng_state(tiny_data):
    random.seed(12345)
    np.random.seed(12345)
    _, first = statistical_run(tiny_data, seed=1, epochs=3)
    random.seed(999)  # another process state: a model built before seeding would differ
    np.random.seed(999)
    keras.utils.set_random_seed(7)
    _, second = statistical_run(tiny_data, seed=1, epochs=3)
    assert first == second


def test_the_dropout_stream_changes_the_final_weights(tiny_data):
    """The reproducibility test above can fail: other dropout masks give other weights."""
    seeded_model, _ = statistical_run(tiny_data, seed=1, epochs=3)
    keras.utils.set_random_seed(7)  # the same start and batch order, other dropout masks
    model = compile_model(mlp_layers())
    model.set_weights(glorot_uniform_weights(1))
    training.train_in_order(model, tiny_data, seed=1, epochs=3)
    assert not np.array_equal(training.flat_weights(model), training.flat_weights(seeded_model))


def test_lockstep_outputs_have_one_entry_per_epoch(tiny_data):
    model, _ = training.initialised_model(0, dropout_rate=0.0)
    outputs = training.lockstep_outputs(model, tiny_data, seed=0, epochs=3)
    assert outputs["probabilities"].shape == (3, 200, 10)
    assert outputs["weights"].shape == (3, 118_282)
    assert not np.array_equal(outputs["weights"][0], outputs["weights"][2])


def test_predict_everywhere_catches_a_perturbed_weight_file(tiny_data, tmp_path):
    model, _ = training.initialised_model(0)
    training.train_in_order(model, tiny_data, seed=0, epochs=1)
    model.save(tmp_path / "trained.keras")
    reloaded = keras.saving.load_model(tmp_path / "trained.keras")

    weights = reloaded.get_weights()
    weights[4][:, 3] += 1e-3  # one column of the output kernel (a shift of all would cancel out)
    reloaded.set_weights(weights)
    reloaded.save(tmp_path / "perturbed.keras")

    labels = tiny_data.test_labels
    predictions = {
        "trainer": train.predict(model, tiny_data.x_test, batch_size=512),
        "faithful": train.predict(
            keras.saving.load_model(tmp_path / "trained.keras"), tiny_data.x_test, batch_size=512
        ),
    }
    assert predict_everywhere_verdict("trainer", predictions, labels)["passed"]
    predictions["perturbed"] = train.predict(
        keras.saving.load_model(tmp_path / "perturbed.keras"), tiny_data.x_test, batch_size=512
    )
    verdict = predict_everywhere_verdict("trainer", predictions, labels)
    assert not verdict["passed"] and "perturbed" in verdict["message"]
