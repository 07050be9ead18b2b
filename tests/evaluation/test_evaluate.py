"""`evaluate_run` on the runs a user can have: a collapsed VAE (warned about), the plain autoencoder
(what is undefined is null, with a reason), another data source, and bad arguments."""

import json
import logging
import math

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.data import load_images, split_indices
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.errors import UsageError
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.run_dir import RunDir
from vaelab.run_dir.model import load_model
from vaelab.training.run import train

from factories import tiny_config


def small_run(path, kind="vae", beta=1.0, recon="sse", steps=20, **more):
    train(tiny_config(steps, data__limit=300, model__kind=kind, model__width=4, objective__beta=beta,
                      objective__recon=recon, **more), path)
    return path


def test_a_collapsed_posterior_is_warned_about_in_the_log_and_in_eval_json(tmp_path, caplog):
    # a KL weight this large switches every unit off within 20 steps of a network started at zero codes (no linear
    # path: that one starts at PCA's codes, every unit active)
    run = small_run(tmp_path / "collapsed", beta=200.0, model__linear_path=False)
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        result = evaluate_run(run, iw_samples=8, write_figures=False)
    assert result["active_units"] == 0
    assert len(result["warnings"]) == 2 and "posterior collapse" in result["warnings"][0]
    assert result["warnings"][1].startswith("only 30 images evaluated")  # 10% of 300 digits
    assert "posterior collapse" in caplog.text
    assert json.loads((run / "eval.json").read_text())["warnings"] == result["warnings"]
    assert "figures" not in result


def test_the_autoencoder_reports_what_is_defined_and_says_why_the_rest_is_not(tmp_path):
    run = small_run(tmp_path / "ae", kind="ae")
    result = json.loads(json.dumps(evaluate_run(run, iw_samples=8)))
    saved = json.loads((run / "eval.json").read_text())
    for name in ("mse", "psnr", "ssim", "aggregate_posterior_mmd", "smoothness"):
        assert math.isfinite(saved[name]), name
        assert math.isfinite(saved[f"{name}_se" if f"{name}_se" in saved else f"{name}_ci"][0 if name.endswith(
            "mmd") else slice(None)] if name.endswith("mmd") else saved[f"{name}_se"]), name
    # 30 images for 4 dimensions: the moment-matched KL is withheld, with the rule it fails
    assert saved["aggregate_posterior_kl"] is None and "N >= 10 Z = 40" in saved["not_applicable"][
        "aggregate_posterior_kl"]
    variances = saved["posterior_mean_variance"]
    assert saved["active_units"] == sum(v > saved["active_threshold"] for v in variances) and len(variances) == 4
    undefined = ("elbo_shared_sigma", "iwae_shared_sigma", "elbo", "iwae", "bits_per_dim", "elbo_optimal_sigma",
                 "iwae_optimal_sigma", "bits_per_dim_optimal_sigma", "sigma", "kl", "kl_per_dim", "index_code_mi", "total_correlation",
                 "dimensionwise_kl")
    for name in undefined:
        assert saved[name] is None, name
        assert "point mass" in saved["not_applicable"][name]
    assert not any("collapse" in warning for warning in saved["warnings"])  # posterior collapse is a VAE's problem
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


def test_another_source_goes_to_its_own_folder_and_its_training_images_are_counted(vae_run, tmp_path):
    run = vae_run
    evaluate_run(run, iw_samples=4, write_figures=False)  # the run's own evaluation, on its validation images
    own = (run / "eval.json").read_bytes()
    config = RunDir(run).config()
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    folder = tmp_path / "pictures"
    folder.mkdir()
    # 6 of the run's training images and 2 of its validation images as PNG files at the model's size, and 4 others
    for i in [*train_index[:6], *val_index[:2]]:
        Image.fromarray(data.images[i, 0]).save(folder / f"digit{i}.png")
    for i, noise in enumerate(np.random.default_rng(0).integers(0, 256, (4, 16, 16), dtype=np.uint8)):
        Image.fromarray(noise).save(folder / f"noise{i}.png")
    result = evaluate_run(run, iw_samples=4, data=str(folder))
    assert (result["overlap_train"], result["overlap_val"], result["images"], result["split"]) == (6, 2, 12, "all")
    assert result["warnings"][0].startswith("6 of the 12 images evaluated are images of the run's training split")
    saved = json.loads((run / "data=pictures" / "eval.json").read_text())
    assert saved["overlap_train"] == 6 and saved["data"] == result["data"]
    assert (run / "data=pictures" / "figures" / "reconstructions.png").is_file()
    assert (run / "eval.json").read_bytes() == own  # the run's own evaluation is left as it was
    page = (run / "report.html").read_text()  # ... and its page shows it, and lists the other one
    assert "data=pictures/eval.json" in page and "6 of them training images of this run" in page


def test_bad_arguments_are_usage_errors(vae_run):
    run = vae_run
    with pytest.raises(UsageError, match="iw-samples"):
        evaluate_run(run, iw_samples=0)
    with pytest.raises(UsageError, match="max-images"):
        evaluate_run(run, max_images=1)
    with pytest.raises(UsageError, match="has no checkpoint missing.pt: use --checkpoint best"):
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
    # its own sigma: one over the evaluated images (its rule); the comparison's: fitted on the training split
    squared = np.array(optimal["per_image"]["mse"])
    assert optimal["sigma"] > 0 and optimal["sigma_fit_split"] == "train"
    assert optimal["sigma_fit_images"] == optimal["sigma_fit_of"] == 270  # every training image of 300 digits
    assert optimal["sigma_optimal"] != optimal["sigma"] and math.isfinite(optimal["elbo_optimal_sigma"])
    assert len(squared) == optimal["images"] == 30


def test_every_number_carries_its_standard_error_over_the_images(vae_run):
    result = evaluate_run(vae_run, iw_samples=4, write_figures=False)
    for name in ("elbo", "iwae", "bits_per_dim", "elbo_optimal_sigma", "iwae_optimal_sigma", "mse", "psnr", "ssim",
                 "kl", "smoothness"):
        per_image = result["per_image"]["likelihood"].get(name, result["per_image"].get(name))
        if name == "smoothness":
            continue
        assert result[name] == pytest.approx(np.mean(per_image)), name
        assert result[f"{name}_se"] == pytest.approx(np.std(per_image, ddof=1) / math.sqrt(len(per_image))), name
    assert result["smoothness_se"] > 0 and result["likelihood_images"] == 30
    assert result["per_image"]["likelihood"]["index"] == result["per_image"]["index"]  # all 30 bounded


def test_eval_json_scores_the_validation_images_through_the_posterior_mean(tmp_path):
    """mse, psnr and ssim recomputed here from the model, the run's validation split and the posterior means: an
    evaluation that scored training images, or reconstructed from a sample of q(z|x), would read otherwise."""
    run = small_run(tmp_path / "run", steps=10)
    saved = evaluate_run(run, iw_samples=2, write_figures=False)
    config = RunDir(run).config()
    data = load_images(config.data)
    train_index, val_index = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    x = torch.from_numpy(np.asarray(data.images[val_index])).float() / 255
    model = load_model(run, "best")
    with torch.no_grad():
        reconstruction = torch.sigmoid(model.decode(model.encode(x).mean))
    quality = reconstruction_quality(x, reconstruction)
    assert saved["split"] == "val" and saved["images"] == len(val_index) == 30
    assert saved["mse"] == pytest.approx(float(quality.mse.mean()), rel=1e-5)
    assert saved["psnr"] == pytest.approx(float(quality.psnr.mean()), rel=1e-5)
    assert saved["ssim"] == pytest.approx(float(quality.ssim.mean()), rel=1e-5)
    x_train = torch.from_numpy(np.asarray(data.images[train_index[: len(val_index)]])).float() / 255
    with torch.no_grad():
        on_train = torch.sigmoid(model.decode(model.encode(x_train).mean))
    assert saved["mse"] != pytest.approx(float(reconstruction_quality(x_train, on_train).mse.mean()), rel=1e-3)
