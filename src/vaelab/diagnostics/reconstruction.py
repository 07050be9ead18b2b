"""Reconstruction quality per image: MSE, PSNR and SSIM, for pixels in [0, 1].

    mse_i  = mean over the D pixels of (x - x_hat)^2                    (per pixel, as in metrics.jsonl)
    psnr_i = 10 log10(1 / mse_i)                                         (dB; the data range is 1)
    ssim_i = structural similarity (Wang et al. 2004), scikit-image's implementation with the
             paper's settings: 11x11 Gaussian window of sigma 1.5, population covariances,
             K1 = 0.01, K2 = 0.03; averaged over colour channels

A dataset's value is the mean of the per-image values, so psnr is the mean PSNR of the images,
not 10 log10(1 / mse) of the mean MSE (which it is at most, by Jensen's inequality).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from skimage.metrics import structural_similarity

SSIM_WINDOW = 11  # the Gaussian window's extent with sigma = 1.5 (truncated at 3.5 sigma)


@dataclass
class ReconstructionQuality:
    """Per-image values, each (N,); `ssim` is None for images smaller than the SSIM window."""

    mse: np.ndarray
    psnr: np.ndarray
    ssim: np.ndarray | None


def reconstruction_quality(x: torch.Tensor, reconstruction: torch.Tensor) -> ReconstructionQuality:
    """x, reconstruction: (N, C, H, W) in [0, 1]."""
    mse = (x - reconstruction).double().pow(2).flatten(1).mean(dim=1).cpu().numpy()
    psnr = 10 * np.log10(1.0 / mse)
    return ReconstructionQuality(mse=mse, psnr=psnr, ssim=ssim(x, reconstruction))


def ssim(x: torch.Tensor, reconstruction: torch.Tensor) -> np.ndarray | None:
    """SSIM per image (N,) with Wang et al.'s settings, or None when the images are smaller than 11x11."""
    if min(x.shape[-2:]) < SSIM_WINDOW:
        return None
    images = x.double().cpu().numpy()
    reconstructions = reconstruction.double().cpu().numpy()
    return np.array([
        structural_similarity(image, rebuilt, data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for image, rebuilt in zip(images, reconstructions)
    ])
