"""Turn MNIST uint8 arrays into model inputs: float32 pixels in [0, 1], flat, one-hot labels."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitrec_core.architecture import INPUT_SIZE
from digitrec_core.data import IMAGE_SHAPE, NUM_CLASSES, Mnist


@dataclass(frozen=True)
class Prepared:
    """Model-ready arrays, plus the integer test labels kept for metrics."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_labels: np.ndarray


def scale_and_flatten(images: np.ndarray) -> np.ndarray:
    """Scale uint8 images (n, 28, 28) by 1/255 and flatten them to float32 (n, 784)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"images must be uint8 of shape (n, 28, 28), got {images.dtype} {images.shape}"
        )
    return images.reshape(len(images), INPUT_SIZE).astype(np.float32) / np.float32(255)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """One-hot encode digit labels 0-9 as float32 (n, 10)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES)):
        raise ValueError(f"labels must be a 1-d array of digits 0-9, got shape {labels.shape}")
    # What keras.utils.to_categorical does, without importing a backend for it.
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


class SubsetError(ValueError):
    """A subset larger than the data (or empty)."""


def take_subset(mnist: Mnist, train_samples: int | None, test_samples: int | None) -> Mnist:
    """Keep the first `train_samples` / `test_samples` of each split (None keeps all)."""
    for name, count, available in (
        ("train_samples", train_samples, len(mnist.x_train)),
        ("test_samples", test_samples, len(mnist.x_test)),
    ):
        if count is not None and not 1 <= count <= available:
            option = "--" + name.replace("_", "-")
            split = name.split("_")[0]
            raise SubsetError(
                f"{option} must be between 1 and {available} (the images in the {split} "
                f"split), got {count}"
            )
    return Mnist(
        x_train=mnist.x_train[:train_samples],
        y_train=mnist.y_train[:train_samples],
        x_test=mnist.x_test[:test_samples],
        y_test=mnist.y_test[:test_samples],
        source=mnist.source,
        checksums_verified=mnist.checksums_verified,
    )


def preprocess(mnist: Mnist) -> Prepared:
    """Apply the documented preprocessing to both splits."""
    return prepare(mnist, scale_and_flatten)


def prepare(mnist: Mnist, prepare_images: Callable[[np.ndarray], np.ndarray]) -> Prepared:
    """Both splits as model inputs: `prepare_images` on the images, one-hot labels."""
    return Prepared(
        x_train=prepare_images(mnist.x_train),
        y_train=one_hot(mnist.y_train),
        x_test=prepare_images(mnist.x_test),
        y_test=one_hot(mnist.y_test),
        test_labels=np.asarray(mnist.y_test, dtype=np.int64),
    )
