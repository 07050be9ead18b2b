"""`python -m vaelab train` killed at random moments, including in the middle of writing a checkpoint,
and resumed until it is done, ends with exactly the numbers of a run that was never interrupted; no
checkpoint is ever left half-written. SIGINT and SIGTERM stop training between two steps, save a
checkpoint, say how to continue, and exit with 128 + the signal's number (130, 143).

The moments are found without touching the trainer: the test freezes the process (SIGSTOP), looks at
the run directory, and either lets it go on (SIGCONT) or signals it while it is frozen, so the signal
lands exactly in the state that was seen (near a checkpoint write, it looks every millisecond). The
two scenarios and the uninterrupted run they are compared with run side by side: each mostly waits.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from vaelab.run_dir import load_checkpoint, read_metrics

from factories import tiny_flags

STEPS = 60  # 540 training images / 32 = 16 steps an epoch: checkpoints at steps 16, 32, 48 and 60
TINY = [*tiny_flags(), "--batch-size", "32", "--steps", str(STEPS), "--set", "training.progress=false",
        "--set", "training.figures=false", "--set", "training.threads=1", "--set", "training.log_every=1"]
TRAINING = "train / 60 val images"  # logged once the data is loaded and the checkpoint read, just before fit


def _interactive_signals() -> None:
    """In the child, SIGINT and SIGTERM as a process started from a terminal has them: a background job
    (as CI may run the suite) starts with SIGINT ignored, and an ignored signal stays ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Training:
    """One `python -m vaelab train` process, its stderr in a file."""

    logs = itertools.count()

    def __init__(self, out: Path, *args: str):
        self.out = out
        self.log = out.parent / f"{out.name}.{next(self.logs)}.log"
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen([sys.executable, "-m", "vaelab", "train", "--out", str(out), *args],
                                            stdout=subprocess.DEVNULL, stderr=stderr,
                                            preexec_fn=_interactive_signals)  # noqa: PLW1509 - it only resets two signal handlers

    @classmethod
    def start(cls, out: Path) -> Training:
        return cls(out, *TINY)

    @classmethod
    def resume(cls, out: Path) -> Training:
        return cls(out, "--resume")

    @property
    def stderr(self) -> str:
        return self.log.read_text()

    def last_step(self) -> int:
        """The last training step this process logged (0 before it started training)."""
        if TRAINING not in self.stderr:
            return 0
        return max((r["step"] for r in read_metrics(self.out / "metrics.jsonl") if r["split"] == "train"), default=0)

    def freeze_when(self, condition: Callable[[], bool], moment: str, *,
                    near: Callable[[], bool] | None = None) -> None:
        """Return with the process stopped (SIGSTOP) at a moment `condition()` holds.

        It is watched running until `near()` holds (default: `condition`); from then on it is frozen
        every millisecond to look at it, so that even a state that lasts a few milliseconds is caught.
        """
        while not (near or condition)():
            assert self.process.poll() is None, f"it finished before {moment}:\n{self.stderr}"
            time.sleep(0.005)
        while True:
            os.kill(self.process.pid, signal.SIGSTOP)
            while _state(self.process.pid) not in ("T", "Z"):
                time.sleep(0.0002)
            assert self.process.poll() is None, f"it finished before {moment}:\n{self.stderr}"
            if condition():
                return
            os.kill(self.process.pid, signal.SIGCONT)
            time.sleep(0.001)

    def signal(self, number: int) -> int:
        """Send `number` to the frozen process, let it go on, and return its exit code."""
        os.kill(self.process.pid, number)
        os.kill(self.process.pid, signal.SIGCONT)
        return self.process.wait(timeout=120)

    def finish(self) -> int:
        return self.process.wait(timeout=300)


def _state(pid: int) -> str:
    """R, S, T (stopped), Z (exited), ... from /proc/PID/stat (the field after the parenthesised name)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def checkpoints_load(out: Path) -> dict[str, int]:
    """{name: step} of every checkpoint in the run; each must load (never half-written)."""
    return {path.name: load_checkpoint(path)["step"] for path in sorted((out / "checkpoints").glob("*.pt"))}


def outcome(out: Path) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Every metrics record and the final model's tensors."""
    return read_metrics(out / "metrics.jsonl"), load_checkpoint(out / "checkpoints" / "last.pt")["model"]


def assert_same_run(out: Path, uninterrupted: Training) -> None:
    assert uninterrupted.finish() == 0, uninterrupted.stderr
    records, model = outcome(out)
    expected_records, expected_model = outcome(uninterrupted.out)
    assert [r for r in records if r["split"] == "val"][-1]["step"] == STEPS
    assert records == expected_records  # every step once, with the same numbers, validation included
    assert model.keys() == expected_model.keys()
    for name, tensor in expected_model.items():
        assert torch.equal(model[name], tensor), name
    assert not list((out / "checkpoints").glob(".*.tmp")), "leftovers of killed writes are cleared on resume"


def saved_before(step: int) -> int:
    """The step of the last checkpoint saved before `step` was done: the end of the epoch before it."""
    return 16 * ((step - 1) // 16)


def kill_and_resume(out: Path) -> None:
    """SIGKILL at two random steps and in the middle of a checkpoint write, then resume to the end."""
    rng = random.Random(7)
    writing = lambda: any((out / "checkpoints").glob(".*.pt.*.tmp"))

    # 1. mid-epoch, after the first checkpoint (step 16)
    kill_at, run = rng.randint(18, 30), Training.start(out)
    run.freeze_when(lambda: run.last_step() >= kill_at, f"step {kill_at}")
    killed_at = run.last_step()
    assert run.signal(signal.SIGKILL) == -signal.SIGKILL
    assert checkpoints_load(out)["last.pt"] == saved_before(killed_at) == 16

    # 2. while a checkpoint is written: the one before stays whole, the new one never appears
    run = Training.resume(out)
    run.freeze_when(writing, "a checkpoint write", near=lambda: run.last_step() >= 31)  # the epoch ends at 32
    assert run.signal(signal.SIGKILL) == -signal.SIGKILL
    assert writing(), "the kill landed between the temporary file's creation and its rename"
    assert checkpoints_load(out)["last.pt"] == 16

    # 3. mid-epoch again, once the resumed run got past the checkpoint it was writing
    kill_at, run = rng.randint(34, 56), Training.resume(out)
    run.freeze_when(lambda: run.last_step() >= kill_at, f"step {kill_at}")
    assert f"resuming {out} at step 16 of {STEPS}" in run.stderr
    killed_at = run.last_step()
    assert run.signal(signal.SIGKILL) == -signal.SIGKILL
    assert checkpoints_load(out)["last.pt"] == saved_before(killed_at)

    # 4. resumed to the end
    run = Training.resume(out)
    assert run.finish() == 0, run.stderr
    assert checkpoints_load(out) == {"best.pt": STEPS, "last.pt": STEPS}


def interrupt_and_resume(out: Path) -> None:
    """SIGINT (Ctrl-C) at a random step, resume, SIGTERM at another, resume to the end."""
    rng = random.Random(11)
    run, resumed_from = Training.start(out), 0
    for number, stop_at in ((signal.SIGINT, rng.randint(3, 12)), (signal.SIGTERM, rng.randint(35, 44))):
        run.freeze_when(lambda: run.last_step() >= stop_at, f"step {stop_at}")  # noqa: B023 - called here only
        assert resumed_from == 0 or f"resuming {out} at step {resumed_from} of {STEPS}" in run.stderr
        seen = run.last_step()
        assert run.signal(number) == 128 + number, run.stderr
        resumed_from = checkpoints_load(out)["last.pt"]
        assert resumed_from in (seen, seen + 1), "the step under way when the signal came is not saved"
        assert (f"interrupted at step {resumed_from}: checkpoint saved; continue with: vaelab train --out {out} "
                "--resume") in run.stderr
        run = Training.resume(out)
    assert run.finish() == 0, run.stderr
    assert f"resuming {out} at step {resumed_from} of {STEPS}" in run.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[tuple[Path, Training, dict[str, Future]]]:
    """The uninterrupted run and both scenarios, started together."""
    root = tmp_path_factory.mktemp("runs")
    uninterrupted = Training.start(root / "uninterrupted")
    with ThreadPoolExecutor(2) as pool:
        scenarios = {name: pool.submit(scenario, root / name)
                     for name, scenario in (("killed", kill_and_resume), ("interrupted", interrupt_and_resume))}
        yield root, uninterrupted, scenarios
    uninterrupted.process.kill()
    uninterrupted.process.wait()


def test_sigkill_at_random_moments_and_during_a_checkpoint_write_then_resume(runs):
    root, uninterrupted, scenarios = runs
    scenarios["killed"].result()
    assert_same_run(root / "killed", uninterrupted)


def test_sigint_and_sigterm_save_a_checkpoint_say_how_to_continue_and_resume_exactly(runs):
    root, uninterrupted, scenarios = runs
    scenarios["interrupted"].result()
    assert_same_run(root / "interrupted", uninterrupted)
