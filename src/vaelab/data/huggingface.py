"""A Hugging Face dataset as a source of images: `--data hf:NAME[:SPLIT]`, or a folder written by
`datasets.save_to_disk`.

    --data hf:huggan/wikiart           the hub's dataset (downloaded once into Hugging Face's own cache)
    --data hf:huggan/wikiart:test      another split (default: train)
    --data hf:./my-images              anything `datasets.load_dataset` opens, e.g. a local image folder
    --data saved/wikiart               a `save_to_disk` folder: its train split (or its only one)

Conventions:
- the images are the first column of the `datasets.Image` feature; labels and class names come from
  the first `ClassLabel` column, when there is one;
- every image goes through the folder's decoder (decode.py): the same orientation, modes,
  transparency, resizing and strictness, on all cores; an image that cannot be decoded is skipped and
  listed as `NAME/SPLIT/ROW` with its reason;
- the cache key holds the dataset's fingerprint (which changes with its files or its revision) for the
  hub, and the files' paths, sizes and mtimes for a saved folder.

`datasets` is an optional dependency: `pip install 'vaelab[hf]'`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaelab.data.decode import Decoded, decode_bytes, decode_file, decode_many, stack
from vaelab.data.image_data import ImageData
from vaelab.errors import UsageError

PREFIX = "hf:"
DEFAULT_SPLIT = "train"
CHUNK = 4096  # rows decoded at a time: the encoded bytes in memory stay bounded, whatever the dataset's size
SAVED_MARKERS = ("dataset_dict.json", "state.json")  # what save_to_disk writes for a DatasetDict / a Dataset


@dataclass(frozen=True)
class HFDataset:
    """One split of a Hugging Face dataset, opened (not decoded)."""

    dataset: Any  # datasets.Dataset
    display: str  # e.g. "hf:huggan/wikiart:train"
    image_column: str
    label_column: str | None
    identity: dict[str, Any]  # what the cache key hashes


def is_saved_dataset(path: str) -> bool:
    """Whether `path` is a folder written by `datasets.save_to_disk` (a Dataset or a DatasetDict)."""
    return any(os.path.isfile(os.path.join(path, marker)) for marker in SAVED_MARKERS)


def open_dataset(spec: str) -> HFDataset:
    """The split that `spec` (hf:NAME[:SPLIT], or a save_to_disk folder) names, ready to decode."""
    datasets = _datasets()
    if spec.startswith(PREFIX):
        name, _, asked = spec[len(PREFIX):].partition(":")
        if not name:
            raise UsageError(f"--data {spec}: name the dataset, e.g. --data hf:huggan/wikiart or hf:NAME:test")
        path = os.path.expanduser(name)
        if os.path.isdir(path) and is_saved_dataset(path):
            return _saved(datasets, path, asked or None, spec)
        split = asked or DEFAULT_SPLIT
        try:
            dataset = datasets.load_dataset(name, split=split)
        except ValueError as error:  # an unknown split names the ones there are
            reason = _first_line(error).rstrip(".")
            raise UsageError(f"--data {spec}: {reason}: choose one with hf:NAME:SPLIT") from None
        except Exception as error:  # noqa: BLE001 - not found, offline, gated, broken: told in one line
            raise UsageError(
                f"--data {spec}: datasets.load_dataset({name!r}) failed ({_first_line(error)}); check the name and the "
                "network, or save the dataset with datasets.save_to_disk and point --data at that folder"
            ) from None
        return _described(dataset, f"hf:{name}:{split}", {"name": name, "split": split,
                                                          "fingerprint": dataset._fingerprint})
    return _saved(datasets, os.path.expanduser(spec), None, spec)


def decode_dataset(opened: HFDataset, size: int, channels: int | None) -> ImageData:
    """Decode every image of the split to (size, size) and stack them as (N, C, size, size) uint8."""
    rows = len(opened.dataset)
    stacked = stack(_decoded_rows(opened, size), rows, size, channels)
    kept = [row for row, _ in stacked.kept]
    skipped = [(f"{opened.display}/{row}" + (f" ({path})" if path else ""), problem)
               for (row, path), problem in stacked.failed]
    if not kept:
        examples = "; ".join(f"{name}: {reason}" for name, reason in skipped[:3])
        raise UsageError(f"no readable images in {opened.display}: all {rows} were skipped ({examples})")
    labels, classes = None, None
    if opened.label_column is not None:
        feature = opened.dataset.features[opened.label_column]
        labels = np.asarray(opened.dataset[opened.label_column], dtype=np.int64)[kept]
        classes = list(feature.names)
    return ImageData(
        images=stacked.pixels,  # (N, C, S, S)
        labels=labels, names=[f"{opened.display}/{row}" for row in kept], skipped=skipped, classes=classes,
        source=f"{opened.display} ({len(kept)} images)", recheck=[path for _, path in stacked.unopened if path],
    )


def _decoded_rows(opened: HFDataset, size: int) -> Iterator[tuple[tuple[int, str | None], Decoded]]:
    """((row, the image's file name if the dataset keeps one), decoded image) for every row, CHUNK rows at a
    time, from the images as stored (bytes, or a file path)."""
    datasets = _datasets()
    raw = opened.dataset.select_columns([opened.image_column]).cast_column(
        opened.image_column, datasets.Image(decode=False))
    for start in range(0, len(raw), CHUNK):
        stored = raw[start : start + CHUNK][opened.image_column]  # [{"bytes": ..., "path": ...} or None]
        inputs = [_encoded(image) for image in stored]
        decoded = decode_many(_decode_stored, inputs, size)
        yield from (((start + i, path), result) for i, ((_, path), result) in enumerate(zip(inputs, decoded)))


def _encoded(image: dict | None) -> tuple[bytes | None, str | None]:
    return (None, None) if image is None else (image.get("bytes"), image.get("path"))


def _decode_stored(stored: tuple[bytes | None, str | None], size: int) -> Decoded:
    data, path = stored
    if data:
        return decode_bytes(data, size)
    if path:
        return decode_file(path, size)
    return Decoded(None, False, "no image in this row")


def _saved(datasets: Any, path: str, split: str | None, display: str) -> HFDataset:
    try:
        loaded = datasets.load_from_disk(path)
    except Exception as error:  # noqa: BLE001 - a damaged or foreign folder: told in one line
        raise UsageError(f"--data {display}: cannot open the saved dataset ({_first_line(error)}): "
                         "point --data at a folder written by datasets.save_to_disk") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        chosen = split or (DEFAULT_SPLIT if DEFAULT_SPLIT in loaded else splits[0])
        if chosen not in loaded:
            raise UsageError(f"--data {display}: no split {chosen!r} (it has {', '.join(splits)}): "
                             f"use hf:{path}:{splits[0]}")
        loaded, display, split = loaded[chosen], f"{path}:{chosen}", chosen
    elif split is not None:
        raise UsageError(f"--data {display}: {path} holds one dataset, not a dict of splits: drop :{split}")
    files = sorted(
        [os.path.relpath(os.path.join(folder, name), path), *_stat(os.path.join(folder, name))]
        for folder, _, names in os.walk(path) for name in names
    )
    return _described(loaded, display, {"root": os.path.abspath(path), "split": split, "files": files})


def _described(dataset: Any, display: str, identity: dict[str, Any]) -> HFDataset:
    """The split with its image and label columns found, or a `UsageError` naming the columns."""
    datasets = _datasets()
    features = dataset.features
    images = [name for name, feature in features.items() if isinstance(feature, datasets.Image)]
    if not images:
        columns = ", ".join(f"{name} ({type(feature).__name__})" for name, feature in features.items())
        raise UsageError(f"--data {display} has no image column (columns: {columns}): "
                         "vaelab needs a column of the datasets.Image feature")
    labels = [name for name, feature in features.items() if isinstance(feature, datasets.ClassLabel)]
    return HFDataset(dataset, display, images[0], labels[0] if labels else None, identity)


def _stat(path: str) -> list[int]:
    info = os.stat(path)
    return [info.st_size, info.st_mtime_ns]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def _datasets() -> Any:
    try:
        import datasets  # here, not at the top: an optional dependency that takes a second to import
    except ImportError:
        raise UsageError("--data hf:... needs the datasets library: pip install 'vaelab[hf]'") from None
    return datasets
