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
from vaelab.diagnostics.latent import encode
from vaelab.diagnostics.likelihood import bits_per_dim
from vaelab.diagnostics.reconstruction import reconstruction_quality
from vaelab.diagnostics.smoothness import decode_means
from vaelab.training.batches import to_tensor


def training_split(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The run's cached images (uint8 (N, C, H, W)) and the indices of its training split."""
    data = load_images(config.data)
    train_index, _ = split_indices(len(data.images), config.data.val_fraction, config.data.split_seed)
    return data.images, train_index


def training_sample(config: Config, count: int, seed: int, device: torch.device) -> torch.Tensor:
    """`count` training images (a seeded subset; all of them if there are fewer), as they are: (n, C, H, W)."""
    images, train_index = training_split(config)
    if len(train_index) > count:
        train_index = np.sort(np.random.default_rng(seed).choice(train_index, size=count, replace=False))
    return to_tensor(images, train_index, device, channels_last=True)


def linear_and_training_comparison(config: Config, model: nn.Module, x: torch.Tensor, psnr: np.ndarray, seed: int
                                   ) -> dict[str, Any]:
    """The two comparisons every evaluation carries: the linear baseline on the same images x (N, C, H, W),
    whose per-image PSNRs under the model are `psnr` (N,), with the paired difference and its standard error
    (`pca_*`, `psnr_gain_over_pca`); and the model on as many training images, as they are
    (`train_*`, `generalisation_gap_psnr` = train PSNR - evaluated PSNR)."""
    results, pca_psnr = pca_metrics(config, x, model.latent_dim, seed)
    gain = psnr - pca_psnr
    results["psnr_gain_over_pca"] = float(gain.mean())
    results["psnr_gain_over_pca_se"] = float(gain.std(ddof=1) / math.sqrt(len(gain))) if len(gain) > 1 else None
    train_x = training_sample(config, len(x), seed, x.device)
    reconstruction = decode_means(model, encode(model, train_x).mean)
    train = reconstruction_quality(train_x, reconstruction)
    results.update(train_images=len(train_x), train_mse=float(train.mse.mean()), train_psnr=float(train.psnr.mean()),
                   train_ssim=None if train.ssim is None else float(train.ssim.mean()))
    results["generalisation_gap_psnr"] = results["train_psnr"] - float(psnr.mean())
    return results


def pca_metrics(config: Config, x: torch.Tensor, components: int, seed: int) -> tuple[dict[str, Any], np.ndarray]:
    """`pca_*` of eval.json: PCA's reconstruction quality of the images x (N, C, H, W) and pPCA's exact
    log-likelihood (nats / image, and bits / dim as the VAE's), with `components` = the latent size; and
    PCA's per-image PSNRs (N,)."""
    images, train_index = training_split(config)
    fitted = images[np.sort(train_index)].reshape(len(train_index), -1).astype(np.float32) / 255
    baseline = fit_linear_baseline(fitted, components, seed=seed)
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
