"""Known answers for the estimators of the aggregate posterior against the prior at the N they use: the
auditor's population whose aggregate is exactly N(0, I), a two-component mixture with its KL integrated
numerically, intervals that shrink with N, and the ELBO decomposition's cap at log N."""

import math

import numpy as np
import pytest
import torch

from vaelab.diagnostics.aggregate import (
    aggregate_moments,
    elbo_decomposition,
    imq_bandwidth,
    mmd_imq,
    mmd_interval,
    moment_matched_interval,
    moment_matched_kl,
    moment_matched_withheld,
)
from vaelab.diagnostics.aggregate_kl import aggregate_kl, effective_components
from vaelab.diagnostics.latent import Encodings


def prior_population(n, z, active, variance, seed=0):
    """Posteriors N(m_n, s^2) on `active` dimensions with m_n ~ N(0, (1 - s^2) I), N(0, 1) on the rest: the
    population's aggregate q(z) = E_x q(z|x) is exactly N(0, I), so both KLs to the prior are 0."""
    generator = torch.Generator().manual_seed(seed)
    mean, logvar = torch.zeros(n, z), torch.zeros(n, z)
    mean[:, :active] = math.sqrt(1 - variance) * torch.randn(n, active, generator=generator)
    logvar[:, :active] = math.log(variance)
    return Encodings(mean, logvar)


def test_the_auditors_population_is_withheld_where_n_cannot_resolve_it():
    # latent 128, 125 active dimensions, about 176 nats per image, 70 validation images
    encodings = prior_population(70, 128, 125, variance=math.exp(-2.8))
    assert float(encodings.posterior().kl().mean()) == pytest.approx(176, rel=0.05)
    assert moment_matched_kl(*aggregate_moments(encodings)) > 30  # the true value is 0: the old number's bias
    assert "rank at most N - 1" in moment_matched_withheld(70, 128)
    result = aggregate_kl(encodings, generator=torch.Generator().manual_seed(0), bootstrap=20)
    assert result.q_p is None and result.q_p_loo is None and result.p_q is None
    assert result.ess_q < 2 and "does not resolve q(z)" in result.withheld["q_p"]
    assert "upper bound" in result.withheld["p_q"]


def test_where_the_posteriors_overlap_the_intervals_cover_the_true_zero():
    encodings = prior_population(500, 2, 2, variance=0.5)
    result = aggregate_kl(encodings, generator=torch.Generator().manual_seed(1), bootstrap=100)
    assert not result.withheld
    for value, (low, high) in ((result.q_p, result.q_p_ci), (result.q_p_loo, result.q_p_loo_ci)):
        assert low <= 0 <= high and abs(value) < 0.03
    # KL(p || q) is biased high by about 1 / (2 ESS): its interval reaches down to within twice that of 0
    assert result.p_q_ci[0] <= 1 / result.ess_p and abs(result.p_q) < 0.03
    assert result.q_p_loo <= result.q_p  # the leave-one-out estimate is the low end of the bracket
    assert moment_matched_withheld(500, 2) is None
    low, high = moment_matched_interval(encodings, resamples=100)
    assert low <= 0.01 and high < 0.05  # the moment-matched KL is >= 0: its interval hugs 0


def kl_by_integration(log_q, log_p):
    grid = np.linspace(-12, 12, 200_001)
    q, p = np.exp(log_q(grid)), np.exp(log_p(grid))
    return (np.trapezoid(q * (log_q(grid) - log_p(grid)), grid), np.trapezoid(p * (log_p(grid) - log_q(grid)), grid))


def test_a_two_component_mixture_has_the_kl_that_numerical_integration_gives():
    # half the images have q(z|x) = N(-1.5, 0.5^2), half N(1.5, 0.5^2): q(z) is their equal mixture
    n = 400
    mean = torch.tensor([-1.5, 1.5]).repeat(n // 2)[:, None]
    encodings = Encodings(mean, torch.full((n, 1), math.log(0.25)))

    def log_q(z):
        return np.logaddexp(-0.5 * ((z + 1.5) / 0.5) ** 2, -0.5 * ((z - 1.5) / 0.5) ** 2) - np.log(
            2 * 0.5 * np.sqrt(2 * np.pi))

    def log_p(z):
        return -0.5 * z**2 - 0.5 * np.log(2 * np.pi)

    q_p, p_q = kl_by_integration(log_q, log_p)
    result = aggregate_kl(encodings, samples_per_image=4, generator=torch.Generator().manual_seed(2), bootstrap=100)
    assert q_p == pytest.approx(0.7, abs=0.1) and p_q > 0.5  # what the integrals are, to see the scale
    assert result.q_p_ci[0] <= q_p <= result.q_p_ci[1] and result.q_p == pytest.approx(q_p, abs=0.05)
    assert result.q_p_loo_ci[0] <= q_p <= result.q_p_loo_ci[1]
    assert result.p_q_ci[0] <= p_q <= result.p_q_ci[1] and result.p_q == pytest.approx(p_q, abs=0.05)


def test_intervals_shrink_as_n_grows():
    widths = []
    for n in (100, 1600):
        encodings = prior_population(n, 2, 2, variance=0.5, seed=n)
        result = aggregate_kl(encodings, generator=torch.Generator().manual_seed(n), bootstrap=100)
        samples_q, samples_p = encodings.sample(torch.Generator().manual_seed(0)), torch.randn(n, 2)
        mmd = mmd_interval(samples_q, samples_p, imq_bandwidth(2), resamples=50)
        widths.append((result.q_p_ci[1] - result.q_p_ci[0], result.p_q_ci[1] - result.p_q_ci[0], mmd[1] - mmd[0]))
    for small, large in zip(*widths):
        assert large < small / 2  # ~ 1 / sqrt(N): four times narrower for 16 times the images
    assert mmd_imq(samples_q, samples_p, imq_bandwidth(2)) == pytest.approx(0, abs=0.005)


def test_the_decomposition_is_capped_at_log_n_and_flagged_when_the_kl_exceeds_it():
    # independent dimensions, so TC = 0 in the population, and MI = 30 nats: 30 dims of 0.5 log(1 / s^2) = 1 nat
    encodings = prior_population(70, 30, 30, variance=math.exp(-2))
    result = elbo_decomposition(encodings, samples_per_image=4, generator=torch.Generator().manual_seed(0))
    assert result.mi_cap == pytest.approx(math.log(70)) and result.index_code_mi <= math.log(70) + 1e-9
    assert result.total_correlation > 20  # the auditor's 24.9: what MI cannot hold on 70 images goes to TC
    assert not result.informative
    low, high = result.total_correlation_ci
    assert low <= result.total_correlation <= high and result.samples == 4
    overlapping = elbo_decomposition(prior_population(200, 2, 2, variance=0.5), generator=torch.Generator())
    assert overlapping.informative


def test_both_directions_against_a_prior_of_the_runs_own():
    # identical posteriors N(0, I): q(z) = N(0, I) exactly, and against the prior N(m, I) both KLs are |m|^2 / 2
    from vaelab.model.prior import GaussianMixture

    shift = torch.tensor([1.0, -0.5, 0.0])
    prior = GaussianMixture(torch.zeros(1), shift[None], logvar=torch.zeros(1, 3))
    encodings = Encodings(torch.zeros(400, 3), torch.zeros(400, 3))
    result = aggregate_kl(encodings, generator=torch.Generator().manual_seed(0), prior=prior, bootstrap=50)
    expected = float(shift.pow(2).sum() / 2)  # 0.625
    # the per-code terms z.m - |m|^2 / 2 have sd |m| = 1.1 over 800 codes
    se = float(shift.norm()) / math.sqrt(800)
    for value in (result.q_p, result.q_p_loo, result.p_q):
        assert value == pytest.approx(expected, abs=4 * se)
    assert result.p_q_ci[0] < expected < result.p_q_ci[1]
    unshifted = aggregate_kl(encodings, generator=torch.Generator().manual_seed(0), bootstrap=0)
    assert abs(unshifted.q_p) < 1e-9 and abs(unshifted.p_q) < 1e-9  # against N(0, I) itself: exactly 0


def test_the_moment_matched_kl_is_withheld_below_ten_images_a_dimension_with_its_bias_said():
    assert moment_matched_withheld(160, 16) is None
    said = moment_matched_withheld(159, 16)
    assert "poorly estimated" in said and "= 0.428 nats" in said and "N >= 10 Z = 160 images" in said  # 16 17 / 636
    assert "singular" in moment_matched_withheld(16, 16) and "= 4.25 nats" in moment_matched_withheld(16, 16)


def test_the_moment_matched_interval_of_point_masses():
    # an autoencoder's codes (no variances) drawn from N(0, 2 I) in 2-D: KL[N(0, 2 I) || N(0, I)] = 1 - log 2 nats
    codes = math.sqrt(2) * torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    low, high = moment_matched_interval(Encodings(codes, None), resamples=200)
    assert low < 1 - math.log(2) < high and high - low < 0.15


def test_kishs_effective_number_of_components():
    # weights (2, 1, 1): (sum w)^2 / sum w^2 = 16 / 6; equal weights: all of them; one weight: 1
    log_w = torch.tensor([[math.log(2.0), 0.0, 0.0], [0.0, 0.0, 0.0], [5.0, -math.inf, -math.inf]], dtype=torch.float64)
    torch.testing.assert_close(effective_components(log_w), torch.tensor([16 / 6, 3.0, 1.0], dtype=torch.float64))


def test_the_mmd_interval_is_centred_on_the_estimate_and_separates_shifted_samples():
    generator = torch.Generator().manual_seed(2)
    p, q = torch.randn(300, 2, generator=generator), torch.randn(300, 2, generator=generator)
    bandwidth = imq_bandwidth(2)
    assert bandwidth == 4.0  # C = 2 Z (Tolstikhin et al. 2018)
    for codes, covers_zero in ((q, True), (q + 0.5, False), (1.5 * q, False)):  # the same law, shifted, wider
        low, high = mmd_interval(codes, p, bandwidth, resamples=300)
        estimate = mmd_imq(codes, p, bandwidth)
        assert low < estimate < high and (low < 0 < high) == covers_zero
        assert abs((low + high) / 2 - estimate) < 0.25 * (high - low)


def test_posteriors_that_are_all_the_prior_read_exactly_zero():
    # q(z|x_n) = N(0, I) for every image: q(z) is the prior, and so is the mixture of any n - 1 of them, so each
    # estimate (with its leave-one-out log(n - 1)) and each bootstrap interval is 0 up to rounding
    encodings = Encodings(torch.zeros(20, 2), torch.zeros(20, 2))
    result = aggregate_kl(encodings, generator=torch.Generator().manual_seed(0), bootstrap=20)
    for value in (result.q_p, result.q_p_loo, result.p_q, *result.q_p_ci, *result.q_p_loo_ci, *result.p_q_ci):
        assert value == pytest.approx(0.0, abs=1e-9)
    assert result.ess_q == pytest.approx(19.0)
