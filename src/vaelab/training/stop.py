"""Stopping on SIGINT (Ctrl-C) or SIGTERM between two training steps, so that the checkpoint saved then
resumes exactly.

A handler that raised KeyboardInterrupt at once could land anywhere inside a step: after the noise
draw, or after the optimiser update but before the step is counted, and a checkpoint saved then would
not continue the run as if it had never stopped. `StopSignals` only notes the request; the trainer
looks at it between steps, saves `last.pt` and raises `Interrupted`. A second signal while the step
finishes stops at once: `Interrupted` is raised from the handler, and the trainer saves nothing (the
last checkpoint stays as it was).

A signal the process ignores stays ignored (a sweep's workers ignore Ctrl-C, which their parent
forwards to them as SIGTERM). Handlers can only be installed from the main thread; elsewhere none are,
and signals keep their usual effect.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Self

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Training stopped on signal `signum`. `between_steps`: it stopped at a step boundary, where the trainer
    saves `last.pt`; False for a second signal's stop at once, which saves nothing."""

    def __init__(self, signum: int, *, between_steps: bool):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.between_steps = between_steps


class StopSignals:
    """Context manager: inside it, the first SIGINT or SIGTERM sets `requested` (the signal's number) and
    the next one raises `Interrupted` at once; on exit the previous handlers come back."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self.previous.items():
            # getsignal gives None for a handler installed from outside Python: the default is the nearest
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self.previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            raise Interrupted(signum, between_steps=False)
        self.requested = signum
