"""The on-disk cache: every source is decoded once into a uint8 .npy and memory-mapped afterwards.

In the cache folder (data.cache_dir, else $VAELAB_CACHE, else ~/.cache/vaelab):
    KEY.npy    (N, C, H, W) uint8, opened with np.load(mmap_mode="r"): memory does not grow with N
    KEY.json   names, labels, classes, skipped files, source description, channels
    KEY.lock   held while KEY is built, so runs started together decode once
KEY is the source kind and a SHA-256 of FORMAT_VERSION and the source's identity: its input files
(paths, sizes, mtimes in ns) or library version, and the preprocessing settings. Any changed,
added, removed or touched file gives a new key. Both files are written to a temporary file in
the cache folder and renamed into place (os.replace), the sidecar last: a killed build leaves no
entry, only a temporary file that the next build of that key removes.
Batches are read from an entry with `read_rows` (pread, not the mapping), so that the pages read
stay in the kernel's page cache and a training process's memory does not grow with N.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vaelab.data.image_data import ImageData
from vaelab.errors import UsageError
from vaelab.files import atomic_write, file_lock, remove_partial_writes

_PREADV = hasattr(os, "preadv")  # not on Windows: there, batches are read through the mapping
FORMAT_VERSION = 1  # bump when decoding changes, so old caches are not reused


def cache_folder(configured: str | None) -> Path:
    """data.cache_dir, else $VAELAB_CACHE, else ~/.cache/vaelab."""
    chosen = configured or os.environ.get("VAELAB_CACHE") or "~/.cache/vaelab"
    return Path(chosen).expanduser()


def cache_key(kind: str, identity: dict[str, Any]) -> str:
    """e.g. "folder-3f2a...": the kind, and a hash of everything the decoded array depends on."""
    described = json.dumps({"format": FORMAT_VERSION, "kind": kind, **identity}, sort_keys=True)
    return f"{kind}-{hashlib.sha256(described.encode()).hexdigest()[:32]}"


def load(folder: Path, key: str) -> ImageData | None:
    """The cached entry memory-mapped, or None when it is missing or damaged (then it is rebuilt)."""
    try:
        meta = json.loads((folder / f"{key}.json").read_text())
        images = np.load(folder / f"{key}.npy", mmap_mode="r")  # (N, C, H, W) uint8
        labels = None if meta["labels"] is None else np.asarray(meta["labels"], dtype=np.int64)
        data = ImageData(
            images=images, labels=labels, names=meta["names"], skipped=[tuple(item) for item in meta["skipped"]],
            classes=meta["classes"], source=meta["source"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    expected = (len(data.names), meta["channels"])
    return data if images.dtype == np.uint8 and images.ndim == 4 and images.shape[:2] == expected else None


def store(folder: Path, key: str, data: ImageData) -> ImageData:
    """Write `data` under `key` atomically and return it memory-mapped from the cache."""
    meta = {
        "names": data.names,
        "labels": None if data.labels is None else data.labels.tolist(),
        "classes": data.classes,
        "skipped": data.skipped,
        "source": data.source,
        "channels": data.channels,
    }
    try:
        atomic_write(folder / f"{key}.npy", lambda file: np.save(file, data.images, allow_pickle=False))
        atomic_write(folder / f"{key}.json", lambda file: file.write(json.dumps(meta).encode()))
    except OSError as error:
        raise UsageError(
            f"cannot write the data cache in {folder} ({error.strerror or error}): free some space, "
            "or point data.cache_dir or $VAELAB_CACHE at a writable folder"
        ) from None
    stored = load(folder, key)
    if stored is None:
        raise RuntimeError(f"the cache entry {folder / key} just written cannot be read back")
    return stored


def read_rows(images: np.ndarray, index: np.ndarray) -> np.ndarray:
    """`images[index]` as a new C-contiguous array, e.g. one batch (B, C, H, W).

    From a cache entry (the memory-mapped array `load` returns) the rows are read with pread, each
    run of consecutive indices in one call, not through the mapping: touching a mapped page makes the
    kernel map up to 64 KiB around it ("fault-around"), and every mapped page counts as the process's
    resident memory, so reading through the mapping grows a training process's memory with the size
    of the dataset. Read this way, the pages stay in the kernel's page cache and are not the
    process's (benchmarks/data.py measures both). Any other array is simply indexed.
    """
    index = np.asarray(index)
    if not (_PREADV and isinstance(images, np.memmap) and isinstance(images.base, mmap.mmap)
            and index.ndim == 1 and np.issubdtype(index.dtype, np.integer)):
        return np.ascontiguousarray(images[index])
    index = index.astype(np.int64)
    if len(index) and not (-len(images) <= index.min() and index.max() < len(images)):
        raise IndexError(f"index out of range for {len(images)} cached images")
    index = np.where(index < 0, index + len(images), index)
    rows = np.empty((len(index), *images.shape[1:]), dtype=images.dtype)
    if not len(rows):
        return rows
    row_bytes = rows[0].nbytes
    buffer = memoryview(rows).cast("B")
    starts = np.flatnonzero(np.diff(index, prepend=-2) != 1)  # where each run of consecutive rows begins
    ends = np.append(starts[1:], len(index))
    descriptor = os.open(images.filename, os.O_RDONLY)
    try:
        for start, end in zip(starts.tolist(), ends.tolist()):
            wanted = buffer[start * row_bytes : end * row_bytes]
            if os.preadv(descriptor, [wanted], images.offset + int(index[start]) * row_bytes) != len(wanted):
                raise OSError(f"{images.filename} is shorter than its header says: the cache entry is damaged")
    finally:
        os.close(descriptor)
    return rows


@contextmanager
def building(folder: Path, key: str) -> Iterator[None]:
    """Hold KEY.lock while KEY is built, and clear what a killed build of KEY left behind."""
    with ExitStack() as stack:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(file_lock(folder / f"{key}.lock", wait=True))
        except OSError as error:
            raise UsageError(
                f"cannot use {folder} as the data cache ({error.strerror or error}): "
                "point data.cache_dir or $VAELAB_CACHE at a writable folder"
            ) from None
        remove_partial_writes(folder, f"{key}.*")
        yield
