"""The beta = 1 ELBO, the importance-weighted bound (IWAE) and bits per dimension.

For an image x and z_1..z_K ~ q(z|x), the log importance weights are

    log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)

    ELBO   = mean_k log w_k                                   (Kingma & Welling 2014, eq. 3)
    IWAE_K = logsumexp_k log w_k - log K  <=  log p(x)         (Burda, Grosse & Salakhutdinov 2016, eq. 8)

Both are in nats per image. `importance_samples` encodes each image once and decodes its K samples
in large batches; `iwae_bound` turns the weights into the bound for any k <= K by averaging over
disjoint blocks of k samples, so that ELBO = IWAE_1 <= IWAE_k <= IWAE_K holds for every image (each
step is Jensen's inequality on the block means), not only in expectation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vaelab.model import ConvVAE
from vaelab.objectives import Likelihood, squared_error
from vaelab.posterior import DiagonalGaussian

LOG_2PI = math.log(2 * math.pi)
PIXEL_LEVELS = 256  # 8-bit data


@dataclass
class ImportanceSamples:
    """Per-sample terms for K samples of each of B images, all (K, B), in nats.

    log_likelihood: log p(x|z_k) under the run's likelihood
    log_prior_ratio: log p(z_k) - log q(z_k|x)
    squared_error: sum over pixels of (x - decoded mean)^2, for the Gaussian under another sigma
    """

    log_likelihood: torch.Tensor
    log_prior_ratio: torch.Tensor
    squared_error: torch.Tensor

    def log_weights(self, log_likelihood: torch.Tensor | None = None) -> torch.Tensor:
        """log w = log p(x|z) + log p(z) - log q(z|x), with the run's likelihood or the one given. (K, B)"""
        return (self.log_likelihood if log_likelihood is None else log_likelihood) + self.log_prior_ratio

    @classmethod
    def cat(cls, parts: list[ImportanceSamples]) -> ImportanceSamples:
        """Join the samples of several batches of images along the image axis."""
        return cls(*(torch.cat([getattr(p, name) for p in parts], dim=1)
                     for name in ("log_likelihood", "log_prior_ratio", "squared_error")))


@torch.no_grad()
def importance_samples(
    model: ConvVAE, likelihood: Likelihood, x: torch.Tensor, *, samples: int,
    generator: torch.Generator | None = None, decode_batch: int = 1024,
) -> ImportanceSamples:
    """K = `samples` draws z ~ q(z|x) for each image of x (B, C, H, W), and their terms (K, B).

    Each image is encoded once; the K * B latent codes are decoded `decode_batch` at a time (about
    `decode_batch // K` images with all their samples, or one image in chunks of samples when K is
    larger), so the cost is K * B decodes with no Python loop over samples.
    """
    posterior = model.encode(x)  # (B, Z)
    prior = DiagonalGaussian(torch.zeros_like(posterior.mean), torch.zeros_like(posterior.mean))
    images_per_step = max(1, decode_batch // samples)
    samples_per_step = min(samples, max(1, decode_batch // images_per_step))
    rows = []
    for start in range(0, len(x), images_per_step):
        images = slice(start, start + images_per_step)
        q = DiagonalGaussian(posterior.mean[images], posterior.logvar[images])  # (b, Z)
        columns = []
        for first in range(0, samples, samples_per_step):
            k = min(samples_per_step, samples - first)
            expanded = DiagonalGaussian(q.mean.expand(k, *q.mean.shape), q.logvar.expand(k, *q.logvar.shape))
            z = expanded.sample(generator)  # (k, b, Z)
            logits = model.decode(z.flatten(0, 1))  # (k * b, C, H, W)
            target = x[images].expand(k, *x[images].shape).flatten(0, 1)  # (k * b, C, H, W)
            columns.append(ImportanceSamples(
                log_likelihood=-likelihood.nll(target, logits).view(k, -1),
                log_prior_ratio=prior[images].log_prob(z) - q.log_prob(z) if False else
                _log_prior_ratio(z, q),
                squared_error=squared_error(target, torch.sigmoid(logits)).view(k, -1),
            ))
        rows.append(ImportanceSamples(*(torch.cat([getattr(c, n) for c in columns]) for n in
                                        ("log_likelihood", "log_prior_ratio", "squared_error"))))
    return ImportanceSamples.cat(rows)
