"""TensorFlow specifics."""

import tensorflow as tf

from digitrec_core.config import FRAMEWORK_MODULE

FRAMEWORK = FRAMEWORK_MODULE["tensorflow"]


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


def block_until_ready(value) -> None:
    """Wait for queued device work (so `value` is computed); eager CPU ops are synchronous."""
    if visible_gpus():
        tf.test.experimental.sync_devices()


def speed_settings() -> dict:
    """Settings that decide TensorFlow's speed: thread pools (0 = TF's default) and TF32."""
    return {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "tf32_execution": tf.config.experimental.tensor_float_32_execution_enabled(),
    }


def peak_gpu_memory_bytes() -> int | None:
    """Peak bytes TensorFlow allocated on the first GPU, or None without one."""
    if not visible_gpus():
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def limit_threads(threads: int) -> None:
    """Limit TF's intra-op pool; must run before TF executes its first op."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)


def configure_tf32(enabled: bool) -> None:
    """Allow or forbid TF32 in float32 matmuls and convolutions on GPU."""
    tf.config.experimental.enable_tensor_float_32_execution(enabled)


def device_report() -> dict:
    """The GPUs TensorFlow sees and the CUDA/cuDNN versions it was built with."""
    build = tf.sysconfig.get_build_info()
    return {
        "visible_gpus": visible_gpus(),
        "built_with_cuda": tf.test.is_built_with_cuda(),
        "cuda_version": build.get("cuda_version"),
        "cudnn_version": build.get("cudnn_version"),
    }


def vjp(function, arguments, cotangent):
    """The output of `function(*arguments)` and its pull-back of `cotangent` (GradientTape)."""
    leaves = [[tf.convert_to_tensor(a) for a in group] for group in arguments]
    with tf.GradientTape() as tape:
        tape.watch(leaves)
        output = function(*leaves)
    grads = tape.gradient(
        output,
        leaves,
        output_gradients=tf.convert_to_tensor(cotangent, dtype=output.dtype),
        unconnected_gradients=tf.UnconnectedGradients.ZERO,
    )
    return output, [list(group) for group in grads]
