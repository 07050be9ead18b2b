"""Two processes training into the same run directory: the second is refused."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.training.test_kill_resume import TINY, Training
from tests.training.test_resume import small_config
from vaelab.errors import UsageError
from vaelab.training.lock import run_lock
from vaelab.training.run import train


def test_a_second_writer_is_refused_and_the_lock_is_released(tmp_path):
    with run_lock(tmp_path / "run"), pytest.raises(UsageError, match="is being trained by pid"):
        train(small_config(2), tmp_path / "run")
    assert train(small_config(2), tmp_path / "run").steps == 2  # released: the run goes ahead


def test_a_failed_start_leaves_the_directory_reusable(tmp_path):
    with pytest.raises(UsageError):
        train(small_config(2).with_updates({"data.spec": str(tmp_path / "missing")}), tmp_path / "run")
    assert train(small_config(2), tmp_path / "run").steps == 2


def test_a_second_process_is_refused_while_the_first_holds_the_run_and_a_killed_holder_frees_it(tmp_path):
    out = tmp_path / "run"
    first = Training.start(out)
    note = f"pid {first.process.pid} on {socket.gethostname()}"
    holding = lambda: (out / ".lock").is_file() and (out / ".lock").read_text() == note
    first.freeze_when(holding, "taking the lock")  # stopped, it keeps the lock for as long as the test needs
    try:
        second = subprocess.run([sys.executable, "-m", "vaelab", "train", "--out", str(out), *TINY],
                                capture_output=True, text=True, timeout=300, check=False)
        assert second.returncode == 2
        assert second.stderr.splitlines() == [
            f"vaelab: error: {out} is being trained by {note}: wait for it, or choose another --out"]
    finally:
        assert first.signal(signal.SIGKILL) == -signal.SIGKILL
    with run_lock(out):  # the kernel released the dead holder's lock: no stale lock file blocks the run
        assert (out / ".lock").read_text() == f"pid {os.getpid()} on {socket.gethostname()}"
    assert not (out / ".lock").exists()
