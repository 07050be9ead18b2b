"""beta-TCVAE (Chen, Li, Grosse & Duvenaud 2018, "Isolating sources of disentanglement in VAEs"):
`objective.method=tcvae`, the KL term split in three and each part weighed on its own.

With n the index of an image among the N training images, z ~ q(z|n) and q(z) = (1/N) sum_n q(z|n) (eq. 2):

    KL(q(z|n) || p(z)) = [log q(z|n) - log q(z)]                 index-code mutual information  MI
                       + [log q(z) - sum_j log q(z_j)]            total correlation              TC
                       + [sum_j log q(z_j) - log p(z_j)]          dimension-wise KL              DWKL

    loss = recon + beta (alpha MI + beta_tc TC + gamma DWKL)      (eq. 4, with vaelab's KL weight beta in front)

so alpha = beta_tc = gamma = 1 is the plain ELBO, whatever the estimates of log q(z) and log q(z_j): the three
terms add up to log q(z|n) - log p(z), the one-code Monte Carlo KL. q(z) and its marginals q(z_j) are estimated
on the batch of B codes z_i ~ q(z|n_i), as log q(z_i) ~ logsumexp_m [log c_im + log q(z_i|n_m)] (and per
dimension for q(z_ij)) with weights c_im (`tc_sampling`):

    mws  minibatch-weighted sampling (sec. 4.1): c_im = 1 / (N B) for every m. Biased: log q(z) reads low, by
         log B where the posteriors do not overlap (the code's own, weight 1/N in q(z), gets 1 / (N B)) and by up
         to log N where they coincide; so MI reads high, and TC, each marginal read low as well, by up to
         (Z - 1) log N.
    mss  minibatch-stratified sampling (after their appendix): the code's own posterior is one stratum, weight 1/N; the
         batch's other B - 1 posteriors are a uniform sample of the other N - 1, weight (N - 1) / (N (B - 1)) each.
         An unbiased estimate of q(z_i) (Chen et al.'s appendix splits the others' weight unevenly; both are
         unbiased); with the whole data set as the batch it is the exact mixture.

The dimension-wise KL needs a prior that factorises over the dimensions: N(0, I) (rules refuse the VampPrior).
Logged (nats per image, batch means): `mi`, `tc`, `dwkl`, and `kl_objective` = alpha MI + beta_tc TC + gamma DWKL.
N is the training split's size, a buffer in the checkpoint.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.model import VAEOutput
from vaelab.model.posterior import log_normal
from vaelab.objectives.kl import KLEstimate

SAMPLINGS = ("mws", "mss")


def check_config(config: Config) -> None:
    """The three weights and the estimator, and a factorised prior."""
    objective = config.objective
    names = ("tc_alpha", "tc_beta", "tc_gamma", "tc_sampling")
    given = [name for name in names if getattr(objective, name) is not None]
    if given and objective.method != "tcvae":
        raise UsageError(f"objective.{given[0]} belongs to beta-TCVAE: drop it, or add --set objective.method=tcvae")
    for name, value in zip(("tc_alpha", "tc_beta", "tc_gamma"), objective.tc_weights()):
        if not value >= 0:
            raise UsageError(f"objective.{name}={value} must be >= 0: e.g. --set objective.{name}=1")
    if objective.tc_sampling not in (None, *SAMPLINGS):
        raise UsageError(f"objective.tc_sampling={objective.tc_sampling!r} is unknown: use mws (minibatch-weighted) "
                         "or mss (minibatch-stratified)")
    if objective.method == "tcvae" and config.model.prior == "vamp":
        raise UsageError("objective.method=tcvae splits off a dimension-wise KL, which needs a prior that factorises "
                         "over the dimensions: use --set model.prior=normal (or gmm, fitted after training)")


def log_mixture_weights(batch: int, dataset_size: int, sampling: str, like: torch.Tensor) -> torch.Tensor:
    """log c_im: the weight of posterior m in the estimate of q(z_i) (module docstring), in the dtype and on the
    device of `like`. (B, B)"""
    if sampling == "mws" or batch == 1:
        return like.new_full((batch, batch), -math.log(dataset_size * batch))
    others = math.log((dataset_size - 1) / (dataset_size * (batch - 1)))
    weights = like.new_full((batch, batch), others)
    return weights.fill_diagonal_(-math.log(dataset_size))


def kl_decomposition(output: VAEOutput, log_ratio: torch.Tensor, dataset_size: int, sampling: str
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(MI, TC, DWKL) of each code of the batch (B,) each, in nats; they add up to `log_ratio` (B,), its
    log q(z|n) - log p(z). output.z: (B, Z) codes of output.posterior; output.prior: N(0, I) (None) here."""
    posterior, z = output.posterior, output.z
    log_q_dims = log_normal(z[:, None, :], posterior.mean[None], posterior.logvar[None])  # log q(z_ij|n_m): (B, B, Z)
    weights = log_mixture_weights(len(z), dataset_size, sampling, z)  # (B, B)
    log_q_zx = log_q_dims.diagonal(dim1=0, dim2=1).sum(dim=0)  # log q(z_i|n_i): (B,)
    log_qz = torch.logsumexp(weights + log_q_dims.sum(dim=2), dim=1)  # (B,)
    log_qz_dims = torch.logsumexp(weights[:, :, None] + log_q_dims, dim=1).sum(dim=1)  # sum_j log q(z_ij): (B,)
    log_pz = log_q_zx - log_ratio  # (B,)
    return log_q_zx - log_qz, log_qz - log_qz_dims, log_qz_dims - log_pz


class TotalCorrelationPenalty(nn.Module):
    """alpha MI + beta_tc TC + gamma DWKL per example (module docstring); N in a buffer (the checkpoint keeps it)."""

    def __init__(self, *, alpha: float, beta: float, gamma: float, sampling: str, dataset_size: int):
        super().__init__()
        self.alpha, self.beta, self.gamma, self.sampling = alpha, beta, gamma, sampling
        self.register_buffer("dataset_size", torch.tensor(dataset_size))

    def forward(self, output: VAEOutput, estimate: KLEstimate, generator: torch.Generator | None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(the KL term per example (B,), its parts' batch means to log)."""
        if int(self.dataset_size) < 1:
            raise ValueError("beta-TCVAE needs the training split's size: build_objective(..., train_images=N)")
        mi, tc, dwkl = kl_decomposition(output, estimate.log_ratio[0], int(self.dataset_size), self.sampling)
        term = self.alpha * mi + self.beta * tc + self.gamma * dwkl
        return term, {"mi": mi.detach().mean(), "tc": tc.detach().mean(), "dwkl": dwkl.detach().mean(),
                      "kl_objective": term.detach().mean()}
