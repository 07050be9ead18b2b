"""SIGINT and SIGTERM stop training between two steps and save `last.pt`; a second signal stops at once
and saves nothing; the handlers are put back afterwards; the CLI exits with 128 + the signal's number.

The signals are real: a callback sends them to this process (the test runs in the main thread), and
Python runs the handler before the callback returns. tests/training/test_kill_resume.py sends them
from outside, at random moments, and checks that the run then resumes exactly.
"""

import os
import signal
import threading

import pytest

from vaelab.cli import main
from vaelab.config import Config
from vaelab.run_dir import load_checkpoint
from vaelab.training.callbacks import Callback
from vaelab.training.run import train
from vaelab.training.stop import Interrupted, StopSignals

from factories import tiny_config


def tiny(steps: int = 20) -> Config:
    """16 steps an epoch: 540 training images, batches of 32."""
    return tiny_config(steps, training__threads=1)


class SignalAt(Callback):
    """Sends `signals` to this process at the end of step `step`; records what the trainer calls on it."""

    def __init__(self, step: int, *signals: int):
        self.step = step
        self.signals = signals
        self.interrupted_at: list[int] = []
        self.handlers: dict[int, object] = {}

    def on_train_batch_end(self, trainer, terms):
        if trainer.step == self.step:
            self.handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
            for number in self.signals:
                os.kill(os.getpid(), number)

    def on_interrupt(self, trainer):
        self.interrupted_at.append(trainer.step)


@pytest.fixture
def handlers():
    """SIGINT and SIGTERM as an interactive process has them (a background job, as CI may run the suite,
    starts with SIGINT ignored); afterwards, put back as the test found them whatever happens."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    interactive = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    for number, handler in interactive.items():
        signal.signal(number, handler)
    yield interactive
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_after_the_step_under_way_and_saves_it(tmp_path, caplog, handlers, number):
    callback = SignalAt(3, number)
    with pytest.raises(Interrupted) as stopped:
        train(tiny(), tmp_path / "run", callbacks=[callback])
    assert stopped.value.signum == number and stopped.value.between_steps
    assert callback.interrupted_at == [3]  # the signal came during step 3's callbacks; step 4 never began
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 3
    assert f"interrupted at step 3: checkpoint saved; continue with: vaelab train --out {tmp_path / 'run'} --resume" \
        in caplog.text
    assert {number: signal.getsignal(number) for number in handlers} == handlers  # put back after fit


def test_a_second_signal_stops_at_once_and_saves_nothing(tmp_path, caplog, handlers):
    callback = SignalAt(3, signal.SIGINT, signal.SIGTERM)
    with pytest.raises(Interrupted) as stopped:
        train(tiny(), tmp_path / "run", callbacks=[callback])
    assert stopped.value.signum == signal.SIGTERM and not stopped.value.between_steps
    assert callback.interrupted_at == []
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()  # the first epoch's end (16) was not reached
    assert "stopped at once after step 3, which is not saved: continue from the last checkpoint" in caplog.text
    assert {number: signal.getsignal(number) for number in handlers} == handlers


def test_an_ignored_signal_stays_ignored_while_training(tmp_path, handlers):
    """A sweep's workers ignore Ctrl-C (their parent forwards it as SIGTERM): training must not undo that."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    callback = SignalAt(2)
    train(tiny(steps=4), tmp_path / "run", callbacks=[callback])
    assert callback.handlers[signal.SIGINT] is signal.SIG_IGN
    assert callback.handlers[signal.SIGTERM] != handlers[signal.SIGTERM]  # the stop handler
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) == handlers[signal.SIGTERM]


def test_outside_the_main_thread_no_handler_is_installed(handlers):
    seen = {}

    def enter():
        with StopSignals() as stop:
            seen.update(previous=dict(stop.previous), handlers=signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert seen == {"previous": {}, "handlers": handlers[signal.SIGTERM]}


@pytest.mark.parametrize(("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_the_cli_exits_with_128_plus_the_signal(monkeypatch, tmp_path, number, code):
    def stopped(*args, **kwargs):
        raise Interrupted(number, between_steps=True)

    monkeypatch.setattr("vaelab.training.run.train", stopped)
    assert main(["train", "--data", "digits", "--out", str(tmp_path / "run")]) == code
