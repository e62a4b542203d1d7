"""The sections of a result record that need more than a number: settings, paths, samples."""

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from bench import backends
from bench.cli import DATA_DIR_ENV
from digitrec_core import data
from digitrec_core.config import RunConfig
from digitrec_core.results import encode_images

RANDOM_SAMPLES_SEED = 0
RANDOM_SAMPLES_COUNT = 16


# A thread limit is in effect when the busy cores measured during the GEMM probe and the fit
# stay within this many cores of it (a little bookkeeping runs beside the kernels).
THREADS_SLACK_CORES = 0.25


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def threads_record(
    requested: int | None, busy_cores_gemm: float | None, busy_cores_fit: float
) -> dict[str, Any]:
    """The thread limit asked for, the cores the process may use, and what it really used.

    `in_effect` (None without a limit): both measured busy-core figures stay within
    THREADS_SLACK_CORES of the limit. A limit that is not in effect is never declared as one.
    """
    in_effect = None
    if requested is not None:
        busiest = max(busy for busy in (busy_cores_gemm, busy_cores_fit) if busy is not None)
        in_effect = busiest <= requested + THREADS_SLACK_CORES
    return {
        "requested": requested,
        "cpu_affinity": backends.cpu_affinity(),
        "busy_cores_gemm": busy_cores_gemm,
        "busy_cores_fit": busy_cores_fit,
        "in_effect": in_effect,
    }


def speed_settings(
    config: RunConfig, model: keras.Model, support: backends.Backend, threads: dict[str, Any]
) -> dict[str, Any]:
    """The settings that decide speed, as asked for and as the frameworks resolved them."""
    return {
        "profile": config.profile,
        "jit_compile_requested": config.jit_compile,
        "jit_compile_resolved": bool(model.jit_compile),
        "steps_per_execution": model.steps_per_execution,
        "threads": threads,
        "tf32_requested": config.tf32,
        "dtype_policy": keras.config.dtype_policy().name,
        "framework": support.speed_settings(),
        "environment": {name: os.environ.get(name) for name in backends.SPEED_ENV_VARS},
    }


def portable_path(path: str | None) -> str | None:
    """`path` as others can read it: `$DIGITREC_DATA_DIR`, under `~`, or from the project.

    Users share result files; the folders of their own machine should not travel with them.
    """
    if path is None:
        return None
    resolved = Path(path).expanduser().resolve()
    setting = os.environ.get(DATA_DIR_ENV)
    if setting and Path(setting).expanduser().resolve() == resolved:
        return f"${DATA_DIR_ENV}"
    home = Path.home().resolve()
    if resolved.is_relative_to(home):
        return str(Path("~", resolved.relative_to(home)))
    return os.path.relpath(resolved, PROJECT_ROOT)


def portable_source(source: str) -> str:
    """The data source ("idx:<folder>", "npz:<file>" or a Keras download) without absolute paths."""
    kind, separator, path = source.partition(":")
    if separator and kind in ("idx", "npz"):
        return f"{kind}:{portable_path(path)}"
    return source


def portable_command(argv: list[str]) -> list[str]:
    """The run's command line without this checkout's paths: `-m bench.run` and its options."""
    command = ["python", "-m", "bench.run", *argv[1:]]
    if "--tuning-record" in command:  # a temporary file of the suite's
        command[command.index("--tuning-record") + 1] = "<tuning record>"
    return command


def mib(num_bytes: int | None) -> float | None:
    return None if num_bytes is None else num_bytes / 2**20


def layer_summary(model: keras.Model) -> list[dict[str, Any]]:
    """Each layer's class, name, parameter count and the settings that shape it."""
    summary = []
    for layer in model.layers:
        config = layer.get_config()
        entry = {"class": type(layer).__name__, "name": layer.name, "params": layer.count_params()}
        for key in ("units", "filters", "kernel_size", "pool_size", "activation", "rate"):
            if key in config:
                entry[key] = config[key]
        summary.append(entry)
    return summary


def sample_images(mnist: data.Mnist, predicted: np.ndarray) -> dict[str, Any]:
    """The images the report shows: the first of each class, and a fixed random test sample."""
    first_indices = [
        int(np.flatnonzero(mnist.y_train == digit)[0])
        for digit in range(data.NUM_CLASSES)
        if (mnist.y_train == digit).any()
    ]
    rng = np.random.default_rng(RANDOM_SAMPLES_SEED)
    count = min(RANDOM_SAMPLES_COUNT, len(mnist.x_test))
    random_indices = np.sort(rng.choice(len(mnist.x_test), size=count, replace=False))
    return {
        "first_of_each_class": {
            "labels": mnist.y_train[first_indices].tolist(),
            "images": encode_images(mnist.x_train[first_indices]),
        },
        "first_train_labels": mnist.y_train[:10].tolist(),
        "first_test_labels": mnist.y_test[:10].tolist(),
        "random_test": {
            "seed": RANDOM_SAMPLES_SEED,
            "indices": random_indices.tolist(),
            "labels": mnist.y_test[random_indices].tolist(),
            "predicted": predicted[random_indices].tolist(),
            "images": encode_images(mnist.x_test[random_indices]),
        },
    }
