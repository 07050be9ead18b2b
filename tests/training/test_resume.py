"""A resumed run ends with exactly the numbers of an uninterrupted run with the same seed."""

import json

import pytest
import torch

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.run_dir import load_checkpoint, read_metrics
from vaelab.training.run import train
from vaelab.training.trainer import Trainer

from factories import tiny_config


def small_config(steps: int, **training) -> Config:
    return tiny_config(steps, training__log_every=5, **{f"training__{name}": value for name, value in training.items()})


def test_same_seed_same_numbers(tmp_path):
    a = train(small_config(20), tmp_path / "a").metrics
    b = train(small_config(20), tmp_path / "b").metrics
    assert a == b
    c = train(small_config(20, seed=1), tmp_path / "c").metrics
    assert c["loss"] != a["loss"]


def test_a_run_extended_on_resume_equals_one_planned_that_long(tmp_path):
    # 40 steps = 2 epochs of 16 steps + 8 more; a 23-step run (ending mid-epoch) extended to 40. A constant learning
    # rate: the cosine schedule follows the run's planned length, so a run planned for 23 steps has another.
    full = train(small_config(40, lr_schedule="constant"), tmp_path / "full")
    partial = train(small_config(23, lr_schedule="constant"), tmp_path / "resumed")
    assert partial.steps == 23
    resumed = train(small_config(40, lr_schedule="constant"), tmp_path / "resumed", resume=True)
    assert resumed.steps == 40
    assert resumed.metrics == full.metrics
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    # the log holds every step once, with the same validation records (plus the one that ended the 23-step run)
    val = lambda run: [(r["step"], r["loss"]) for r in read_metrics(tmp_path / run / "metrics.jsonl") if r["split"] == "val"]
    assert [record for record in val("resumed") if record[0] != 23] == val("full")
    steps = [r["step"] for r in read_metrics(tmp_path / "resumed" / "metrics.jsonl") if r["split"] == "train"]
    assert steps == sorted(set(steps))


def test_interrupt_saves_a_checkpoint_that_resumes_exactly(tmp_path, monkeypatch):
    full = train(small_config(30), tmp_path / "full")
    original = Trainer.training_step
    calls = {"n": 0}

    def interrupted(self, x):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(Trainer, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(small_config(30), tmp_path / "run")
    monkeypatch.setattr(Trainer, "training_step", original)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 11
    assert train(small_config(30), tmp_path / "run", resume=True).metrics == full.metrics


def test_checkpoints_hold_everything_and_load_without_code(tmp_path):
    train(small_config(20), tmp_path / "run")
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 20
    assert Config.from_dict(state["config"]) == small_config(20)
    assert {"model", "objective", "optimizer", "noise", "model_hparams", "best_score"} <= set(state)
    assert (tmp_path / "run" / "checkpoints" / "best.pt").exists()
    first = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert {"step", "epoch", "split", "loss", "recon", "kl", "beta", "elbo", "mse", "sigma", "lr"} <= set(first)


def test_a_different_run_is_never_overwritten(tmp_path):
    train(small_config(5), tmp_path / "run")
    with pytest.raises(UsageError, match="already holds"):
        train(small_config(5), tmp_path / "run")
    other = small_config(5).with_updates({"objective.beta": 0.5})
    with pytest.raises(UsageError, match="differs"):
        train(other, tmp_path / "run", resume=True)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 5


def test_a_resumed_run_may_run_on_other_threads_but_not_another_objective(tmp_path):
    train(small_config(5), tmp_path / "run")
    result = train(small_config(10, threads=1, max_bad_steps=5), tmp_path / "run", resume=True)
    assert result.steps == 10
    assert Config.load(tmp_path / "run" / "config.yaml").training.threads == 1  # the config saved is the new one
    with pytest.raises(UsageError, match="differs"):
        train(small_config(15, lr=1e-2), tmp_path / "run", resume=True)


def test_a_resume_between_two_train_records_logs_those_of_a_run_that_never_stopped(tmp_path, monkeypatch):
    # train records average 20 steps; stopped (Ctrl-C) after step 12, the resumed run's record at step 20 must
    # still average steps 1 to 20: the window under way is in the checkpoint
    config = tiny_config(22, training__log_every=20)
    train(config, tmp_path / "full")
    original = Trainer.training_step
    calls = iter(range(1, 100))

    def interrupted(self, x):
        if next(calls) == 13:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(Trainer, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "run")
    monkeypatch.setattr(Trainer, "training_step", original)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 12
    train(config, tmp_path / "run", resume=True)
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in records if r["split"] == "train"] == [(20, "train"), (22, "train")]
    assert records == read_metrics(tmp_path / "full" / "metrics.jsonl")
