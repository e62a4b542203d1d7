"""PyTorch specifics."""

import torch

from digitrec_core.config import FRAMEWORK_MODULE

FRAMEWORK = FRAMEWORK_MODULE["torch"]


def framework_version() -> str:
    return torch.__version__


def visible_gpus() -> list[str]:
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def variable_device(model) -> str:
    return str(model.weights[0].value.device)


def synchronize(model) -> None:
    """Wait for queued CUDA kernels; CPU work is synchronous."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def block_until_ready(value) -> None:
    """Wait for queued CUDA kernels (so `value` is computed); CPU ops are synchronous."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def speed_settings() -> dict:
    """Settings that decide torch's speed: thread pools and TF32 use on GPU."""
    return {
        "intra_op_threads": torch.get_num_threads(),
        "inter_op_threads": torch.get_num_interop_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
    }


def peak_gpu_memory_bytes() -> int | None:
    """Peak bytes allocated by torch on the current GPU, or None without one."""
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


def limit_threads(threads: int) -> None:
    """Limit torch's intra-op pool (OMP_NUM_THREADS, set before import, covers OpenMP too)."""
    torch.set_num_threads(threads)


def configure_tf32(enabled: bool) -> None:
    """Allow or forbid TF32 in CUDA matmuls and cuDNN convolutions."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    torch.set_float32_matmul_precision("high" if enabled else "highest")


def device_report() -> dict:
    """CUDA availability, the torch build's CUDA and cuDNN versions, and each GPU."""
    cuda = torch.cuda.is_available()
    return {
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
        "gpus": [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_mib": torch.cuda.get_device_properties(i).total_memory // 2**20,
            }
            for i in range(torch.cuda.device_count())
        ]
        if cuda
        else [],
    }


def vjp(function, arguments, cotangent):
    """The output of `function(*arguments)` and its pull-back of `cotangent` (autograd)."""
    import keras

    leaves = [
        [keras.ops.convert_to_tensor(a).detach().requires_grad_(True) for a in group]
        for group in arguments
    ]
    output = function(*leaves)
    flat = [leaf for group in leaves for leaf in group]
    grads = torch.autograd.grad(
        output,
        flat,
        grad_outputs=keras.ops.convert_to_tensor(cotangent, dtype=output.dtype),
        allow_unused=True,
    )
    grads = iter(
        torch.zeros_like(leaf) if g is None else g for g, leaf in zip(grads, flat, strict=True)
    )
    return output.detach(), [[next(grads) for _ in group] for group in leaves]
