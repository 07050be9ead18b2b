"""One writer per run directory: a second process training into the same RUN/ is refused.

`fcntl.flock` on RUN/.lock is released by the kernel when the holder exits, however it exits, so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from vaelab.errors import UsageError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold RUN/.lock for the duration of the block, or raise `UsageError` if another process holds it."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held open, and locked, while the block runs
    except OSError as error:  # a file of that name, a read-only disk, no permission, ...
        raise UsageError(f"cannot use {run_dir} as the run directory ({error.strerror or error}): "
                         "choose another --out") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UsageError(f"{run_dir} is being trained by {holder}: wait for it, or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
