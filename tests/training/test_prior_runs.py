"""Runs with a prior of their own: the checkpoints carry the prior's state (the VampPrior's pseudo-inputs, the
mixture fitted to their own weights' codes), and an interrupted run resumes to exactly the numbers and weights of
an uninterrupted one."""

import numpy as np
import pytest
import torch

from vaelab.data import load_images, split_indices
from vaelab.objectives import build_objective
from vaelab.run_dir import load_checkpoint, save_checkpoint
from vaelab.run_dir.model import load_network
from vaelab.model.prior import VampPrior
from vaelab.training.prior_fit import PriorFitting, fit_mixture, start_pseudo_inputs
from vaelab.training.run import train, training_network
from vaelab.training.trainer import Trainer

from factories import tiny_config, train_interrupted

KINDS = {
    "vamp": {"model__prior": "vamp", "model__prior_components": 6, "objective__method": "infovae",
             "objective__info_lambda": 10.0},  # InfoVAE draws from the VampPrior with the training noise
    "gmm": {"model__prior": "gmm", "model__prior_components": 3},
}


@pytest.mark.parametrize("kind", KINDS)
def test_an_interrupted_run_with_its_own_prior_resumes_exactly(tmp_path, monkeypatch, kind):
    config = tiny_config(12, training__log_every=3, training__val_every=4, **KINDS[kind])
    full = train(config, tmp_path / "full")
    train_interrupted(config, tmp_path / "run", monkeypatch, at_call=7)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 6
    assert train(config, tmp_path / "run", resume=True).metrics == full.metrics
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    prior_state = {name for name in a["ema"]["model"] if name.startswith("prior.")}
    assert prior_state == ({"prior.pseudo_logits"} if kind == "vamp" else
                           {"prior.log_weights", "prior.mean", "prior.scale_tril", "prior.fitted_step"})
    for name in prior_state:
        assert torch.equal(a["ema"]["model"][name], b["ema"]["model"][name]), name
        assert torch.equal(a["model"][name], b["model"][name]), name
    network, _ = load_network(tmp_path / "run", "last")
    density = network.prior_density()
    assert density is not None and not density.standard
    assert density.components == (6 if kind == "vamp" else 3)
    if kind == "gmm":  # fitted to the codes of the weights of the checkpoint's own step, in both
        assert int(a["ema"]["model"]["prior.fitted_step"]) == a["step"] == 12
        best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
        assert int(best["ema"]["model"]["prior.fitted_step"]) == best["step"]
        assert_refit_reproduces(config, tmp_path / "run", best)


def assert_refit_reproduces(config, run, best):
    """best.pt with its mixture wiped, refitted at the end of a run (PriorFitting.on_fit_end): the mixture it had,
    exactly (the same weights, codes and seed)."""
    path = run / "checkpoints" / "best.pt"
    wiped = {**best["ema"]["model"], "prior.fitted_step": torch.tensor(-1), "prior.mean": torch.zeros(3, 4)}
    save_checkpoint({**best, "ema": {**best["ema"], "model": wiped}}, path)
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    shape = tuple(data.images.shape[1:])
    cpu = torch.device("cpu")
    trainer = Trainer(config=config, model=training_network(config, data.images, train_index, cpu), images=data.images,
                      objective=build_objective(config, shape, total_steps=12), train_index=train_index,
                      val_index=val_index, device=cpu, callbacks=[])
    PriorFitting(run / "checkpoints").on_fit_end(trainer)
    refitted = load_checkpoint(path)["ema"]["model"]
    for name in ("prior.fitted_step", "prior.log_weights", "prior.mean", "prior.scale_tril"):
        torch.testing.assert_close(refitted[name], best["ema"]["model"][name], rtol=1e-5, atol=1e-6)


def test_the_fit_recovers_a_known_mixture():
    rng = np.random.default_rng(0)
    weights, means = np.array([0.3, 0.7]), np.array([[-4.0, 0.0], [3.0, 1.0]])
    covariances = np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.5, 0.0], [0.0, 2.0]]])
    labels = rng.choice(2, size=20_000, p=weights)
    codes = np.stack([rng.multivariate_normal(means[k], covariances[k]) for k in labels])
    fitted_weights, fitted_means, fitted_covariances = fit_mixture(codes, 2, "full", seed=0)
    order = torch.argsort(fitted_means[:, 0])
    torch.testing.assert_close(fitted_weights[order], torch.from_numpy(weights), atol=0.01, rtol=0)
    torch.testing.assert_close(fitted_means[order], torch.from_numpy(means), atol=0.05, rtol=0)
    torch.testing.assert_close(fitted_covariances[order], torch.from_numpy(covariances), atol=0.06, rtol=0)


def test_the_pseudo_inputs_start_at_distinct_training_images():
    # 6 training images of 10, each one grey level (its index * 20), in uint8 as the cache holds them
    images = (np.arange(10, dtype=np.uint8) * 20)[:, None, None, None].repeat(4, axis=2).repeat(4, axis=3)
    train_index = np.array([1, 2, 4, 5, 7, 9])
    prior = VampPrior(5, (1, 4, 4))
    start_pseudo_inputs(prior, images, train_index, seed=0)
    levels = (prior.pseudo_inputs().detach()[:, 0, 0, 0] * 255).round().numpy() / 20
    assert len(set(levels)) == 5 and set(levels) <= set(train_index.tolist())  # distinct, none from validation
    torch.testing.assert_close(prior.pseudo_inputs().detach().std(dim=(1, 2, 3)), torch.zeros(5))
