"""Fixtures for the data tests: a config whose cache lives in tmp_path, and a writer of image files."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaelab.config import DataConfig


@pytest.fixture(autouse=True)
def _no_data_environment(monkeypatch):
    """The user's $VAELAB_CACHE / $VAELAB_DATA must not leak into the tests."""
    monkeypatch.delenv("VAELAB_CACHE", raising=False)
    monkeypatch.delenv("VAELAB_DATA", raising=False)


@pytest.fixture
def data_config(tmp_path):
    """make(spec, **fields) -> DataConfig with its cache in tmp_path/cache."""

    def make(spec, **fields) -> DataConfig:
        return DataConfig(spec=str(spec), **{"cache_dir": str(tmp_path / "cache"), **fields})

    return make


@pytest.fixture
def image_files(tmp_path):
    """An `ImageFiles` writing into tmp_path/images."""
    return ImageFiles(tmp_path / "images")


class ImageFiles:
    """Writes good and broken image files under `root`."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def save(self, relative: str, image: Image.Image, format: str | None = None, **options) -> Path:
        """Save `image` at root/relative (format from the extension unless given)."""
        format = format or Image.registered_extensions()[Path(relative).suffix.lower()]
        return self.raw(relative, self.encode(image, format, **options))

    def raw(self, relative: str | bytes, data: bytes) -> Path:
        """Write bytes at root/relative; `relative` may be bytes (a name that is not UTF-8)."""
        path = os.path.join(os.fsencode(self.root), os.fsencode(relative))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(data)
        return Path(os.fsdecode(path))

    @staticmethod
    def encode(image: Image.Image, format: str, **options) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=format, **options)
        return buffer.getvalue()

    @staticmethod
    def noise(size=(48, 48), seed=0) -> Image.Image:
        """A colourful random image: it compresses badly, so cutting its JPEG cuts real data."""
        pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        return Image.fromarray(pixels)

    @staticmethod
    def solid(colour, size=(16, 16), mode="RGB") -> Image.Image:
        return Image.new(mode, size, colour)


@pytest.fixture
def write_idx_set():
    """write(folder, count, gzipped=True) -> (images (count, 28, 28) uint8, labels (count,)): a tiny
    Fashion-MNIST training set in IDX format (big-endian header: 0, 0, 0x08, ndim, dims)."""

    def write(folder: Path, count: int, gzipped: bool = True) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(count)
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
            header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
            raw = header + array.tobytes()
            if gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
        return images, labels

    return write
