"""The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, "Importance weighted autoencoders"): the
bound `vaelab evaluate` reports, and IWAE training (`objective.method=iwae`, K = `objective.iwae_samples`).

For an image x and K codes z_k ~ q(z|x), the log importance weights are

    log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)
    IWAE_K  = logsumexp_k log w_k - log K   <=  log p(x)                        (eq. 8)

IWAE_1 is the ELBO, and the bound rises with K towards log p(x) (their Theorem 1). Training on it lets the
posterior be wider than the true one where that costs the ELBO but not the bound: the KL term's pull on each
posterior is weakened, in proportion to how well the K codes cover the true posterior.

With a KL weight beta (`objective.beta`) each code's objective is the ELBO's as vaelab trains it,

    l_k  = recon_k + beta (log q(z_k|x) - log p(z_k))
    loss = -beta (logsumexp_k (-l_k / beta) - log K)

K = 1 gives l_1, the ELBO objective with its KL estimated by the one code. For the summed squared error,
recon = beta (-log N(x; x_hat, sigma^2 I)) + const with sigma^2 = beta / 2 (likelihood.py), so -l_k / beta =
log w_k + const: the loss is beta times -IWAE_K of that Gaussian decoder, plus a constant, and the same holds for
mse-mean with sigma^2 = beta D / 2. A likelihood whose recon term is its NLL (gaussian, bernoulli, sigma-learned)
has no such reading of beta, so it needs beta = 1 (check_config). The logged `iwae` is IWAE_K under the stated
likelihood, nats per image; `kl` and `elbo` are the ELBO's, averaged over the K codes.
"""

from __future__ import annotations

import math

import torch

from vaelab.config import Config
from vaelab.errors import UsageError


def check_config(config: Config) -> None:
    """K, and a KL weight that the bound can read (module docstring)."""
    objective = config.objective
    if objective.iwae_samples is not None and objective.method != "iwae":
        raise UsageError("objective.iwae_samples is K of IWAE training: drop it, or add --set objective.method=iwae")
    if objective.iwae_samples is not None and objective.iwae_samples < 1:
        raise UsageError(f"objective.iwae_samples={objective.iwae_samples} must be at least 1 (codes per image): "
                         "e.g. --set objective.iwae_samples=5")
    if objective.method != "iwae":
        return
    if objective.beta_schedule != "constant":
        raise UsageError("objective.method=iwae reads beta as the decoder's sigma, which a schedule would change "
                         f"every step: drop --beta-schedule {objective.beta_schedule}")
    if objective.recon == "sigma-optimal":
        raise UsageError("objective.method=iwae has no closed-form optimal sigma (the bound mixes the K codes' errors):"
                         " use --recon sigma-learned")
    if objective.recon in ("sse", "mse-mean") and not objective.beta > 0:
        raise UsageError(f"objective.method=iwae with --recon {objective.recon} needs beta > 0 (beta = 0 is a decoder "
                         "with sigma = 0, which has no bound): e.g. --beta 0.1")
    if objective.recon not in ("sse", "mse-mean") and objective.beta != 1:
        raise UsageError(f"objective.method=iwae with --recon {objective.recon} needs --beta 1: only for sse and "
                         "mse-mean does beta have a likelihood reading (the decoder's sigma) that the bound can use")


def iwae_loss(recon: torch.Tensor, log_ratio: torch.Tensor, beta: float) -> torch.Tensor:
    """-beta (logsumexp_k (-l_k / beta) - log K), l_k = recon_k + beta log_ratio_k, per image (module docstring).
    recon, log_ratio: (K, B) -> (B,)"""
    scaled = -(recon + beta * log_ratio) / beta  # (K, B)
    return -beta * (torch.logsumexp(scaled, dim=0) - math.log(len(scaled)))


def iwae_bound(log_weights: torch.Tensor, k: int) -> torch.Tensor:
    """IWAE_k per image from K >= k log weights (K, B), in nats. (B,) float64

    The mean of logsumexp - log k over the floor(K / k) disjoint blocks of k samples: an estimate of
    the same bound with lower variance than one block. k = 1 gives the ELBO, mean_k log w_k; when k divides
    K, ELBO = IWAE_1 <= IWAE_k <= IWAE_K holds for every image (each step is Jensen's inequality on the
    block means), not only in expectation.
    """
    blocks = log_weights.shape[0] // k
    grouped = log_weights[: blocks * k].double().view(blocks, k, -1)  # (blocks, k, B)
    return (torch.logsumexp(grouped, dim=1) - math.log(k)).mean(dim=0)
