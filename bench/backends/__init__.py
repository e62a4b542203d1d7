"""Everything that differs between Keras backends, behind one interface keyed by backend name.

Each `_<backend>.py` module imports its framework directly (nothing else in digitrec does) and
provides: `FRAMEWORK` (package name), `framework_version()`, `visible_gpus()`,
`variable_device(model)` and `synchronize(model)`. Import them through `load(backend)` only after
`KERAS_BACKEND` is set, which `environment_for` describes.
"""

import importlib
from types import ModuleType

from digitrec_core.config import BACKENDS


def environment_for(backend: str, device: str) -> dict[str, str]:
    """Environment variables to set before keras is imported, for `backend` on `device`."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    env = {"KERAS_BACKEND": backend}
    if device == "cpu":
        # Hide GPUs so that a CPU run really runs on the CPU, whatever the machine has.
        env["CUDA_VISIBLE_DEVICES"] = ""
        if backend == "jax":
            env["JAX_PLATFORMS"] = "cpu"
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
