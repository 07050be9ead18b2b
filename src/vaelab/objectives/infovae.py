"""InfoVAE (Zhao, Song & Ermon 2019, "InfoVAE: balancing learning and inference in variational autoencoders"):
`objective.method=infovae`, the KL of each code replaced or joined by a divergence between the aggregate
posterior q(z) = E_x q(z|x) and the prior, here the MMD (their MMD-VAE).

    loss = recon + beta [(1 - alpha) KL(q(z|x) || p(z)) + (alpha + lambda - 1) MMD^2(q(z), p(z))]

with vaelab's KL weight beta in front (1 in the paper). alpha = 1 drops the per-code KL (the MMD-VAE): nothing
then pulls each posterior towards the prior, only the codes as a whole, so the codes may carry as much
information as the decoder can use (MI is not penalised), while q(z) is still made to fill the prior, which is
what prior samples need. alpha = 0, lambda = 1 is the ELBO. The weights must keep both terms' factors >= 0.

MMD^2 is estimated on the batch: its B codes z_i ~ q(z|x_i) against B draws from the prior (the training noise
generator draws them, so a resumed run continues exactly), with the RBF kernel of bandwidth l^2 = Z
(exp(-|a - b|^2 / (2 Z)): two draws of N(0, I) are 2 Z apart in squared distance on average). Logged: `mmd`
(the batch's estimate) and `kl_objective`, the bracket's batch mean.
"""

from __future__ import annotations

import torch
from torch import nn

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.model import VAEOutput
from vaelab.model.prior import StandardNormal
from vaelab.objectives.kl import KLEstimate
from vaelab.objectives.mmd import mmd_squared, rbf_kernel


def check_config(config: Config) -> None:
    """alpha and lambda, and factors that keep the two divergences penalties."""
    objective = config.objective
    given = [name for name in ("info_alpha", "info_lambda") if getattr(objective, name) is not None]
    if given and objective.method != "infovae":
        raise UsageError(f"objective.{given[0]} belongs to InfoVAE: drop it, or add --set objective.method=infovae")
    alpha, lam = objective.info_weights()
    if not alpha <= 1:
        raise UsageError(f"objective.info_alpha={alpha} must be at most 1 (the KL's factor is 1 - alpha): e.g. "
                         "--set objective.info_alpha=1 (the MMD-VAE)")
    if not alpha + lam - 1 >= 0:
        raise UsageError(f"objective.info_alpha + info_lambda - 1 = {alpha + lam - 1:g} is the MMD's weight and must "
                         "be >= 0: e.g. --set objective.info_lambda=100")


def latent_mmd(z: torch.Tensor, prior_draws: torch.Tensor) -> torch.Tensor:
    """MMD^2 between the codes z (B, Z) and as many prior draws, RBF kernel with l^2 = Z (module docstring)."""
    return mmd_squared(z, prior_draws, rbf_kernel, bandwidth=float(z.shape[1]))


class InfoMMD(nn.Module):
    """(1 - alpha) KL + (alpha + lambda - 1) MMD^2 per example (module docstring)."""

    def __init__(self, *, alpha: float, lam: float):
        super().__init__()
        self.alpha, self.lam = alpha, lam

    def forward(self, output: VAEOutput, estimate: KLEstimate, generator: torch.Generator | None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(the KL term per example (B,), its parts' batch means to log). The prior draws come from `generator`."""
        z = output.z
        prior = StandardNormal(z.shape[1], z.device) if output.prior is None else output.prior
        draws = prior.sample(len(z), generator).to(z.dtype)
        mmd = latent_mmd(z, draws) if len(z) > 1 else z.new_zeros(())  # one code (a last chunk) has no pairs
        term = (1 - self.alpha) * estimate.kl + (self.alpha + self.lam - 1) * mmd  # (B,)
        return term, {"mmd": mmd.detach(), "kl_objective": term.detach().mean()}
