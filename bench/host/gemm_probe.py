"""Float32 GEMM rates: one timing routine for every probe, and the backend-neutral numpy probe.

No framework imports: a framework's probe passes its own `matmul`, `operand` and
`block_until_ready`; the neutral probe uses numpy's BLAS on all cores.
"""

import itertools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psutil

from digitrec_core.architecture import LAYER_SIZES

BATCH_SIZE = 512
SQUARE_SIZE = 2048
# Outputs of one timed repeat are all kept alive until the synchronisation (so none is skipped
# or freed early); this caps their memory, which matters for fast GPUs on small shapes.
MAX_HELD_OUTPUT_BYTES = 64 * 2**20


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far, over all its threads."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def gemm_rates(
    matmul: Callable[[Any, Any], Any],
    operand: Callable[[np.ndarray], Any],
    block_until_ready: Callable[[Any], None],
    *,
    batch_size: int = BATCH_SIZE,
    layer_sizes: Sequence[int] = LAYER_SIZES,
    square_size: int = SQUARE_SIZE,
    repeats: int = 5,
    seconds_per_repeat: float = 0.05,
    model_shapes: bool = True,
) -> dict[str, Any]:
    """GFLOP/s of `matmul` at the model's forward GEMM shapes and at one large square.

    The model's shapes are (batch_size x in) @ (in x out) per Dense layer (the backward GEMMs
    multiply the same dimensions in other orders); their aggregate is FLOP-weighted: their total
    FLOPs over the time one call of each takes at its rate. The square shows what the kernels
    reach on a large problem. Each shape is warmed up (JAX compiles per shape), then timed in up
    to `repeats` repeats of about `seconds_per_repeat` (time-boxed at twice that), each ending
    with `block_until_ready` on all its outputs. The figure is the best repeat: interference
    only ever slows a repeat down. `busy_cores` is the CPU time the process used per second of
    the square's repeats: how many cores the kernels really kept busy. `model_shapes=False`
    times the square alone (its model-shape figures are then empty and None).
    """
    sizes = check_layer_sizes(layer_sizes)
    for name, value in (("batch_size", batch_size), ("square_size", square_size)):
        check_positive_int(name, value)
    check_positive_int("repeats", repeats)
    if not seconds_per_repeat > 0:
        raise ValueError(f"seconds_per_repeat must be positive, got {seconds_per_repeat!r}")

    start = time.perf_counter()
    rng = np.random.default_rng(0)

    def probe(m: int, k: int, n: int) -> dict[str, Any]:
        return time_matmul(
            m, k, n, rng, matmul, operand, block_until_ready, repeats, seconds_per_repeat
        )

    shapes = (
        [probe(batch_size, fan_in, fan_out) for fan_in, fan_out in itertools.pairwise(sizes)]
        if model_shapes
        else []
    )
    square = probe(square_size, square_size, square_size)
    total_flops = sum(shape["flops"] for shape in shapes)
    total_seconds = sum(shape["flops"] / (shape["gflops"] * 1e9) for shape in shapes)
    return {
        "dtype": "float32",
        "statistic": "best repeat",
        "model_shapes": shapes,
        "model_shapes_gflops": total_flops / total_seconds / 1e9 if shapes else None,
        "square": square,
        "square_gflops": square["gflops"],
        "busy_cores": square["busy_cores"],
        "probe_seconds": time.perf_counter() - start,
    }


def neutral_probe(**options: Any) -> dict[str, Any]:
    """`gemm_rates` of numpy's matmul on all cores: the same probe whatever the backend."""
    rates = gemm_rates(np.matmul, np.asarray, lambda value: None, **options)
    return {"library": "numpy", "numpy": np.__version__, "blas": blas_name(), **rates}


def blas_name() -> str | None:
    """The BLAS numpy was built with (e.g. "scipy-openblas 0.3.31"), where numpy says."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except (KeyError, TypeError, ValueError):
        return None
    return " ".join(str(blas[key]) for key in ("name", "version") if blas.get(key)) or None


def time_matmul(
    m: int,
    k: int,
    n: int,
    rng: np.random.Generator,
    matmul: Callable[[Any, Any], Any],
    operand: Callable[[np.ndarray], Any],
    block_until_ready: Callable[[Any], None],
    repeats: int,
    seconds_per_repeat: float,
) -> dict[str, Any]:
    """Best repeat's GFLOP/s of (m x k) @ (k x n), every repeat ending synchronised."""
    a = operand(rng.standard_normal((m, k), dtype=np.float32))
    b = operand(rng.standard_normal((k, n), dtype=np.float32))
    block_until_ready(matmul(a, b))  # first call: tracing, compilation, allocation
    # Warm up thread pools and caches for half a repeat; the fastest call sizes the repeats.
    one_call_seconds = math.inf
    warmup_start = time.perf_counter()
    while time.perf_counter() - warmup_start < seconds_per_repeat / 2:
        started = time.perf_counter()
        block_until_ready(matmul(a, b))
        one_call_seconds = min(one_call_seconds, time.perf_counter() - started)
    max_calls = max(1, MAX_HELD_OUTPUT_BYTES // (4 * m * n))
    calls = min(max_calls, max(1, math.ceil(seconds_per_repeat / max(one_call_seconds, 1e-9))))
    flops = 2 * m * k * n
    # Time boxes: a machine busy with other work can slow calls far below the warm-up's pace.
    # The one inside a repeat binds where calls are synchronous (numpy, CPU torch, TensorFlow).
    deadline = time.perf_counter() + 2 * repeats * seconds_per_repeat
    repeat_calls, repeat_gflops = [], []
    cpu_started, wall_started = cpu_seconds(), time.perf_counter()
    while len(repeat_gflops) < repeats and (not repeat_gflops or time.perf_counter() < deadline):
        started = time.perf_counter()
        outputs = []
        while len(outputs) < calls and (
            not outputs or time.perf_counter() - started < 2 * seconds_per_repeat
        ):
            outputs.append(matmul(a, b))
        block_until_ready(outputs)
        repeat_gflops.append(len(outputs) * flops / (time.perf_counter() - started) / 1e9)
        repeat_calls.append(len(outputs))
        del outputs
    busy_cores = (cpu_seconds() - cpu_started) / (time.perf_counter() - wall_started)
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
        "busy_cores": busy_cores,
    }


def check_layer_sizes(layer_sizes: Sequence[int]) -> list[int]:
    """`layer_sizes` as a list, refused unless at least two positive integers."""
    sizes = list(layer_sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and s >= 1 for s in sizes):
        raise ValueError(
            "layer_sizes must be at least two positive integers (inputs, then each layer's "
            f"units), got {layer_sizes!r}"
        )
    return sizes


def check_positive_int(name: str, value: Any) -> None:
    """Refuse `value` unless it is a positive integer, naming it `name`."""
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


# --- Host speed: the neutral probe's square rate tells hosts of one hardware id apart ---------

# Runs whose hosts' neutral rates differ by more than this are not ranked against each other.
HOST_SPEED_TOLERANCE = 0.10


def host_gflops(probe: dict[str, Any] | None) -> float | None:
    """The host speed a neutral probe measured: its 2048² rate (None if it has none)."""
    rate = probe.get("square_gflops") if isinstance(probe, dict) else None
    return float(rate) if isinstance(rate, int | float) and rate > 0 else None


def speeds_differ(rates: Sequence[float], tolerance: float = HOST_SPEED_TOLERANCE) -> bool:
    """Whether the fastest of `rates` is more than `tolerance` above the slowest."""
    rates = [rate for rate in rates if rate]
    return len(rates) > 1 and max(rates) > (1 + tolerance) * min(rates)
