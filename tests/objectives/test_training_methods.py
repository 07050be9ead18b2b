"""Each KL-weighting method on real training (digits): capacity is tracked, GECO meets its target, and
every method's state survives an interruption and a resume exactly."""

import dataclasses
import math

import pytest
import torch

from vaelab.config import Config, ObjectiveConfig
from vaelab.run_dir import load_checkpoint, read_metrics
from vaelab.training.callbacks import Callback
from vaelab.training.run import train

from factories import tiny_config


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine run fastest on one thread; restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def digits_config(objective: ObjectiveConfig, steps: int, *, limit: int | None = None, linear_path: bool = True,
                  **training) -> Config:
    config = tiny_config(steps, data__limit=limit, model__latent_dim=8, training__batch_size=64,
                         model__linear_path=linear_path,
                         **{f"training__{name}": value for name, value in training.items()})
    return dataclasses.replace(config, objective=objective).validate()


def train_rows(run_dir):
    return [row for row in read_metrics(run_dir / "metrics.jsonl") if row["split"] == "train" and "loss" in row]


def test_capacity_control_makes_the_kl_track_the_capacity(tmp_path):
    # C rises from 0 to 8 nats over 300 steps, then holds; gamma = 1000 pins the KL to it
    objective = ObjectiveConfig(capacity=8.0, capacity_steps=300)
    train(digits_config(objective, 450, log_every=25), tmp_path / "run")
    rows = train_rows(tmp_path / "run")
    assert [row["capacity"] for row in rows][-1] == 8.0
    for row in rows[2:]:  # from step 75 on: the KL follows C(t) within a few tenths of a nat
        assert row["kl"] == pytest.approx(row["capacity"], abs=0.5), row["step"]
        assert row["beta"] == 1000.0 and row["kl_objective"] < 0.5
    deviation = [abs(row["kl"] - row["capacity"]) for row in rows[2:]]
    assert sum(deviation) / len(deviation) < 0.25
    assert rows[3]["kl"] < 3.0 < rows[-1]["kl"]  # it rose with C, not straight to C_max


def test_geco_brings_the_moving_average_error_to_kappa(tmp_path):
    kappa = 0.03
    objective = ObjectiveConfig(geco_target=kappa, geco_lr=0.01)
    # no linear path: a network started at PCA already meets kappa, and lambda would have nothing to rise for
    train(digits_config(objective, 1200, log_every=50, lr=5e-3, linear_path=False), tmp_path / "run")
    rows = train_rows(tmp_path / "run")
    # lambda first rises (the untrained network misses kappa), then settles where the error meets kappa
    assert max(row["geco_lambda"] for row in rows) > 3.0
    assert rows[0]["geco_error_ma"] > 3 * kappa
    settled = [row for row in rows if row["step"] >= 1000]
    for row in settled:
        assert row["geco_error_ma"] == pytest.approx(kappa, rel=0.1), row["step"]
        assert row["beta"] == pytest.approx(1 / row["geco_lambda"], rel=0.05)
    assert 1e-3 < settled[-1]["geco_lambda"] < 1e4  # met by the multiplier, not by its bounds


def test_a_cyclical_run_ends_validated_at_the_weight_of_its_last_step(tmp_path, caplog):
    # T = 12 steps, 2 cycles from steps 0 and 6, each rising over 3 steps: step 11 is at the top, beta = 0.5; the
    # validation after it reads the model at that weight, never at a 13th step's new cycle (beta = 0, loss = recon)
    objective = ObjectiveConfig(beta_schedule="cyclical:2:0.5", beta=0.5)
    with caplog.at_level("WARNING", logger="vaelab"):
        train(digits_config(objective, 12, log_every=4, val_every=6), tmp_path / "run")
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    *_, final = (row for row in records if row["split"] == "val")
    assert final["step"] == 12 and final["beta"] == 0.5
    assert final["loss"] == pytest.approx(final["recon"] + 0.5 * final["kl"], rel=1e-6)
    middle = next(row for row in records if row["split"] == "val")  # after step 5, the top of the first cycle
    assert middle["step"] == 6 and middle["beta"] == 0.5
    assert "beta jumps" not in caplog.text  # cycles of 6 steps rise over 3


def test_a_warm_up_longer_than_the_run_is_warned_about_at_the_start(tmp_path, caplog):
    objective = ObjectiveConfig(beta_schedule="linear:5000")
    with caplog.at_level("WARNING", logger="vaelab"):
        train(digits_config(objective, 4), tmp_path / "run")
    assert "--beta-schedule linear:5000 warms up over 5000 steps but the run has 4" in caplog.text


class InterruptAt(Callback):
    """Ctrl-C after `step` steps: the trainer saves last.pt and re-raises."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, terms):
        if trainer.step == self.step:
            raise KeyboardInterrupt


METHODS = {
    "cyclical": ObjectiveConfig(beta_schedule="cyclical:2:0.5", beta=0.5),
    "sigmoid": ObjectiveConfig(beta_schedule="sigmoid:30"),
    "free-bits": ObjectiveConfig(free_bits=0.5, free_bits_mode="group", free_bits_groups=4),
    "capacity": ObjectiveConfig(capacity=5.0, capacity_steps=30, capacity_gamma=100.0),
    "geco": ObjectiveConfig(geco_target=0.05, geco_lr=0.05),
    "sigma-learned": ObjectiveConfig(recon="sigma-learned"),
    "sigma-optimal": ObjectiveConfig(recon="sigma-optimal"),
}


@pytest.mark.parametrize("method", METHODS)
def test_an_interrupted_run_resumes_with_the_methods_state_intact(tmp_path, method):
    config = digits_config(METHODS[method], 40, limit=600, log_every=5)
    full = train(config, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "run", callbacks=[InterruptAt(13)])  # mid-epoch: 8 steps per epoch
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 13
    resumed = train(config, tmp_path / "run", resume=True)
    assert resumed.steps == 40 and resumed.metrics == full.metrics
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["objective"]
    b = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["objective"]
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # the logs agree step by step, the method's state included (from step 20 on: the window logged at
    # step 15 was cut by the interruption)
    rows = lambda run: {row["step"]: row for row in train_rows(tmp_path / run) if row["step"] >= 20}
    assert rows("run") == rows("full") and len(rows("full")) == 5


def test_the_state_of_each_method_is_logged_and_checkpointed(tmp_path):
    expectations = {
        "capacity": ({"capacity", "kl_objective"}, set()),
        "free-bits": ({"kl_objective"}, set()),
        "geco": ({"geco_lambda", "geco_error_ma", "geco_constraint_ma"}, {"weighting.multiplier", "weighting.error_ma"}),
        "sigma-learned": (set(), {"likelihood.raw_log_sigma"}),
    }
    for method, (metrics, state) in expectations.items():
        train(digits_config(METHODS[method], 10, limit=300, log_every=5), tmp_path / method)
        row = train_rows(tmp_path / method)[-1]
        assert metrics <= set(row) and math.isfinite(row["sigma"]), method
        assert state <= set(load_checkpoint(tmp_path / method / "checkpoints" / "last.pt")["objective"]), method
