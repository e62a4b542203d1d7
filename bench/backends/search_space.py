"""The settings the tuning search tries per backend, without importing any framework.

Besides speed settings, the search tries the lower precisions the hardware has: bfloat16 on a
CPU that reports `avx512_bf16` or `amx_bf16` and on every GPU, float16 on GPUs. A lower
precision is never chosen as the tuned profile (that keeps float32); when it is faster it is
*proposed*, and the suite runs it as a profile of its own, on full data, to be accepted or
rejected by the accuracy it keeps (`bench.analysis.precision`).
"""

from typing import Any

# Candidates per backend, first = Keras defaults. torch refuses steps_per_execution > 1.
SEARCH_SPACE: dict[str, list[dict[str, Any]]] = {
    "tensorflow": [
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None},
        {"jit_compile": False, "steps_per_execution": 32, "threads": None},
        {"jit_compile": True, "steps_per_execution": 32, "threads": None},
        {"jit_compile": False, "steps_per_execution": 32, "threads": 1},
    ],
    "jax": [
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None},
        {"jit_compile": True, "steps_per_execution": 32, "threads": None},
        {"jit_compile": False, "steps_per_execution": 1, "threads": None},
        {"jit_compile": True, "steps_per_execution": 32, "threads": 1},
    ],
    "torch": [
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": None},
        {"jit_compile": "auto", "steps_per_execution": 1, "threads": 1},
        {"jit_compile": True, "steps_per_execution": 1, "threads": None},
    ],
}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
FULL_PRECISION = "float32"


def lower_precisions(device: str, isa: list[str] | tuple[str, ...]) -> list[str]:
    """The lower-precision Keras policies this hardware computes natively."""
    if device == "gpu":
        return ["mixed_bfloat16", "mixed_float16"]
    return ["mixed_bfloat16"] if set(isa) & set(BF16_CPU_FLAGS) else []


def search_space(backend: str, device: str, isa: list[str] | tuple[str, ...]) -> list[dict]:
    """The candidates for one backend and device: speed settings, then lower precisions."""
    speed = SEARCH_SPACE[backend]
    return [
        *speed,
        *({**speed[0], "precision": precision} for precision in lower_precisions(device, isa)),
    ]


def precision_of(settings: dict[str, Any]) -> str:
    """A candidate's precision (float32 where it names none)."""
    return settings.get("precision") or FULL_PRECISION
