"""`evaluate_run` on runs with a prior of their own: the bounds and the KL under that prior (the KL by Monte Carlo,
checked against an independent estimate), the prior holes against both priors, and a mixture fitted to other weights refused."""

import math

import pytest
import torch

from vaelab.errors import UsageError
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.evaluation.images import evaluation_data
from vaelab.objectives.kl import monte_carlo
from vaelab.run_dir import RunDir, load_checkpoint, save_checkpoint
from vaelab.run_dir.model import load_network
from vaelab.training.run import train

from factories import tiny_config


def prior_run(path, prior, **extra):
    train(tiny_config(20, data__limit=300, model__width=4, model__prior=prior, model__prior_components=4,
                      objective__beta=0.1, **extra), path)
    return path


def test_a_vamp_run_is_evaluated_under_its_prior_beside_n01(tmp_path):
    run = prior_run(tmp_path / "vamp", "vamp")
    result = evaluate_run(run, iw_samples=16, write_figures=False)
    assert result["prior"] == "vamp" and result["kl_estimator"] == monte_carlo(16)
    # the KL against an independent estimate: 2000 codes of each evaluated image, under the checkpoint's prior
    network, _ = load_network(run, "best")
    images = evaluation_data(RunDir(run).config(), None, (1, 16, 16), 10_000, 0, torch.device("cpu"))
    with torch.no_grad():
        posterior, prior = network.encode(images.x), network.prior_density()
        z = posterior.sample(torch.Generator().manual_seed(5), 2000)
        log_ratio = posterior.log_prob(z) - prior.log_prob(z)  # (2000, N)
    n = len(images.x)
    assert result["likelihood_images"] == n
    noise = math.sqrt(float(log_ratio.var(dim=0).mean()) / (16 * n))  # the SE of 16 codes per image, N images
    assert result["kl"] == pytest.approx(float(log_ratio.mean()), abs=4 * noise)
    assert result["kl_se"] > 0
    # a mixture does not factorise: no per-dimension KL, no dimension-wise KL; MI and TC, q's own, stay
    for name in ("kl_per_dim", "dimensionwise_kl"):
        assert result[name] is None and "does not factorise" in result["not_applicable"][name]
    assert math.isfinite(result["index_code_mi"])
    # the prior holes against both priors: each a number or withheld with its reason
    for name in ("aggregate_kl_q_p", "aggregate_kl_p_q", "aggregate_kl_q_prior", "aggregate_kl_prior_q"):
        assert name in result and (result[name] is not None or name in result["not_applicable"]), name
    assert math.isfinite(result["iwae"]) and result["iwae"] >= result["elbo"] - 4 * result["elbo_se"]


def test_a_gmm_run_is_evaluated_under_the_fitted_mixture_and_a_stale_one_is_refused(tmp_path):
    run = prior_run(tmp_path / "gmm", "gmm")
    result = evaluate_run(run, iw_samples=8, write_figures=False)
    assert result["prior"] == "gmm" and result["kl_estimator"] == monte_carlo(8)
    assert math.isfinite(result["kl"]) and math.isfinite(result["elbo"])
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    state["ema"]["model"]["prior.fitted_step"] = torch.tensor(state["step"] - 5)  # a mixture of other weights
    save_checkpoint(state, run / "checkpoints" / "last.pt")
    with pytest.raises(UsageError, match="is not fitted to its weights"):
        evaluate_run(run, iw_samples=8, checkpoint="last", write_figures=False)
