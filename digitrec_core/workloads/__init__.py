"""Workloads: what digitrec trains and times, each defined once for every backend.

Built in: `mlp` (the documented MLP, the default) and `convnet` (Keras's "Simple MNIST
convnet"). A user's own: "package.module:name", naming a `Workload` object in their code.
"""

import importlib
import re

from digitrec_core.workloads.base import (
    Tolerances,
    Workload,
    WorkloadError,
    check_workload,
    definition_sha256,
)
from digitrec_core.workloads.convnet import CONVNET
from digitrec_core.workloads.mlp import MLP

BUILT_IN = {workload.name: workload for workload in (MLP, CONVNET)}
DEFAULT_WORKLOAD = MLP.name


def file_suffix(name: str) -> str:
    """ "" for the default workload, else "-<name>" safe in a file name (for per-workload files)."""
    if name == DEFAULT_WORKLOAD:
        return ""
    return "-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)


def load_workload(spec: str) -> Workload:
    """The built-in workload named `spec`, or the object "package.module:name" points at."""
    if spec in BUILT_IN:
        return BUILT_IN[spec]
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise WorkloadError(
            f"unknown workload {spec!r}: choose one of {sorted(BUILT_IN)} or give your own as "
            "package.module:name"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkloadError(
            f"cannot import {module_name!r} for workload {spec!r} ({exc}); put its folder on "
            "PYTHONPATH or install it in this environment"
        ) from exc
    if not hasattr(module, attribute):
        raise WorkloadError(f"module {module_name!r} has no {attribute!r} for workload {spec!r}")
    return check_workload(getattr(module, attribute), f"{spec!r}")


__all__ = [
    "BUILT_IN",
    "CONVNET",
    "DEFAULT_WORKLOAD",
    "MLP",
    "Tolerances",
    "Workload",
    "WorkloadError",
    "check_workload",
    "definition_sha256",
    "file_suffix",
    "load_workload",
]
