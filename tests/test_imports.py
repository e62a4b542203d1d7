"""The modules that must work without a backend import none (the report and the verdicts)."""

import subprocess
import sys

import pytest

BACKEND_MODULES = {"keras", "tensorflow", "jax", "torch"}


@pytest.mark.parametrize(
    "module",
    [
        "bench.stats",
        "bench.cli",
        "bench.host.gemm_probe",
        "bench.host.machine",
        "bench.run.roofline",
        "bench.host.drift",
        "bench.suite.__main__",
        "bench.suite.invocation",
        "bench.suite.margins",
        "bench.suite.tuning",
        "bench.backends",
        "bench.backends.search_space",
        "bench.install",
        "bench.parity.checks",
        "bench.parity.verdict",
        "bench.parity.power",
        "bench.report.build",
        "bench.analysis.decision",
        "bench.analysis.rounds",
        "bench.analysis.widths",
        "bench.report.headline",
        "bench.report.samples",
        "bench.compare.__main__",
    ],
)
def test_importing_loads_no_backend(module):
    code = f"import sys, {module}; print(sorted({BACKEND_MODULES!r} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.backend
def test_the_check_sees_a_backend_import():
    # The control: a module that does import keras is caught.
    code = f"import sys, keras; print(sorted({BACKEND_MODULES!r} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "keras" in result.stdout
