"""JAX specifics."""

import jax

from digitrec_core.config import FRAMEWORK_MODULE

FRAMEWORK = FRAMEWORK_MODULE["jax"]


def framework_version() -> str:
    return jax.__version__


def visible_gpus() -> list[str]:
    return [str(d) for d in jax.devices() if d.platform == "gpu"]


def variable_device(model) -> str:
    return str(next(iter(model.weights[0].value.devices())))


def synchronize(model) -> None:
    """Block until every model variable is computed (JAX dispatches asynchronously)."""
    jax.block_until_ready([variable.value for variable in model.variables])


def block_until_ready(value) -> None:
    """Block until `value` (an array or a nest of arrays) is computed."""
    jax.block_until_ready(value)


def speed_settings() -> dict:
    """Settings that decide JAX's speed: platform, devices, matmul precision (TF32 on GPU)."""
    return {
        "platform": jax.default_backend(),
        "device_count": jax.device_count(),
        "default_matmul_precision": jax.config.jax_default_matmul_precision,
    }


def peak_gpu_memory_bytes() -> int | None:
    """Peak bytes in use on the first GPU, or None without one."""
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        return None
    return (gpus[0].memory_stats() or {}).get("peak_bytes_in_use")


def limit_threads(threads: int) -> None:
    """Nothing to set: XLA sizes its CPU pool from the cores `restrict_to_cores` left it."""


def configure_tf32(enabled: bool) -> None:
    """Full float32 matmul precision unless TF32 is allowed (JAX's GPU default uses TF32)."""
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if enabled else "highest")


def device_report() -> dict:
    """JAX's devices and, on GPU, what each reports about itself."""
    devices = jax.devices()
    return {
        "platform": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kinds": sorted({d.device_kind for d in devices}),
        "visible_gpus": visible_gpus(),
    }


def vjp(function, arguments, cotangent):
    """The output of `function(*arguments)` and its pull-back of `cotangent` (jax.vjp)."""
    output, pull_back = jax.vjp(function, *arguments)
    cotangent = jax.numpy.asarray(cotangent, dtype=output.dtype)
    return output, [list(group) for group in pull_back(cotangent)]
