"""TensorFlow specifics."""

import tensorflow as tf

FRAMEWORK = "tensorflow"


def framework_version() -> str:
    return tf.__version__


def visible_gpus() -> list[str]:
    return [gpu.name for gpu in tf.config.list_physical_devices("GPU")]


def variable_device(model) -> str:
    return str(model.weights[0].value.device)


def synchronize(model) -> None:
    """Wait for queued device work; TF on CPU has none outside a returned step."""
    if visible_gpus():
        tf.test.experimental.sync_devices()
