"""The settings the tuning search tries per backend, without importing any framework."""

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
