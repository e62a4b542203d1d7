"""Which Python runs each backend: the nox virtualenvs by default, or the interpreters given.

`nox -s bench` makes one virtualenv per backend and device (only that framework in it) and
the suite runs each backend's runs with that virtualenv's Python. `--python` names others:
`PATH` for every backend (one Python that holds several frameworks, as on a GPU machine),
`BACKEND=PATH`, or `BACKEND:DEVICE=PATH`; the most specific one given wins.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

from bench.install import venv_name
from digitrec_core.config import BACKENDS, DEVICES, FRAMEWORK_DISTRIBUTION

DEFAULT_VENVS = Path(".nox")


class PythonSpecError(ValueError):
    """A --python option that names no backend or device digitrec knows."""


def parse_specs(specs: list[str]) -> dict[tuple[str | None, str | None], str]:
    """`--python` options as {(backend or None, device or None): interpreter}."""
    found: dict[tuple[str | None, str | None], str] = {}
    for spec in specs:
        target, sep, path = spec.partition("=")
        if not sep:
            found[(None, None)] = spec
            continue
        backend, _, device = target.partition(":")
        if backend not in BACKENDS or (device and device not in DEVICES) or not path:
            raise PythonSpecError(
                f"--python takes PATH, BACKEND=PATH or BACKEND:DEVICE=PATH with a backend of "
                f"{', '.join(BACKENDS)} and a device of {', '.join(DEVICES)}, got {spec!r}"
            )
        found[(backend, device or None)] = path
    return found


def venv_python(venvs: Path, backend: str, device: str) -> Path:
    """The Python of nox's virtualenv for `backend` on `device` under `venvs`."""
    scripts = ("Scripts", "python.exe") if os.name == "nt" else ("bin", "python")
    return Path(venvs, venv_name(backend, device), *scripts)


def python_for(
    backend: str, device: str, specs: dict[tuple[str | None, str | None], str], venvs: Path
) -> str:
    """The interpreter for `backend` on `device`: the most specific --python, else nox's."""
    for key in ((backend, device), (backend, None), (None, None)):
        if key in specs:
            return specs[key]
    return str(venv_python(venvs, backend, device))


def missing_python(python: str, backend: str, device: str) -> str | None:
    """Why `python` cannot run `backend` on `device` (it does not exist), or None."""
    if Path(python).is_file() or shutil.which(python):
        return None
    return (
        f"no Python for {backend} on {device}: {python} does not exist; run nox -s bench "
        f"(its install sessions create it) or name one with --python {backend}=PATH"
    )


VERSIONS_SCRIPT = """
import json, sys
from importlib import metadata
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = None
print(json.dumps(found))
"""


def installed_versions(python: str, backend: str) -> dict[str, str | None]:
    """keras and `backend`'s framework as installed for `python`, without importing them.

    Asked of that interpreter (the suite itself runs without any framework); None where one
    is missing or the interpreter does not answer.
    """
    names = ["keras", FRAMEWORK_DISTRIBUTION[backend]]
    try:
        done = subprocess.run(
            [python, "-c", VERSIONS_SCRIPT, *names],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        found = {}
    return {name: found.get(name) for name in names}
