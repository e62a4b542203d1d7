"""Micro-benchmarks (pytest-benchmark) of one training step and of predict, under KERAS_BACKEND.

Run them with `nox -s microbench`, which keeps pytest-benchmark's JSON under results/micro/.
"""

import os

import keras
import numpy as np
import pytest

from bench import backends
from digitrec_core.model import build_model

BACKEND = os.environ.get("KERAS_BACKEND", "")
ROUNDS = int(os.environ.get("DIGITREC_MICRO_ROUNDS", "50"))


@pytest.fixture(scope="module")
def warm():
    """The documented model, batch-512 data, and the backend's support module, warmed up."""
    support = backends.load(BACKEND)
    rng = np.random.default_rng(0)
    x = rng.random((512, 784), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, 512), 10)
    model = build_model()
    for _ in range(3):  # tracing and compilation stay out of the timings
        model.train_on_batch(x, y)
        model.predict_on_batch(x)
        model.predict_on_batch(x[:1])
    support.synchronize(model)
    return model, x, y, support


def test_train_step(benchmark, warm):
    model, x, y, support = warm
    benchmark.extra_info.update(backend=BACKEND, kind="train_on_batch", batch_size=len(x))

    def step():
        model.train_on_batch(x, y)
        support.synchronize(model)

    benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=3)


@pytest.mark.parametrize("batch_size", [1, 512])
def test_predict(benchmark, warm, batch_size):
    model, x, _, support = warm
    batch = x[:batch_size]
    benchmark.extra_info.update(backend=BACKEND, kind="predict_on_batch", batch_size=batch_size)

    def predict():
        model.predict_on_batch(batch)
        support.synchronize(model)

    benchmark.pedantic(predict, rounds=ROUNDS * 4, warmup_rounds=5)
