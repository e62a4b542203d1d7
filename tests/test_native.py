"""The native reference of the active backend's framework: same start and batches as Keras,
one step alike with Keras's Adam written out, and a wrong optimizer caught."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from bench import backends
from bench.backends import native
from bench.parity.step_compare import relative_error
from bench.parity.training import initialised_model, train_in_order
from bench.run.native import native_trainer, step_check
from bench.run.workflow import build_seeded_model
from digitrec_core import preprocess
from digitrec_core.batch_order import batch_indices
from digitrec_core.config import RunConfig
from digitrec_core.data import load_mnist
from digitrec_core.initial_weights import weights_sha256
from digitrec_core.workloads import MLP

pytestmark = pytest.mark.backend

BACKEND = keras.backend.backend()
BATCH = 64


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from tests.conftest import write_mnist_dir

    folder = write_mnist_dir(tmp_path_factory.mktemp("mnist"), train=512, test=128)
    return preprocess.prepare(load_mnist(folder, verify_checksums=False), MLP.prepare_images)


def config(**overrides) -> RunConfig:
    return RunConfig(backend=BACKEND, implementation="native", batch_size=BATCH, **overrides)


def test_the_native_reference_starts_from_the_keras_runs_weights():
    for seed in (0, 7):
        model, initial = build_seeded_model(RunConfig(backend=BACKEND, seed=seed), MLP)
        trainer = native_trainer(config(seed=seed), MLP)
        assert weights_sha256(trainer.weights()) == initial.sha256
        for ours, theirs in zip(model.get_weights(), trainer.weights(), strict=True):
            np.testing.assert_array_equal(ours, theirs)
    assert trainer.parameter_count() == model.count_params() == 118_282
    other = native_trainer(config(seed=1), MLP)
    assert weights_sha256(other.weights()) != initial.sha256  # the hash tells seeds apart


def free_running(prepared, epoch_of_batches: int):
    """Two epochs of Keras in the parity batch order, and of the native code with Keras's Adam
    on the batches of epochs `epoch_of_batches` and 1; both dropout off."""
    model, _ = initialised_model(3, dropout_rate=0.0)
    train_in_order(model, prepared, seed=3, epochs=2, batch_size=BATCH)
    trainer = native_trainer(config(seed=3), MLP, rule="keras-adam", dropout=False)
    x, y = prepared.x_train, prepared.y_train
    for epoch in (epoch_of_batches, 1):
        trainer.fit_epoch(x, y, batch_indices(3, epoch, len(x), BATCH))
    return max(
        relative_error(k, n) for k, n in zip(model.get_weights(), trainer.weights(), strict=True)
    )


def test_the_native_loop_sees_the_batches_keras_sees_in_the_parity_order(prepared):
    # 16 steps in two epochs, each batch as `train_in_order` feeds Keras: the weights end up
    # within the step tolerance of each other.
    assert free_running(prepared, epoch_of_batches=0) < MLP.tolerances.step
    # The same samples in another order (epoch 2's batches first) end elsewhere.
    assert free_running(prepared, epoch_of_batches=2) > 100 * MLP.tolerances.step


def test_one_step_agrees_with_keras_within_the_step_tolerance(prepared):
    support = backends.load(BACKEND)
    found = step_check(config(), MLP, prepared, support, steps=3)
    assert found["outcome"] == "PASS" and found["steps"] == 3
    assert found["largest_error"] < MLP.tolerances.step == found["tolerance"]


@pytest.mark.parametrize(
    "mutation",
    [
        # Adam without its bias correction: the first steps move 3× too far.
        lambda learning_rate, step, beta_1, beta_2: learning_rate + 0 * step,
        # A step size 1% off: each bias (zero at the start) moves 1% too far.
        lambda learning_rate, step, beta_1, beta_2: (
            learning_rate * 1.01 * (1 - beta_2**step) ** 0.5 / (1 - beta_1**step)
        ),
    ],
    ids=["no bias correction", "step size 1% off"],
)
def test_a_mutated_native_optimizer_is_caught(prepared, monkeypatch, mutation):
    monkeypatch.setattr(native, "bias_corrected_rate", mutation)
    found = step_check(config(), MLP, prepared, backends.load(BACKEND), steps=2)
    assert found["outcome"] == "FAIL"
    assert found["largest_error"] > MLP.tolerances.step
    assert "after the update" in found["tensor"]


def test_native_settings_that_do_not_exist_are_refused():
    with pytest.raises(ValueError, match="torch only"):
        RunConfig(backend="jax", implementation="native-compiled")
    with pytest.raises(ValueError, match="--profile tuned are Keras settings"):
        RunConfig(backend=BACKEND, implementation="native", profile="tuned")
    with pytest.raises(native.NativeError, match="mlp only, not 'convnet'"):
        native.spec_for("convnet")
    with pytest.raises(native.NativeError, match="Adam only"):
        native.adam_settings("sgd")
    with pytest.raises(native.NativeError, match="constant learning rate"):
        native.adam_settings(keras.optimizers.Adam(weight_decay=0.01))


@pytest.mark.slow
def test_a_native_run_writes_a_marked_result_with_the_keras_runs_start(tmp_path, tiny_mnist_dir):
    env = {**os.environ, "DIGITREC_DATA_DIR": str(tiny_mnist_dir)}
    common = ["--backend", BACKEND, "--epochs", "2", "--results-dir", str(tmp_path), "--seed", "4"]
    found = {}
    for implementation in ("keras", "native"):
        out = tmp_path / f"{implementation}.json"
        command = [sys.executable, "-m", "bench.run", *common, "--out", str(out)]
        command += ["--implementation", implementation, "--no-verify-checksums"]
        subprocess.run(command, check=True, env=env, capture_output=True, timeout=600)
        found[implementation] = json.loads(out.read_text())
    keras_run, native_run = found["keras"], found["native"]
    assert keras_run["implementation"]["kind"] == "keras"
    assert native_run["implementation"]["kind"] == "native"
    assert native_run["implementation"]["step_check"]["outcome"] == "PASS"
    assert (
        native_run["model"]["initial_weights_sha256"]
        == keras_run["model"]["initial_weights_sha256"]
    )
    assert native_run["config"]["implementation"] == "native"
    assert len(native_run["timings"]["epoch_seconds"]) == 2
    assert native_run["metrics"]["test_accuracy"] > 0.5  # it learns the synthetic digits
