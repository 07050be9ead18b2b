"""Reconstruction losses that are not likelihoods: `--recon ms-ssim | watson-dft | focal-frequency`, and a
likelihood's term with one of them added (`objective.recon_extra`, e.g. L1 + 0.84 x MS-SSIM, Zhao et al. 2017).

No density p(x|z) stands behind such a loss, so recon + beta * KL is no ELBO and beta no longer reads as a
decoder noise level (the beta <-> sigma reading of explain.py does not hold): beta is a plain trade-off weight
on a scale the loss sets. So that the run can still be compared with the others, every step logs, in place of
an ELBO of its own (`elbo` is null), the beta = 1 ELBO under a Gaussian decoder at the optimal shared sigma,
the rule of `--recon sigma-optimal` (decoder_variance.py, Rybkin et al. 2021):

    sigma^2 = SSE / (B D)  over the batch (a validation pass: over all its images, training/validation.py)
    elbo_optimal_sigma = -[ SSE_i / (2 sigma^2) + D log sigma + D/2 log(2 pi) + KL_i ],   sigma_optimal = sigma

Per-example values follow DESIGN.md's convention where the loss is a mean over pixels: it is multiplied by
the D pixel values (MS-SSIM: D (1 - MS-SSIM)), so that its beta sits on the scale of the summed error's.
"""

from __future__ import annotations

import math

import torch

from vaelab.config import EXTRA_RECONS, ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.objectives.decoder_variance import OptimalSigmaGaussian
from vaelab.objectives.likelihood import Likelihood


def check_config(config: ObjectiveConfig) -> None:
    """recon_extra is added to a likelihood's term, not to another loss that is none; its weight only with it."""
    if config.recon_extra is None and config.recon_extra_weight != ObjectiveConfig.recon_extra_weight:
        raise UsageError("objective.recon_extra_weight weighs objective.recon_extra, which is not set: add e.g. "
                         "--set objective.recon_extra=ms-ssim, or drop the weight")
    if config.recon_extra is not None and config.recon in EXTRA_RECONS:
        raise UsageError(f"objective.recon_extra={config.recon_extra} is added to a likelihood's term, and "
                         f"--recon {config.recon} is not one: use e.g. --recon l1 --set "
                         f"objective.recon_extra={config.recon_extra}, or --recon {config.recon} alone")


class ReconstructionLoss(Likelihood):
    """A reconstruction term that is not a likelihood: `nll` is nan, and `elbo_optimal_sigma` gives the Gaussian
    ELBO at the optimal shared sigma that the run logs instead (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.reference = OptimalSigmaGaussian(channels=1, per_channel=False)

    def nll(self, x, logits):
        return torch.full(x.shape[:1], math.nan, device=x.device)

    def elbo_optimal_sigma(self, x: torch.Tensor, logits: torch.Tensor, kl: torch.Tensor
                           ) -> dict[str, torch.Tensor]:
        """The batch mean of the beta = 1 ELBO under a Gaussian at the batch's optimal shared sigma, and that
        sigma, as 0-d tensors (logging them does not wait for the device)."""
        elbo = -(self.reference.recon(x, logits) + kl)  # (B,)
        return {"elbo_optimal_sigma": elbo.detach().mean(), "sigma_optimal": self.reference.logged_sigma()}


class WithAddedLoss(ReconstructionLoss):
    """A likelihood's reconstruction term plus `weight` times a loss that is not one: recon = main + w * added.
    The likelihood's own state (a learned sigma) stays in `main` and trains as it would alone."""

    def __init__(self, main: Likelihood, added: ReconstructionLoss, weight: float):
        super().__init__()
        self.main = main
        self.added = added
        self.weight = weight

    def recon(self, x, logits):
        return self.main.recon(x, logits) + self.weight * self.added.recon(x, logits)
