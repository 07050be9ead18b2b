"""The latent space, one dimension at a time: KL per dimension, active units, posterior collapse.

Inputs are the encoder's outputs over a dataset of N images: `mean` (N, Z) and `logvar` (N, Z),
`logvar` being None for the plain autoencoder (a point-mass posterior). KL values are in nats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaelab.model import ConvVAE
from vaelab.model.posterior import DiagonalGaussian

ACTIVE_THRESHOLD = 0.01  # Burda, Grosse & Salakhutdinov 2016, sec. 5.2


@dataclass
class Encodings:
    """q(z|x) over a dataset: the means (N, Z) and, for a Gaussian posterior, the log-variances (N, Z)."""

    mean: torch.Tensor
    logvar: torch.Tensor | None

    @property
    def gaussian(self) -> bool:
        return self.logvar is not None

    def posterior(self) -> DiagonalGaussian:
        """The N posteriors as one batched `DiagonalGaussian` (VAE only)."""
        return DiagonalGaussian(self.mean, self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One z ~ q(z|x_n) per image (the mean for a point mass). (N, Z)"""
        return self.posterior().sample(generator) if self.gaussian else self.mean


@torch.no_grad()
def encode(model: ConvVAE, images: torch.Tensor, batch_size: int = 500) -> Encodings:
    """Run the encoder over images (N, C, H, W) in [0, 1], in batches."""
    means, logvars = [], []
    for start in range(0, len(images), batch_size):
        posterior = model.encode(images[start : start + batch_size])
        means.append(posterior.mean)
        if isinstance(posterior, DiagonalGaussian):
            logvars.append(posterior.logvar)
    return Encodings(mean=torch.cat(means), logvar=torch.cat(logvars) if logvars else None)


def kl_per_dim(encodings: Encodings) -> np.ndarray:
    """mean over images of KL[q(z_j|x) || N(0, 1)] for each dimension j, in nats; they sum to the mean KL. (Z,)"""
    return encodings.posterior().kl_per_dim().mean(dim=0).double().cpu().numpy()


def posterior_mean_variance(encodings: Encodings) -> np.ndarray:
    """Var over images of E_q[z_j|x] for each dimension j (the population variance, divided by N). (Z,)

    Burda et al. 2016's activity statistic: a dimension whose posterior mean does not move with x
    carries no information about x.
    """
    return encodings.mean.double().var(dim=0, correction=0).cpu().numpy()


def active_units(encodings: Encodings, threshold: float = ACTIVE_THRESHOLD) -> int:
    """How many dimensions have Var_x E_q[z_j|x] > threshold (Burda et al. 2016: 0.01).

    For the autoencoder the same statistic is taken on its codes; it counts dimensions the codes
    use, but the threshold assumes the prior's unit scale, which the autoencoder has no reason to keep.
    """
    return int((posterior_mean_variance(encodings) > threshold).sum())


def collapse_warning(active: int, latent_dim: int) -> str | None:
    """The posterior-collapse warning when more than half the dimensions are inactive, or none is active."""
    if active == 0:
        return (f"posterior collapse: none of the {latent_dim} latent dimensions is active (Var_x E[z|x] <= "
                f"{ACTIVE_THRESHOLD}); the decoder ignores z. Lower beta, or use free bits or KL warm-up")
    if latent_dim - active > latent_dim / 2:
        return (f"partial posterior collapse: {latent_dim - active} of {latent_dim} latent dimensions are inactive "
                f"(Var_x E[z|x] <= {ACTIVE_THRESHOLD}); only {active} carry information about the image")
    return None


@dataclass
class LatentPlane:
    """The plane of the first two principal components of N codes: each code's coordinates `points` (N, 2), the
    codes' `mean` (Z,), the unit `components` (2, Z) and the share of the codes' variance each explains (2,).
    A point (u, v) of the plane is the code mean + u components[0] + v components[1]."""

    points: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray


def latent_plane(codes: np.ndarray) -> LatentPlane:
    """PCA of codes (N, Z), e.g. the posterior means; with Z = 1 the second axis is zero."""
    from sklearn.decomposition import PCA  # here: importing scikit-learn takes a second

    codes = np.asarray(codes, dtype=np.float64)
    if codes.shape[1] >= 2:
        pca = PCA(n_components=2, random_state=0).fit(codes)
        return LatentPlane(pca.transform(codes), pca.mean_, pca.components_, pca.explained_variance_ratio_)
    mean = codes.mean(axis=0)
    return LatentPlane(np.concatenate([codes - mean, np.zeros_like(codes)], axis=1), mean, np.array([[1.0], [0.0]]),
                       np.array([1.0, 0.0]))
