"""One writer per run directory: a second process training into the same RUN/ is refused.

`fcntl.flock` on RUN/.lock is released by the kernel when the holder exits, however it exits, so a
killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from vaelab.errors import UsageError
from vaelab.files import LockHeld, file_lock

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold RUN/.lock for the duration of the block, or raise `UsageError` if another process holds it."""
    with contextlib.ExitStack() as stack:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(file_lock(run_dir / LOCK_NAME, wait=False, note=f"pid {os.getpid()}"))
        except LockHeld as held:
            raise UsageError(f"{run_dir} is being trained by {held.holder or 'another process'}: wait for it, or "
                             "choose another --out") from None
        except OSError as error:  # a file of that name, a read-only disk, no permission, ...
            raise UsageError(f"cannot use {run_dir} as the run directory ({error.strerror or error}): "
                             "choose another --out") from None
        yield
