"""Roofline: the model's analytic training FLOPs against this backend's measured matmul rate."""

import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

MODEL_LAYER_SIZES = (784, 128, 128, 10)
FLOPS_FORMULA = (
    "training FLOPs per sample = sum over the Dense layers (in -> out) of 2*in*out for the "
    "forward GEMM + 2*in*out for the weight gradient + 2*in*out for the input gradient (every "
    "layer but the first: no gradient w.r.t. the images); GEMMs only: bias, relu, softmax, "
    "dropout, loss and the optimizer update are not counted; per epoch: times the training samples"
)
# Outputs of one timed repeat are all kept alive until the synchronisation (so none is skipped
# or freed early); this caps their memory, which matters for fast GPUs on small shapes.
MAX_HELD_OUTPUT_BYTES = 64 * 2**20


def mlp_training_flops_per_sample(layer_sizes: Sequence[int] = MODEL_LAYER_SIZES) -> int:
    """Training FLOPs of one sample through Dense layers of `layer_sizes`, counting GEMMs only.

    Per layer in -> out: forward 2·in·out, weight gradient 2·in·out, and input gradient 2·in·out
    for every layer but the first. Elementwise work (bias, activations, softmax, dropout, loss,
    the optimizer update) is ignored. The documented model gives 507,392.
    """
    sizes = _check_layer_sizes(layer_sizes)
    gemms = [2 * fan_in * fan_out for fan_in, fan_out in itertools.pairwise(sizes)]
    return 2 * sum(gemms) + sum(gemms[1:])


def measure_matmul_peak(
    block_until_ready: Callable[[Any], None],
    *,
    batch_size: int = 512,
    layer_sizes: Sequence[int] = MODEL_LAYER_SIZES,
    square_size: int = 2048,
    repeats: int = 5,
    seconds_per_repeat: float = 0.05,
) -> dict[str, Any]:
    """This backend's float32 `keras.ops.matmul` rate, GFLOP/s, at the model's shapes and a square.

    The model's shapes are its forward GEMMs, (batch_size x in) @ (in x out) per layer (the
    backward GEMMs multiply the same dimensions in other orders); their aggregate is
    FLOP-weighted: their total FLOPs over the time one call of each takes at its rate. The
    square, (square_size x square_size) @ (square_size x square_size), shows what the kernels
    reach on a large problem. Each shape is warmed up (JAX traces and compiles per shape), then
    timed in up to `repeats` repeats of enough back-to-back calls to last about
    `seconds_per_repeat` (time-boxed at twice that, per repeat and per shape), each ending with
    `block_until_ready` on all its outputs. Eager per-call dispatch is inside the clock. The
    figure reported is the best repeat: on a shared machine interference only ever slows a
    repeat down, so the fastest one is the most reproducible estimate of what the kernels can
    do; every repeat is kept in `repeat_gflops`.
    """
    sizes = _check_layer_sizes(layer_sizes)
    for name, value in (("batch_size", batch_size), ("square_size", square_size)):
        _check_positive_int(name, value)
    _check_positive_int("repeats", repeats)
    if not seconds_per_repeat > 0:
        raise ValueError(f"seconds_per_repeat must be positive, got {seconds_per_repeat!r}")

    start = time.perf_counter()
    rng = np.random.default_rng(0)

    def probe(m: int, k: int, n: int) -> dict[str, Any]:
        return _time_matmul(m, k, n, rng, block_until_ready, repeats, seconds_per_repeat)

    model_shapes = [
        probe(batch_size, fan_in, fan_out) for fan_in, fan_out in itertools.pairwise(sizes)
    ]
    square = probe(square_size, square_size, square_size)
    total_flops = sum(shape["flops"] for shape in model_shapes)
    total_seconds = sum(shape["flops"] / (shape["gflops"] * 1e9) for shape in model_shapes)
    return {
        "dtype": "float32",
        "statistic": "best repeat",
        "model_shapes": model_shapes,
        "model_shapes_gflops": total_flops / total_seconds / 1e9,
        "square": square,
        "square_gflops": square["gflops"],
        "probe_seconds": time.perf_counter() - start,
    }


def roofline_record(
    steady_epoch_seconds: float | None,
    train_samples: int,
    peak: dict[str, Any] | None,
    *,
    layer_sizes: Sequence[int] = MODEL_LAYER_SIZES,
) -> dict[str, Any]:
    """FLOPs per sample and epoch, the achieved GFLOP/s and its share of the measured peaks.

    `peak` is what `measure_matmul_peak` returned (None: no probe, no peak figures). Achieved
    figures are None without a steady epoch (one-epoch runs).
    """
    _check_positive_int("train_samples", train_samples)
    if steady_epoch_seconds is not None and not steady_epoch_seconds > 0:
        raise ValueError(
            f"steady_epoch_seconds must be positive or None, got {steady_epoch_seconds!r}"
        )
    flops_per_sample = mlp_training_flops_per_sample(layer_sizes)
    flops_per_epoch = flops_per_sample * train_samples
    achieved = (
        None if steady_epoch_seconds is None else flops_per_epoch / steady_epoch_seconds / 1e9
    )
    model_peak = None if peak is None else peak["model_shapes_gflops"]
    square_peak = None if peak is None else peak["square_gflops"]

    def percent_of(peak_gflops: float | None) -> float | None:
        if achieved is None or peak_gflops is None:
            return None
        return 100 * achieved / peak_gflops

    return {
        "flops_formula": FLOPS_FORMULA,
        "flops_per_sample": flops_per_sample,
        "flops_per_epoch": flops_per_epoch,
        "achieved_gflops": achieved,
        "peak_model_shapes_gflops": model_peak,
        "peak_square_gflops": square_peak,
        "percent_of_model_shapes_peak": percent_of(model_peak),
        "percent_of_square_peak": percent_of(square_peak),
        "matmul_peak": peak,
    }


def _time_matmul(
    m: int,
    k: int,
    n: int,
    rng: np.random.Generator,
    block_until_ready: Callable[[Any], None],
    repeats: int,
    seconds_per_repeat: float,
) -> dict[str, Any]:
    """Best repeat's GFLOP/s of (m x k) @ (k x n), every repeat ending synchronised."""
    a = keras.ops.convert_to_tensor(rng.standard_normal((m, k), dtype=np.float32))
    b = keras.ops.convert_to_tensor(rng.standard_normal((k, n), dtype=np.float32))
    block_until_ready(keras.ops.matmul(a, b))  # first call: tracing, compilation, allocation
    # Warm up thread pools and caches for half a repeat; the fastest call sizes the repeats.
    one_call_seconds = math.inf
    warmup_start = time.perf_counter()
    while time.perf_counter() - warmup_start < seconds_per_repeat / 2:
        start = time.perf_counter()
        block_until_ready(keras.ops.matmul(a, b))
        one_call_seconds = min(one_call_seconds, time.perf_counter() - start)
    max_calls = max(1, MAX_HELD_OUTPUT_BYTES // (4 * m * n))
    calls = min(max_calls, max(1, math.ceil(seconds_per_repeat / max(one_call_seconds, 1e-9))))
    flops = 2 * m * k * n
    # Time boxes: a machine busy with other work can slow calls far below the warm-up's pace.
    # The one inside a repeat binds where calls are synchronous (CPU torch and TensorFlow).
    deadline = time.perf_counter() + 2 * repeats * seconds_per_repeat
    repeat_calls, repeat_gflops = [], []
    while len(repeat_gflops) < repeats and (not repeat_gflops or time.perf_counter() < deadline):
        start = time.perf_counter()
        outputs = []
        while len(outputs) < calls and (
            not outputs or time.perf_counter() - start < 2 * seconds_per_repeat
        ):
            outputs.append(keras.ops.matmul(a, b))
        block_until_ready(outputs)
        repeat_gflops.append(len(outputs) * flops / (time.perf_counter() - start) / 1e9)
        repeat_calls.append(len(outputs))
        del outputs
    return {
        "shape": f"{m}x{k} @ {k}x{n}",
        "m": m,
        "k": k,
        "n": n,
        "flops": flops,
        "calls_per_repeat": calls,
        "gflops": max(repeat_gflops),
        "repeat_gflops": repeat_gflops,
        "repeat_calls": repeat_calls,
    }


def _check_layer_sizes(layer_sizes: Sequence[int]) -> list[int]:
    sizes = list(layer_sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and s >= 1 for s in sizes):
        raise ValueError(
            "layer_sizes must be at least two positive integers (inputs, then each layer's "
            f"units), got {layer_sizes!r}"
        )
    return sizes


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
