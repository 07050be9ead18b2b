"""`vaelab explore` started as a user starts it, in its own process, and a headless Chromium (tests/browser.py)."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from browser import chromium

START_SECONDS = 180  # importing torch and encoding the validation images, on a busy 2-core machine


@dataclass
class Server:
    process: subprocess.Popen
    url: str  # as printed
    port: int

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self, signum: int) -> tuple[int, str]:
        """Send `signum`; the exit code and what it wrote on stderr."""
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


@contextmanager
def run_explore(run: Path, *flags: str):
    """`vaelab explore RUN --port 0 FLAGS` until the address it prints; killed at the end if still running."""
    process = subprocess.Popen([sys.executable, "-m", "vaelab", "explore", str(run), "--port", "0", "--device", "cpu",
                                *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # read the descriptor itself: a buffered readline may take both printed lines at once, and select would
        # then wait on a pipe that has nothing more to say
        stdout = process.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(stdout, selectors.EVENT_READ)
        deadline, printed = time.monotonic() + START_SECONDS, ""
        while "open http" not in printed:
            left = deadline - time.monotonic()
            chunk = os.read(stdout, 4096) if process.poll() is None and left > 0 and selector.select(left) else b""
            if not chunk:
                ended = process.stderr.read() if process.poll() is not None else ""
                raise AssertionError(f"vaelab explore did not start: {printed}{ended}")
            printed += chunk.decode()
        url = re.search(r"open (http://\S+)", printed)[1]
        yield Server(process, url, int(re.search(r":(\d+)/", url)[1]))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


@pytest.fixture
def explore():
    """`explore(RUN, *FLAGS)`: a context manager giving the running `Server`."""
    return run_explore
