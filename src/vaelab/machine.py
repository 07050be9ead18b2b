"""Facts about the machine this process runs on, and the tie of a worker process to the process that started it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def die_with_parent(parent: int, signum: int = signal.SIGKILL) -> None:
    """Called first thing in a worker process that `parent` (a pid) started: on Linux the worker gets `signum`
    when its parent dies (prctl PR_SET_PDEATHSIG), so that no worker outlives a killed parent; a worker whose
    parent died before this took effect exits at once. (Elsewhere a spawned worker exits when it next reads its
    closed job queue.)"""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:
        os._exit(0)
