"""The on-disk cache: every source is decoded once into a uint8 .npy and memory-mapped afterwards.

In the cache folder (data.cache_dir, else $VAELAB_CACHE, else ~/.cache/vaelab):
    KEY.npy    (N, C, H, W) uint8, opened with np.load(mmap_mode="r"): memory does not grow with N
    KEY.json   names, labels, classes, skipped files, source description, channels, the CRC-32 of KEY.npy
    KEY.lock   exists while KEY is built, so runs started together decode once (the others wait for it)
KEY is the source kind and a SHA-256 of FORMAT_VERSION and the source's identity: its input files
(paths, sizes, mtimes in ns) or library version, and the preprocessing settings. Any changed,
added, removed or touched file gives a new key. Both files are written to a temporary file in
the cache folder and renamed into place (os.replace), the sidecar last: a killed build leaves no
entry, only a temporary file that the next build of that key removes.

An entry is checked each time a run opens it: KEY.npy must have the CRC-32 its sidecar recorded (damage
to the pixels, e.g. a disk error or a stray write, is otherwise invisible), and no file that could not be
opened when it was built (permission denied, gone: a problem that may pass, `ImageData.recheck`) may have
become readable. An entry that fails either check is decoded again.
Batches are read from an entry with `read_rows` (pread, not the mapping), so that the pages read
stay in the kernel's page cache and a training process's memory does not grow with N. They are read
through a descriptor opened with the entry, so that a run goes on when the cache folder is deleted under it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import weakref
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vaelab.data.decode import can_open
from vaelab.data.image_data import ImageData
from vaelab.errors import UsageError
from vaelab.files import LockHeld, atomic_write, file_lock, remove_partial_writes

log = logging.getLogger(__name__)
_PREADV = hasattr(os, "preadv")  # not on Windows: there, batches are read through the mapping
FORMAT_VERSION = 2  # bump when decoding or the entry's files change, so old caches are not reused (2: the CRC-32)
BUILD_WAIT_SECONDS = 30 * 60  # how long a run waits for another process that is building the same entry
CHUNK_BYTES = 1 << 22  # read size of the checksum
# The descriptor each mapped entry was opened with (closed with its mapping): read_rows reads through it.
_descriptors: weakref.WeakKeyDictionary[mmap.mmap, int] = weakref.WeakKeyDictionary()
_told: set[str] = set()  # why an entry is decoded again, said once (load_images looks twice, around the lock)


def cache_folder(configured: str | None) -> Path:
    """data.cache_dir, else $VAELAB_CACHE, else ~/.cache/vaelab."""
    chosen = configured or os.environ.get("VAELAB_CACHE") or "~/.cache/vaelab"
    return Path(chosen).expanduser()


def cache_key(kind: str, identity: dict[str, Any]) -> str:
    """e.g. "folder-3f2a...": the kind, and a hash of everything the decoded array depends on."""
    described = json.dumps({"format": FORMAT_VERSION, "kind": kind, **identity}, sort_keys=True)
    return f"{kind}-{hashlib.sha256(described.encode()).hexdigest()[:32]}"


def load(folder: Path, key: str, *, check: bool = True) -> ImageData | None:
    """The cached entry memory-mapped, or None when it is missing, damaged or out of date (then it is rebuilt).
    `check`: verify its checksum and look at its unopened files again (see the module's docstring)."""
    array, descriptor = folder / f"{key}.npy", None
    try:
        meta = json.loads((folder / f"{key}.json").read_text())
        descriptor = os.open(array, os.O_RDONLY)
        data = _entry(array, meta) if not check or _still_valid(descriptor, meta, folder / key) else None
    except (OSError, ValueError, KeyError, TypeError):
        data = None
    if data is None or not isinstance(data.images.base, mmap.mmap):
        if descriptor is not None:
            os.close(descriptor)
        return data
    _descriptors[data.images.base] = descriptor  # read_rows reads through it; closed with the mapping
    weakref.finalize(data.images.base, os.close, descriptor)
    return data


def _entry(array: Path, meta: dict[str, Any]) -> ImageData | None:
    """The entry's images mapped and its sidecar's contents; None if they do not fit together."""
    images = np.load(array, mmap_mode="r")  # (N, C, H, W) uint8
    if not (images.dtype == np.uint8 and images.ndim == 4 and images.shape[:2] == (len(meta["names"]),
                                                                                     meta["channels"])):
        return None
    labels = None if meta["labels"] is None else np.asarray(meta["labels"], dtype=np.int64)
    return ImageData(
        images=images, labels=labels, names=meta["names"], skipped=[tuple(item) for item in meta["skipped"]],
        classes=meta["classes"], source=meta["source"], recheck=meta["recheck"],
    )


def store(folder: Path, key: str, data: ImageData) -> ImageData:
    """Write `data` under `key` atomically and return it memory-mapped from the cache."""
    meta = {
        "names": data.names,
        "labels": None if data.labels is None else data.labels.tolist(),
        "classes": data.classes,
        "skipped": data.skipped,
        "recheck": data.recheck,
        "source": data.source,
        "channels": data.channels,
    }
    array = folder / f"{key}.npy"
    try:
        atomic_write(array, lambda file: np.save(file, data.images, allow_pickle=False))
        with open(array, "rb") as written:
            meta["crc32"] = checksum(written.fileno())
        atomic_write(folder / f"{key}.json", lambda file: file.write(json.dumps(meta).encode()))
    except OSError as error:
        raise UsageError(
            f"cannot write the data cache in {folder} ({error.strerror or error}): free some space, "
            "or point data.cache_dir or $VAELAB_CACHE at a writable folder"
        ) from None
    stored = load(folder, key, check=False)
    if stored is None:
        raise RuntimeError(f"the cache entry {folder / key} just written cannot be read back")
    return stored


def checksum(descriptor: int) -> int:
    """The CRC-32 of the whole file open as `descriptor`, read in chunks (through the page cache, as pread)."""
    crc, offset = 0, 0
    while chunk := os.pread(descriptor, CHUNK_BYTES, offset):
        crc = zlib.crc32(chunk, crc)
        offset += len(chunk)
    return crc


def _still_valid(descriptor: int, meta: dict[str, Any], entry: Path) -> bool:
    """Whether the entry's array has its recorded CRC-32 and each of its unopened files still cannot be opened."""
    if checksum(descriptor) != meta.get("crc32"):
        _tell(logging.WARNING, f"the data cache entry {entry} is damaged (its checksum differs): decoding the images "
                               "again")
        return False
    reopened = next((path for path in meta["recheck"] if can_open(path)), None)
    if reopened is not None:
        _tell(logging.INFO, f"{reopened} could not be opened when the cache was built and can be now: decoding the "
                            "images again")
        return False
    return True


def _tell(level: int, message: str) -> None:
    if message not in _told:
        _told.add(message)
        log.log(level, message)


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
            and images.base in _descriptors
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
    descriptor = _descriptors[images.base]
    for start, end in zip(starts.tolist(), ends.tolist()):
        wanted = buffer[start * row_bytes : end * row_bytes]
        if os.preadv(descriptor, [wanted], images.offset + int(index[start]) * row_bytes) != len(wanted):
            raise OSError(f"{images.filename} is shorter than its header says: the cache entry is damaged")
    return rows


@contextmanager
def building(folder: Path, key: str) -> Iterator[None]:
    """Hold KEY.lock while KEY is built, and clear what a killed build of KEY left behind. Another process
    building KEY is waited for, at most BUILD_WAIT_SECONDS, saying so."""
    lock = folder / f"{key}.lock"
    minutes = f"{BUILD_WAIT_SECONDS / 60:g} minutes"

    def waiting(holder: str) -> None:
        log.warning("waiting for %s, which is decoding the same images into the cache (%s holds the lock), "
                    "at most %s", holder, lock, minutes)

    with ExitStack() as stack:
        try:
            stack.enter_context(file_lock(lock, wait=BUILD_WAIT_SECONDS, on_wait=waiting))
        except LockHeld as held:
            raise UsageError(
                f"gave up after {minutes} waiting for {held.holder} to finish decoding the same images into the "
                f"cache ({lock}): if it is stuck, stop it; or give this run a cache of its own with "
                "--set data.cache_dir=DIR"
            ) from None
        except OSError as error:
            raise UsageError(
                f"cannot use {folder} as the data cache ({error.strerror or error}): "
                "point data.cache_dir or $VAELAB_CACHE at a writable folder"
            ) from None
        remove_partial_writes(folder, f"{key}.*")
        yield
