"""Writing files safely, the one home of both mechanisms vaelab uses: atomic replacement and advisory locks.

    atomic_write(path, write)     write(handle) fills a temporary file in the same folder, which is fsync'd and
                                  renamed over `path` (os.replace): a reader sees the old file or the new one,
                                  never half of one; a killed writer leaves only a hidden `.NAME.*.tmp`
    remove_partial_writes(folder) delete those leftovers (only while no one else can be writing there)
    no_space(error)               the "no space left on the device" error behind `error`, if that is what it is
    mount_point(path)             the mount point of the file system holding `path`
    file_lock(path, wait=S)       an exclusive `flock` on `path` for the duration of the block, waiting at most S
                                  seconds for another holder; `path` exists only while someone holds it
    lock_held(path)               whether a live process holds that lock now

The lock file holds its holder's note, "pid P on HOST". The kernel releases an flock when the last descriptor
of it is closed, so a holder that exits, however it exits, frees it; but a child process that inherited the
descriptor (forked, not exec'd) holds it on after its parent died. Such a lock, held while the note's process
is gone (same host, no such pid), is taken over: its file is unlinked and a new one locked in its place. The
steps that create, take over and remove a lock file run under an flock on its folder (held for a few system
calls), so that two processes' steps never interleave: without it, a taker could unlink the file that another
process has just locked.

On a platform without `fcntl` (Windows) the lock is a no-op: concurrent writers then both work, still atomically.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

TMP_SUFFIX = ".tmp"
POLL_SECONDS = 0.2  # how often a waiting `file_lock` tries again
GUARD_SECONDS = 5.0  # a folder guard held longer than this (its holder hangs) is passed by


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
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (None, str(temporary)):
            error.filename = str(path)  # name the file being written, not its temporary (a full disk names none)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def remove_partial_writes(folder: Path, name: str = "*") -> None:
    """Delete the temporary files that killed `atomic_write`s of `name` (a glob) left in `folder`."""
    for leftover in Path(folder).glob(f".{name}.*{TMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def no_space(error: BaseException) -> OSError | None:
    """The OSError "no space left on device" (or "disk quota exceeded") that `error` is or wraps (torch wraps a
    failed write of its own in a RuntimeError, the OSError as its context), else None."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            return error
        error = error.__cause__ or error.__context__
    return None


def mount_point(path: Path) -> Path:
    """Where the file system that holds `path` (or its nearest existing folder) is mounted, e.g. /home."""
    path = Path(os.path.abspath(path))
    while not path.exists() or not os.path.ismount(path):
        if path.parent == path:
            break
        path = path.parent
    return path


class LockHeld(Exception):
    """`file_lock` found the lock taken, and it stayed taken for the `waited` seconds it was allowed to wait;
    `holder` is the holder's note ("pid P on HOST")."""

    def __init__(self, path: Path, holder: str, waited: float):
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder or "another process"
        self.waited = waited


def holder_note() -> str:
    """What a lock file says about this process: "pid P on HOST"."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def file_lock(path: Path, *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (its folder and the file created as needed) for the block, and remove the
    file when the block ends.

    A lock held by another live process is waited for, polling, for at most `wait` seconds (0: not at all), then
    `LockHeld` is raised; `on_wait(holder)` is called once when the wait begins. A lock whose holder is gone is
    taken over (see the module's docstring). OS errors (a read-only folder, a file where the folder should be)
    propagate as they are.
    """
    path = Path(path)
    if fcntl is None:
        yield
        return
    deadline = time.monotonic() + wait
    waiting, vanished = False, 0
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _folder_guard(path.parent):
            descriptor, holder = _try_lock(path)
        if descriptor is not None:
            break
        if holder is None and vanished < 10:  # the file or its folder went away under us: try again at once
            vanished += 1
            continue
        if time.monotonic() >= deadline:
            raise LockHeld(path, holder, wait)
        if not waiting and on_wait is not None:
            on_wait(holder or "another process")
        waiting = True
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    try:
        yield
    finally:
        with _folder_guard(path.parent):
            if _names(path, descriptor):
                path.unlink()
            os.close(descriptor)


def _try_lock(path: Path) -> tuple[int | None, str | None]:
    """(descriptor holding the lock on `path`, ""), (None, the holder's note) while another process holds it, or
    (None, None) when the file went away meanwhile. Call under the folder guard."""
    for _ in range(2):  # a second try after taking over a lock whose holder is gone
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by exec'd children (PEP 446)
        except FileNotFoundError:  # the folder was removed meanwhile (an emptied run folder)
            return None, None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
            if _holder_gone(holder) and _names(path, descriptor):
                path.unlink()  # the process holding it inherited it from one that is gone: take it over
                os.close(descriptor)
                continue
            os.close(descriptor)
            return None, holder
        if not _names(path, descriptor):  # removed by its holder between our open and our lock (no guard there)
            os.close(descriptor)
            return None, None
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, holder_note().encode(), 0)
        except BaseException:  # a full disk: no lock file is left behind
            path.unlink()
            os.close(descriptor)
            raise
        return descriptor, ""
    return None, None


def _names(path: Path, descriptor: int) -> bool:
    """Whether `path` still names the file open as `descriptor`."""
    try:
        found, opened = os.stat(path), os.fstat(descriptor)
    except FileNotFoundError:
        return False
    return (found.st_dev, found.st_ino) == (opened.st_dev, opened.st_ino)


def _holder_gone(holder: str) -> bool:
    """Whether the note names a process of this host that no longer exists."""
    found = re.fullmatch(r"pid (\d+) on (\S+)", holder)
    if found is None or found[2] != socket.gethostname():
        return False  # another host's process (a shared filesystem), or no note: it cannot be checked from here
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    return False


@contextlib.contextmanager
def _folder_guard(folder: Path) -> Iterator[None]:
    """An flock on `folder` itself for the block (see the module's docstring). Where the folder cannot be
    locked (some network filesystems), or its guard is held for more than GUARD_SECONDS (a holder that hangs),
    the block runs unguarded: each lock still checks that the file it locked is the one its path names."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + GUARD_SECONDS
        while time.monotonic() < deadline:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        yield
    finally:
        os.close(descriptor)


def lock_held(path: Path) -> bool:
    """Whether some process holds `file_lock(path)` now (False where the file does not exist, or without fcntl).

    Read from the holder's note where it names a process of this host (alive: held; gone: free, as `file_lock`
    would take it over), so that asking never touches the lock a starting writer is taking; only a note that
    cannot be checked from here (another host's, or none) is asked of the kernel, with a shared lock taken and
    dropped at once."""
    if fcntl is None:
        return False
    try:
        with open(path) as handle:
            note = handle.read(200).strip()
            if re.fullmatch(r"pid (\d+) on (\S+)", note) and note.endswith(f" on {socket.gethostname()}"):
                return not _holder_gone(note)
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False
