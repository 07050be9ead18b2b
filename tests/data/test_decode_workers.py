"""`vaelab train` killed (SIGKILL, SIGTERM) while its worker processes decode a folder: the workers hold none
of its locks and die with it, and the next run on the same data and --out goes ahead at once (before, the
workers lived on, holding the cache's lock and RUN/.lock, and the next run hung or was refused)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vaelab.data.decode import PARALLEL_MIN_IMAGES
from vaelab.machine import available_cores

from factories import tiny_flags

pytestmark = pytest.mark.skipif(available_cores() < 2, reason="one core: folders are decoded without workers")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc/*/stat: the field after the parenthesised name is the
    state, then the parent's pid)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def open_files(pid: int) -> list[str]:
    """What the process's descriptors point at."""
    paths = []
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            paths.append(os.readlink(descriptor))
        except FileNotFoundError:
            continue
    return paths


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def folder(image_files):
    for i in range(PARALLEL_MIN_IMAGES + 16):
        image_files.save(f"{i:03d}.png", image_files.noise((64, 64), seed=i))
    return image_files.root


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_workers_hold_no_lock_die_with_their_parent_and_the_next_run_goes_ahead(folder, tmp_path, signum):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "vaelab", "train", "--data", str(folder), "--out", str(out),
               *tiny_flags()[2:], "--steps", "2", "--set", "training.progress=false", "--set", "training.figures=false"]
    env = {**os.environ, "VAELAB_CACHE": str(tmp_path / "cache")}
    log = tmp_path / "first.log"
    with log.open("w") as stderr:
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 300
        while not ("processes" in log.read_text() and (workers := [
                pid for pid in children(first.pid) if "resource_tracker" not in _cmdline(pid)])):
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGSTOP)  # frozen while its workers decode (or wait for it)
        locks = [path for path in (*tmp_path.joinpath("cache").glob("*.lock"), out / ".lock") if path.exists()]
        assert len(locks) == 2, "the cache entry's lock and the run's are held"
        for worker in workers:
            assert not set(map(str, locks)) & set(open_files(worker)), "a worker holds a lock descriptor"
        os.kill(first.pid, signum)
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=120) == -signum
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived its parent"
            time.sleep(0.05)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "waiting for" not in second.stderr and "step 2" in second.stdout


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""
