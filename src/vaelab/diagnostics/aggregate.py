"""The aggregate posterior q(z) = (1/N) sum_n q(z|x_n) over N images, against the prior p(z) = N(0, I).

Samples from the prior land where q(z) has mass only if the two agree; where q(z) leaves "holes"
(small beta packs the codes into islands) decoded prior samples look like nothing in the data.
Three views of the gap, all in nats except the MMD:

- `aggregate_posterior_kl`: KL[N(m, S) || N(0, I)] for the Gaussian with q(z)'s mean and covariance.
- `aggregate_posterior_mmd`: the squared maximum mean discrepancy between samples of q(z) and of p(z).
- the ELBO decomposition of Chen et al. 2018 (beta-TCVAE, eq. 2): the mean KL splits into index-code
  mutual information, total correlation and dimension-wise KL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vaelab.diagnostics.latent import Encodings
from vaelab.model.posterior import log_normal


def aggregate_moments(encodings: Encodings) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (Z,) and covariance (Z, Z) of q(z), in float64.

    By the law of total covariance, Cov[z] = Cov_x(E[z|x]) + E_x[Cov(z|x)], and the second term is
    the mean of the diagonal posterior variances (zero for the autoencoder's point masses).
    """
    mean = encodings.mean.double()  # (N, Z)
    centred = mean - mean.mean(dim=0)
    covariance = centred.T @ centred / len(mean)  # (Z, Z)
    if encodings.gaussian:
        covariance = covariance + torch.diag(encodings.logvar.double().exp().mean(dim=0))
    return mean.mean(dim=0), covariance


def moment_matched_kl(mean: torch.Tensor, covariance: torch.Tensor) -> float:
    """KL[N(m, S) || N(0, I)] = 0.5 * (tr S + m^T m - Z - log det S), in nats (inf for a singular S)."""
    try:
        cholesky = torch.linalg.cholesky(covariance)
    except torch.linalg.LinAlgError:
        return math.inf
    log_det = 2 * cholesky.diagonal().log().sum()
    return float(0.5 * (covariance.trace() + mean @ mean - len(mean) - log_det))


def imq_bandwidth(latent_dim: int) -> float:
    """C = 2 Z, the scale Tolstikhin et al. 2018 (WAE, sec. 4) use for a N(0, I) prior in Z dimensions."""
    return 2.0 * latent_dim


def mmd_imq(samples_q: torch.Tensor, samples_p: torch.Tensor, bandwidth: float) -> float:
    """Unbiased estimate of MMD^2 between two samples (n, Z) and (m, Z) (Gretton et al. 2012, eq. 3).

    Kernel: inverse multiquadric k(a, b) = C / (C + |a - b|^2), C = `bandwidth`; its heavy tails keep
    it sensitive to codes far from the prior's bulk (Tolstikhin et al. 2018). Near 0 when q(z) = p(z);
    the unbiased estimate can be slightly negative.
    """
    a, b = samples_q.double(), samples_p.double()
    n, m = len(a), len(b)

    def kernel(u, v):
        return bandwidth / (bandwidth + torch.cdist(u, v).pow(2))

    within_q = (kernel(a, a).sum() - n) / (n * (n - 1))  # the diagonal holds k(a, a) = 1
    within_p = (kernel(b, b).sum() - m) / (m * (m - 1))
    across = kernel(a, b).mean()
    return float(within_q + within_p - 2 * across)


@dataclass
class ElboDecomposition:
    """E_x KL[q(z|x) || p(z)] = index-code MI + total correlation + dimension-wise KL, in nats.

    `kl` is the Monte Carlo mean KL on the same samples: the three terms add up to it exactly.
    """

    index_code_mi: float  # I_q(x; z) = KL[q(z, x) || q(z) p(x)]
    total_correlation: float  # KL[q(z) || prod_j q(z_j)]
    dimensionwise_kl: float  # sum_j KL[q(z_j) || p(z_j)]
    kl: float


def elbo_decomposition(
    encodings: Encodings, *, samples_per_image: int = 1, generator: torch.Generator | None = None,
    chunk_elements: int = 2**22,
) -> ElboDecomposition:
    """Chen et al. 2018's decomposition with the exact aggregate posterior of the N images.

    Estimator: q(z) is the mixture (1/N) sum_n q(z|x_n) over all N images, evaluated exactly (the
    minibatch-weighted-sampling estimator of Chen et al., sec. 4.1, with the whole set as the batch);
    only the expectation over z is Monte Carlo, with z_i ~ q(z|x_i), `samples_per_image` per image:

        log q(z)   = logsumexp_n log q(z|x_n)   - log N
        log q(z_j) = logsumexp_n log q(z_j|x_n) - log N
        MI  = E[log q(z|x) - log q(z)]
        TC  = E[log q(z) - sum_j log q(z_j)]
        DWKL = E[sum_j log q(z_j) - log p(z_j)]

    All three use the same samples, so MI + TC + DWKL = E[log q(z|x) - log p(z)], the Monte Carlo
    mean KL, up to rounding. MI is at most log N: on N images, an encoder that tells every image
    apart reaches log N, however large the KL.
    """
    mean, logvar = encodings.mean.double(), encodings.logvar.double()  # (N, Z)
    n = len(mean)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((samples_per_image, *mean.shape), generator=generator, device=mean.device,
                      dtype=encodings.mean.dtype).double()
    z = (mean + std * eps).reshape(-1, mean.shape[1])  # (S * N, Z)
    owner = torch.arange(n, device=mean.device).repeat(samples_per_image)  # z[i] ~ q(z|x_owner[i])
    sums = torch.zeros(4, dtype=torch.float64, device=mean.device)  # MI, TC, DWKL, KL
    chunk = max(1, chunk_elements // mean.numel())  # samples per step: (chunk, N, Z) doubles at a time
    for start in range(0, len(z), chunk):
        zc, own = z[start : start + chunk], owner[start : start + chunk]  # (c, Z), (c,)
        log_q_dims = log_normal(zc[:, None, :], mean, logvar)  # log q(z_j|x_n): (c, N, Z)
        log_q_zx = log_q_dims[torch.arange(len(zc)), own].sum(dim=1)  # log q(z|x_own): (c,)
        log_qz = torch.logsumexp(log_q_dims.sum(dim=2), dim=1) - math.log(n)  # (c,)
        log_qz_dims = (torch.logsumexp(log_q_dims, dim=1) - math.log(n)).sum(dim=1)  # sum_j log q(z_j): (c,)
        log_pz = log_normal(zc, torch.zeros_like(zc), torch.zeros_like(zc)).sum(dim=1)  # (c,)
        sums += torch.stack([
            (log_q_zx - log_qz).sum(), (log_qz - log_qz_dims).sum(), (log_qz_dims - log_pz).sum(),
            (log_q_zx - log_pz).sum(),
        ])
    mi, tc, dwkl, kl = (sums / len(z)).tolist()
    return ElboDecomposition(index_code_mi=mi, total_correlation=tc, dimensionwise_kl=dwkl, kl=kl)
