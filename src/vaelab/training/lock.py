"""One writer per run directory: a second process training into the same RUN/ is refused.

RUN/.lock exists while a process holds it (`vaelab.files.file_lock`): the kernel releases the lock when its
holder exits, however it exits, and a lock left to a child that outlived a killed holder is taken over. A
folder that the block created is removed again if it is empty at the end, so that a failed start leaves
neither a lock file nor an empty folder behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from vaelab.errors import UsageError
from vaelab.files import LockHeld, file_lock, no_space

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold RUN/.lock for the duration of the block, or raise `UsageError` if another process holds it."""
    run_dir = Path(run_dir)
    created = [folder for folder in (run_dir, *run_dir.parents) if not folder.exists()]  # deepest first
    try:
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(file_lock(run_dir / LOCK_NAME))
            except LockHeld as held:
                raise UsageError(f"{run_dir} is being trained by {held.holder}: wait for it, or "
                                 "choose another --out") from None
            except OSError as error:  # a file of that name, a read-only disk, no permission (a full disk: as it is)
                if no_space(error):
                    raise
                raise UsageError(f"cannot use {run_dir} as the run directory ({error.strerror or error}): "
                                 "choose another --out") from None
            yield
    finally:
        for folder in created:
            with contextlib.suppress(OSError):  # not empty (the run's files), or gone already
                folder.rmdir()
