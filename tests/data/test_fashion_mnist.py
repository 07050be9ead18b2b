"""Fashion-MNIST from IDX files: where they are looked for, how they are read, what is wrong with them."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from vaelab.data import fashion_mnist, load_images
from vaelab.errors import UsageError


def test_a_tiny_gzipped_set_from_data_root(tmp_path, data_config, write_idx_set):
    images, labels = write_idx_set(tmp_path / "idx", count=12)
    data = load_images(data_config("fashion-mnist", data_root=str(tmp_path / "idx")))
    assert data.images.shape == (12, 1, 28, 28)
    assert np.array_equal(data.images[:, 0], images)
    assert data.labels.tolist() == labels.tolist() and data.labels.dtype == np.int64
    assert data.classes[0] == "T-shirt/top" and len(data.classes) == 10
    assert data.names[3] == "fashion-mnist/train/3" and data.skipped == []
    assert data.source == f"fashion-mnist (12 training images from {tmp_path / 'idx'})"


def test_size_and_channels(tmp_path, data_config, write_idx_set):
    write_idx_set(tmp_path / "idx", count=4)
    data = load_images(data_config("fashion-mnist", data_root=str(tmp_path / "idx"), image_size=32, channels=3))
    assert data.images.shape == (4, 3, 32, 32)
    assert (data.images[:, 0] == data.images[:, 1]).all() and (data.images[:, 1] == data.images[:, 2]).all()


def test_uncompressed_files_in_a_fashion_mnist_folder_under_vaelab_data(tmp_path, data_config, write_idx_set,
                                                                       monkeypatch):
    images, _ = write_idx_set(tmp_path / "datasets" / "fashion-mnist", count=3, gzipped=False)
    monkeypatch.setenv("VAELAB_DATA", str(tmp_path / "datasets"))
    assert np.array_equal(load_images(data_config("fashion-mnist")).images[:, 0], images)


def test_missing_files_say_how_to_get_them(tmp_path, data_config):
    with pytest.raises(UsageError, match="not in .*empty.*apt-get install dataset-fashion-mnist.*--data-root"):
        load_images(data_config("fashion-mnist", data_root=str(tmp_path / "empty")))


def test_a_damaged_file_is_a_usage_error(tmp_path, data_config, write_idx_set):
    write_idx_set(tmp_path / "idx", count=3)
    labels = tmp_path / "idx" / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(bytes([0, 0, 0x0D, 1, 0, 0, 0, 3]) + b"abc"))  # floats, not bytes
    with pytest.raises(UsageError, match="train-labels-idx1-ubyte.gz is not a valid IDX file"):
        load_images(data_config("fashion-mnist", data_root=str(tmp_path / "idx")))
    labels.write_bytes(b"not gzip at all")
    with pytest.raises(UsageError, match="is not a valid IDX file"):
        load_images(data_config("fashion-mnist", data_root=str(tmp_path / "idx")))


def test_images_and_labels_must_agree(tmp_path, data_config, write_idx_set):
    write_idx_set(tmp_path / "idx", count=3)
    write_idx_set(tmp_path / "other", count=5)
    (tmp_path / "other" / "train-labels-idx1-ubyte.gz").replace(tmp_path / "idx" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(UsageError, match="holds 3 images but .* 5 labels"):
        load_images(data_config("fashion-mnist", data_root=str(tmp_path / "idx")))


@pytest.mark.skipif(not Path(fashion_mnist.SYSTEM_FOLDER).is_dir(), reason="dataset-fashion-mnist not installed")
def test_the_installed_dataset(data_config):
    data = load_images(data_config("fashion-mnist"))
    assert data.images.shape == (60000, 1, 28, 28) and isinstance(data.images, np.memmap)
    assert np.bincount(data.labels).tolist() == [6000] * 10
