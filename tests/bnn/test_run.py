"""The run directory of `train_bnn`: its files and metric names, refusing another run, and a bit-exact resume."""

import json
import signal

import pytest
import torch

from vaelab.bnn.config import BNNConfig
from vaelab.bnn.run import train_bnn
from vaelab.bnn.train import Callback
from vaelab.errors import UsageError
from vaelab.numbers import stored
from vaelab.run_dir.checkpoint import load_checkpoint
from vaelab.training.stop import Interrupted


def _config(**updates) -> BNNConfig:
    base = {"data.spec": "diabetes", "model.widths": [8], "training.steps": 60, "training.eval_every": 20,
            "training.log_every": 5, "objective.test_samples": 10, "training.figures": False,
            "training.progress": False}
    return BNNConfig().with_updates({**base, **updates})


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_writes_the_contract(tmp_path):
    run = tmp_path / "run"
    result = train_bnn(_config(**{"training.figures": True, "objective.kl_weight": "blundell"}), run)
    assert BNNConfig.load(run / "config.yaml") == _config(**{"training.figures": True,
                                                             "objective.kl_weight": "blundell"})
    assert {p.name for p in (run / "checkpoints").iterdir()} == {"last.pt", "best.pt"}
    assert {p.name for p in (run / "figures").iterdir()} == {"losses.png", "kl_per_layer.png", "snr.png",
                                                            "reliability.png"}
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"http" not in html and "blundell" in html
    records = _records(run)
    assert [r["split"] for r in records].count("test") == 1 and records[-1]["split"] == "test"
    train, val, test = (next(r for r in records if r["split"] == split) for split in ("train", "val", "test"))
    assert {"step", "epoch", "loss", "nll", "kl", "kl_weight", "elbo", "lr", "kl/layer1", "kl/layer2"} <= set(train)
    assert {"predictive_nll", "rmse", "ece", "pruned_units", "noise_std", "elbo", "kl/layer1"} <= set(test)
    # the loss as trained and the lambda = 1 ELBO: loss = nll + kl_weight * KL / N, elbo = -(nll + KL / N)
    n = 288  # diabetes' training rows
    assert val["loss"] == pytest.approx(val["nll"] + val["kl_weight"] * val["kl"] / n, rel=1e-5)
    assert val["elbo"] == pytest.approx(-(val["nll"] + val["kl"] / n), rel=1e-5)
    assert val["kl_weight"] == pytest.approx(1.0)  # Blundell's weights: 1 over an epoch
    assert stored(result.test) == test and result.steps == 60  # the record as written: 15 significant digits
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 60


def test_a_classification_run_reports_accuracy(tmp_path):
    result = train_bnn(_config(**{"data.spec": "wine", "training.steps": 20}), tmp_path / "run")
    assert 0 <= result.test["accuracy"] <= 1 and "rmse" not in result.test and "noise_std" not in result.test


@pytest.mark.parametrize("kind", ["map", "ensemble"])
def test_the_baselines_have_no_kl(tmp_path, kind):
    result = train_bnn(_config(**{"model.kind": kind, "training.steps": 20}), tmp_path / "run")
    assert "kl" not in result.test and "elbo" not in result.test and "neg_log_prior" in result.test


def test_another_run_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    train_bnn(_config(**{"training.steps": 10}), run)
    with pytest.raises(UsageError, match="already holds files: pass --resume"):
        train_bnn(_config(**{"training.steps": 10}), run)
    with pytest.raises(UsageError, match="the config differs"):
        train_bnn(_config(**{"training.steps": 10, "model.prior_std": 0.5}), run, resume=True)


class StopAt(Callback):
    """SIGTERM to this process after `step`, as `kill` would send it."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.step == self.step:
            signal.raise_signal(signal.SIGTERM)


def test_an_interrupted_run_resumes_bit_for_bit(tmp_path, one_thread):
    config = _config(**{"objective.kl_weight": "blundell"})
    whole = train_bnn(config, tmp_path / "whole")
    with pytest.raises(Interrupted):
        train_bnn(config, tmp_path / "parts", callbacks=[StopAt(33)])  # mid-way between records and checkpoints
    assert load_checkpoint(tmp_path / "parts" / "checkpoints" / "last.pt")["step"] == 33
    parts = train_bnn(config, tmp_path / "parts", resume=True)
    first = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")
    second = load_checkpoint(tmp_path / "parts" / "checkpoints" / "last.pt")
    for name, tensor in first["net"].items():
        assert torch.equal(tensor, second["net"][name]), name
    assert _records(tmp_path / "whole") == _records(tmp_path / "parts")
    assert whole.test == parts.test


def test_a_finished_run_resumed_longer_continues_and_is_tested_once(tmp_path):
    run = tmp_path / "run"
    train_bnn(_config(**{"training.steps": 20}), run)
    train_bnn(_config(**{"training.steps": 40}), run, resume=True)
    records = _records(run)
    assert [r["step"] for r in records if r["split"] == "test"] == [40]
    assert [r["step"] for r in records if r["split"] == "val"] == [20, 40]
