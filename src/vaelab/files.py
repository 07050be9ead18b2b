"""Writing files safely, the one home of both mechanisms vaelab uses: atomic replacement and advisory locks.

    atomic_write(path, write)     write(handle) fills a temporary file in the same folder, which is fsync'd and
                                  renamed over `path` (os.replace): a reader sees the old file or the new one,
                                  never half of one; a killed writer leaves only a hidden `.NAME.*.tmp`
    remove_partial_writes(folder) delete those leftovers (only while no one else can be writing there)
    file_lock(path, wait=...)     an exclusive `flock` on `path` for the duration of the block; the kernel
                                  releases it when the holder exits, however it exits
    lock_held(path)               whether a live process holds that lock now

On a platform without `fcntl` (Windows) the lock is a no-op: concurrent writers then both work, still atomically.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file in `path`'s folder (created if needed), fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        with open(temporary, "xb") as handle:  # mode 0o666 minus the umask, like any new file
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def remove_partial_writes(folder: Path, name: str = "*") -> None:
    """Delete the temporary files that killed `atomic_write`s of `name` (a glob) left in `folder`."""
    for leftover in Path(folder).glob(f".{name}.*{TMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)


class LockHeld(Exception):
    """`file_lock(path, wait=False)` found the lock taken; `holder` is what the holder wrote into the file."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder


@contextmanager
def file_lock(path: Path, *, wait: bool, note: str | None = None) -> Iterator[TextIO]:
    """Hold an exclusive lock on `path` (created if needed) for the block; `note` (e.g. "pid 123") is written
    into the file for whoever finds it taken. `wait=False` raises `LockHeld` instead of waiting."""
    handle = open(path, "a+")  # noqa: SIM115 - held open, and locked, while the block runs
    with handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                handle.seek(0)
                raise LockHeld(Path(path), handle.read().strip()) from None
        if note is not None:
            handle.seek(0)
            handle.truncate()
            handle.write(note)
            handle.flush()
        yield handle


def lock_held(path: Path) -> bool:
    """Whether some process holds `file_lock(path)` now (False where the file does not exist, or without fcntl).

    It asks the kernel with a shared lock taken and dropped at once, without waiting and without creating or
    writing the file; a writer starting in that microsecond would find the lock taken and say so."""
    if fcntl is None:
        return False
    try:
        handle = open(path)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
