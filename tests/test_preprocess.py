import numpy as np
import pytest

from digitrec_core.data import load_mnist
from digitrec_core.preprocess import one_hot, preprocess, scale_and_flatten, take_subset


def test_scale_and_flatten_maps_bytes_to_unit_interval():
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, 0, 0], images[1, 27, 27] = 255, 51
    flat = scale_and_flatten(images)
    assert flat.shape == (2, 784) and flat.dtype == np.float32
    assert flat[0, 0] == 1.0 and flat[1, 783] == pytest.approx(0.2)
    assert flat.sum() == pytest.approx(1.2)


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 28, 28), np.float32), np.zeros((2, 784), np.uint8), np.zeros((28, 28))]
)
def test_scale_and_flatten_rejects_non_mnist_images(bad):
    with pytest.raises(ValueError, match="images must be uint8 of shape"):
        scale_and_flatten(bad)


def test_one_hot_encodes_digits():
    encoded = one_hot(np.array([3, 0, 9], np.uint8))
    assert encoded.dtype == np.float32 and encoded.shape == (3, 10)
    np.testing.assert_array_equal(encoded.argmax(axis=1), [3, 0, 9])
    np.testing.assert_array_equal(encoded.sum(axis=1), [1, 1, 1])


def test_one_hot_rejects_labels_outside_0_9():
    with pytest.raises(ValueError, match="digits 0-9"):
        one_hot(np.array([1, 10]))


def test_preprocess_and_subset(tiny_mnist_dir):
    mnist = take_subset(load_mnist(tiny_mnist_dir, verify_checksums=False), 100, None)
    prepared = preprocess(mnist)
    assert prepared.x_train.shape == (100, 784) and prepared.y_train.shape == (100, 10)
    assert prepared.x_test.shape == (200, 784)
    np.testing.assert_array_equal(prepared.y_test.argmax(axis=1), mnist.y_test)
    np.testing.assert_array_equal(prepared.test_labels, mnist.y_test)
    assert prepared.x_train.min() >= 0.0 and prepared.x_train.max() == 1.0


def test_subset_larger_than_data_is_refused(tiny_mnist_dir):
    mnist = load_mnist(tiny_mnist_dir, verify_checksums=False)
    with pytest.raises(ValueError, match=r"--test-samples must be between 1 and 200 .*, got 500"):
        take_subset(mnist, None, 500)


@pytest.mark.backend
def test_one_hot_is_what_keras_to_categorical_gives():
    import keras

    labels = np.arange(10, dtype=np.uint8)[::-1]
    expected = keras.utils.to_categorical(labels, 10)
    np.testing.assert_array_equal(one_hot(labels), expected)
    assert one_hot(labels).dtype == np.float32
