"""Read and verify IDX files (the MNIST on-disk format), gzip-compressed or raw."""

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
UBYTE_TYPE_CODE = 0x08


class DataFileError(ValueError):
    """A data file that is missing, malformed or not the expected content."""


def read_payload(path: Path) -> bytes:
    """Return the IDX bytes of `path`, gunzipping when the file is gzip-compressed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(
            f"{path}: gzip data is corrupt or truncated ({exc}); download the file again"
        ) from exc


def idx_header(magic: int, shape: tuple[int, ...]) -> bytes:
    """Return the IDX header (magic number, then one big-endian uint32 per dimension)."""
    return np.array([magic, *shape], dtype=">u4").tobytes()


def parse_idx(
    payload: bytes,
    *,
    name: str,
    magic: int,
    item_shape: tuple[int, ...],
    sha256: str | None = None,
) -> np.ndarray:
    """Parse an unsigned-byte IDX payload into a uint8 array of shape (count, *item_shape).

    Checks, in order: header length, magic number, dimensions, exact byte length, and (when
    `sha256` is given) the SHA-256 of the whole payload. `name` is used in error messages.
    """
    ndim = magic & 0xFF
    header_bytes = 4 * (1 + ndim)
    if ndim != 1 + len(item_shape) or (magic >> 8) != UBYTE_TYPE_CODE:
        raise ValueError(f"magic {magic} does not describe {1 + len(item_shape)}-d unsigned bytes")
    if len(payload) < header_bytes:
        raise DataFileError(
            f"{name}: file is {len(payload)} bytes, too short for an IDX header of "
            f"{header_bytes} bytes; the file is truncated or empty, replace it"
        )
    found_magic, *dims = np.frombuffer(payload[:header_bytes], dtype=">u4").tolist()
    if found_magic != magic:
        raise DataFileError(
            f"{name}: magic number {found_magic}, expected {magic}; this is not the expected "
            "IDX file (images are 2051, labels 2049): check the file name and content"
        )
    if tuple(dims[1:]) != item_shape:
        raise DataFileError(
            f"{name}: item shape {tuple(dims[1:])}, expected {item_shape}; not MNIST-sized data"
        )
    expected_len = header_bytes + int(np.prod(dims, dtype=np.int64))
    if len(payload) != expected_len:
        state = "truncated" if len(payload) < expected_len else "longer than its header says"
        raise DataFileError(
            f"{name}: {len(payload)} bytes, expected {expected_len} for shape {tuple(dims)}; "
            f"the file is {state}, replace it"
        )
    if sha256 is not None:
        found = hashlib.sha256(payload).hexdigest()
        if found != sha256:
            raise DataFileError(
                f"{name}: SHA-256 of the uncompressed content is {found}, expected {sha256} "
                "(the published MNIST checksum); the file is corrupt or not the official MNIST, "
                "replace it (or disable verification for a deliberate custom data set)"
            )
    return np.frombuffer(payload, dtype=np.uint8, offset=header_bytes).reshape(dims)


def read_idx(path: Path, *, magic: int, item_shape: tuple[int, ...], sha256: str | None = None):
    """Read one IDX file (.gz or raw) from `path`; see `parse_idx` for the checks."""
    payload = read_payload(path)
    return parse_idx(payload, name=str(path), magic=magic, item_shape=item_shape, sha256=sha256)
