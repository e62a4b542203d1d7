"""PyTorch specifics."""

import torch

FRAMEWORK = "torch"


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
