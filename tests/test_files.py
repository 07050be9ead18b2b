"""Locks (vaelab.files.file_lock): a lock file exists only while held, a live holder is waited for at most as
long as asked and named, a lock that a dead holder's child kept is taken over, and no exec'd child inherits
a lock's descriptor. And the helpers that name a full disk."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vaelab.files import LockHeld, file_lock, mount_point, no_space

HOLD = textwrap.dedent("""
    # Hold the lock on argv[1] until killed; say "held" once it is held.
    import sys, time
    from vaelab.files import file_lock
    with file_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
""")

ORPHAN = textwrap.dedent("""
    # Take the lock, fork a child that inherits its descriptor and sleeps, and die without releasing it: the
    # child (pid in argv[2]) holds the lock on, under a note that names its dead parent.
    import os, sys, time
    from vaelab.files import file_lock
    with file_lock(sys.argv[1]):
        child = os.fork()
        if child == 0:
            time.sleep(600)
            os._exit(0)
        with open(sys.argv[2], "w") as out:
            out.write(str(child))
        os._exit(0)
""")


LIST_DESCRIPTORS = ("import os; print([os.readlink(f'/proc/self/fd/{d}') for d in os.listdir('/proc/self/fd') "
                    "if os.path.islink(f'/proc/self/fd/{d}')])")


def note(pid: int) -> str:
    return f"pid {pid} on {socket.gethostname()}"


def is_locked(path: Path) -> bool:
    """Whether some process holds an flock on the file at `path` (tried without waiting)."""
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def holder(path: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    return process


def test_the_lock_file_names_its_holder_and_exists_only_while_held(tmp_path):
    path = tmp_path / "new" / "x.lock"
    with file_lock(path):
        assert path.read_text() == note(os.getpid()) and is_locked(path)
    assert not path.exists() and path.parent.is_dir()


def test_a_live_holder_is_waited_for_as_long_as_asked_then_named(tmp_path):
    path = tmp_path / "x.lock"
    process = holder(path)
    try:
        told = []
        started = time.monotonic()
        with pytest.raises(LockHeld) as held, file_lock(path, wait=0.6, on_wait=told.append):
            pytest.fail("the lock was taken from a live holder")
        assert time.monotonic() - started >= 0.6
        assert told == [note(process.pid)] and held.value.holder == note(process.pid) and held.value.waited == 0.6
        with pytest.raises(LockHeld), file_lock(path):  # wait=0: refused at once
            pass
    finally:
        process.kill()
        process.wait()
    with file_lock(path, wait=5):  # the kernel released the killed holder's lock
        assert path.read_text() == note(os.getpid())


def test_a_waiter_gets_the_lock_when_the_holder_lets_go(tmp_path):
    path = tmp_path / "x.lock"
    process = holder(path)
    told = []
    killer = subprocess.Popen([sys.executable, "-c", f"import os, time; time.sleep(1); os.kill({process.pid}, 9)"])
    try:
        with file_lock(path, wait=120, on_wait=told.append):
            assert path.read_text() == note(os.getpid())
    finally:
        killer.wait()
        process.wait()
    assert told == [note(process.pid)]


def test_a_lock_that_a_dead_holders_child_kept_is_taken_over(tmp_path):
    path, child_pid = tmp_path / "x.lock", tmp_path / "child"
    subprocess.run([sys.executable, "-c", ORPHAN, str(path), str(child_pid)], timeout=120, check=True)
    child = int(child_pid.read_text())
    try:
        assert is_locked(path), "the orphan holds the lock it inherited"
        noted = int(path.read_text().split()[1])  # the note names the parent, which is gone
        assert noted != child and path.read_text() == note(noted)
        with pytest.raises(ProcessLookupError):
            os.kill(noted, 0)
        with file_lock(path):  # wait=0: taken over at once, not refused
            assert path.read_text() == note(os.getpid()) and is_locked(path)
    finally:
        os.kill(child, signal.SIGKILL)
    assert not path.exists()


def test_an_execd_child_does_not_inherit_the_locks_descriptor(tmp_path):
    path = tmp_path / "x.lock"
    with file_lock(path):
        opened = subprocess.run(  # close_fds=False: only the descriptors' own close-on-exec flags count
            [sys.executable, "-c", LIST_DESCRIPTORS],
            capture_output=True, text=True, close_fds=False, check=True).stdout
        assert str(path) not in opened and str(tmp_path) not in opened


def test_a_full_disk_is_found_behind_torchs_own_error():
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise full
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
    except RuntimeError as wrapped:
        assert no_space(wrapped) is full
    assert no_space(OSError(errno.EDQUOT, "Disk quota exceeded")).errno == errno.EDQUOT
    assert no_space(OSError(errno.EACCES, "Permission denied")) is None and no_space(ValueError()) is None


def test_the_mount_point_is_the_nearest_mounted_folder(tmp_path):
    point = mount_point(tmp_path / "not" / "yet" / "there")
    assert os.path.ismount(point) and (tmp_path == point or point in tmp_path.parents)
