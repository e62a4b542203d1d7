"""Everything that differs between Keras backends, behind one interface keyed by backend name.

Each `_<backend>.py` module imports its framework directly (nothing else in digitrec does) and
provides:

- `FRAMEWORK` (package name) and `framework_version()`
- `visible_gpus()` and `variable_device(model)` (where Keras put the weights)
- `synchronize(model)`: wait until queued work on the model's device is done
- `block_until_ready(value)`: the same wait, for any tensor or nest of tensors `value`
- `limit_threads(n)`: cap the intra-op thread pool (with `environment_for(..., threads=n)`)
- `speed_settings()`: thread pools, TF32 and the like, as the framework reports them
- `peak_gpu_memory_bytes()`: None without a GPU
- `configure_tf32(enabled)`: allow or forbid TF32 for float32 math on GPU
- `device_report()`: what the framework sees (GPUs, CUDA and cuDNN versions)

Import them through `load(backend)` only after `KERAS_BACKEND` is set (`environment_for`).
"""

import importlib
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
JAX_SINGLE_THREAD_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def environment_for(
    backend: str, device: str, threads: int | None = None, tf32: bool = False
) -> dict[str, str]:
    """Environment variables to set before keras is imported, for `backend` on `device`.

    `threads` limits the framework's intra-op thread pool (None keeps its default); JAX on
    CPU can only be limited to one thread. TF32 stays off on GPU unless `tf32`.
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
    if threads is not None:
        if backend == "jax" and threads != 1:
            raise ValueError(
                f"JAX can be limited to 1 thread or left at its default, not {threads}"
            )
        # TensorFlow's pool is set through the API instead (see _tensorflow.limit_threads).
        env.update(
            {
                "tensorflow": {},
                "jax": {"XLA_FLAGS": JAX_SINGLE_THREAD_FLAGS},
                "torch": {"OMP_NUM_THREADS": str(threads)},
            }[backend]
        )
    return env


def load(backend: str) -> ModuleType:
    """Import the support module of `backend` (which imports that framework)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return importlib.import_module(f"bench.backends._{backend}")


def device_kind(device_name: str) -> str:
    """Classify a framework's device string as 'gpu' or 'cpu'."""
    name = device_name.lower()
    return "gpu" if ("gpu" in name or "cuda" in name) else "cpu"
