"""`vaelab evaluate` as a user runs it: train on digits for a few steps, evaluate, read eval.json."""

import json
import math

import pytest

from vaelab.cli import main


def test_train_then_evaluate_writes_consistent_numbers_and_figures(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--out", str(run), "--steps", "30", "--set", f"data.cache_dir={tmp_path}",
                 "--beta", "0.5", "--latent-dim", "6", "--width", "8", "--image-size", "16",
                 "--set", "training.progress=false", "--set", "training.figures=false",
                 "--set", "training.grad_every=10", "--set", "model.linear_path=false"]) == 0
    # without the linear path: its posterior means start at PCA's whitened codes, narrow posteriors, and at 180
    # images the aggregate posterior's KL is then withheld (not_applicable); here every estimator applies
    assert main(["evaluate", str(run), "--iw-samples", "20"]) == 0
    assert "IWAE_20" in capsys.readouterr().out
    result = json.loads((run / "eval.json").read_text())

    numbers = ["elbo_shared_sigma", "iwae_shared_sigma", "elbo", "iwae", "bits_per_dim", "sigma", "sigma_optimal", "elbo_optimal_sigma", "iwae_optimal_sigma",
               "bits_per_dim_optimal_sigma", "kl", "mse", "psnr", "ssim", "active_units", "aggregate_posterior_kl",
               "aggregate_posterior_mmd", "index_code_mi", "total_correlation", "dimensionwise_kl", "smoothness"]
    for name in numbers:
        assert isinstance(result[name], (int, float)) and math.isfinite(result[name]), name
    assert result["not_applicable"] == {}
    # the checkpoint rule of every command (defaults.CHECKPOINT): the weights the run ended with, their average
    assert result["iw_samples"] == 20 and result["split"] == "val" and result["checkpoint"] == "last"
    assert result["step"] == 30 and result["weights"] == "ema" and result["reconstruction"] == "posterior mean"
    assert result["elbo"] <= result["iwae"]
    assert result["elbo_shared_sigma"] <= result["iwae_shared_sigma"]
    # One set of posterior samples read at three sigmas: ELBO(s) = -A / (2 s^2) - D log s - D/2 log(2 pi) - B for
    # the same A (mean SSE) and B (mean log q - log p). The shared sigma's and the run's own give A and B; they
    # must predict the ELBO at the fitted sigma.
    assert result["shared_sigma"] == pytest.approx(math.sqrt(0.5))
    d = 16 * 16

    def constant(s):
        return -d * math.log(s) - d / 2 * math.log(2 * math.pi)

    s_shared, s_own, s_fit = result["shared_sigma"], result["sigma"], result["sigma_optimal"]
    a = ((result["elbo_shared_sigma"] - constant(s_shared)) - (result["elbo"] - constant(s_own))) / (
        1 / (2 * s_own**2) - 1 / (2 * s_shared**2))
    b = -(result["elbo"] - constant(s_own)) - a / (2 * s_own**2)
    predicted = -a / (2 * s_fit**2) + constant(s_fit) - b
    assert result["elbo_optimal_sigma"] == pytest.approx(predicted, rel=1e-6)
    assert result["elbo_optimal_sigma"] <= result["iwae_optimal_sigma"]
    assert result["elbo"] <= result["elbo_optimal_sigma"]  # the implied sigma is one of the sigmas optimised over
    assert result["sigma"] == pytest.approx(math.sqrt(0.5 / 2))
    assert result["pixels"] == d
    assert result["bits_per_dim"] == pytest.approx((-result["iwae"] + d * math.log(255)) / (d * math.log(2)))
    assert result["latent_dim"] == 6
    assert result["active_units"] == sum(v > result["active_threshold"] for v in result["posterior_mean_variance"])
    assert len(result["kl_per_dim"]) == len(result["posterior_mean_variance"]) == 6
    assert sum(result["kl_per_dim"]) == pytest.approx(result["kl"])
    decomposition = result["index_code_mi"] + result["total_correlation"] + result["dimensionwise_kl"]
    assert decomposition == pytest.approx(result["kl"], rel=0.2, abs=0.5)  # one posterior sample per image
    # psnr is the mean of per-image PSNRs, at least the PSNR of the mean MSE (Jensen)
    assert result["psnr"] >= 10 * math.log10(1 / result["mse"]) - 1e-9
    for name in ("gradients.png", "kl_per_dim.png", "interpolations.png", "traversals.png", "latent_map.png"):
        assert (run / "figures" / name).stat().st_size > 0, name
        assert name in result["figures"]
    assert "IWAE bound" in (run / "report.html").read_text()  # evaluate refreshed the run's report


def test_evaluate_a_missing_run_is_a_usage_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "no config.yaml" in capsys.readouterr().err
