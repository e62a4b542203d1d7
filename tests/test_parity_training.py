"""The parity checks can fail: mutations under the active backend must be caught."""

import keras
import numpy as np
import pytest

from bench.parity_stats import lockstep_verdict, predict_everywhere_verdict
from bench.parity_training import initialised_model, lockstep_outputs, train_in_order
from digitrec_core import train
from digitrec_core.data import load_mnist
from digitrec_core.initial_weights import glorot_uniform_weights, weights_sha256
from digitrec_core.preprocess import preprocess


@pytest.fixture
def tiny_data(tiny_mnist_dir):
    return preprocess(load_mnist(tiny_mnist_dir, verify_checksums=False))


def lockstep(data, optimizer=None):
    model, init_hash = initialised_model(0, dropout_rate=0.0, same_loss_path=True)
    assert init_hash == weights_sha256(glorot_uniform_weights(0))
    if optimizer is not None:
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    outputs = lockstep_outputs(model, data, seed=0, epochs=2)
    return {"probabilities": outputs["probabilities"][0], "weights": outputs["weights"][0]}


def test_identical_lockstep_runs_pass(tiny_data):
    verdict = lockstep_verdict({"a": lockstep(tiny_data), "b": lockstep(tiny_data)}, 1e-5)
    assert verdict["passed"], verdict["message"]


@pytest.mark.parametrize(
    "mutated", [{"learning_rate": 0.0011}, {"epsilon": 1e-4}], ids=["learning-rate", "epsilon"]
)
def test_a_different_adam_setting_fails_lockstep(tiny_data, mutated):
    reference = lockstep(tiny_data)
    changed = lockstep(tiny_data, keras.optimizers.Adam(**mutated))
    verdict = lockstep_verdict({"reference": reference, "mutated": changed}, 1e-5)
    assert not verdict["passed"]
    assert "reference vs mutated" in verdict["message"]


def test_lockstep_outputs_have_one_entry_per_epoch(tiny_data):
    model, _ = initialised_model(0, dropout_rate=0.0)
    outputs = lockstep_outputs(model, tiny_data, seed=0, epochs=3)
    assert outputs["probabilities"].shape == (3, 200, 10)
    assert outputs["weights"].shape == (3, 118_282)
    assert not np.array_equal(outputs["weights"][0], outputs["weights"][2])


def test_predict_everywhere_catches_a_perturbed_weight_file(tiny_data, tmp_path):
    model, _ = initialised_model(0)
    train_in_order(model, tiny_data, seed=0, epochs=1)
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
