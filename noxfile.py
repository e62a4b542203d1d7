"""digitrec's sessions: `nox -l` lists them, `nox -s bench` is the main job."""

import os
import shutil
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

sys.path.insert(0, str(Path(__file__).parent))  # nox does not put the noxfile's folder there
from bench.cli import INVOCATION_ENV, new_invocation_id  # standard library only, like the two
from bench.install import install_project, venv_name  # below: no virtualenv exists yet
from digitrec_core.config import BACKENDS, DEVICES

PYTHON = "3.11"
PYPROJECT = nox.project.load_toml("pyproject.toml")

# One id for everything one nox command runs: the report takes one GEMM peak per invocation,
# and the parity verdict accepts only the parity runs of its own invocation.
INVOCATION = os.environ.get(INVOCATION_ENV) or new_invocation_id()

nox.options.reuse_venv = "yes"


def backend_env(backend: str) -> dict[str, str]:
    """Environment that selects the Keras backend, names the invocation, quiets TF's logging."""
    return {
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        INVOCATION_ENV: INVOCATION,
    }


def skip_without_gpu(session: nox.Session, device: str) -> None:
    """Skip a GPU session, before installing anything, on a machine without an NVIDIA GPU."""
    if device == "gpu" and shutil.which("nvidia-smi") is None:
        session.skip("no NVIDIA GPU here (nvidia-smi not found); run it on a GPU machine")


# A bare `nox` runs lint and tests; every other session is marked default=False.
@nox.session(python=PYTHON, default=False)
@nox.parametrize("device", DEVICES)
@nox.parametrize("backend", BACKENDS)
def install(session: nox.Session, backend: str, device: str) -> None:
    """Make or update one backend's virtualenv for nox -s bench (only that framework in it)."""
    skip_without_gpu(session, device)
    if Path(session.virtualenv.location).name != venv_name(backend, device):
        session.error(
            f"nox made {session.virtualenv.location}, but bench.suite looks for "
            f"{venv_name(backend, device)}: update bench.install.venv_name"
        )
    try:
        install_project(session, backend, device=device)
    except CommandFailed:
        # One backend that cannot be installed must not stop the others: the suite finds
        # its Python without the framework, records that as a failed backend and goes on.
        session.skip(f"pip could not install {backend} for {device} (see above)")


@nox.session(
    python=PYTHON,
    default=False,
    requires=[f"install(backend='{b}', device='{d}')" for d in DEVICES for b in BACKENDS],
)
def bench(session: nox.Session) -> None:
    """Benchmark every backend in interleaved rounds (CPU, and GPU where present), then report."""
    install_project(session)
    try:
        session.run(
            "python", "-m", "bench.suite",
            "--venvs", str(Path(session.virtualenv.location).parent),
            *session.posargs, env={INVOCATION_ENV: INVOCATION},
        )  # fmt: skip
    finally:
        # The report shows a failed backend too; nox exits non-zero afterwards.
        session.run("python", "-m", "bench.report", success_codes=[0, 2])


@nox.session(python=PYTHON, default=False)
def report(session: nox.Session) -> None:
    """Rebuild results/report.md from the result files already in results/."""
    install_project(session)
    session.run("python", "-m", "bench.report", *session.posargs)


@nox.session(python=PYTHON, default=False)
def compare(session: nox.Session) -> None:
    """Compare results/ with a baseline results folder (--fail-on-regression gates on it)."""
    if not session.posargs:
        session.error("usage: nox -s compare -- BASELINE_RESULTS_DIR [--fail-on-regression]")
    install_project(session)
    session.run("python", "-m", "bench.compare", *session.posargs)


@nox.session(python=PYTHON)
@nox.parametrize("backend", BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """Run the test suite under one Keras backend (pytest options after --)."""
    install_project(session, backend, "test")
    session.run("python", "-m", "pytest", *session.posargs, env=backend_env(backend))


@nox.session(python=PYTHON, default=False)
@nox.parametrize("backend", BACKENDS)
def parity_runs(session: nox.Session, backend: str) -> None:
    """Train and predict under one backend for the parity checks (nox -s parity runs all)."""
    install_project(session, backend)
    session.run(
        "python", "-m", "bench.parity.runs", "--backend", backend, *session.posargs,
        env=backend_env(backend),
    )  # fmt: skip


@nox.session(
    python=PYTHON, default=False, requires=[f"parity_runs(backend='{b}')" for b in BACKENDS]
)
def parity(session: nox.Session) -> None:
    """Check accuracy parity across backends (statistical, lockstep, predict everywhere)."""
    install_project(session)
    try:
        session.run(
            "python", "-m", "bench.parity", *session.posargs,
            env={INVOCATION_ENV: INVOCATION},
        )  # fmt: skip
    finally:
        session.run("python", "-m", "bench.report")  # the report shows a FAIL too


@nox.session(python=PYTHON, default=False)
@nox.parametrize("backend", BACKENDS)
def microbench(session: nox.Session, backend: str) -> None:
    """pytest-benchmark micro-benchmarks of a train step and predict (JSON to results/micro)."""
    install_project(session, backend, "test")
    session.run("python", "-m", "bench.checks.micro", *session.posargs, env=backend_env(backend))
    session.run("python", "-m", "bench.report", success_codes=[0, 2])  # 2: no runs/ to report yet


@nox.session(python=PYTHON, default=False)
def reportbench(session: nox.Session) -> None:
    """pytest-benchmark of building the report: 50 result files, and a 20-machine fleet."""
    install_project(session, "test")
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider",
        "benchmarks/test_report_build.py", "benchmarks/test_report_fleet.py",
        *session.posargs, env={"KERAS_BACKEND": "jax"},
    )  # fmt: skip


@nox.session(python=PYTHON, default=False)
@nox.parametrize("backend", BACKENDS)
def faithfulness(session: nox.Session, backend: str) -> None:
    """Compare the suite's steady epoch with a bare model.fit script, in one session."""
    install_project(session, backend)
    session.run(
        "python", "-m", "bench.checks.selfcheck", "faithfulness", "--backend", backend,
        *session.posargs, env=backend_env(backend),
    )  # fmt: skip


@nox.session(python=PYTHON, default=False)
def overhead(session: nox.Session) -> None:
    """Time nox -s bench against the fit and predict time its runs record (options after --)."""
    install_project(session)
    session.install("nox")
    session.run("python", "-m", "bench.checks.selfcheck", "overhead", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
