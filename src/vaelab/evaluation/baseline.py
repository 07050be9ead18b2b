"""The linear baseline beside every evaluation: PCA / pPCA with the run's latent size, fitted on the run's
training split (as it is, never augmented) and scored on the images evaluated (diagnostics/baseline.py);
and the training images the generalisation gap is measured on."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from vaelab.config import Config
from vaelab.data import load_images, split_indices
from vaelab.diagnostics.baseline import fit_linear_baseline
from vaelab.diagnostics.intervals import standard_error
from vaelab.diagnostics.latent import encode
from vaelab.diagnostics.likelihood import bits_per_dim
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.diagnostics.smoothness import decode_means


def training_split(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The run's cached images (uint8 (N, C, H, W)) and the indices of its training split."""
    data = load_images(config.data)
    train_index, _ = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    return data.images, train_index


def linear_and_training_comparison(config: Config, model: nn.Module, x: torch.Tensor, psnr: np.ndarray,
                                   train_x: torch.Tensor) -> dict[str, Any]:
    """The two comparisons every evaluation carries: the linear baseline on the same images x (N, C, H, W),
    whose per-image PSNRs under the model are `psnr` (N,), with the paired difference and its standard error
    (`pca_*`, `psnr_gain_over_pca`); and the model on training images `train_x`, as they are (`train_*`,
    `generalisation_gap_psnr` = train PSNR - evaluated PSNR, with its standard error)."""
    results, pca_psnr = pca_metrics(config, x, model.latent_dim)
    gain = psnr - pca_psnr
    results["psnr_gain_over_pca"] = float(gain.mean())
    results["psnr_gain_over_pca_se"] = standard_error(gain)
    train = reconstruction_quality(train_x, decode_means(model, encode(model, train_x).mean))
    results.update(train_images=len(train_x), train_mse=float(train.mse.mean()), train_psnr=float(train.psnr.mean()),
                   train_psnr_se=standard_error(train.psnr),
                   train_ssim=None if train.ssim is None else float(train.ssim.mean()))
    results["generalisation_gap_psnr"] = results["train_psnr"] - float(psnr.mean())
    results["generalisation_gap_psnr_se"] = math.hypot(results["train_psnr_se"], standard_error(psnr))
    return results


def pca_metrics(config: Config, x: torch.Tensor, components: int) -> tuple[dict[str, Any], np.ndarray]:
    """`pca_*` of eval.json: PCA's reconstruction quality of the images x (N, C, H, W) and pPCA's exact
    log-likelihood (nats / image, and bits / dim as the VAE's), with `components` = the latent size; and
    PCA's per-image PSNRs (N,)."""
    images, train_index = training_split(config)
    fitted = images[np.sort(train_index)].reshape(len(train_index), -1).astype(np.float32) / 255
    baseline = fit_linear_baseline(fitted, components)
    flat = x.double().cpu().reshape(len(x), -1).numpy()
    reconstruction = torch.from_numpy(baseline.reconstruct(flat)).reshape(x.shape).to(x)
    quality = reconstruction_quality(x, reconstruction)
    log_likelihood = baseline.log_likelihood(flat)
    pixels = flat.shape[1]
    return {
        "pca_components": baseline.components, "pca_fit_images": baseline.fit_images,
        "pca_mse": float(quality.mse.mean()), "pca_psnr": float(quality.psnr.mean()),
        "pca_ssim": None if quality.ssim is None else float(quality.ssim.mean()),
        "pca_noise_std": math.sqrt(baseline.noise_variance),
        "pca_log_likelihood": float(log_likelihood.mean()),
        "pca_bits_per_dim": float(bits_per_dim(torch.from_numpy(log_likelihood), pixels).mean()),
    }, quality.psnr


def pca_on_validation(config: Config, components: int) -> dict[str, Any]:
    """The `pca_*` numbers of a run's data on its validation images, without a model: the PCA row that tables of
    runs (the demo, a sweep, `runs compare`) carry beside the networks' numbers."""
    images = load_images(config.data).images
    _, val_index = split_indices(len(images), config.data.val_fraction, config.data.split_seed)
    x = torch.from_numpy(np.asarray(images[val_index])).float() / 255
    return {**pca_metrics(config, x, components)[0], "images": len(val_index)}
