"""What `--data SPEC` names, resolved to a `Source`: what the cache key hashes, and how to decode it.

SPEC is `fashion-mnist`, `digits` (these words win over a folder of the same name: write
./fashion-mnist for the folder), a Hugging Face dataset (`hf:NAME[:SPLIT]`, or a folder written by
`datasets.save_to_disk`), or a folder of images. Defaults for data.image_size: 28 for fashion-mnist,
32 for digits, 64 for the others.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vaelab.config import DataConfig
from vaelab.data import digits, fashion_mnist, folder, huggingface
from vaelab.data.image_data import ImageData
from vaelab.defaults import DEFAULT_SIZES
from vaelab.errors import UsageError


@dataclass(frozen=True)
class Source:
    """One data source, resolved but not decoded."""

    kind: str  # "fashion-mnist", "digits", "huggingface" or "folder"
    identity: dict[str, Any]  # the inputs (files, sizes, mtimes or library version) and settings
    build: Callable[[], ImageData]  # decodes it all, from scratch


def resolve_source(config: DataConfig) -> Source:
    """The source `config.spec` names, with the size and channel defaults applied."""
    kind = source_kind(config.spec)
    size = config.image_size or DEFAULT_SIZES[kind]
    settings = {"image_size": size, "channels": config.channels}
    if kind == "fashion-mnist":
        images, labels = fashion_mnist.find_files(config.data_root)
        files = {"files": [_file_identity(images), _file_identity(labels)]}
        return Source(kind, files | settings, functools.partial(
            fashion_mnist.load_fashion_mnist, images, labels, size, config.channels))
    if kind == "digits":
        return Source(kind, digits.identity() | settings, functools.partial(
            digits.load_digits_images, size, config.channels))
    if kind == "huggingface":
        opened = huggingface.open_dataset(config.spec)
        return Source(kind, opened.identity | settings, functools.partial(
            huggingface.decode_dataset, opened, size, config.channels))
    listing = folder.list_folder(_existing_folder(config.spec))
    identity = {"root": listing.root, "files": listing.files, "unusable": listing.unusable}
    return Source(kind, identity | settings, functools.partial(folder.decode_folder, listing, size, config.channels))


def source_kind(spec: str) -> str:
    """fashion-mnist, digits, huggingface or folder: what `--data SPEC` names."""
    if spec in ("fashion-mnist", "digits"):
        return spec
    if spec.startswith(huggingface.PREFIX) or huggingface.is_saved_dataset(os.path.expanduser(spec)):
        return "huggingface"
    return "folder"


def _existing_folder(spec: str) -> str:
    path = os.path.expanduser(spec)
    if not os.path.exists(path):
        raise UsageError(
            f"--data {spec}: no such folder; SPEC is a folder of images, fashion-mnist, digits or hf:NAME"
        )
    if not os.path.isdir(path):
        raise UsageError(f"--data {spec} is a file, not a folder: point --data at the folder that holds the images")
    return path


def _file_identity(path: os.PathLike) -> list[Any]:
    info = os.stat(path)
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]
