"""The model's initial weights made with numpy, so every backend starts from the same values.

Keras initialises Dense kernels Glorot-uniform and biases with zeros, but each backend draws its
own random numbers, so the same seed gives different weights per backend. These are the same
distributions, drawn once by numpy.
"""

import hashlib
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitrec_core.architecture import LAYER_SIZES


def expected_shapes(layer_sizes: Sequence[int] = LAYER_SIZES) -> list[tuple[int, ...]]:
    """Shapes of `model.get_weights()`: kernel (in, out), then bias (out,), per Dense layer."""
    shapes = []
    for fan_in, fan_out in itertools.pairwise(layer_sizes):
        shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes


def glorot_uniform_weights(seed: int, layer_sizes: Sequence[int] = LAYER_SIZES) -> list[np.ndarray]:
    """Glorot-uniform kernels (±sqrt(6 / (fan_in + fan_out))) and zero biases, as float32."""
    if len(layer_sizes) < 2 or any(int(size) != size or size < 1 for size in layer_sizes):
        raise ValueError(
            f"layer_sizes must be two or more positive integers, got {tuple(layer_sizes)}"
        )
    return glorot_uniform_for_shapes(seed, expected_shapes(layer_sizes))


def glorot_uniform_for_shapes(seed: int, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Keras's default initial weights for Dense and Conv layers, drawn by numpy in order.

    A kernel (..., in, out) is Glorot-uniform with Keras's fans (receptive field × in, and
    × out); a bias (1-d) is zeros. Any other shape is refused.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for shape in shapes:
        shape = tuple(int(size) for size in shape)
        if len(shape) == 1:
            weights.append(np.zeros(shape, dtype=np.float32))
            continue
        if len(shape) < 2 or min(shape) < 1:
            raise ValueError(f"cannot draw Glorot-uniform weights of shape {shape}")
        receptive = int(np.prod(shape[:-2]))
        fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, size=shape).astype(np.float32))
    return weights


# Layers whose weights are a kernel and a bias, drawn here as Keras draws them by default.
NUMPY_INITIALISED = ("Dense", "Conv1D", "Conv2D", "Conv3D")
# Layers whose default initial weights are constants, set here to Keras's defaults.
BATCH_NORM_START = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}
CONSTANT_INITIALISED = {"BatchNormalization": BATCH_NORM_START}
NUMPY_HOW = (
    "glorot-uniform kernels, zero biases, numpy seed = config.seed; BatchNorm gamma 1, beta 0, "
    "moving mean 0, moving variance 1"
)
BACKEND_HOW = "the backend's own initialisers, keras seed = config.seed (not equal across backends)"


def numpy_initialise(model: Any, seed: int) -> str:
    """Give `model` numpy's initial weights for `seed` where every weighted layer allows it.

    Dense and Conv kernels are drawn by numpy in layer order (biases zero); BatchNormalization
    starts at Keras's constants (gamma 1, beta 0, moving mean 0, moving variance 1). A model with
    any other weighted layer keeps the backend's own initial weights. Returns how it was
    initialised.
    """
    weighted = [layer for layer in model.layers if layer.weights]
    known = (*NUMPY_INITIALISED, *CONSTANT_INITIALISED)
    if not all(type(layer).__name__ in known for layer in weighted):
        return BACKEND_HOW
    drawn = [
        tuple(w.shape)
        for layer in weighted
        if type(layer).__name__ in NUMPY_INITIALISED
        for w in layer.weights
    ]
    drawn_values = iter(glorot_uniform_for_shapes(seed, drawn))
    values = []
    for layer in weighted:
        constants = CONSTANT_INITIALISED.get(type(layer).__name__)
        for weight in layer.weights:
            if constants is None:
                values.append(next(drawn_values))
                continue
            name = weight.name.split("/")[-1]
            if name not in constants:
                return BACKEND_HOW
            values.append(np.full(tuple(weight.shape), constants[name], dtype=np.float32))
    model.set_weights(values)
    return NUMPY_HOW


def weights_sha256(weights: Sequence[np.ndarray]) -> str:
    """A hash of the weights' values that is the same whichever backend holds them."""
    digest = hashlib.sha256()
    for array in weights:
        array = np.ascontiguousarray(array, dtype="<f4")
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_initial_weights(path: str | Path, weights: Sequence[np.ndarray]) -> Path:
    """Save float32 weights in order as w0, w1, ... in a .npz at exactly `path`.

    A .npz rather than a .weights.h5: numpy alone writes and reads it, no backend or h5py.
    """
    path = Path(path)
    arrays = {f"w{index}": np.asarray(w, dtype=np.float32) for index, w in enumerate(weights)}
    with path.open("wb") as file:  # np.savez given a name would append ".npz" to it
        np.savez(file, **arrays)
    return path


def load_initial_weights(
    path: str | Path, layer_sizes: Sequence[int] = LAYER_SIZES
) -> list[np.ndarray]:
    """Load weights saved by `save_initial_weights`, checking their shapes against `layer_sizes`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"initial weights file {path} does not exist")
    try:
        saved = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not a .npz of initial weights: {error}") from error
    if not isinstance(saved, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is a single .npy array, expected a .npz of initial weights")
    with saved:
        names = [f"w{index}" for index in range(len(saved.files))]
        if sorted(saved.files) != sorted(names):
            raise ValueError(f"{path} holds arrays {saved.files}, expected {names}")
        weights = [saved[name] for name in names]
    shapes = [w.shape for w in weights]
    if shapes != expected_shapes(layer_sizes):
        raise ValueError(
            f"{path}: weight shapes {shapes}, expected {expected_shapes(layer_sizes)} for layer "
            f"sizes {tuple(layer_sizes)}; the file is for another model"
        )
    return weights
