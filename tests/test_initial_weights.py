import numpy as np
import pytest

from digitrec_core.initial_weights import (
    expected_shapes,
    glorot_uniform_weights,
    load_initial_weights,
    save_initial_weights,
    weights_sha256,
)
from digitrec_core.model import build_model


def test_shapes_and_order_match_the_keras_model():
    model = build_model()
    assert (
        [w.shape for w in glorot_uniform_weights(0)]
        == [w.shape for w in model.get_weights()]
        == expected_shapes()
    )


def test_kernels_are_glorot_uniform_and_biases_zero():
    weights = glorot_uniform_weights(3)
    kernel = weights[0]
    limit = np.sqrt(6 / (784 + 128))
    assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit  # 100k draws reach the edges
    assert abs(kernel.mean()) < 0.001 and kernel.std() == pytest.approx(limit / np.sqrt(3), 0.01)
    assert all(not b.any() for b in weights[1::2])


def test_same_seed_same_weights_other_seed_other_weights():
    assert weights_sha256(glorot_uniform_weights(1)) == weights_sha256(glorot_uniform_weights(1))
    assert weights_sha256(glorot_uniform_weights(1)) != weights_sha256(glorot_uniform_weights(2))


def test_hash_of_the_weights_as_loaded_by_the_backend_equals_the_generated_one():
    weights = glorot_uniform_weights(0)
    model = build_model()
    model.set_weights(weights)
    assert weights_sha256(model.get_weights()) == weights_sha256(weights)


def test_one_ulp_changes_the_hash():
    weights = glorot_uniform_weights(0)
    nudged = [w.copy() for w in weights]
    nudged[2][5, 7] = np.nextafter(nudged[2][5, 7], np.float32(1))
    assert weights_sha256(nudged) != weights_sha256(weights)


def test_weights_file_round_trips_and_wrong_shapes_are_refused(tmp_path):
    path = save_initial_weights(tmp_path / "init.npz", glorot_uniform_weights(0))
    assert weights_sha256(load_initial_weights(path)) == weights_sha256(glorot_uniform_weights(0))
    save_initial_weights(tmp_path / "other.npz", glorot_uniform_weights(0, (784, 64, 10)))
    with pytest.raises(ValueError, match="the file is for another model"):
        load_initial_weights(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_initial_weights(tmp_path / "absent.npz")
