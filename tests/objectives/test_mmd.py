"""Known answers for the MMD: identical samples, and two shifted Gaussians against the RBF kernel's closed form."""

import math

import pytest
import torch

from vaelab.objectives.mmd import imq_kernel, mmd_squared, rbf_kernel


def rbf_mmd_of_shifted_gaussians(shift: float, sd: float, bandwidth: float, dims: int) -> float:
    """MMD^2 between N(0, s^2 I) and N(shift e_1, s^2 I) in `dims` dimensions, k = exp(-|a - b|^2 / (2 l^2)):
    E k(a, b) for a - b ~ N(delta, 2 s^2 I) is (l^2 / (l^2 + 2 s^2))^(Z/2) exp(-|delta|^2 / (2 (l^2 + 2 s^2))),
    so MMD^2 = 2 c (1 - exp(-shift^2 / (2 (l^2 + 2 s^2)))), c = (l^2 / (l^2 + 2 s^2))^(Z/2)."""
    spread = bandwidth + 2 * sd**2
    c = (bandwidth / spread) ** (dims / 2)
    return 2 * c * (1 - math.exp(-shift**2 / (2 * spread)))


def test_mmd_of_identical_samples_is_zero_to_the_diagonal_it_leaves_out():
    a = torch.randn(500, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # a against itself: the within-sample means leave out the diagonal, the cross mean has it: |MMD^2| <= 2 / n
    assert abs(float(mmd_squared(a, a, rbf_kernel, 4.0))) < 2 / 500
    b = torch.randn(500, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert abs(float(mmd_squared(a, b, rbf_kernel, 4.0))) < 2e-3  # two samples of one distribution


@pytest.mark.parametrize("shift, sd, dims", [(0.5, 1.0, 2), (1.5, 1.0, 4), (1.0, 0.5, 8)])
def test_mmd_of_shifted_gaussians_matches_the_rbf_closed_form(shift, sd, dims):
    bandwidth = float(dims)
    generator = torch.Generator().manual_seed(2)
    estimates = []
    for _ in range(20):
        a = sd * torch.randn(400, dims, generator=generator, dtype=torch.float64)
        b = sd * torch.randn(400, dims, generator=generator, dtype=torch.float64)
        b[:, 0] += shift
        estimates.append(float(mmd_squared(a, b, rbf_kernel, bandwidth)))
    estimates = torch.tensor(estimates)
    expected = rbf_mmd_of_shifted_gaussians(shift, sd, bandwidth, dims)
    se = float(estimates.std() / math.sqrt(len(estimates)))
    assert abs(float(estimates.mean()) - expected) < 4 * se, (float(estimates.mean()), expected, se)
    assert expected > 10 * se  # the shift is resolved: the test can tell a wrong kernel or scale


def test_the_kernels_known_values():
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]])  # |a - b|^2 = 25
    assert rbf_kernel(a, b, 12.5).item() == pytest.approx(math.exp(-1.0))
    assert imq_kernel(a, b, 25.0).item() == pytest.approx(0.5)
