"""`--recon ms-ssim`: multi-scale structural similarity as a reconstruction loss (Wang, Simoncelli & Bovik 2003,
"Multiscale structural similarity for image quality assessment"), the loss of pythae's MSSSIM_VAE.

At scale j (the images halved j - 1 times by 2 x 2 average pooling), with 11 x 11 Gaussian windows of std 1.5
and C1 = (0.01)^2, C2 = (0.03)^2 for pixels in [0, 1] (Wang et al. 2004):

    cs_j   = mean over positions of (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)
    ssim_M = mean over positions of (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) * (contrast-structure term)
    MS-SSIM = prod_{j < M} relu(cs_j)^w_j * relu(ssim_M)^w_M     per channel, then the mean over channels
    recon = D * (1 - MS-SSIM(x, x_hat))        D = C H W: a mean over pixels made a sum (recon_loss.py)

The per-scale statistics are pytorch-msssim 1.0.0's (`_ssim`, its Gaussian window); the product over scales is
written here because the library's `ms_ssim` demands 5 scales (a side above 160 px) whatever its weights.

Scales: the 5 with Wang's weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) need the smaller side above
10 * 2^4 = 160 px. Smaller images get the finest M scales whose window still fits (side > 10 * 2^(M - 1)), with
those weights renormalised to sum 1: 128 px -> 4 scales, 64 px -> 3, 28 px -> 2, 16 px -> 1 (plain SSIM). Images
of 10 px or less are refused (`scales_for`).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

from vaelab.errors import UsageError
from vaelab.objectives.recon_loss import ReconstructionLoss

log = logging.getLogger("vaelab")

WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, finest scale first
WINDOW = 11
WINDOW_SIGMA = 1.5
K = (0.01, 0.03)


def scales_for(height: int, width: int) -> int:
    """The number of scales that fit images of this size: the most (at most 5) with side > 10 * 2^(M - 1)."""
    side = min(height, width)
    if side < WINDOW:
        raise UsageError(f"--recon ms-ssim needs images of at least {WINDOW} x {WINDOW} pixels for its "
                         f"{WINDOW} x {WINDOW} window; these are {height} x {width}: use --image-size 16 or more")
    scales = 1
    while scales < len(WANG_WEIGHTS) and side > (WINDOW - 1) * 2**scales:
        scales += 1
    return scales


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int) -> torch.Tensor:
    """MS-SSIM per image over `scales` scales, pixels in [0, 1]. (B, C, H, W) x 2 -> (B,)"""
    weights = torch.tensor(WANG_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    window = _fspecial_gauss_1d(WINDOW, WINDOW_SIGMA).repeat(x.shape[1], 1, 1, 1)  # (C, 1, 1, 11)
    factors = []
    for scale in range(scales):
        ssim, cs = _ssim(x, y, data_range=1.0, win=window, size_average=False, K=K)  # (B, C) each
        if scale < scales - 1:
            factors.append(torch.relu(cs))
            padding = [size % 2 for size in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    factors.append(torch.relu(ssim))
    per_channel = torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1), dim=0)  # (B, C)
    return per_channel.mean(dim=1)


class MSSSIMLoss(ReconstructionLoss):
    """recon = D (1 - MS-SSIM(x, sigmoid(logits))) over the scales that images of `image_shape` allow."""

    def __init__(self, image_shape: tuple[int, int, int]):
        super().__init__()
        channels, height, width = image_shape
        self.pixels = channels * height * width
        self.scales = scales_for(height, width)
        if self.scales < len(WANG_WEIGHTS):
            log.info("ms-ssim: %d of %d scales on %d x %d images (5 need a side above 160 px)", self.scales,
                     len(WANG_WEIGHTS), height, width)

    def recon(self, x, logits):
        return self.pixels * (1 - ms_ssim(x.float(), torch.sigmoid(logits.float()), self.scales))  # float32 under AMP
