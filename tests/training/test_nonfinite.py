"""A step with a non-finite loss or gradient updates nothing and is counted; too many in a row stop the
run with exit code 2 and keep the checkpoint from before; --clip-grad bounds the gradient's norm.

The faults are injected: a poisoned batch (all nan: a non-finite loss) or a poisoned gradient (a
hook that turns one parameter's gradient into nan while the loss stays finite).
"""

import copy
import dataclasses
import math

import pytest
import torch

from vaelab.cli import main
from vaelab.config import Config, ObjectiveConfig, TrainingConfig
from vaelab.run_dir import load_checkpoint, read_metrics, read_run
from vaelab.training.callbacks import Callback
from vaelab.training.nonfinite import Diverged, NonFiniteGuard, gradient_norm
from vaelab.training.run import train
from vaelab.training.trainer import Trainer
from vaelab.viz.run_page import run_context

from factories import tiny_config, tiny_flags

TINY = [*tiny_flags(), "--batch-size", "32", "--set", "training.progress=false", "--set", "training.figures=false",
        "--set", "training.threads=1", "--set", "training.grad_every=0", "--set", "training.log_every=1"]


def tiny(steps: int, objective: ObjectiveConfig | None = None, **training) -> Config:
    """16 steps an epoch: 540 training images, batches of 32; train metrics logged every step."""
    config = tiny_config(steps, training__log_every=1, training__threads=1,
                         **{f"training__{name}": value for name, value in training.items()})
    return config if objective is None else dataclasses.replace(config, objective=objective).validate()


def poison_batches(monkeypatch, steps: set[int]) -> None:
    """The training batches of `steps` (counted from 1) become all nan; validation batches stay clean."""
    clean = Trainer.batch

    def batch(self, index):
        x = clean(self, index)
        return x * math.nan if self.model.training and self.step + 1 in steps else x

    monkeypatch.setattr(Trainer, "batch", batch)


class PoisonGradient(Callback):
    """At step `step`, the first parameter's gradient becomes nan; the loss stays finite."""

    def __init__(self, step: int):
        self.step = step

    def on_fit_start(self, trainer):
        first = next(trainer.model.parameters())
        first.register_hook(lambda grad: grad * math.nan if trainer.step + 1 == self.step else grad)


class Snapshots(Callback):
    """Model, objective and optimiser state after every step."""

    def __init__(self):
        self.after: dict[int, dict] = {}

    def on_train_batch_end(self, trainer, terms):
        self.after[trainer.step] = copy.deepcopy({"model": trainer.model.state_dict(),
                                                  "objective": trainer.objective.state_dict(),
                                                  "optimizer": trainer.optimizer.state_dict()["state"]})


def same(a, b) -> bool:
    """Nested dicts of tensors, exactly equal."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    return torch.equal(a, b)


@pytest.mark.parametrize("poisoned", ["loss", "gradient"])
def test_a_non_finite_step_changes_nothing_is_counted_and_training_goes_on(tmp_path, monkeypatch, caplog, poisoned):
    snapshots = Snapshots()
    callbacks = [snapshots]
    if poisoned == "loss":
        poison_batches(monkeypatch, {5})
    else:
        callbacks.append(PoisonGradient(5))
    geco = ObjectiveConfig(geco_target=0.05)  # GECO's multiplier is updated in the forward pass: it must be put back
    train(tiny(8, geco), tmp_path / "run", callbacks=callbacks)

    after = snapshots.after
    assert same(after[5], after[4]), "the skipped step changed the model, the objective or Adam's state"
    assert not same(after[6], after[5]) and not same(after[4], after[3]), "the other steps update"
    assert f"step 5: non-finite {poisoned}, update skipped (1 skipped so far)" in caplog.text
    train_records = {r["step"]: r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["split"] == "train"}
    assert [train_records[step]["skipped_steps"] for step in range(1, 9)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert math.isnan(train_records[5]["loss"]) == (poisoned == "loss")  # a window of skipped steps shows them as is
    assert all(math.isfinite(train_records[step]["loss"]) for step in (4, 6, 7, 8))
    assert "grad_norm" not in train_records[8]  # logged only when clipping
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["nonfinite"] == {"skipped_steps": 1,
                                                                                         "in_a_row": 0}
    assert "1 step skipped (non-finite loss or gradient); the first logged at step 5" in \
        (tmp_path / "run" / "report.html").read_text()
    assert "1 of the run's 8 steps (12.5%) had a non-finite loss or gradient and were skipped" in caplog.text

    train(tiny(10, geco), tmp_path / "run", resume=True)  # the count goes on from the checkpoint
    assert [r["skipped_steps"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl")
            if r["split"] == "train" and r["step"] > 8] == [1, 1]


def test_max_bad_steps_in_a_row_stop_with_exit_2_and_keep_the_checkpoint_from_before(tmp_path, monkeypatch, capsys):
    poison_batches(monkeypatch, set(range(20, 41)))
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "40", "--max-bad-steps", "3", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith(
        "vaelab: error: training stopped at step 22: 3 steps in a row had a non-finite loss or gradient")
    assert "--lr (e.g. 0.0001)" in error and "--clip-grad MAX_NORM" in error and "--beta-schedule linear:4" in error
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 16  # the first epoch's, not the bad state
    assert max(r["skipped_steps"] for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train") == 2


def test_a_run_that_skipped_every_step_fails_instead_of_reporting_success(tmp_path, capsys):
    # --beta 1e308: beta times the KL's gradient overflows at every step, fewer steps than --max-bad-steps
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--beta", "1e308", "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith(
        "vaelab: error: all 16 steps of the run had a non-finite loss or gradient and were skipped: nothing was "
        "trained; start a new run with a lower --lr"), error


@pytest.mark.parametrize("skipped,told", [(0, None), (1, None), (2, "2 of the run's 100 steps (2.0%)"),
                                          (99, "99 of the run's 100 steps (99.0%)"), (100, "all 100 steps")])
def test_skipped_steps_are_weighed_at_the_end_of_a_run(caplog, skipped, told):
    guard = NonFiniteGuard(TrainingConfig(), [], total_steps=100)
    guard.skipped_steps = skipped
    if skipped == 100:  # every step: nothing was trained
        with pytest.raises(Diverged, match=f"{told} of the run had a non-finite loss or gradient and were skipped"):
            guard.check_run(100)
        return
    guard.check_run(100)  # up to 1% of the steps pass unremarked
    assert ("were skipped" in caplog.text) == (told is not None)
    assert told is None or f"{told} had a non-finite loss or gradient and were skipped: its numbers" in caplog.text


def test_weights_that_validate_to_a_non_finite_loss_are_not_saved_as_last_pt(tmp_path, monkeypatch, caplog):
    validate = Trainer.validate

    def diverged_at_32(self):
        metrics = validate(self)
        return {**metrics, "loss": math.inf, "elbo": -math.inf} if self.step == 32 else metrics

    monkeypatch.setattr(Trainer, "validate", diverged_at_32)
    train(tiny(32), tmp_path / "run")  # validated (and checkpointed) at the ends of its two epochs
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 16
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")["step"] == 16
    assert ("step 32: the validation loss is not finite, so these weights are not saved: checkpoints/last.pt keeps "
            "the last ones that validated to a finite loss") in caplog.text


def test_gradient_norm_known_answer():
    p, q = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    p.grad, q.grad = torch.tensor([3.0, 4.0]), torch.tensor([0.0, 0.0, 12.0])  # total norm sqrt(9 + 16 + 144) = 13
    assert gradient_norm([p, q], None) == pytest.approx(13.0)
    assert torch.equal(p.grad, torch.tensor([3.0, 4.0]))  # no clipping without a maximum
    assert gradient_norm([p, q], 6.5) == pytest.approx(13.0)  # the norm from before clipping
    torch.testing.assert_close(p.grad, torch.tensor([1.5, 2.0]), rtol=1e-5, atol=0)  # scaled by 6.5 / 13
    torch.testing.assert_close(q.grad, torch.tensor([0.0, 0.0, 6.0]), rtol=1e-5, atol=0)


class UpdateNorms(Callback):
    """The total gradient norm that each optimiser step is given."""

    def __init__(self):
        self.norms: list[float] = []

    def on_fit_start(self, trainer):
        def record(optimizer, args, kwargs):
            grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            self.norms.append(float(torch.nn.utils.get_total_norm(grads)))

        trainer.optimizer.register_step_pre_hook(record)


def test_clip_grad_bounds_the_norm_of_every_update_and_logs_the_norm_before(tmp_path, capsys):
    updates = UpdateNorms()
    train(tiny(6, clip_grad=1.0), tmp_path / "runs" / "clipped", callbacks=[updates])
    assert len(updates.norms) == 6 and max(updates.norms) <= 1.0 + 1e-5
    logged = [r["grad_norm"] for r in read_metrics(tmp_path / "runs" / "clipped" / "metrics.jsonl")
              if r["split"] == "train"]
    assert len(logged) == 6 and min(logged) > 1.0  # the summed squared error's gradients are large: it did clip
    run = read_run(tmp_path / "runs" / "clipped")
    assert run_context(run)["gradients"].rows == []  # grad_norm is not a gradient decomposition
    assert main(["runs", "ls", str(tmp_path / "runs")]) == 0
    assert "clipped" in capsys.readouterr().out


@pytest.mark.parametrize(("flag", "message"), [
    (["--clip-grad", "0"], "training.clip_grad=0.0 must be > 0 (or null: no clipping): e.g. --clip-grad 100"),
    (["--clip-grad", "-1"], "training.clip_grad=-1.0 must be > 0"),
    (["--max-bad-steps", "0"], "training.max_bad_steps=0 must be at least 1: e.g. --max-bad-steps 20"),
], ids=["clip-grad-0", "clip-grad-negative", "max-bad-steps-0"])
def test_bad_values_are_one_clear_line(tmp_path, capsys, flag, message):
    assert main(["train", "--data", "digits", "--out", str(tmp_path / "run"), *flag]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and message in error
