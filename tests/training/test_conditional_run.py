"""A loss-conditional run on digits: it trains, checkpoints and resumes exactly, and evaluates at any beta of
its range, where the rate falls as beta rises."""

import json

import pytest
import torch

from vaelab.cli import main
from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.evaluation.loaded import validate_at_beta
from vaelab.numbers import stored
from vaelab.run_dir import load_checkpoint, read_metrics
from vaelab.training.run import train

from factories import tiny_config


def conditional_config(steps: int, beta_range=(0.01, 10.0)) -> Config:
    # a constant learning rate: the run is extended on resume, and the cosine schedule follows the planned length
    return tiny_config(steps, model__film_width=16, objective__beta_range=list(beta_range) if beta_range else None,
                       training__log_every=10, training__threads=1, training__lr_schedule="constant")


def val_records(run_dir):
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r["split"] == "val" and "loss" in r]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """40 steps trained as 23, then resumed to 40."""
    out = tmp_path_factory.mktemp("conditional") / "run"
    assert train(conditional_config(23), out).steps == 23
    train(conditional_config(40), out, resume=True)
    return out


def test_it_resumes_exactly_and_its_checkpoint_rebuilds_the_conditional_model(run, tmp_path):
    full = train(conditional_config(40), tmp_path / "full")
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 40 and state["model_hparams"]["film_width"] == 16
    reference = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    for name, tensor in reference["model"].items():
        assert torch.equal(tensor, state["model"][name]), name  # the betas drawn after the restart are the same
    assert val_records(run)[-1] == val_records(tmp_path / "full")[-1]
    assert full.metrics["beta"] == 1.0  # validated at objective.beta
    train_betas = [r["beta"] for r in read_metrics(run / "metrics.jsonl") if r["split"] == "train"]
    assert all(0.05 < beta < 2 for beta in train_betas)  # geometric means of log-uniform draws around sqrt(0.1)


def test_evaluations_at_two_betas_show_the_rate_falling_as_beta_rises(run, capsys):
    assert main(["evaluate", str(run), "--beta", "0.03", "--iw-samples", "4", "--checkpoint", "last",
                 "--max-images", "40"]) == 0
    assert "beta=0.03/eval.json" in capsys.readouterr().out
    high = evaluate_run(run, beta=3, iw_samples=4, checkpoint="last", max_images=40, write_figures=False)
    low = json.loads((run / "beta=0.03" / "eval.json").read_text())
    assert low["beta"] == 0.03 and high["beta"] == 3 and low["beta_range"] == [0.01, 10.0]
    assert low["kl"] > high["kl"] and low["mse"] < high["mse"]
    assert {"reconstructions.png", "samples.png", "kl_per_dim.png"} <= {p.name for p in (run / "beta=0.03" /
                                                                                          "figures").iterdir()}
    # each evaluation holds the validation record a run trained at its beta would end with
    records = {beta: read_metrics(run / f"beta={beta}" / "metrics.jsonl") for beta in ("0.03", "3")}
    assert [len(r) for r in records.values()] == [1, 1]
    low_val, high_val = records["0.03"][0], records["3"][0]
    assert (low_val["split"], low_val["step"]) == ("val", 40)
    assert (low_val["beta"], high_val["beta"]) == (pytest.approx(0.03), pytest.approx(3))
    assert low_val["kl"] > high_val["kl"]
    assert low_val["loss"] == pytest.approx(low_val["recon"] + 0.03 * low_val["kl"], rel=1e-5)


def test_the_record_at_the_validation_beta_is_the_runs_own_validation(run):
    record = stored(validate_at_beta(run, 1.0))  # as the files write it: 15 significant digits
    assert read_metrics(run / "beta=1" / "metrics.jsonl") == [record] and record == val_records(run)[-1]


def test_betas_outside_the_range_or_for_an_ordinary_run_are_refused(run, tmp_path):
    with pytest.raises(UsageError, match="outside the range .* \\[0.01, 10\\]"):
        evaluate_run(run, beta=20, checkpoint="last")
    plain = tmp_path / "plain"
    train(conditional_config(2, beta_range=None), plain)
    with pytest.raises(UsageError, match="was trained at beta = 1 alone: --beta needs a loss-conditional run"):
        evaluate_run(plain, beta=0.1, checkpoint="last")
