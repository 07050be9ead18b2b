"""The linear baseline: PCA with the network's latent size, and its probabilistic twin, pPCA.

PCA with q components is the best linear autoencoder with a q-dimensional code (the reconstruction of
x is mu + U^T U (x - mu), U the top q principal directions; Baldi & Hornik 1989). Probabilistic PCA
(Tipping & Bishop 1999) is the linear Gaussian latent-variable model

    x = W z + mu + eps,   z ~ N(0, I_q),   eps ~ N(0, sigma^2 I_D)     =>   x ~ N(mu, C),  C = W W^T + sigma^2 I

the best *linear Gaussian* VAE, and its log-likelihood is exact. At the maximum of the likelihood
(their eq. 7-8), with lambda_1 >= ... >= lambda_D the eigenvalues of the training covariance S (1/N),

    W = U^T (Lambda_q - sigma^2 I)^(1/2),     sigma^2 = (1 / (D - q)) * sum_{j > q} lambda_j

so C has the eigenvalues lambda_1..lambda_q along U and sigma^2 in the other D - q directions, and

    log p(x) = -1/2 [ D log(2 pi) + sum_i log lambda_i + (D - q) log sigma^2
                      + sum_i (u_i . r)^2 / lambda_i + (|r|^2 - sum_i (u_i . r)^2) / sigma^2 ],   r = x - mu.

With fewer training images N than pixels D, S has rank N - 1 at most: sigma^2 then averages the
residual variance over all D - q directions, most of which the training images do not span, and
held-out images, which have variance there, score low. That is the model's honest held-out likelihood,
not a defect of the estimate. q is capped at N - 1 (the components beyond carry no variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

LOG_2PI = math.log(2 * math.pi)
MAX_FIT_IMAGES = 20_000  # a seeded subset of the training split beyond this (randomised SVD stays seconds)


@dataclass
class LinearBaseline:
    """PCA / pPCA fitted on N images of D pixels: mean (D,), directions (q, D), eigenvalues (q,), sigma^2."""

    mean: np.ndarray
    directions: np.ndarray
    eigenvalues: np.ndarray
    noise_variance: float
    fit_images: int

    @property
    def components(self) -> int:
        return len(self.eigenvalues)

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """mu + U^T U (x - mu) for flat images (n, D), in [0, 1] as the images are (clipped)."""
        codes = (x - self.mean) @ self.directions.T  # (n, q)
        return np.clip(self.mean + codes @ self.directions, 0.0, 1.0)

    def log_likelihood(self, x: np.ndarray) -> np.ndarray:
        """log p(x) under pPCA at its maximum-likelihood parameters, nats per image, for flat images (n, D)."""
        pixels = self.mean.shape[0]
        r = x - self.mean  # (n, D)
        projected = r @ self.directions.T  # (n, q)
        in_span = (projected**2).sum(axis=1)
        log_det = np.log(self.eigenvalues).sum() + (pixels - self.components) * math.log(self.noise_variance)
        quadratic = (projected**2 / self.eigenvalues).sum(axis=1) + ((r**2).sum(axis=1) - in_span) / self.noise_variance
        return -0.5 * (pixels * LOG_2PI + log_det + quadratic)


def fit_linear_baseline(x: np.ndarray, components: int, seed: int = 0) -> LinearBaseline:
    """PCA of flat training images (N, D) in [0, 1] with min(components, N - 1, D) directions, and the
    maximum-likelihood pPCA noise variance of the module docstring."""
    if len(x) > MAX_FIT_IMAGES:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), MAX_FIT_IMAGES, replace=False))]
    n, pixels = x.shape
    q = min(components, n - 1, pixels)
    pca = PCA(n_components=q, svd_solver="auto", random_state=seed).fit(x)
    eigenvalues = pca.explained_variance_ * (n - 1) / n  # sklearn's are of the unbiased covariance; pPCA's of S
    total = float(x.var(axis=0).sum())  # trace S = sum of all D eigenvalues
    noise = max((total - float(eigenvalues.sum())) / (pixels - q), 1e-12) if pixels > q else 1e-12
    return LinearBaseline(mean=pca.mean_, directions=pca.components_, eigenvalues=eigenvalues, noise_variance=noise,
                          fit_images=n)
