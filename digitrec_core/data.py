"""Load MNIST as uint8 arrays: from a data directory (IDX files or mnist.npz) or via Keras."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitrec_core.idx import DataFileError, idx_header, parse_idx, read_idx

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
NPZ_NAME = "mnist.npz"


@dataclass(frozen=True)
class MnistPart:
    """One of the four MNIST arrays: its IDX file name, magic number and published checksum."""

    key: str
    file_name: str
    magic: int
    sha256: str

    @property
    def item_shape(self) -> tuple[int, ...]:
        return IMAGE_SHAPE if self.magic == IMAGE_MAGIC else ()


# SHA-256 of the uncompressed IDX payloads, as published for the official MNIST files.
MNIST_PARTS = (
    MnistPart(
        "x_train",
        "train-images-idx3-ubyte",
        IMAGE_MAGIC,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    MnistPart(
        "y_train",
        "train-labels-idx1-ubyte",
        LABEL_MAGIC,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    MnistPart(
        "x_test",
        "t10k-images-idx3-ubyte",
        IMAGE_MAGIC,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    MnistPart(
        "y_test",
        "t10k-labels-idx1-ubyte",
        LABEL_MAGIC,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
)


@dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: images (n, 28, 28), labels (n,), plus where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    checksums_verified: bool

    def content_sha256(self) -> str:
        """One hash of the four arrays' values and shapes, wherever they were read from."""
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            digest.update(repr(array.shape).encode())
            digest.update(np.ascontiguousarray(array, dtype=np.uint8).tobytes())
        return digest.hexdigest()


def load_mnist(data_dir: str | Path | None = None, *, verify_checksums: bool = True) -> Mnist:
    """Load MNIST from `data_dir` (four IDX files, .gz or raw, or mnist.npz), else via Keras.

    With `data_dir=None` this calls `keras.datasets.mnist.load_data()`, which downloads and
    caches the data. `verify_checksums=False` accepts well-formed IDX data that is not the
    official MNIST (a subset or a synthetic set).
    """
    if data_dir is None:
        arrays, source = _load_with_keras(), "keras.datasets.mnist"
        arrays = _check_arrays(arrays, source, verify_checksums)
    else:
        arrays, source = _load_from_dir(Path(data_dir), verify_checksums)
    _check_splits(arrays, source)
    return Mnist(**arrays, source=source, checksums_verified=verify_checksums)


def _load_from_dir(data_dir: Path, verify: bool) -> tuple[dict[str, np.ndarray], str]:
    if not data_dir.is_dir():
        raise DataFileError(
            f"data directory {data_dir} does not exist or is not a directory; point the data "
            "setting (--data-dir or DIGITREC_DATA_DIR) at a folder holding the four MNIST IDX "
            f"files or {NPZ_NAME}, or leave it unset to download with Keras"
        )
    found = {part.key: _find_idx_file(data_dir, part.file_name) for part in MNIST_PARTS}
    if all(found.values()):
        arrays = {
            part.key: read_idx(
                found[part.key],
                magic=part.magic,
                item_shape=part.item_shape,
                sha256=part.sha256 if verify else None,
            )
            for part in MNIST_PARTS
        }
        return arrays, f"idx:{data_dir}"
    npz_path = data_dir / NPZ_NAME
    if npz_path.is_file():
        return _check_arrays(_read_npz(npz_path), f"npz:{npz_path}", verify), f"npz:{npz_path}"
    missing = [part.file_name for part in MNIST_PARTS if not found[part.key]]
    raise DataFileError(
        f"data directory {data_dir} holds neither the four MNIST IDX files nor {NPZ_NAME}: "
        f"missing {', '.join(missing)} (each may end in .gz); copy them there or point the "
        "data setting at the folder that has them"
    )


def _find_idx_file(data_dir: Path, file_name: str) -> Path | None:
    for candidate in (data_dir / file_name, data_dir / f"{file_name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [part.key for part in MNIST_PARTS if part.key not in npz.files]
            if missing:
                raise DataFileError(
                    f"{path}: missing arrays {missing}, found {sorted(npz.files)}; a Keras-format "
                    "mnist.npz holds x_train, y_train, x_test and y_test"
                )
            return {part.key: npz[part.key] for part in MNIST_PARTS}
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(f"{path}: not a readable .npz file ({exc}); replace it") from exc


def _load_with_keras() -> dict[str, np.ndarray]:
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # keras raises plain Exception for failed downloads
        raise DataFileError(
            f"keras.datasets.mnist could not download MNIST ({exc}); without internet, point the "
            "data setting (--data-dir or DIGITREC_DATA_DIR) at a folder with the IDX files"
        ) from exc
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _check_arrays(arrays: dict[str, np.ndarray], source: str, verify: bool):
    """Check in-memory arrays exactly as IDX files are checked, by rebuilding their IDX bytes."""
    checked = {}
    for part in MNIST_PARTS:
        array = np.asarray(arrays[part.key])
        if array.dtype != np.uint8:
            raise DataFileError(
                f"{source}: {part.key} has dtype {array.dtype}, expected uint8 as in MNIST"
            )
        if array.ndim != 1 + len(part.item_shape) or array.shape[1:] != part.item_shape:
            raise DataFileError(
                f"{source}: {part.key} has shape {array.shape}, expected (n, "
                f"{', '.join(map(str, part.item_shape))}) as in MNIST"
            )
        payload = idx_header(part.magic, array.shape) + array.tobytes()
        checked[part.key] = parse_idx(
            payload,
            name=f"{source}[{part.key}]",
            magic=part.magic,
            item_shape=part.item_shape,
            sha256=part.sha256 if verify else None,
        )
    return checked


def _check_splits(arrays: dict[str, np.ndarray], source: str) -> None:
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(images) != len(labels):
            raise DataFileError(
                f"{source}: {len(images)} {split} images but {len(labels)} {split} labels; "
                "the image and label files must come from the same set"
            )
        if labels.size and labels.max() >= NUM_CLASSES:
            raise DataFileError(
                f"{source}: {split} labels go up to {labels.max()}, expected digits 0-9"
            )
