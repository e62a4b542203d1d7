import tomllib
from pathlib import Path

import pytest

from bench.install import (
    BACKENDS,
    DEVICES,
    TORCH_CUDA_INDEX,
    extra_for,
    install_project,
    pip_setup,
)

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
    assert EXTRAS["jax-gpu"][0] == "jax[cuda12]==0.10.2" and "jax==0.10.2" in EXTRAS["jax"]
    # The native JAX reference's optax, the same on both devices.
    assert EXTRAS["jax-gpu"][1:] == EXTRAS["jax"][2:] == ["optax>=0.2"]
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


class FakeSession:
    """Stands in for a nox session: records what it was asked to install."""

    def __init__(self, location: Path):
        self.virtualenv = type("Venv", (), {"location": str(location)})()
        self.installs: list[tuple] = []
        self.logged: list[str] = []

    def install(self, *args, env=None):
        self.installs.append((args, env))

    def log(self, line: str):
        self.logged.append(line)


def test_the_project_is_installed_again_only_when_something_it_depends_on_changed(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGITREC_WHEELHOUSE", raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    session = FakeSession(tmp_path / "venv")
    (tmp_path / "venv").mkdir()
    install_project(session, "jax", "test")
    assert session.installs == [(("-e", ".[jax,test]"), {})]
    install_project(session, "jax", "test")
    assert len(session.installs) == 1 and "not reinstalling" in session.logged[-1]
    install_project(session, "jax")  # other extras
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "2"\n')
    install_project(session, "jax")  # pyproject.toml changed
    assert [args for args, _ in session.installs[1:]] == [("-e", ".[jax]")] * 2
    install_project(session, "torch", device="gpu")
    args, env = session.installs[-1]
    assert args == ("--extra-index-url", TORCH_CUDA_INDEX, "-e", ".[torch-gpu]")
    assert env == {"PIP_FIND_LINKS": ""}
