"""The maximum mean discrepancy between two samples, and its two kernels: the InfoVAE objective (infovae.py)
trains on it, the evaluation measures the aggregate posterior with it (diagnostics/aggregate.py).

    MMD^2(P, Q) = E k(a, a') + E k(b, b') - 2 E k(a, b),      a, a' ~ P, b, b' ~ Q

Estimate: the unbiased U-statistic of Gretton et al. 2012 ("A kernel two-sample test", eq. 3), the pairs of a
sample with itself left out of the two within-sample means; it is near 0 when P = Q and can be slightly negative.

Kernels, on the squared distance d = |a - b|^2:
    rbf   k = exp(-d / (2 l^2)), l^2 = `bandwidth` (Zhao et al. 2019's MMD-VAE uses a Gaussian kernel)
    imq   k = C / (C + d), C = `bandwidth` (Tolstikhin et al. 2018, WAE: heavy tails, sensitive to far codes)
"""

from __future__ import annotations

import torch


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """exp(-|a_i - b_j|^2 / (2 l^2)), l^2 = `bandwidth`, for every pair of rows. (n, Z), (m, Z) -> (n, m)"""
    return torch.exp(-squared_distances(a, b) / (2 * bandwidth))


def imq_kernel(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """C / (C + |a_i - b_j|^2), C = `bandwidth`, for every pair of rows. (n, Z), (m, Z) -> (n, m)"""
    return bandwidth / (bandwidth + squared_distances(a, b))


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j for every pair of rows (clamped at 0 against rounding): one
    matrix product, and a gradient also where a_i = b_j. (n, Z), (m, Z) -> (n, m)"""
    return (a.pow(2).sum(dim=1)[:, None] + b.pow(2).sum(dim=1)[None, :] - 2 * a @ b.T).clamp(min=0)


def mmd_squared(a: torch.Tensor, b: torch.Tensor, kernel, bandwidth: float) -> torch.Tensor:
    """The unbiased estimate of MMD^2 between the samples a (n, Z) and b (m, Z), n, m >= 2, under
    `kernel(u, v, bandwidth)` (rbf_kernel or imq_kernel). A 0-d tensor, differentiable in both samples."""
    n, m = len(a), len(b)
    within_a = kernel(a, a, bandwidth)
    within_b = kernel(b, b, bandwidth)
    across = kernel(a, b, bandwidth).mean()
    mean_a = (within_a.sum() - within_a.diagonal().sum()) / (n * (n - 1))
    mean_b = (within_b.sum() - within_b.diagonal().sum()) / (m * (m - 1))
    return mean_a + mean_b - 2 * across
