import gzip

import numpy as np
import pytest

from digitrec_core.data import IMAGE_MAGIC, LABEL_MAGIC, MNIST_PARTS, load_mnist
from digitrec_core.idx import DataFileError, idx_header
from tests.conftest import synthetic_digits, write_idx, write_mnist_dir


def test_loads_gzipped_idx_as_uint8(tiny_mnist_dir):
    mnist = load_mnist(tiny_mnist_dir, verify_checksums=False)
    assert mnist.x_train.shape == (600, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.y_train.shape == (600,) and mnist.y_train.dtype == np.uint8
    assert mnist.x_test.shape == (200, 28, 28) and mnist.y_test.shape == (200,)
    expected_images, expected_labels = synthetic_digits(600, seed=1)
    np.testing.assert_array_equal(mnist.x_train, expected_images)
    np.testing.assert_array_equal(mnist.y_train, expected_labels)
    assert mnist.source == f"idx:{tiny_mnist_dir}"


def test_raw_idx_files_load_like_gzipped(tmp_path, tiny_mnist_dir):
    raw = write_mnist_dir(tmp_path / "raw", compress=False)
    assert not list(raw.glob("*.gz"))
    np.testing.assert_array_equal(
        load_mnist(raw, verify_checksums=False).x_test,
        load_mnist(tiny_mnist_dir, verify_checksums=False).x_test,
    )


def test_keras_format_npz_loads(tmp_path, tiny_mnist_dir):
    mnist = load_mnist(tiny_mnist_dir, verify_checksums=False)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=mnist.x_train,
        y_train=mnist.y_train,
        x_test=mnist.x_test,
        y_test=mnist.y_test,
    )
    from_npz = load_mnist(tmp_path, verify_checksums=False)
    np.testing.assert_array_equal(from_npz.y_test, mnist.y_test)
    assert from_npz.source.startswith("npz:")


def test_checksum_mismatch_names_file_and_both_hashes(tiny_mnist_dir):
    with pytest.raises(DataFileError, match=r"train-images-idx3-ubyte\.gz.*SHA-256.*expected ba89"):
        load_mnist(tiny_mnist_dir)


def test_truncated_file_is_reported_as_truncated(tiny_mnist_dir):
    path = tiny_mnist_dir / "t10k-images-idx3-ubyte.gz"
    payload = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(payload[:-100]))
    with pytest.raises(DataFileError, match=r"t10k-images.*expected 156816.*truncated"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_truncated_gzip_stream_is_reported(tiny_mnist_dir):
    path = tiny_mnist_dir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFileError, match=r"train-labels.*gzip data is corrupt or truncated"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_wrong_magic_is_reported(tiny_mnist_dir):
    # A label file where an image file belongs.
    write_idx(tiny_mnist_dir / "train-images-idx3-ubyte.gz", LABEL_MAGIC, np.zeros(600, np.uint8))
    with pytest.raises(DataFileError, match=r"train-images.*magic number 2049, expected 2051"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_wrong_image_size_is_reported(tiny_mnist_dir):
    write_idx(
        tiny_mnist_dir / "t10k-images-idx3-ubyte.gz", IMAGE_MAGIC, np.zeros((200, 32, 32), np.uint8)
    )
    with pytest.raises(DataFileError, match=r"item shape \(32, 32\), expected \(28, 28\)"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_header_only_file_is_reported(tiny_mnist_dir):
    (tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00"))
    with pytest.raises(DataFileError, match=r"t10k-labels.*too short for an IDX header"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_image_label_count_mismatch_is_reported(tiny_mnist_dir):
    write_idx(tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz", LABEL_MAGIC, np.zeros(199, np.uint8))
    with pytest.raises(DataFileError, match=r"200 test images but 199 test labels"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_label_out_of_range_is_reported(tiny_mnist_dir):
    write_idx(tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz", LABEL_MAGIC, np.full(200, 12, np.uint8))
    with pytest.raises(DataFileError, match=r"test labels go up to 12, expected digits 0-9"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_missing_directory_says_how_to_fix(tmp_path):
    with pytest.raises(DataFileError, match=r"does not exist.*DIGITREC_DATA_DIR"):
        load_mnist(tmp_path / "nowhere")


def test_incomplete_directory_lists_missing_files(tiny_mnist_dir):
    (tiny_mnist_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataFileError, match=r"missing t10k-labels-idx1-ubyte \(each may end"):
        load_mnist(tiny_mnist_dir, verify_checksums=False)


def test_npz_with_wrong_dtype_or_keys_is_reported(tmp_path):
    images, labels = synthetic_digits(20, seed=0)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=images.astype(np.float32),
        y_train=labels,
        x_test=images,
        y_test=labels,
    )
    with pytest.raises(DataFileError, match=r"x_train has dtype float32, expected uint8"):
        load_mnist(tmp_path, verify_checksums=False)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels)
    with pytest.raises(DataFileError, match=r"missing arrays \['x_test', 'y_test'\]"):
        load_mnist(tmp_path, verify_checksums=False)


def test_npz_content_is_checked_against_published_checksums(tmp_path):
    images, labels = synthetic_digits(20, seed=0)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    with pytest.raises(DataFileError, match=r"x_train\].*SHA-256"):
        load_mnist(tmp_path)


def test_idx_header_matches_the_published_layout():
    assert (
        idx_header(IMAGE_MAGIC, (60000, 28, 28)).hex() == "00000803" + "0000ea60" + "0000001c" * 2
    )


def test_full_mnist_verifies_against_published_checksums(full_mnist_dir):
    mnist = load_mnist(full_mnist_dir)
    assert mnist.checksums_verified
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    # The data folder's README gives this mean; it checks the pixels, not just the checksums.
    assert mnist.x_train.mean() / 255 == pytest.approx(0.1306604762738429, abs=1e-12)
    assert [part.key for part in MNIST_PARTS] == ["x_train", "y_train", "x_test", "y_test"]


def test_full_mnist_with_one_flipped_byte_fails_verification(full_mnist_dir, tmp_path):
    for part in MNIST_PARTS:
        source = full_mnist_dir / f"{part.file_name}.gz"
        (tmp_path / source.name).write_bytes(source.read_bytes())
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(labels.read_bytes()))
    payload[-1] = (payload[-1] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(payload)))
    with pytest.raises(DataFileError, match=r"t10k-labels.*expected ff7bcfd4"):
        load_mnist(tmp_path)


@pytest.mark.backend
def test_without_a_data_dir_keras_downloads_and_the_arrays_are_checked(monkeypatch):
    import keras

    images, labels = synthetic_digits(30, seed=0)
    monkeypatch.setattr(
        keras.datasets.mnist, "load_data", lambda: ((images, labels), (images[:10], labels[:10]))
    )
    mnist = load_mnist(verify_checksums=False)
    assert mnist.source == "keras.datasets.mnist" and mnist.x_test.shape == (10, 28, 28)
    with pytest.raises(DataFileError, match=r"keras.datasets.mnist\[x_train\].*SHA-256"):
        load_mnist()


@pytest.mark.backend
def test_failed_download_says_how_to_work_offline(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataFileError, match=r"could not download MNIST.*DIGITREC_DATA_DIR"):
        load_mnist()
