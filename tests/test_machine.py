"""A worker process started with `die_with_parent` dies with its parent, even in the middle of a job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PARENT = textwrap.dedent("""
    # Start one spawned worker whose job says it has started, then sleeps; print its pid; wait to be killed.
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from vaelab.machine import die_with_parent

    def job(marker):
        with open(marker, "w") as out:
            out.write(str(os.getpid()))
        time.sleep(600)

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                                   initargs=(os.getpid(),))
        pool.submit(job, sys.argv[1])
        time.sleep(600)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_a_worker_dies_with_its_parent_in_the_middle_of_a_job(tmp_path):
    script, marker = tmp_path / "parent.py", tmp_path / "worker-pid"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script), str(marker)])
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() or not marker.read_text():
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        worker = int(marker.read_text())
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{worker}").exists() and _state(worker) != "Z":
        if time.monotonic() > deadline:
            os.kill(worker, signal.SIGKILL)
            pytest.fail("the worker outlived its parent")
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"
