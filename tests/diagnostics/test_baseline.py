"""The linear baseline: PCA reconstructs in the top-q subspace, and pPCA's log-likelihood is the exact Gaussian
density at Tipping & Bishop's maximum-likelihood parameters."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from vaelab.diagnostics import baseline as baseline_module
from vaelab.diagnostics.baseline import fit_linear_baseline


def synthetic(n=400, d=12, q=3, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, q)) * np.array([0.3, 0.2, 0.1])
    x = 0.5 + rng.normal(size=(n, q)) @ w.T + 0.02 * rng.normal(size=(n, d))
    return x


def test_the_log_likelihood_is_the_gaussian_density_under_the_fitted_covariance():
    x = synthetic()
    baseline = fit_linear_baseline(x[:300], components=3)
    u, lam, s2 = baseline.directions, baseline.eigenvalues, baseline.noise_variance
    covariance = u.T @ np.diag(lam) @ u + s2 * (np.eye(12) - u.T @ u)  # W W^T + sigma^2 I
    expected = multivariate_normal(mean=baseline.mean, cov=covariance).logpdf(x[300:])
    np.testing.assert_allclose(baseline.log_likelihood(x[300:]), expected, rtol=1e-9)


def test_the_parameters_are_tipping_and_bishops_maximum_likelihood_estimates():
    x = synthetic()
    baseline = fit_linear_baseline(x, components=3)
    eigenvalues = np.linalg.eigvalsh(np.cov(x.T, bias=True))[::-1]  # the sample covariance's, 1/N
    np.testing.assert_allclose(baseline.eigenvalues, eigenvalues[:3], rtol=1e-8)
    assert baseline.noise_variance == pytest.approx(eigenvalues[3:].mean(), rel=1e-8)
    best = baseline.log_likelihood(x).sum()
    for factor in (0.9, 1.1):  # sigma^2 away from its estimate lowers the training likelihood
        baseline.noise_variance *= factor
        assert baseline.log_likelihood(x).sum() < best
        baseline.noise_variance /= factor


def test_pca_reconstructs_in_its_subspace_and_caps_q_at_n_minus_one():
    x = synthetic(n=5)
    baseline = fit_linear_baseline(x, components=8)
    assert baseline.components == 4  # five images span four directions around their mean
    np.testing.assert_allclose(baseline.reconstruct(x), np.clip(x, 0, 1), atol=1e-10)  # they are reconstructed exactly


def test_more_components_than_pixels_keep_every_direction_and_no_noise(monkeypatch):
    x = np.random.default_rng(0).random((200, 16))
    baseline = fit_linear_baseline(x, components=32)
    assert len(baseline.eigenvalues) == 16 and baseline.noise_variance == 1e-12 and baseline.fit_images == 200
    # beyond MAX_FIT_IMAGES a seeded subset is fitted: its mean is of those images, near the whole set's
    monkeypatch.setattr(baseline_module, "MAX_FIT_IMAGES", 50)
    subset = fit_linear_baseline(x, components=4)
    assert subset.fit_images == 50 and not np.allclose(subset.mean, x.mean(axis=0))
    np.testing.assert_allclose(subset.mean, x.mean(axis=0), atol=0.15)
