"""`--recon watson-dft`: Watson's perceptual model in the block-DFT domain as a reconstruction loss (Czolbe,
Krause, Cox & Igel 2020, "A Loss Function for Generative Neural Networks Based on Watson's Perceptual Model",
after Watson 1993, "DCT quantization matrices visually optimized for individual images").

Each image (colour: in YCbCr, BT.601, each channel alike) is cut into 8 x 8 blocks k, each block transformed
by the unitary 2-D DFT of its pixel values on the 0-255 scale (the units of Watson's table; Parseval gives its
coefficients C_ijk the energy of his orthonormal DCT's). With x the input (the reference) and x_hat its
reconstruction:

    frequency sensitivity  t_ij            Watson's DCT table at the same spatial frequency: DFT index u is
                                           min(u, 8 - u) cycles per block, DCT index i is i / 2 cycles, so
                                           t_uv = T[min(2 f_u, 7), min(2 f_v, 7)]
    luminance masking      t_ijk = t_ij (C_00k / mean_k C_00k)^alpha,      alpha = 0.649
    contrast masking       m_ijk = max(t_ijk, |C_ijk|^w t_ijk^(1 - w)),     w = 0.7
    distance               d_ijk = |C_ijk - C^_ijk| / m_ijk
    Minkowski pooling      D(x, x_hat) = (sum_ijk d_ijk^p)^(1/p),            p = 4

The masks come from x alone, so no gradient passes through them and the exact max needs no smoothing (Czolbe et
al. smooth it because they learn the parameters). Where they differ from the above, and why:
- They split each DFT coefficient into amplitude and phase and weigh the phase with weights learned on human
  similarity judgements (2AFC); a loss that loads no learned parameters cannot have those, and |C - C^| of the
  complex coefficients, which holds both, is the DFT form of Watson's signed-coefficient difference.
- They shift the block grid at random in every call to hide block edges; here the distance is the mean over two
  fixed grids, at offsets 0 and 4 pixels (replicate padding to whole blocks), so that a validation pass is
  repeatable and a resumed run exact.
- C_00k is floored at one grey level (a block mean of 1/255), so that a black block's threshold stays above 0.
recon = D(x, x_hat), per image; its scale is not a sum over pixels, so its beta is tuned afresh.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaelab.objectives.recon_loss import ReconstructionLoss

BLOCK = 8
ALPHA = 0.649  # luminance masking exponent, Watson 1993
W = 0.7  # contrast masking exponent, Watson 1993
P = 4.0  # Minkowski pooling exponent, Watson 1993
OFFSETS = (0, BLOCK // 2)
LUMINANCE_FLOOR = BLOCK  # C_00 of a block whose mean is one grey level (unitary DFT: C_00 = 8 x mean)
# Watson's frequency sensitivities (DCT coefficient units, 8-bit pixels); row i: vertical frequency i / 2 cycles/block
WATSON_TABLE = (
    (1.40, 1.01, 1.16, 1.66, 2.40, 3.43, 4.79, 6.56),
    (1.01, 1.45, 1.32, 1.52, 2.00, 2.71, 3.67, 4.93),
    (1.16, 1.32, 2.24, 2.59, 2.98, 3.64, 4.60, 5.88),
    (1.66, 1.52, 2.59, 3.77, 4.55, 5.30, 6.28, 7.60),
    (2.40, 2.00, 2.98, 4.55, 6.15, 7.46, 8.71, 10.17),
    (3.43, 2.71, 3.64, 5.30, 7.46, 9.62, 11.58, 13.51),
    (4.79, 3.67, 4.60, 6.28, 8.71, 11.58, 14.50, 17.29),
    (6.56, 4.93, 5.88, 7.60, 10.17, 13.51, 17.29, 21.15),
)
YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))  # BT.601, full range
CHROMA_OFFSET = (0.0, 0.5, 0.5)  # Cb and Cr centred on 0.5, so that their blocks' means mask as Y's do


def dft_sensitivity() -> torch.Tensor:
    """t_uv of the 8 x 8 DFT from Watson's DCT table at the same spatial frequency (module docstring). (8, 8)"""
    table = torch.tensor(WATSON_TABLE, dtype=torch.float64)
    index = torch.tensor([min(2 * min(u, BLOCK - u), BLOCK - 1) for u in range(BLOCK)])
    return table[index][:, index]


def to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> YCbCr in [0, 1] (BT.601, full range); a grey image is returned as it is. (B, C, H, W)"""
    if x.shape[1] == 1:
        return x
    matrix = torch.tensor(YCBCR, dtype=x.dtype, device=x.device)
    offset = torch.tensor(CHROMA_OFFSET, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.einsum("oc,bchw->bohw", matrix, x) + offset


def block_dft(x: torch.Tensor, offset: int) -> torch.Tensor:
    """The unitary DFT of each 8 x 8 block of 255 x, on the grid starting `offset` pixels in (replicate padding
    to whole blocks). (B, C, H, W) -> (B, C, K, 8, 8) complex"""
    height, width = x.shape[-2:]
    pad_bottom, pad_right = (-(offset + height)) % BLOCK, (-(offset + width)) % BLOCK
    if offset or pad_bottom or pad_right:
        x = F.pad(x, (offset, pad_right, offset, pad_bottom), mode="replicate")
    b, c, h, w = x.shape
    blocks = x.reshape(b, c, h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(3, 4).reshape(b, c, -1, BLOCK, BLOCK)
    return torch.fft.fft2(255 * blocks, norm="ortho")


def watson_masks(reference: torch.Tensor, sensitivity: torch.Tensor) -> torch.Tensor:
    """m_ijk: the visibility threshold of each coefficient of the reference's blocks (B, C, K, 8, 8) complex,
    after luminance and contrast masking. Same shape, real."""
    amplitude = reference.abs()
    dc = amplitude[..., :1, :1].clamp(min=LUMINANCE_FLOOR)  # (B, C, K, 1, 1)
    luminance = sensitivity * (dc / dc.mean(dim=2, keepdim=True)) ** ALPHA
    return torch.maximum(luminance, amplitude**W * luminance ** (1 - W))


def watson_distance(x: torch.Tensor, x_hat: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """Watson's distance D(x, x_hat) on one block grid, x the reference; pixels in [0, 1]. (B, C, H, W) -> (B,)"""
    reference = block_dft(to_ycbcr(x), offset)
    reconstruction = block_dft(to_ycbcr(x_hat), offset)
    sensitivity = dft_sensitivity().to(device=x.device, dtype=x.dtype)
    masks = watson_masks(reference, sensitivity)
    difference = reconstruction - reference
    # |C^ - C| written so that its gradient is finite where they agree, and exactly 0 there
    modulus = (difference.real.square() + difference.imag.square() + 1e-12).sqrt() - 1e-6
    pooled = (modulus / masks).pow(P).flatten(1).sum(dim=1)  # (B,)
    return (pooled + 1e-32).pow(1 / P) - 1e-8  # 0 at pooled = 0, with a finite gradient there


class WatsonDFTLoss(ReconstructionLoss):
    """recon = the mean over the two block grids of Watson's distance from x to sigmoid(logits)."""

    def recon(self, x, logits):
        x, x_hat = x.float(), torch.sigmoid(logits.float())  # the FFT takes no bfloat16 (AMP)
        return torch.stack([watson_distance(x, x_hat, offset) for offset in OFFSETS]).mean(dim=0)
