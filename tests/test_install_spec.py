import tomllib
from pathlib import Path

import pytest

from bench.install_spec import BACKENDS, DEVICES, TORCH_CUDA_INDEX, extra_for, pip_setup

EXTRAS = tomllib.loads(Path(__file__).resolve().parents[1].joinpath("pyproject.toml").read_text())[
    "project"
]["optional-dependencies"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("device", DEVICES)
def test_every_backend_and_device_has_an_extra(backend, device):
    assert extra_for(backend, device) in EXTRAS


def test_gpu_extras_pin_the_cpu_versions_with_their_cuda_builds():
    assert EXTRAS["tensorflow-gpu"] == ["tensorflow[and-cuda]==2.21.0"]
    assert EXTRAS["tensorflow"] == ["tensorflow==2.21.0"]
    assert EXTRAS["jax-gpu"] == ["jax[cuda12]==0.10.2"] and "jax==0.10.2" in EXTRAS["jax"]
    assert EXTRAS["torch-gpu"] == EXTRAS["torch"] == ["torch==2.13.0"]


def test_cpu_installs_need_no_special_options():
    for backend in BACKENDS:
        assert pip_setup(backend, "cpu", {}) == ([], {})


def test_torch_on_gpu_comes_from_the_cuda_index_not_the_local_cpu_wheel():
    options, env = pip_setup("torch", "gpu", {})
    assert options == ["--extra-index-url", TORCH_CUDA_INDEX] and env == {"PIP_FIND_LINKS": ""}
    options, _ = pip_setup("torch", "gpu", {"DIGITREC_TORCH_INDEX_URL": "https://example/cu126"})
    assert options[-1] == "https://example/cu126"


def test_a_wheelhouse_installs_offline():
    options, env = pip_setup("jax", "gpu", {"DIGITREC_WHEELHOUSE": ".whl"})
    assert options == ["--no-index", "--find-links", ".whl"] and env == {}


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="device one of"):
        extra_for("jax", "tpu")
