"""What pip installs for a backend on a device: the pyproject extra, pip options, environment.

Standard library only: the noxfile imports it before any virtualenv exists.
"""

from collections.abc import Mapping

from digitrec_core.config import BACKENDS, DEVICES

TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"


def extra_for(backend: str, device: str) -> str:
    """The pyproject extra with `backend`'s build for `device` (e.g. "jax-gpu")."""
    if backend not in BACKENDS or device not in DEVICES:
        raise ValueError(
            f"backend must be one of {BACKENDS} and device one of {DEVICES}, "
            f"got {backend!r} and {device!r}"
        )
    return backend if device == "cpu" else f"{backend}-gpu"


def pip_setup(backend: str, device: str, environ: Mapping[str, str]):
    """(extra pip options, environment overrides) for installing `backend` on `device`.

    `DIGITREC_WHEELHOUSE` installs offline from a folder of wheels (a GPU machine without
    internet); torch on GPU comes from the CUDA index (`DIGITREC_TORCH_INDEX_URL`), and the
    machine's find-links, where a local CPU wheel may wait, are switched off for it.
    """
    extra_for(backend, device)
    wheelhouse = environ.get("DIGITREC_WHEELHOUSE")
    if wheelhouse:
        return ["--no-index", "--find-links", wheelhouse], {}
    if backend == "torch" and device == "gpu":
        index = environ.get("DIGITREC_TORCH_INDEX_URL", TORCH_CUDA_INDEX)
        return ["--extra-index-url", index], {"PIP_FIND_LINKS": ""}
    return [], {}
