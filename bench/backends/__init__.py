"""Everything that differs between Keras backends, behind one interface keyed by backend name.

Each `_<backend>.py` module imports its framework directly (nothing else in digitrec does) and
implements `Backend`. Import them through `load(backend)` only after `KERAS_BACKEND` is set
(`environment_for`). The tuning search's candidates per backend are in `search_space`, which
imports no framework.
"""

import importlib
import os
from pathlib import Path
from typing import Any, Protocol, cast

from digitrec_core.config import BACKENDS


class Backend(Protocol):
    """What every backend's support module provides."""

    FRAMEWORK: str  # the framework's module name

    def framework_version(self) -> str: ...

    def visible_gpus(self) -> list[str]: ...

    def variable_device(self, model: Any) -> str:
        """Where Keras put the model's weights, in the framework's words."""

    def synchronize(self, model: Any) -> None:
        """Wait until queued work on the model's device is done."""

    def block_until_ready(self, value: Any) -> None:
        """The same wait, for any tensor or nest of tensors."""

    def limit_threads(self, threads: int) -> None:
        """Cap the framework's own thread pools (beside `restrict_to_cores`)."""

    def speed_settings(self) -> dict[str, Any]:
        """Thread pools, TF32 and the like, as the framework reports them."""

    def peak_gpu_memory_bytes(self) -> int | None:
        """None without a GPU."""

    def configure_tf32(self, enabled: bool) -> None:
        """Allow or forbid TF32 for float32 math on GPU."""

    def device_report(self) -> dict[str, Any]:
        """What the framework sees: GPUs, CUDA and cuDNN versions."""

    def vjp(self, function: Any, arguments: list[list[Any]], cotangent: Any) -> tuple[Any, Any]:
        """`function(*arguments)` and the gradients of `cotangent · output` with respect to
        every tensor of `arguments` (lists of tensors), in the same nesting.

        The one autodiff primitive the parity step check needs (`bench.parity.stepping`).
        """


BACKEND_MEMBERS = ("FRAMEWORK", *(name for name in vars(Backend) if not name.startswith("_")))


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


def load(backend: str) -> Backend:
    """Import the support module of `backend` (which imports that framework)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    module = importlib.import_module(f"bench.backends._{backend}")
    missing = [name for name in BACKEND_MEMBERS if not hasattr(module, name)]
    if missing:
        raise TypeError(f"bench/backends/_{backend}.py lacks {missing} of the Backend protocol")
    return cast(Backend, module)


def device_kind(device_name: str) -> str:
    """Classify a framework's device string as 'gpu' or 'cpu'."""
    name = device_name.lower()
    return "gpu" if ("gpu" in name or "cuda" in name) else "cpu"
