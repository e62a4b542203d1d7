"""Shared fixtures: tiny IDX data sets written on the fly, and the full MNIST where available."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from digitrec_core.data import IMAGE_MAGIC, LABEL_MAGIC, MNIST_PARTS
from digitrec_core.idx import idx_header


def write_idx(path: Path, magic: int, array: np.ndarray, *, compress: bool = True) -> Path:
    """Write `array` (uint8) as an IDX file at `path`, gzip-compressed when `compress`."""
    payload = idx_header(magic, array.shape) + np.ascontiguousarray(array, np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k is noise plus a bright bar on rows 2k+4 and 2k+5."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.uint8) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(count, 28, 28), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[2 * label + 4 : 2 * label + 6, 4:24] = 255
    return images, labels


def write_mnist_dir(directory: Path, train: int = 600, test: int = 200, compress=True) -> Path:
    """Write a synthetic data set in MNIST's four IDX files into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    arrays["x_train"], arrays["y_train"] = synthetic_digits(train, seed=1)
    arrays["x_test"], arrays["y_test"] = synthetic_digits(test, seed=2)
    for part in MNIST_PARTS:
        name = f"{part.file_name}.gz" if compress else part.file_name
        write_idx(directory / name, part.magic, arrays[part.key], compress=compress)
    return directory


BACKEND_MARK = "pytestmark = pytest.mark.backend"
NO_BACKEND_KEY = pytest.StashKey[list[str]]()


def pytest_configure(config):
    config.stash[NO_BACKEND_KEY] = []


def pytest_ignore_collect(collection_path: Path, config):
    """Without KERAS_BACKEND, leave out the modules marked as needing one (they import keras)."""
    if os.environ.get("KERAS_BACKEND") or not collection_path.name.startswith("test_"):
        return None
    if BACKEND_MARK in collection_path.read_text(encoding="utf-8"):
        if collection_path.name not in config.stash[NO_BACKEND_KEY]:
            config.stash[NO_BACKEND_KEY].append(collection_path.name)
        return True
    return None


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KERAS_BACKEND"):
        return
    needing = [item for item in items if item.get_closest_marker("backend")]
    if needing:
        config.hook.pytest_deselected(items=needing)
        items[:] = [item for item in items if not item.get_closest_marker("backend")]
        config.stash[NO_BACKEND_KEY].append(f"{len(needing)} more tests")


def pytest_report_header(config):
    if not os.environ.get("KERAS_BACKEND"):
        return (
            "KERAS_BACKEND is not set: only the tests that need no backend run; "
            "`nox -s tests` runs them all under each backend"
        )
    return None


def pytest_terminal_summary(terminalreporter, config):
    left_out = config.stash[NO_BACKEND_KEY]
    if left_out:
        terminalreporter.write_line(
            f"left out for want of KERAS_BACKEND (run `nox -s tests`): {', '.join(left_out)}",
            yellow=True,
        )


@pytest.fixture(autouse=True)
def no_outer_invocation(monkeypatch):
    """Each test (and the processes it starts) sees no invocation id from the shell or nox.

    Otherwise every suite and parity run in the tests would share the caller's id: parity
    records of one test would claim another's session, and probe file names would collide.
    """
    monkeypatch.delenv("DIGITREC_INVOCATION", raising=False)


@pytest.fixture
def tiny_mnist_dir(tmp_path: Path) -> Path:
    """A folder with a small synthetic, well-formed MNIST (600 train, 200 test images)."""
    return write_mnist_dir(tmp_path / "tiny-mnist")


@pytest.fixture(scope="session")
def full_mnist_dir() -> Path:
    """The real MNIST named by DIGITREC_DATA_DIR; skipped without it, but an error on CI."""
    setting = os.environ.get("DIGITREC_DATA_DIR")
    if setting and Path(setting).is_dir():
        return Path(setting)
    message = f"full MNIST not available (DIGITREC_DATA_DIR={setting!r})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must point DIGITREC_DATA_DIR at ../shared/data/mnist")
    pytest.skip(message)


__all__ = ["IMAGE_MAGIC", "LABEL_MAGIC", "write_idx", "write_mnist_dir"]
