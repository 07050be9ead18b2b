"""The known answers: Bayesian linear regression, its exact posterior and its mean-field optimum, untempered
and tempered. A Bayesian network with no hidden layer and a Gaussian likelihood of known noise is this model,
so training it must land here (tests/bnn/test_closed_form.py).

Model: y = X w + eps, eps ~ N(0, sigma^2) known, prior w ~ N(0, s^2 I) (the bias is a column of ones in X).
Exact posterior (Bishop, PRML, sec. 3.3.1, eq. 3.53-3.54 with alpha = 1 / s^2, beta = 1 / sigma^2):

    A = X^T X / sigma^2 + I / s^2          (precision)
    m = A^-1 X^T y / sigma^2               (mean)

Tempered at T (Wenzel et al. 2020, sec. 2-3; weighting.py):

    likelihood tempering  p(y|w)^(1/T) p(w):     A_T = X^T X / (T sigma^2) + I / s^2,  m_T = A_T^-1 X^T y / (T sigma^2)
    posterior tempering   (p(y|w) p(w))^(1/T):   A_T = A / T,                          m_T = m

Mean-field optimum: the factorised q(w) = prod_i N(mu_i, v_i) that minimises KL(q || N(m, A^-1)) has
mu = m and v_i = 1 / A_ii (Bishop, PRML, sec. 10.1.2, eq. 10.12-10.13): the exact means, and variances that
ignore the correlations (the reciprocal of the precision's diagonal, never larger than the exact marginal
variance (A^-1)_ii).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianPosterior:
    mean: np.ndarray  # (D,)
    precision: np.ndarray  # (D, D)

    @property
    def covariance(self) -> np.ndarray:
        return np.linalg.inv(self.precision)

    def mean_field(self) -> tuple[np.ndarray, np.ndarray]:
        """(means, variances) of the KL(q || p)-optimal factorised Gaussian: m and 1 / diag(A)."""
        return self.mean, 1 / np.diag(self.precision)


def linear_regression_posterior(x: np.ndarray, y: np.ndarray, *, noise_std: float, prior_std: float,
                                temperature: float = 1.0, tempering: str = "likelihood") -> GaussianPosterior:
    """The (tempered) posterior of w for design x (N, D) and targets y (N,) (module docstring)."""
    d = x.shape[1]
    data_precision = x.T @ x / noise_std ** 2
    prior_precision = np.eye(d) / prior_std ** 2
    scaled = x.T @ y / noise_std ** 2
    if tempering == "likelihood":
        precision = data_precision / temperature + prior_precision
        return GaussianPosterior(np.linalg.solve(precision, scaled / temperature), precision)
    precision = data_precision + prior_precision
    return GaussianPosterior(np.linalg.solve(precision, scaled), precision / temperature)
