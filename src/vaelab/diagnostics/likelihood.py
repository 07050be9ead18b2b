"""The beta = 1 ELBO, the importance-weighted bound (IWAE) and bits per dimension.

For an image x and z_1..z_K ~ q(z|x), the log importance weights are

    log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)

    ELBO   = mean_k log w_k                                   (Kingma & Welling 2014, eq. 3)
    IWAE_K = logsumexp_k log w_k - log K  <=  log p(x)         (Burda, Grosse & Salakhutdinov 2016, eq. 8)

Both are in nats per image. `importance_samples` encodes each image once and decodes its K samples
in large batches; `iwae_bound` (objectives/iwae.py, the formula's one home) turns the weights into the bound for
any k <= K by averaging over disjoint blocks of k samples.

The prior is the model's own (model/prior.py): N(0, I), the VampPrior or the fitted mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from vaelab.model import ConvVAE
from vaelab.model.posterior import DiagonalGaussian
from vaelab.model.prior import GaussianMixture, StandardNormal
from vaelab.objectives.decoder_variance import optimal_sigma as decoder_optimal_sigma
from vaelab.objectives.likelihood import Likelihood, gaussian_nll_from_sse, squared_error

PIXEL_LEVELS = 256  # 8-bit data: values k / 255 for k = 0..255


@dataclass
class ImportanceSamples:
    """Per-sample terms for K samples of each of B images, all (K, B), in nats.

    log_likelihood:  log p(x|z_k) under the run's likelihood
    log_prior_ratio: log p(z_k) - log q(z_k|x)
    squared_error:   sum over pixels of (x - sigmoid(logits))^2, to re-read the decoder as a Gaussian
    """

    log_likelihood: torch.Tensor
    log_prior_ratio: torch.Tensor
    squared_error: torch.Tensor

    def log_weights(self, log_likelihood: torch.Tensor | None = None) -> torch.Tensor:
        """log w = log p(x|z) + log p(z) - log q(z|x), under the run's likelihood or the one given. (K, B)"""
        return (self.log_likelihood if log_likelihood is None else log_likelihood) + self.log_prior_ratio


@torch.no_grad()
def importance_samples(
    model: ConvVAE, likelihood: Likelihood, x: torch.Tensor, *, samples: int,
    generator: torch.Generator | None = None, decode_batch: int = 500,
    prior: StandardNormal | GaussianMixture | None = None,
) -> ImportanceSamples:
    """K = `samples` draws z ~ q(z|x) for each image of x (B, C, H, W), and their terms (K, B), under `prior`
    (None: N(0, I)).

    Each image is encoded once; the K * B codes are decoded about `decode_batch` at a time (several
    images with all their samples, or one image in chunks of samples when K is large), so the work
    is K * B decodes in large batches with no Python loop over samples. The results go into tensors
    allocated once: small tensors kept from every step would fragment the heap between the large
    decoder buffers and grow the process by megabytes per step.
    """
    prior = StandardNormal(model.latent_dim, x.device) if prior is None else prior
    result = ImportanceSamples(*(x.new_empty(samples, len(x)) for _ in fields(ImportanceSamples)))
    images_per_step = max(1, decode_batch // samples)
    samples_per_step = min(samples, decode_batch)
    for start in range(0, len(x), images_per_step):
        images = slice(start, start + images_per_step)
        target = x[images]  # (b, C, H, W)
        q = model.encode(target)  # (b, Z)
        for first in range(0, samples, samples_per_step):
            k = min(samples_per_step, samples - first)
            draws = slice(first, first + k)
            z = DiagonalGaussian(q.mean.expand(k, *q.mean.shape), q.logvar.expand(k, *q.logvar.shape)).sample(generator)
            logits = model.decode(z.flatten(0, 1))  # (k * b, C, H, W)
            repeated = target.expand(k, *target.shape).flatten(0, 1)  # (k * b, C, H, W)
            result.log_likelihood[draws, images] = -likelihood.nll(repeated, logits).view(k, -1)
            result.log_prior_ratio[draws, images] = prior.log_prob(z) - q.log_prob(z)  # (k, b)
            result.squared_error[draws, images] = squared_error(repeated, torch.sigmoid(logits)).view(k, -1)
    return result


def optimal_sigma(squared_errors: torch.Tensor, pixels: int) -> float:
    """The shared decoder std that maximises the Gaussian ELBO over the samples of summed squared errors:
    sigma^2 = mean SSE / D, the mean squared error per pixel (`decoder_variance.optimal_sigma`)."""
    return float(decoder_optimal_sigma(squared_errors.double().mean() / pixels))


def gaussian_log_likelihood(squared_errors: torch.Tensor, sigma: float, pixels: int) -> torch.Tensor:
    """log N(x; mean, sigma^2 I) from the summed squared error over the D pixels, float64, the shape of the
    input: minus `objectives.likelihood.gaussian_nll_from_sse`."""
    return -gaussian_nll_from_sse(squared_errors.double(), sigma, pixels)


def bits_per_dim(log_density: torch.Tensor, pixels: int) -> torch.Tensor:
    """Bits per dimension of 8-bit images from a log density in nats per image (an IWAE estimate). Same shape.

    Dequantisation: pixels are stored as k in {0, ..., 255} and shown to the model as x = k / 255,
    so neighbouring values are 1/255 apart and each value owns a bin of width 1/255 around it. A
    density p over R^D assigns the 8-bit image the probability of its bin,

        P(k) = integral over the bin of p  ~=  p(x) * (1/255)^D,

    (the midpoint rule: accurate when the decoder's sigma is much larger than 1/255), so

        bits/dim = -log2 P(k) / D = (-log p(x) + D log 255) / (D log 2).

    The common convention for data dequantised as x = (k + u) / 256, u ~ U[0, 1) (Theis, van den
    Oord & Bethge 2016) has bins of width 1/256 and D log 256 in place of D log 255; on the same
    model the two differ by log2(256/255) = 0.0056 bits/dim. Worse than 8 bits/dim means worse than
    the uniform distribution over 8-bit values.
    """
    return (-log_density.double() + pixels * math.log(PIXEL_LEVELS - 1)) / (pixels * math.log(2))
