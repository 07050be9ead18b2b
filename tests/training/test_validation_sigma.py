"""The validation pass: a sigma-optimal run is scored under one sigma for the whole validation set, and a run
without validation images is refused before anything is written."""

import math

import numpy as np
import pytest
import torch

from vaelab.cli import main
from vaelab.config import ObjectiveConfig
from vaelab.config.schema import Config, TrainingConfig
from vaelab.model import ConvVAE
from vaelab.objectives import Objective
from vaelab.training.validation import validate

SHAPE = (3, 8, 8)


@pytest.mark.parametrize("per_channel", [False, True])
def test_sigma_optimal_is_scored_under_one_sigma_over_the_whole_set_whatever_the_chunks(per_channel):
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=3, latent_dim=2, width=2, kind="ae")  # no noise: chunks cannot matter
    objective = Objective(ObjectiveConfig(recon="sigma-optimal", sigma_per_channel=per_channel), image_shape=SHAPE,
                          deterministic=True)
    images = np.random.default_rng(0).integers(0, 256, size=(10, *SHAPE), dtype=np.uint8)
    config = Config(training=TrainingConfig(channels_last=False))
    index = np.arange(10)
    small, whole = (validate(model, objective, images, index, config=config, step=0, device=torch.device("cpu"),
                             batch_size=size) for size in (2, 100))  # chunks of 4 images, or one chunk
    x = torch.from_numpy(images).float() / 255
    squared = (x - model(x, sample=False).reconstruction).pow(2).detach().double()
    variance = squared.mean(dim=(0, 2, 3)) if per_channel else squared.mean().expand(3)  # (C,)
    pixels = 3 * 64
    expected = float((squared.sum(dim=(2, 3)).mean(0) / (2 * variance)).sum() + 64 * 0.5 * variance.log().sum()
                     + 0.5 * pixels * math.log(2 * math.pi))
    for metrics in (small, whole):
        assert metrics["recon"] == pytest.approx(expected, rel=1e-6)
        assert metrics["sigma"] == pytest.approx(float(variance.sqrt().mean()), rel=1e-6)
        assert metrics["loss"] == pytest.approx(metrics["recon"], rel=1e-6)  # the AE's loss is its recon term
        assert not any(name.startswith("_sse") for name in metrics)


def test_a_loss_that_is_not_a_likelihood_logs_the_gaussian_elbo_at_one_sigma_over_the_whole_set():
    # sigma^2 = all the SSE / (N D) = the mean of the images' MSEs; then the NLL is D/2 + D log sigma + D/2 log 2 pi
    torch.manual_seed(0)
    model = ConvVAE(image_size=8, channels=3, latent_dim=2, width=2)
    objective = Objective(ObjectiveConfig(recon="focal-frequency"), image_shape=SHAPE)
    images = np.random.default_rng(0).integers(0, 256, size=(10, *SHAPE), dtype=np.uint8)
    config = Config(training=TrainingConfig(channels_last=False))
    metrics = validate(model, objective, images, np.arange(10), config=config, step=0, device=torch.device("cpu"),
                       batch_size=2)  # chunks of 4: each chunk's own sigma would give another number
    pixels = 3 * 64
    sigma = math.sqrt(metrics["mse"])
    assert metrics["sigma_optimal"] == pytest.approx(sigma, rel=1e-6)
    nll = pixels / 2 + pixels * math.log(sigma) + pixels / 2 * math.log(2 * math.pi)
    assert metrics["elbo_optimal_sigma"] == pytest.approx(-(nll + metrics["kl"]), rel=1e-6)
    assert math.isnan(metrics["elbo"])


def test_a_run_without_validation_images_is_refused_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", "digits", "--set", "data.val_fraction=0", "--steps", "2", "--out", str(out)])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("vaelab: error: data.val_fraction=0") and "--val-fraction 0.1" in error
    assert len(error.splitlines()) == 1
    assert not out.exists() or not [path for path in out.iterdir() if path.name != ".lock"]
