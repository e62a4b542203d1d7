"""How the noxfile installs the project: the pyproject extra, pip options and environment for a
backend on a device, and a stamp that skips reinstalling what has not changed.

Standard library only: the noxfile imports it before any virtualenv exists.
"""

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digitrec_core.config import BACKENDS, DEVICES

STAMP_NAME = ".digitrec-installed"

TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"


def venv_name(backend: str, device: str) -> str:
    """The folder nox gives the virtualenv of `install(backend=..., device=...)` under .nox."""
    extra_for(backend, device)
    return f"install-backend-{backend}-device-{device}"


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


def install_spec(extras: tuple[str, ...], device: str, environ: Mapping[str, str]):
    """(pip requirement like ".[jax,test]", pip options, environment) for `extras` on `device`."""
    backend = next((extra for extra in extras if extra in BACKENDS), None)
    options, env = pip_setup(backend, device, environ) if backend else ([], {})
    extras = tuple(extra_for(e, device) if e in BACKENDS else e for e in extras)
    spec = f".[{','.join(extras)}]" if extras else "."
    return spec, options, env


def install_project(session: Any, *extras: str, device: str = "cpu") -> None:
    """Install the project into a nox session with `extras`, unless nothing it depends on changed.

    The stamp in the virtualenv holds a hash of pyproject.toml and of what pip was asked for.
    """
    spec, options, env = install_spec(extras, device, os.environ)
    stamp = Path(session.virtualenv.location) / STAMP_NAME
    wanted = hashlib.sha256(
        Path("pyproject.toml").read_bytes() + repr((spec, options, env)).encode()
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        session.log(f"{spec} already installed and pyproject.toml unchanged: not reinstalling")
        return
    session.install(*options, "-e", spec, env=env)
    stamp.write_text(wanted)
