"""The analytic answer on the user's data: how many directions a *linear* VAE keeps at a given beta.

For SSE + beta KL (a Gaussian decoder with sigma^2 = beta / 2), the linear VAE's optimum is probabilistic
PCA with that noise level (Tipping & Bishop 1999): it keeps exactly the principal directions of the data
whose covariance eigenvalue lambda_i exceeds sigma^2, each with a KL of 0.5 log(lambda_i / sigma^2) nats,
and collapses the rest to the prior (Lucas, Tucker, Grosse & Norouzi 2019, sec. 4; Dai et al. 2018). So
direction i switches off at beta_i = 2 lambda_i. A deep network is not linear, but this is the baseline
that says which structure of the data a beta can afford at all: its number of directions beside the
network's per-dimension KL.

Numpy only (no torch), so that `vaelab explain --data` stays light. Eigenvalues are those of the pixel
covariance (pixels in [0, 1], population covariance, divided by N) of at most MAX_IMAGES images: with
N < D through the N x N Gram matrix of the centred images (the same nonzero eigenvalues), else the D x D
covariance. At most N - 1 are nonzero, so no more than N - 1 directions can be counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_IMAGES = 2000  # a seeded subset above this: the Gram matrix is N x N
SHOWN = 10  # directions whose switch-off beta is listed


def pixel_spectrum(images: np.ndarray, *, max_images: int = MAX_IMAGES, seed: int = 0) -> tuple[np.ndarray, int]:
    """Eigenvalues of the pixel covariance of uint8 images (N, C, H, W), largest first, and the N used."""
    if len(images) > max_images:
        images = images[np.sort(np.random.default_rng(seed).choice(len(images), max_images, replace=False))]
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0  # (N, D)
    x -= x.mean(axis=0)
    n, d = x.shape
    matrix = x @ x.T if n <= d else x.T @ x  # Gram (N, N) or scatter (D, D): the same nonzero eigenvalues
    eigenvalues = np.linalg.eigvalsh(matrix / n)[::-1]
    return np.clip(eigenvalues, 0.0, None), n


@dataclass(frozen=True)
class LinearPrediction:
    """What a linear VAE keeps at one beta: the threshold sigma^2, the count of eigenvalues above it, and the
    beta at which each of the first directions switches off (beta_i = 2 lambda_i under sse)."""

    beta: float
    threshold: float  # sigma^2 = beta / 2 (sse)
    kept: int
    images: int
    eigenvalues: list[float]  # the first SHOWN
    switch_off: list[float]  # beta_i of the first SHOWN
    kl_per_direction: list[float]  # 0.5 log(lambda_i / sigma^2) of the kept ones among the first SHOWN

    def text(self) -> str:
        """The prediction in words, as `vaelab explain --data` prints it."""
        lines = [(f"A linear VAE at beta = {self.beta:g} keeps the directions of the data whose variance exceeds "
                 f"sigma^2 = beta / 2 = {self.threshold:.4g}:"),
                 (f"  {self.kept} direction{'s' if self.kept != 1 else ''} of the pixel covariance of {self.images} "
                 f"training images (at most {self.images - 1} can be nonzero)"),
                 "",
                 "  direction  variance   switches off at beta   KL now (nats)"]
        for i, (value, beta) in enumerate(zip(self.eigenvalues, self.switch_off)):
            kl = self.kl_per_direction[i] if i < len(self.kl_per_direction) else 0.0
            lines.append(f"  {i + 1:>9}  {value:<9.4g}  {beta:<21.4g}  {kl:.3g}")
        lines += ["", ("(Lucas et al. 2019; Dai et al. 2018: a linear VAE is probabilistic PCA with noise sigma^2. A "
                       "deep network can do more, but no beta above 2 lambda_1 keeps any direction of a linear one.)")]
        return "\n".join(lines) + "\n"


def linear_prediction(eigenvalues: np.ndarray, threshold: float, *, beta: float, images: int) -> LinearPrediction:
    """The prediction for a noise variance `threshold` (sigma^2 in force: beta / 2 for sse)."""
    shown = eigenvalues[:SHOWN]
    kept = int((eigenvalues > threshold).sum())
    scale = beta / threshold if threshold > 0 else math.nan  # beta per unit of sigma^2 (2 for sse)
    kl = [0.5 * math.log(value / threshold) for value in shown if threshold > 0 and value > threshold]
    return LinearPrediction(beta=beta, threshold=threshold, kept=kept, images=images,
                            eigenvalues=[float(v) for v in shown], switch_off=[float(scale * v) for v in shown],
                            kl_per_direction=kl)
