"""Known answer for the analytic reading of beta: a linear VAE trained by vaelab's Trainer on Gaussian data
with a chosen spectrum keeps the directions whose variance exceeds sigma^2 = beta / 2, as predicted from the
pixel covariance of its training images (diagnostics.spectrum), each with KL 0.5 log(lambda / sigma^2).

Each pixel's sd is about 0.07 around 0.5 (the six directions' variances, 29 sigma^2 in all, spread over 16
pixels), where the likelihood's sigmoid is linear to well under 1% (model/linear.py)."""

import math

import numpy as np
import pytest
import torch

from vaelab.config import Config, ObjectiveConfig, TrainingConfig
from vaelab.data import split_indices
from vaelab.diagnostics.latent import encode, kl_per_dim
from vaelab.diagnostics.spectrum import linear_prediction, pixel_spectrum
from vaelab.model.linear import LinearVAE
from vaelab.objectives import build_objective
from vaelab.training.batches import to_tensor
from vaelab.training.trainer import Trainer

BETA = 5e-3  # sigma^2 = 2.5e-3
RATIOS = (16.0, 8.0, 4.0, 0.5, 0.25, 0.1)  # eigenvalues in units of sigma^2: three above the threshold


def gaussian_images(n=2000, seed=0):
    """uint8 images (n, 1, 4, 4): 0.5 + U diag(sqrt(lambda)) eps, U six orthonormal directions of 16 pixels."""
    rng = np.random.default_rng(seed)
    directions, _ = np.linalg.qr(rng.standard_normal((16, len(RATIOS))))
    variances = np.array(RATIOS) * BETA / 2
    x = 0.5 + (rng.standard_normal((n, len(RATIOS))) * np.sqrt(variances)) @ directions.T
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8).reshape(n, 1, 4, 4), variances


def test_the_spectrum_is_that_of_the_data_by_the_gram_matrix_or_the_covariance():
    images, variances = gaussian_images()
    eigenvalues, n = pixel_spectrum(images)
    assert n == 2000
    quantisation = (1 / 255) ** 2 / 12  # the uint8 rounding's variance, in every direction
    np.testing.assert_allclose(eigenvalues[:6], variances + quantisation, rtol=0.1)
    gram, _ = pixel_spectrum(images[:10])  # N < D: the 10 x 10 Gram matrix, at most 9 nonzero
    scatter = np.linalg.eigvalsh(np.cov(images[:10].reshape(10, -1).T / 255.0, bias=True))[::-1]
    np.testing.assert_allclose(gram[:9], scatter[:9], rtol=1e-8, atol=1e-12)
    prediction = linear_prediction(eigenvalues, BETA / 2, beta=BETA, images=n)
    assert prediction.kept == 3
    assert prediction.switch_off[:3] == pytest.approx([2 * v for v in eigenvalues[:3]])


def test_a_linear_vae_keeps_the_predicted_number_of_directions():
    images, _ = gaussian_images()
    train_index, val_index = split_indices(len(images), 0.1, 0)
    eigenvalues, n = pixel_spectrum(images[train_index])
    predicted = linear_prediction(eigenvalues, BETA / 2, beta=BETA, images=n)
    config = Config(objective=ObjectiveConfig(recon="sse", beta=BETA),
                    training=TrainingConfig(steps=1000, batch_size=256, lr=2e-2, seed=0, progress=False,
                                            figures=False, channels_last=False, threads=1, lr_schedule="constant",
                                            ema=False)).validate()
    torch.manual_seed(0)
    model = LinearVAE(image_size=4, channels=1, latent_dim=6)
    objective = build_objective(config, (1, 4, 4), total_steps=1000)
    trainer = Trainer(config=config, model=model, objective=objective, images=images, train_index=train_index,
                      val_index=val_index, device=torch.device("cpu"), callbacks=[])
    trainer.fit()
    kl = np.sort(kl_per_dim(encode(model, to_tensor(images, val_index, torch.device("cpu")))))[::-1]
    assert int((kl > 0.1).sum()) == predicted.kept == 3
    # and each kept direction carries about 0.5 log(lambda / sigma^2) nats: 1.39, 1.04, 0.69
    np.testing.assert_allclose(kl[:3], [0.5 * math.log(r) for r in RATIOS[:3]], atol=0.15)
