"""Per-epoch evaluation off the training clock, and precision really in effect, under a backend."""

import os
import time

import keras
import ml_dtypes
import numpy as np
import pytest

from bench.run.timing import EpochTimer
from digitrec_core.config import RunConfig
from digitrec_core.model import compile_model, mlp_layers

pytestmark = pytest.mark.backend  # needs a Keras backend installed

ACTIVE = os.environ["KERAS_BACKEND"]
EVALUATION_SECONDS = 0.3


@pytest.fixture
def policy():
    """Set a dtype policy for one test, and float32 again after it."""
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy("float32")


def on_tiny_data(data_dir, **settings) -> RunConfig:
    """A run of the active backend on the synthetic data set, at batch 64."""
    return RunConfig(
        backend=ACTIVE, data_dir=str(data_dir), verify_checksums=False, batch_size=64, **settings
    )


def test_evaluation_time_is_kept_out_of_the_training_clock():
    rng = np.random.default_rng(0)
    x = rng.random((512, 784), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, 512), 10)
    model = compile_model(mlp_layers())

    def slow_evaluation():
        time.sleep(EVALUATION_SECONDS)
        return 0.1, 0.9

    timer = EpochTimer(lambda: None, print_line=lambda line: None, evaluate=slow_evaluation)
    started = time.perf_counter()
    timer.start()
    model.fit(x, y, epochs=3, batch_size=128, callbacks=[timer], verbose=0)
    total = time.perf_counter() - started
    assert timer.test_accuracy == [0.9] * 3
    assert all(s >= EVALUATION_SECONDS for s in timer.evaluation_seconds)
    assert timer.paused_seconds == pytest.approx(sum(timer.evaluation_seconds))
    # Between two epochs' ends the clock moves by the epoch, not by the evaluation between.
    for epoch in (1, 2):
        moved = timer.training_seconds[epoch] - timer.training_seconds[epoch - 1]
        assert moved < timer.epoch_seconds[epoch] + EVALUATION_SECONDS / 2
    assert timer.training_seconds[-1] + timer.paused_seconds <= total


def test_a_run_keeps_the_learning_curve_and_reads_the_target_from_it(tiny_mnist_dir):
    from bench.run.workflow import run_benchmark

    result = run_benchmark(on_tiny_data(tiny_mnist_dir, epochs=3), log=print, speed_extras=False)
    timings, metrics = result["timings"], result["metrics"]
    curve = metrics["history"]["test_accuracy"]
    assert len(curve) == len(timings["training_seconds"]) == 3
    assert curve[-1] == metrics["test_accuracy"]  # one evaluation, one number
    assert timings["fit_with_evaluation_seconds"] - timings["fit_seconds"] == pytest.approx(
        sum(timings["epoch_evaluation_seconds"])
    )
    assert timings["training_seconds"][-1] <= timings["fit_seconds"]
    target = metrics["target"]
    assert target["accuracy"] == 0.974
    first = next((i + 1 for i, value in enumerate(curve) if value >= 0.974), None)
    assert target["epoch"] == first and target["reached"] == (first is not None)
    expected = None if first is None else timings["training_seconds"][first - 1]
    assert timings["time_to_target_seconds"] == expected
    precision = result["settings"]["precision"]
    assert precision["policy"] == "float32" and result["config"]["precision"] == "float32"
    assert {layer["output_dtype"] for layer in precision["layer_output_dtypes"]} == {"float32"}


def test_a_bf16_run_computes_its_layers_in_bfloat16(tiny_mnist_dir):
    from bench.run.workflow import run_benchmark

    config = on_tiny_data(tiny_mnist_dir, epochs=2, precision="mixed_bfloat16", profile="bf16")
    try:
        result = run_benchmark(config, log=print, speed_extras=False)
    finally:
        keras.config.set_dtype_policy("float32")
    precision = result["settings"]["precision"]
    assert precision["policy"] == "mixed_bfloat16" and precision["variable_dtype"] == "float32"
    layers = precision["layer_output_dtypes"]
    assert [layer["layer"] for layer in layers] == ["Dense", "Dense", "Dropout", "Dense"]
    assert {layer["output_dtype"] for layer in layers} == {"bfloat16"}
    assert result["settings"]["dtype_policy"] == "mixed_bfloat16"


def test_the_policy_changes_the_arithmetic_not_only_the_policy_name(policy):
    rng = np.random.default_rng(1)
    x = rng.random((16, 784), dtype=np.float32)
    policy("mixed_bfloat16")
    layer = keras.layers.Dense(64)
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert kernel.dtype == np.float32  # the variables stay float32
    got = keras.ops.convert_to_numpy(keras.ops.cast(out, "float32"))
    full = x @ kernel
    rounded = x.astype(ml_dtypes.bfloat16).astype(np.float32) @ kernel.astype(
        ml_dtypes.bfloat16
    ).astype(np.float32)
    scale = np.abs(full).max()
    # float32 would agree with the float32 product to ~1e-6; bfloat16 keeps 8 bits.
    assert np.abs(got - full).max() / scale > 1e-4
    assert np.abs(got - rounded).max() / scale < 2e-2
