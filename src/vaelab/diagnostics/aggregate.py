"""The aggregate posterior q(z) = (1/N) sum_n q(z|x_n) over N images, against the prior p(z) = N(0, I).

Samples from the prior land where q(z) has mass only if the two agree; where q(z) leaves "holes"
(small beta packs the codes into islands) decoded prior samples look like nothing in the data.
Views of the gap, all in nats except the MMD, each with the N it is valid at:

- `aggregate_posterior_kl`: KL[N(m, S) || N(0, I)] for the Gaussian with q(z)'s mean and covariance. A
  moment-only lower bound on KL(q || p) (among distributions of given mean and covariance the Gaussian
  has the most entropy, and E_q log p depends on the first two moments alone), blind to holes; and with N
  images it is biased high by about Z (Z + 1) / (4 N) nats (the log-determinant of a sample covariance,
  Wishart), so it is withheld below MOMENT_IMAGES_PER_DIM images per latent dimension.
- `aggregate_posterior_mmd`: the squared maximum mean discrepancy between samples of q(z) and of p(z).
- the Monte Carlo KL in both directions, with their bias bracket (aggregate_kl.py).
- the ELBO decomposition of Chen et al. 2018 (beta-TCVAE, eq. 2): the mean KL splits into index-code
  mutual information, total correlation and dimension-wise KL.

Intervals: bootstrap over images for the moment-matched KL and the MMD (BOOTSTRAP resamples, seeded);
t intervals over the codes drawn per image for the decomposition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vaelab.diagnostics.aggregate_kl import BOOTSTRAP
from vaelab.diagnostics.intervals import mean_and_interval, percentile_interval
from vaelab.diagnostics.latent import Encodings
from vaelab.model.posterior import log_normal
from vaelab.objectives.mmd import imq_kernel, mmd_squared

MOMENT_IMAGES_PER_DIM = 10  # the moment-matched KL needs N >= 10 Z: its bias ~ Z (Z + 1) / (4 N) is then < Z / 40


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


def moment_matched_interval(encodings: Encodings, *, resamples: int = BOOTSTRAP, seed: int = 0) -> list[float]:
    """95% bootstrap percentile interval [lo, hi] of `moment_matched_kl` over resamples of the images."""
    rng = np.random.default_rng(seed)
    n = len(encodings.mean)
    values = []
    for _ in range(resamples):
        index = torch.from_numpy(rng.integers(0, n, size=n)).to(encodings.mean.device)
        resampled = Encodings(encodings.mean[index], None if encodings.logvar is None else encodings.logvar[index])
        values.append(moment_matched_kl(*aggregate_moments(resampled)))
    return percentile_interval(values)


def moment_matched_withheld(images: int, latent_dim: int) -> str | None:
    """Why the moment-matched KL is withheld at N images and Z dimensions (None: it is reported)."""
    if images >= MOMENT_IMAGES_PER_DIM * latent_dim:
        return None
    rank = "singular (rank at most N - 1)" if images <= latent_dim else "poorly estimated"
    bias = latent_dim * (latent_dim + 1) / (4 * images)
    return (f"{images} images for {latent_dim} latent dimensions: the covariance of the posterior means is {rank}, "
            f"which biases this KL high by about Z (Z + 1) / (4 N) = {bias:.3g} "
            f"nats; it needs N >= {MOMENT_IMAGES_PER_DIM} Z = {MOMENT_IMAGES_PER_DIM * latent_dim} images "
            "(see aggregate_kl_q_p for an estimate that does not assume a Gaussian)")


def imq_bandwidth(latent_dim: int) -> float:
    """C = 2 Z, the scale Tolstikhin et al. 2018 (WAE, sec. 4) use for a N(0, I) prior in Z dimensions."""
    return 2.0 * latent_dim


def mmd_imq(samples_q: torch.Tensor, samples_p: torch.Tensor, bandwidth: float) -> float:
    """Unbiased estimate of MMD^2 between two samples (n, Z) and (m, Z) (objectives/mmd.py), float64.

    Kernel: inverse multiquadric k(a, b) = C / (C + |a - b|^2), C = `bandwidth`; its heavy tails keep
    it sensitive to codes far from the prior's bulk (Tolstikhin et al. 2018). Near 0 when q(z) = p(z);
    the unbiased estimate can be slightly negative.
    """
    return float(mmd_squared(samples_q.double(), samples_p.double(), imq_kernel, bandwidth))


def negative_mmd_note(value: float | None) -> str | None:
    """What a negative `mmd_imq` means (None for a value >= 0): an unbiased estimate of a quantity >= 0 is below
    0 only by its noise."""
    if value is None or not value < 0:
        return None
    return ("below 0 only because the estimate is unbiased (Gretton et al. 2012): MMD^2 itself is >= 0, and when "
            "q(z) and N(0, I) are this close the estimator's noise takes it under 0; read it as no difference "
            "found at this N, and its interval as how large one could be")


def mmd_interval(samples_q: torch.Tensor, samples_p: torch.Tensor, bandwidth: float, *,
                 resamples: int = BOOTSTRAP, seed: int = 0) -> list[float]:
    """95% bootstrap percentile interval of `mmd_imq`: both samples resampled, pairs of one sample with itself
    (drawn twice) left out as the unbiased estimate leaves out the diagonal."""
    a, b = samples_q.double(), samples_p.double()
    kernels = [imq_kernel(u, v, bandwidth) for u, v in ((a, a), (b, b), (a, b))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        i = torch.from_numpy(rng.integers(0, len(a), size=len(a))).to(a.device)
        j = torch.from_numpy(rng.integers(0, len(b), size=len(b))).to(a.device)
        within = []
        for kernel, index in ((kernels[0], i), (kernels[1], j)):
            distinct = index[:, None] != index[None, :]
            within.append(float(kernel[index][:, index][distinct].mean()))
        values.append(within[0] + within[1] - 2 * float(kernels[2][i][:, j].mean()))
    return percentile_interval(values)


@dataclass
class ElboDecomposition:
    """E_x KL[q(z|x) || p(z)] = index-code MI + total correlation + dimension-wise KL, in nats, each the mean
    over `samples` replicates (one code per image each) with its t interval over them ([lo, hi]).

    `kl` is the Monte Carlo mean KL on the same codes: the three terms add up to it exactly. `mi_cap` is
    log N, above which the MI estimate cannot go; `informative` is False when the mean KL exceeds it (see
    `elbo_decomposition`).
    """

    index_code_mi: float  # I_q(x; z) = KL[q(z, x) || q(z) p(x)]
    total_correlation: float  # KL[q(z) || prod_j q(z_j)]
    dimensionwise_kl: float  # sum_j KL[q(z_j) || p(z_j)]
    kl: float
    mi_cap: float
    informative: bool
    samples: int
    index_code_mi_ci: list[float] | None = None
    total_correlation_ci: list[float] | None = None
    dimensionwise_kl_ci: list[float] | None = None


def elbo_decomposition(
    encodings: Encodings, *, samples_per_image: int = 4, generator: torch.Generator | None = None,
    chunk_elements: int = 2**22,
) -> ElboDecomposition:
    """Chen et al. 2018's decomposition with the exact mixture of the N posteriors as q(z).

    Estimator: the full-dataset one. q(z) is the mixture (1/N) sum_n q(z|x_n) over all N images,
    evaluated exactly (not Chen et al.'s minibatch-weighted sampling, sec. 4.1, which estimates it from
    a minibatch); only the expectation over z is Monte Carlo, with z_i ~ q(z|x_i), `samples_per_image`
    replicates of one code per image:

        log q(z)   = logsumexp_n log q(z|x_n)   - log N
        log q(z_j) = logsumexp_n log q(z_j|x_n) - log N
        MI  = E[log q(z|x) - log q(z)]
        TC  = E[log q(z) - sum_j log q(z_j)]
        DWKL = E[sum_j log q(z_j) - log p(z_j)]

    All three use the same codes, so MI + TC + DWKL = E[log q(z|x) - log p(z)], the Monte Carlo mean KL,
    up to rounding. The intervals are over the replicates: the codes' noise, the N images held fixed.

    Valid at N: the code's own posterior is in the mixture, so the MI estimate is at most log N (it is the
    InfoNCE bound, van den Oord et al. 2018). When the mean KL exceeds log N the information could be more
    than N images can show, and what the MI estimate misses moves into TC and DWKL: a population with
    TC = 0 and MI = 30 nats reads TC of about 25 on 70 images. The split is then flagged uninformative.
    """
    mean, logvar = encodings.mean.double(), encodings.logvar.double()  # (N, Z)
    n = len(mean)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((samples_per_image, *mean.shape), generator=generator, device=mean.device,
                      dtype=encodings.mean.dtype).double()
    z = (mean + std * eps).reshape(-1, mean.shape[1])  # (S * N, Z)
    owner = torch.arange(n, device=mean.device).repeat(samples_per_image)  # z[i] ~ q(z|x_owner[i])
    terms = torch.zeros(4, len(z), dtype=torch.float64, device=mean.device)  # MI, TC, DWKL, KL per code
    chunk = max(1, chunk_elements // mean.numel())  # codes per step: (chunk, N, Z) doubles at a time
    for start in range(0, len(z), chunk):
        zc, own = z[start : start + chunk], owner[start : start + chunk]  # (c, Z), (c,)
        log_q_dims = log_normal(zc[:, None, :], mean, logvar)  # log q(z_j|x_n): (c, N, Z)
        log_q_zx = log_q_dims[torch.arange(len(zc)), own].sum(dim=1)  # log q(z|x_own): (c,)
        log_qz = torch.logsumexp(log_q_dims.sum(dim=2), dim=1) - math.log(n)  # (c,)
        log_qz_dims = (torch.logsumexp(log_q_dims, dim=1) - math.log(n)).sum(dim=1)  # sum_j log q(z_j): (c,)
        log_pz = log_normal(zc, torch.zeros_like(zc), torch.zeros_like(zc)).sum(dim=1)  # (c,)
        terms[:, start : start + len(zc)] = torch.stack([
            log_q_zx - log_qz, log_qz - log_qz_dims, log_qz_dims - log_pz, log_q_zx - log_pz,
        ])
    replicates = terms.view(4, samples_per_image, n).mean(dim=2).cpu().numpy()  # (4, S)
    (mi, mi_ci), (tc, tc_ci), (dwkl, dwkl_ci) = (mean_and_interval(list(r)) for r in replicates[:3])
    kl = float(replicates[3].mean())
    return ElboDecomposition(index_code_mi=mi, total_correlation=tc, dimensionwise_kl=dwkl, kl=kl,
                             mi_cap=math.log(n), informative=kl <= math.log(n), samples=samples_per_image,
                             index_code_mi_ci=mi_ci, total_correlation_ci=tc_ci, dimensionwise_kl_ci=dwkl_ci)
