"""JAX specifics."""

import jax

FRAMEWORK = "jax"


def framework_version() -> str:
    return jax.__version__


def visible_gpus() -> list[str]:
    return [str(d) for d in jax.devices() if d.platform == "gpu"]


def variable_device(model) -> str:
    return str(next(iter(model.weights[0].value.devices())))


def synchronize(model) -> None:
    """Block until every model variable is computed (JAX dispatches asynchronously)."""
    jax.block_until_ready([variable.value for variable in model.variables])
