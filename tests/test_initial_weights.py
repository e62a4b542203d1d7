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

pytestmark = pytest.mark.backend  # needs a Keras backend installed


def test_shapes_and_order_match_the_keras_model():
    model = build_model()
    assert (
        [w.shape for w in glorot_uniform_weights(0)]
        == [w.shape for w in model.get_weights()]
        == expected_shapes()
    )


def test_kernels_are_glorot_uniform_and_biases_zero():
    weights = glorot_uniform_weights(3)
    for kernel in weights[::2]:
        limit = np.float32(np.sqrt(6 / sum(kernel.shape)))  # kernel shape is (fan_in, fan_out)
        assert kernel.dtype == np.float32 and np.abs(kernel).max() <= limit
        assert np.abs(kernel).max() > 0.95 * limit  # 1280+ draws reach near the edges
    kernel, limit = weights[0], np.sqrt(6 / (784 + 128))
    assert abs(kernel.mean()) < 0.001 and kernel.std() == pytest.approx(limit / np.sqrt(3), 0.01)
    assert all(b.dtype == np.float32 and not b.any() for b in weights[1::2])


def test_keras_draws_its_kernels_from_the_same_range():
    keras_kernels = build_model().get_weights()[::2]
    for ours, theirs in zip(glorot_uniform_weights(0)[::2], keras_kernels, strict=True):
        limit = np.float32(np.sqrt(6 / sum(ours.shape)))
        assert np.abs(theirs).max() <= limit and np.abs(theirs).max() > 0.95 * limit
        assert np.std(theirs) == pytest.approx(np.std(ours), rel=0.1)


def test_same_seed_same_weights_other_seed_other_weights():
    assert weights_sha256(glorot_uniform_weights(1)) == weights_sha256(glorot_uniform_weights(1))
    assert weights_sha256(glorot_uniform_weights(1)) != weights_sha256(glorot_uniform_weights(2))
    for same, other in zip(glorot_uniform_weights(1), glorot_uniform_weights(1), strict=True):
        np.testing.assert_array_equal(same, other)


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
    reshaped = [*weights[:-1], weights[-1].reshape(1, 10)]  # same bytes, other shape
    assert weights_sha256(reshaped) != weights_sha256(weights)


def test_hash_ignores_memory_layout_and_byte_order():
    weights = glorot_uniform_weights(0)
    fortran = [np.asfortranarray(w) for w in weights]
    big_endian = [w.astype(">f4") for w in weights]
    assert weights_sha256(fortran) == weights_sha256(big_endian) == weights_sha256(weights)


def test_weights_file_round_trips_at_exactly_the_given_path(tmp_path):
    path = save_initial_weights(tmp_path / "init", glorot_uniform_weights(0))
    assert path == tmp_path / "init" and path.is_file()
    assert weights_sha256(load_initial_weights(path)) == weights_sha256(glorot_uniform_weights(0))


def test_missing_foreign_and_wrong_shaped_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.npz does not exist"):
        load_initial_weights(tmp_path / "absent.npz")
    save_initial_weights(tmp_path / "other.npz", glorot_uniform_weights(0, (784, 64, 10)))
    with pytest.raises(ValueError, match=r"weight shapes .*\(784, 64\).*the file is for another"):
        load_initial_weights(tmp_path / "other.npz")
    assert len(load_initial_weights(tmp_path / "other.npz", (784, 64, 10))) == 4
    np.savez(tmp_path / "foreign.npz", kernel=np.zeros(3))
    with pytest.raises(ValueError, match=r"holds arrays \['kernel'\], expected \['w0'\]"):
        load_initial_weights(tmp_path / "foreign.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"single \.npy array"):
        load_initial_weights(tmp_path / "single.npy")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"is not a \.npz of initial weights"):
        load_initial_weights(tmp_path / "empty.npz")


@pytest.mark.parametrize("layer_sizes", [(784,), (784, 0, 10), (784, 12.5, 10)])
def test_bad_layer_sizes_are_refused_by_name(layer_sizes):
    with pytest.raises(ValueError, match="layer_sizes must be two or more positive integers"):
        glorot_uniform_weights(0, layer_sizes)


def test_numpy_draws_conv_kernels_within_keras_glorot_bounds():
    from digitrec_core.initial_weights import glorot_uniform_for_shapes
    from digitrec_core.workloads import CONVNET

    model = CONVNET.build_model()
    shapes = [tuple(weight.shape) for weight in model.get_weights()]
    ours = glorot_uniform_for_shapes(0, shapes)
    for layer in model.layers:
        if not layer.weights:
            continue
        kernel = layer.kernel
        receptive = int(np.prod(kernel.shape[:-2]))
        limit = np.sqrt(6 / (receptive * kernel.shape[-2] + receptive * kernel.shape[-1]))
        theirs = np.asarray(kernel)  # Keras's own draw for this layer
        drawn = next(w for w in ours if w.shape == tuple(kernel.shape))
        assert np.abs(theirs).max() <= limit and np.abs(drawn).max() <= limit
        assert np.abs(drawn).max() > 0.9 * limit and np.abs(theirs).max() > 0.9 * limit
    assert [w.shape for w in ours] == shapes and not ours[1].any()  # biases are zeros
