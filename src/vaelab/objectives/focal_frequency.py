"""`--recon focal-frequency`: the focal frequency loss (Jiang, Dai, Wu & Loy 2021, "Focal Frequency Loss for
Image Reconstruction and Synthesis", ICCV), which weighs each frequency by how badly it is reconstructed, so
that the hard (typically high) frequencies a squared error leaves blurred are not drowned by the easy ones.

With F and F^ the unitary 2-D DFTs of each channel of x and of its reconstruction:

    w(u, v)  = |F(u, v) - F^(u, v)|^alpha / max_uv |F - F^|^alpha      per image and channel, in [0, 1], detached
    recon    = sum over channels and (u, v) of w(u, v) |F(u, v) - F^(u, v)|^2          alpha = 1 (the paper's)

The paper averages over frequencies; the sum follows DESIGN.md's convention, and by Parseval's theorem it makes
the loss at alpha = 0 (every weight 1) exactly the summed squared error: the focal loss is the SSE with its
well-reconstructed frequencies discounted. (The paper's patch and batch-statistics options are left out.)
"""

from __future__ import annotations

import torch

from vaelab.objectives.recon_loss import ReconstructionLoss

ALPHA = 1.0


def focal_frequency_loss(x: torch.Tensor, x_hat: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """The focal frequency loss per image, summed over frequencies and channels. (B, C, H, W) x 2 -> (B,)"""
    difference = torch.fft.fft2(x_hat, norm="ortho") - torch.fft.fft2(x, norm="ortho")  # (B, C, H, W) complex
    distance = difference.real.square() + difference.imag.square()  # |F^ - F|^2
    with torch.no_grad():
        weight = distance.sqrt() ** alpha
        weight = weight / weight.amax(dim=(2, 3), keepdim=True)
        weight = torch.nan_to_num(weight, nan=0.0).clamp(0, 1)  # an exact channel (0 / 0) weighs nothing
    return (weight * distance).flatten(1).sum(dim=1)


class FocalFrequencyLoss(ReconstructionLoss):
    """recon = the focal frequency loss from x to sigmoid(logits), alpha = 1."""

    def recon(self, x, logits):
        return focal_frequency_loss(x.float(), torch.sigmoid(logits.float()))  # the FFT takes no bfloat16 (AMP)
