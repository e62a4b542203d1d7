"""Prediction speed after warm-up: batch-1 latency percentiles and throughput per batch size."""

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from bench.stats import latency_percentiles

PREDICT_BATCH_SIZES = (1, 32, 512, 10_000)
LATENCY_CALLS = 300
PATH_TRIAL_CALLS = 40
PATH_TRIAL_SECONDS = 0.2  # a path much slower than another needs no 40 calls to show it
PATH_TRIAL_MIN_CALLS = 5
THROUGHPUT_MIN_SECONDS = 0.3

Predict = Callable[[np.ndarray], np.ndarray]


def prediction_paths(model: keras.Model) -> dict[str, Predict]:
    """The ways Keras offers to predict one small batch, each returning numpy probabilities."""
    return {
        # One compiled predict step, no data-adapter setup (unlike model.predict).
        "predict_on_batch": model.predict_on_batch,
        # The layer call itself: eager on TF and torch, op-by-op on JAX.
        "direct_call": lambda x: keras.ops.convert_to_numpy(model(x, training=False)),
    }


def call_latencies(
    predict: Predict,
    x: np.ndarray,
    sync: Callable[[], None],
    calls: int,
    *,
    max_seconds: float | None = None,
    min_calls: int = 1,
):
    """Seconds of each of `calls` synchronised calls of `predict(x)`.

    `max_seconds` stops early, after at least `min_calls` calls, once that much time is spent.
    """
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        start = time.perf_counter()
        predict(x)
        sync()
        latencies.append(time.perf_counter() - start)
        spent = time.perf_counter() - started
        if max_seconds is not None and len(latencies) >= min_calls and spent > max_seconds:
            break
    return latencies


def choose_fastest_path(model: keras.Model, sample: np.ndarray, sync: Callable[[], None]):
    """Warm every path up, then pick the one with the lowest median batch-1 latency."""
    medians = {}
    paths = prediction_paths(model)
    for name, predict in paths.items():
        call_latencies(predict, sample, sync, 3)
        trial = call_latencies(
            predict,
            sample,
            sync,
            PATH_TRIAL_CALLS,
            max_seconds=PATH_TRIAL_SECONDS,
            min_calls=PATH_TRIAL_MIN_CALLS,
        )
        medians[name] = float(np.median(trial))
    fastest = min(medians, key=medians.get)
    return fastest, paths[fastest], medians


def throughput(predict: Predict, x: np.ndarray, sync: Callable[[], None]) -> float:
    """Samples per second of repeated `predict(x)` calls, after one warm-up call."""
    call_latencies(predict, x, sync, 1)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < THROUGHPUT_MIN_SECONDS:
        predict(x)
        sync()
        calls += 1
    return calls * len(x) / (time.perf_counter() - start)


def predict_speed(model: keras.Model, images: np.ndarray, sync: Callable[[], None]):
    """Batch-1 latency (p50/p95/p99) and throughput at each batch size, on the fastest path."""
    path_name, predict, path_medians = choose_fastest_path(model, images[:1], sync)
    latency = latency_percentiles(call_latencies(predict, images[:1], sync, LATENCY_CALLS))
    batch_sizes = sorted({min(size, len(images)) for size in PREDICT_BATCH_SIZES})
    result: dict[str, Any] = {
        "predict_path": path_name,
        "predict_path_trial_p50_ms": {name: s * 1000 for name, s in path_medians.items()},
        "predict_latency_p50_ms": latency["p50_ms"],
        "predict_latency_p95_ms": latency["p95_ms"],
        "predict_latency_p99_ms": latency["p99_ms"],
        "predict_latency_calls": latency["calls"],
        "predict_throughput_samples_per_second": {
            str(size): throughput(predict, images[:size], sync) for size in batch_sizes
        },
    }
    return result
