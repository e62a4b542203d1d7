"""Everything that differs between Keras backends, behind one interface keyed by backend name.

Each `_<backend>.py` module imports its framework directly (nothing else in digitrec does) and
provides:

- `FRAMEWORK` (package name) and `framework_version()`
- `visible_gpus()` and `variable_device(model)` (where Keras put the weights)
- `synchronize(model)`: wait until queued work on the model's device is done
- `block_until_ready(value)`: the same wait, for any tensor or nest of tensors `value`
- `limit_threads(n)`: cap the framework's own thread pools (with `environment_for(..., threads=n)`
  and `restrict_to_cores(n)`, which every backend shares)
- `speed_settings()`: thread pools, TF32 and the like, as the framework reports them
- `peak_gpu_memory_bytes()`: None without a GPU
- `configure_tf32(enabled)`: allow or forbid TF32 for float32 math on GPU
- `device_report()`: what the framework sees (GPUs, CUDA and cuDNN versions)

Import them through `load(backend)` only after `KERAS_BACKEND` is set (`environment_for`).
"""

import importlib
import os
from pathlib import Path
from types import ModuleType

from digitrec_core.config import BACKENDS

# Environment variables that change speed, recorded with every run whether set or not.
SPEED_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_ENABLE_ONEDNN_OPTS",
    "JAX_PLATFORMS",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_TF32_OVERRIDE",
)


def environment_for(
    backend: str, device: str, threads: int | None = None, tf32: bool = False
) -> dict[str, str]:
    """Environment variables to set before keras is imported, for `backend` on `device`.

    `threads` sizes torch's OpenMP pool (None keeps the default); TensorFlow's pool is set
    through its API and JAX has no setting at all, so `restrict_to_cores` does the limiting
    for every backend. TF32 stays off on GPU unless `tf32`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    env = {"KERAS_BACKEND": backend}
    if device == "gpu" and not tf32:
        # Off for every library that uses cuBLAS/cuDNN, whatever each framework defaults to.
        env["NVIDIA_TF32_OVERRIDE"] = "0"
    if device == "cpu":
        # Hide GPUs so that a CPU run really runs on the CPU, whatever the machine has.
        env["CUDA_VISIBLE_DEVICES"] = ""
        if backend == "jax":
            env["JAX_PLATFORMS"] = "cpu"
    if threads is not None and backend == "torch":
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def restrict_to_cores(threads: int) -> list[int]:
    """Let this process (and the threads it starts) run on only `threads` of its cores.

    The one thread limit that works for every backend: XLA has no flag for JAX's CPU thread
    pool, and TensorFlow's inter-op pool runs beside its intra-op one. Call it before the
    framework is imported, which sizes its pools from the cores it may use. Returns the cores.
    """
    if not hasattr(os, "sched_setaffinity"):
        raise OSError(
            "--threads needs CPU affinity (os.sched_setaffinity), which this OS does not "
            "offer; run without --threads"
        )
    allowed = sorted(os.sched_getaffinity(0))
    if not 1 <= threads <= len(allowed):
        raise ValueError(
            f"--threads must be between 1 and the {len(allowed)} cores this process may use, "
            f"got {threads}"
        )
    cores = allowed[:threads]
    set_process_affinity(cores)
    return cores


def set_process_affinity(cores: list[int]) -> None:
    """Pin every thread of this process to `cores` (Linux pins per thread, so pin them all)."""
    tasks = Path("/proc/self/task")
    thread_ids = [int(task.name) for task in tasks.iterdir()] if tasks.is_dir() else [0]
    for thread_id in thread_ids:
        try:
            os.sched_setaffinity(thread_id, cores)
        except (ProcessLookupError, PermissionError):
            continue  # a thread that ended meanwhile


def cpu_affinity() -> list[int] | None:
    """The cores this process may run on; None where the OS does not say."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def load(backend: str) -> ModuleType:
    """Import the support module of `backend` (which imports that framework)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return importlib.import_module(f"bench.backends._{backend}")


def device_kind(device_name: str) -> str:
    """Classify a framework's device string as 'gpu' or 'cpu'."""
    name = device_name.lower()
    return "gpu" if ("gpu" in name or "cuda" in name) else "cpu"
