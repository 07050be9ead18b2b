"""The tiny runs the tests train, in one place: a few seconds each on a 2-core CPU.

    tiny_config(steps, model__kind="ae", training__log_every=5)     a validated Config (digits at 16x16)
    tiny_flags(limit=300)                                            the same run as `vaelab train` flags
    InProcess()                                                      a sweep executor running jobs here, in turn
    train_interrupted(config, out, monkeypatch, at_call=7)           a run stopped by Ctrl-C (last.pt saved)

Keyword names are config keys with "__" for the dot (any key `--set` takes).
"""

from __future__ import annotations

from typing import Any

from vaelab.config import Config

TINY = {
    "data.spec": "digits", "data.image_size": 16, "data.limit": 600,
    "model.latent_dim": 4, "model.width": 8,
    "training.batch_size": 32, "training.progress": False, "training.figures": False, "training.grad_every": 0,
}


def tiny_config(steps: int | None = 20, **updates: Any) -> Config:
    """TINY for `steps` optimiser steps, with `updates` (keyword names: dotted keys with "__" for ".")."""
    dotted = {key.replace("__", "."): value for key, value in updates.items()}
    return Config().with_updates({**TINY, "training.steps": steps, **dotted})


def tiny_flags(*, limit: int = 600, width: int = 8, latent_dim: int = 4, image_size: int = 16) -> list[str]:
    """TINY's data and model as `vaelab train` / `vaelab sweep` flags."""
    return ["--data", "digits", "--image-size", str(image_size), "--limit", str(limit), "--latent-dim", str(latent_dim),
            "--width", str(width)]


def train_interrupted(config: Config, out, monkeypatch, *, at_call: int) -> None:
    """Train `config` into `out` with a KeyboardInterrupt raised by the `at_call`-th training step (counted from 1,
    before it runs): the run saves last.pt at step at_call - 1 on its way out, as on Ctrl-C."""
    import pytest

    from vaelab.training.run import train
    from vaelab.training.trainer import Trainer

    original = Trainer.training_step
    calls = {"n": 0}

    def interrupted(self, x):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(Trainer, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, out)
    monkeypatch.setattr(Trainer, "training_step", original)


class InProcess:
    """A sweep executor that runs the jobs in this process, one after the other (no workers to start)."""

    workers = 1

    def run(self, jobs, on_outcome):
        outcomes = []
        for job in jobs:
            outcomes.append(job())
            on_outcome(outcomes[-1])
        return outcomes
