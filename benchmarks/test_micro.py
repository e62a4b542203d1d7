"""Micro-benchmarks (pytest-benchmark) of one training step and of predict, under KERAS_BACKEND.

`nox -s microbench` runs them through `python -m bench.checks.micro`, which keeps
pytest-benchmark's JSON under results/micro/. Rounds follow pytest-benchmark's own options: by
default each benchmark runs for about `--benchmark-max-time` (1 s) and at least
`--benchmark-min-rounds` (5) rounds.
"""

import keras
import numpy as np
import pytest

from bench import backends
from digitrec_core.model import build_model

# Keras on torch warns on every predict call; outside pytest the warning is ignored by default,
# and recording thousands of them here would be timed too.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

batch_size = 512
num_classes = 10


@pytest.fixture(scope="module")
def warm():
    """The documented model, batch-512 data, and the backend's support module, warmed up."""
    support = backends.load(keras.backend.backend())
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 784), dtype=np.float32)
    y = np.eye(num_classes, dtype=np.float32)[rng.integers(0, num_classes, batch_size)]
    model = build_model()
    # Tracing and compilation (one per input shape) stay out of the timings.
    for _ in range(3):
        model.train_on_batch(x, y)
        model.predict_on_batch(x)
        model.predict_on_batch(x[:1])
    support.synchronize(model)
    return model, x, y, support


def describe(benchmark, support, model, kind: str, batch: int) -> None:
    """Record what is timed, and with what, in the benchmark's extra_info."""
    benchmark.extra_info.update(
        backend=keras.backend.backend(),
        kind=kind,
        batch_size=batch,
        device=support.variable_device(model),
        keras_version=keras.__version__,
        framework_version=f"{support.FRAMEWORK} {support.framework_version()}",
    )


def test_train_step(benchmark, warm):
    model, x, y, support = warm
    describe(benchmark, support, model, "train_on_batch", len(x))

    def step():
        model.train_on_batch(x, y)
        support.synchronize(model)

    benchmark(step)


@pytest.mark.parametrize("batch", [1, batch_size])
def test_predict(benchmark, warm, batch):
    model, x, _, support = warm
    inputs = x[:batch]
    describe(benchmark, support, model, "predict_on_batch", batch)

    def predict():
        model.predict_on_batch(inputs)
        support.synchronize(model)

    benchmark(predict)
