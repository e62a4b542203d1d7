"""The teacher-forced step check and its localizer fail on real differences, one process per
framework: a mutation is held to the same backend unmutated, or to TensorFlow's committed
reference (tests/data/steps-tensorflow, written by `python -m tests.step_models`)."""

import importlib
import os

import keras
import numpy as np
import pytest

from bench import backends
from bench.parity import teacher
from bench.parity.step_compare import STEP_TOLERANCE, teacher_forced_verdict
from bench.parity.trajectory import compared_steps
from bench.stats import FAIL, PASS
from digitrec_core.data import load_mnist
from digitrec_core.preprocess import prepare
from digitrec_core.workloads import CONVNET, MLP
from tests.step_models import FIXTURE, FIXTURE_STEPS, SMALL_CONVNET, candidate_run, reference_run
from tests.test_parity_training import mutate_adam_square_root

pytestmark = pytest.mark.backend  # needs a Keras backend installed

ACTIVE = os.environ["KERAS_BACKEND"]
VJP = backends.load(ACTIVE).vjp


def tiny(workload, mnist_dir):
    return prepare(load_mnist(mnist_dir, verify_checksums=False), workload.prepare_images)


def held_to_reference(workload, mnist_dir, tmp_path, *, optimizer=None, change=None, mutate=None):
    """The verdict of a (mutated) run of `workload` against the same backend unmutated."""
    data = tiny(workload, mnist_dir)
    path = tmp_path / "states.npz"
    reference, _, names = reference_run(workload, data, path, VJP)
    if mutate is not None:
        mutate()
    outputs, kept, _ = candidate_run(workload, data, path, VJP, optimizer=optimizer, change=change)
    return teacher_forced_verdict(
        {"reference": reference, "mutated": outputs},
        names,
        STEP_TOLERANCE,
        reference="reference",
        localized={"mutated": {int(step): rows for step, rows in kept["localizer"].items()}},
        samples=8,
    )


@pytest.fixture
def small_batches(monkeypatch):
    """The MLP and convnet at batch 64, so the tiny data set makes 10 steps."""
    import dataclasses

    return {
        name: dataclasses.replace(workload, batch_size=64)
        for name, workload in (("mlp", MLP), ("convnet", CONVNET))
    }


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_unmutated_steps_pass_and_replay_the_free_running_epoch(
    name, small_batches, tiny_mnist_dir, tmp_path
):
    verdict = held_to_reference(small_batches[name], tiny_mnist_dir, tmp_path)
    assert verdict["outcome"] == PASS, verdict["message"]
    assert verdict["steps"] == compared_steps(10) == list(range(1, 11))


def test_a_changed_adam_epsilon_fails_at_step_1(small_batches, tiny_mnist_dir, tmp_path):
    verdict = held_to_reference(
        small_batches["mlp"],
        tiny_mnist_dir,
        tmp_path,
        optimizer=keras.optimizers.Adam(epsilon=1e-6),
    )
    found = verdict["first_difference"]
    assert verdict["outcome"] == FAIL and found["step"] == 1, verdict["message"]
    assert "after the update" in found["whole_step"]["tensor"]
    assert found["layer"] is None  # no layer's forward or gradient differs: the update does


def test_a_square_root_mutation_inside_the_backend_fails_at_step_1(
    small_batches, tiny_mnist_dir, tmp_path, monkeypatch
):
    verdict = held_to_reference(
        small_batches["mlp"],
        tiny_mnist_dir,
        tmp_path,
        mutate=lambda: mutate_adam_square_root(monkeypatch, ACTIVE),
    )
    assert verdict["outcome"] == FAIL and verdict["first_difference"]["step"] == 1


def backend_nn():
    return importlib.import_module(f"keras.src.backend.{ACTIVE}.nn")


def flip_the_kernel(monkeypatch):
    nn = backend_nn()
    real = nn.conv
    monkeypatch.setattr(
        nn, "conv", lambda inputs, kernel, *a, **k: real(inputs, keras.ops.flip(kernel, 0), *a, **k)
    )


def average_instead_of_max(monkeypatch):
    nn = backend_nn()
    monkeypatch.setattr(nn, "max_pool", nn.average_pool)


@pytest.mark.parametrize(
    ("mutation", "layer"),
    [(flip_the_kernel, "conv2d"), (average_instead_of_max, "max_pooling2d")],
    ids=["flipped-kernel", "average-pooling"],
)
def test_a_convolution_or_pooling_mutation_is_localized_to_its_layer(
    mutation, layer, small_batches, tiny_mnist_dir, tmp_path, monkeypatch
):
    verdict = held_to_reference(
        small_batches["convnet"], tiny_mnist_dir, tmp_path, mutate=lambda: mutation(monkeypatch)
    )
    found = verdict["first_difference"]
    assert verdict["outcome"] == FAIL and found["step"] == 1, verdict["message"]
    assert (found["layer"], found["tensor"]) == (layer, "output"), verdict["message"]
    assert f"first difference: {layer} (" in verdict["message"]


def test_a_batchnorm_moving_statistics_mutation_fails(tiny_mnist_dir, tmp_path):
    def faster_moving_average(model):
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9  # Keras's default is 0.99

    verdict = held_to_reference(
        SMALL_CONVNET, tiny_mnist_dir, tmp_path, change=faster_moving_average
    )
    found = verdict["first_difference"]
    assert verdict["outcome"] == FAIL and found["step"] == 1, verdict["message"]
    assert found["whole_step"]["tensor"].startswith("batch_normalization/moving_")


def fixture_run(tiny_mnist_dir):
    data = tiny(SMALL_CONVNET, tiny_mnist_dir)
    return candidate_run(SMALL_CONVNET, data, FIXTURE / "states.npz", VJP)


def test_every_backend_takes_tensorflows_steps_within_the_tolerance(tiny_mnist_dir):
    """Across frameworks, with BatchNorm: the committed TensorFlow reference's steps."""
    outputs, kept, names = fixture_run(tiny_mnist_dir)
    assert sorted(outputs) == list(FIXTURE_STEPS)
    verdict = teacher_forced_verdict(
        {"tensorflow": teacher.load_outputs(FIXTURE / "outputs.npz"), ACTIVE + " here": outputs},
        names,
        STEP_TOLERANCE,
        reference="tensorflow",
    )
    assert verdict["outcome"] == PASS, verdict["message"]
    errors = [
        e for rows in kept["localizer"].values() for row in rows for e in row["errors"].values()
    ]
    assert max(errors) <= STEP_TOLERANCE


def test_a_pooling_mutation_fails_against_tensorflows_reference(tiny_mnist_dir, monkeypatch):
    average_instead_of_max(monkeypatch)
    outputs, kept, names = fixture_run(tiny_mnist_dir)
    verdict = teacher_forced_verdict(
        {"tensorflow": teacher.load_outputs(FIXTURE / "outputs.npz"), "mutated": outputs},
        names,
        STEP_TOLERANCE,
        reference="tensorflow",
        localized={"mutated": {int(step): rows for step, rows in kept["localizer"].items()}},
    )
    assert verdict["outcome"] == FAIL
    assert verdict["first_difference"]["layer"] == "max_pooling2d"


def test_batchnorm_starts_at_kerass_constants_on_every_backend():
    from digitrec_core.initial_weights import NUMPY_HOW, numpy_initialise

    model = SMALL_CONVNET.build_model()
    assert numpy_initialise(model, 3) == NUMPY_HOW
    norm = model.layers[2]
    gamma, beta, mean, variance = (np.asarray(w) for w in norm.get_weights())
    assert (gamma == 1).all() and (beta == 0).all() and (mean == 0).all() and (variance == 1).all()
    kernel = model.layers[0].get_weights()[0]
    assert np.abs(kernel).max() > 0 and np.abs(kernel).max() <= np.sqrt(6 / (9 + 18))


def test_the_localizer_feeds_a_chain_and_names_the_layer_where_a_model_branches():
    from bench.parity.localize import LocalizerUnavailable, chain

    inputs = keras.Input(shape=(4,))
    first = keras.layers.Dense(3, name="first")(inputs)
    linear = keras.Model(inputs, keras.layers.Dense(2, name="second")(first))
    assert [layer.name for layer in chain(linear)] == ["first", "second"]
    side = keras.layers.Dense(3, name="side")(inputs)
    branched = keras.Model(inputs, keras.layers.Add(name="join")([first, side]))
    with pytest.raises(LocalizerUnavailable, match=r"does not take .* output alone"):
        chain(branched)


def test_a_functional_chain_is_stepped_and_localized_like_a_sequential_model(
    tiny_mnist_dir, tmp_path
):
    import dataclasses

    def functional_mlp():
        inputs = keras.Input(shape=(784,))
        hidden = keras.layers.Dense(16, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))

    workload = dataclasses.replace(MLP, build_model=functional_mlp, batch_size=64)
    data = tiny(workload, tiny_mnist_dir)
    reference, _, names = reference_run(workload, data, tmp_path / "states.npz", VJP)
    outputs, kept, _ = candidate_run(workload, data, tmp_path / "states.npz", VJP)
    assert names["layers"] == ["dense", "dense_1"]
    assert [row["layer"] for row in kept["localizer"]["1"]] == ["dense", "dense_1"]
    verdict = teacher_forced_verdict(
        {"a": reference, "b": outputs}, names, STEP_TOLERANCE, reference="a"
    )
    assert verdict["outcome"] == PASS, verdict["message"]
