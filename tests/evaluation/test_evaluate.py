"""`evaluate_run` on the runs a user can have: a collapsed VAE (warned about), the plain autoencoder
(what is undefined is null, with a reason), another data source, and bad arguments."""

import json
import logging
import math

import pytest

from vaelab.errors import UsageError
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.training.run import train

from factories import tiny_config


def small_run(path, kind="vae", beta=1.0, recon="sse", steps=20):
    train(tiny_config(steps, data__limit=300, model__kind=kind, model__width=4, objective__beta=beta,
                      objective__recon=recon), path)
    return path


def test_a_collapsed_posterior_is_warned_about_in_the_log_and_in_eval_json(tmp_path, caplog):
    run = small_run(tmp_path / "collapsed", beta=200.0)  # a KL weight this large switches every unit off
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        result = evaluate_run(run, iw_samples=8, write_figures=False)
    assert result["active_units"] == 0
    assert len(result["warnings"]) == 1 and "posterior collapse" in result["warnings"][0]
    assert "posterior collapse" in caplog.text
    assert json.loads((run / "eval.json").read_text())["warnings"] == result["warnings"]
    assert "figures" not in result


def test_the_autoencoder_reports_what_is_defined_and_says_why_the_rest_is_not(tmp_path):
    run = small_run(tmp_path / "ae", kind="ae")
    result = json.loads(json.dumps(evaluate_run(run, iw_samples=8)))
    saved = json.loads((run / "eval.json").read_text())
    for name in ("mse", "psnr", "ssim", "aggregate_posterior_kl", "aggregate_posterior_mmd", "smoothness"):
        assert math.isfinite(saved[name]), name
    assert 0 <= saved["active_units"] <= 4
    undefined = ("elbo", "iwae", "bits_per_dim", "elbo_optimal_sigma", "iwae_optimal_sigma",
                 "bits_per_dim_optimal_sigma", "kl", "kl_per_dim", "index_code_mi", "total_correlation",
                 "dimensionwise_kl")
    for name in undefined:
        assert saved[name] is None, name
        assert "point mass" in saved["not_applicable"][name]
    assert saved["warnings"] == []  # posterior collapse is a VAE's problem
    assert result["model"] == "ae"
    for name in ("kl_per_dim.png", "interpolations.png", "traversals.png", "latent_map.png"):
        assert (run / "figures" / name).exists()
    assert not (run / "figures" / "gradients.png").exists()  # no gradient records in this run


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return small_run(tmp_path_factory.mktemp("evaluate") / "vae")


def test_other_data_and_the_image_budget(vae_run):
    run = vae_run
    result = evaluate_run(run, iw_samples=4, data="digits", max_images=50, checkpoint="last", write_figures=False)
    assert result["split"] == "all" and result["images"] == 50 and result["checkpoint"] == "last"
    assert result["step"] == 20


def test_bad_arguments_are_usage_errors(vae_run):
    run = vae_run
    with pytest.raises(UsageError, match="iw-samples"):
        evaluate_run(run, iw_samples=0)
    with pytest.raises(UsageError, match="max-images"):
        evaluate_run(run, max_images=1)
    with pytest.raises(UsageError, match="does not exist"):
        evaluate_run(run, checkpoint="missing")
    with pytest.raises(UsageError, match="no config.yaml"):
        evaluate_run(run / "checkpoints")


def test_bernoulli_has_no_bits_per_dim_and_sigma_optimal_is_read_at_one_shared_sigma(tmp_path):
    bernoulli = evaluate_run(small_run(tmp_path / "bernoulli", recon="bernoulli", steps=5), iw_samples=4,
                             write_figures=False)
    assert bernoulli["bits_per_dim"] is None and bernoulli["sigma"] is None
    assert "Bernoulli" in bernoulli["not_applicable"]["bits_per_dim"]
    assert math.isfinite(bernoulli["iwae"]) and math.isfinite(bernoulli["bits_per_dim_optimal_sigma"])
    optimal = evaluate_run(small_run(tmp_path / "optimal", recon="sigma-optimal", steps=5), iw_samples=4,
                           write_figures=False)
    assert optimal["elbo"] == optimal["elbo_optimal_sigma"] and optimal["iwae"] == optimal["iwae_optimal_sigma"]
    assert optimal["sigma"] == optimal["sigma_optimal"]
