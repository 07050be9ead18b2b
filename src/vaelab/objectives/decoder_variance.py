"""Decoder variance (Rybkin, Daniilidis & Levine 2021, "Simple and effective VAE training with
calibrated decoders", the sigma-VAE): let the Gaussian decoder's std be learned or set to its
optimum, instead of fixing it by hand (or, with the seed's SSE, through beta: sigma^2 = beta / 2).

    -log p(x|z) = sum over pixels of 0.5 * ((x - mu) / sigma)^2 + log sigma + 0.5 * log(2 pi)

- `sigma-learned`: log sigma is a parameter trained by the same Adam as the network, soft-clipped
  below at -6 (sigma >= 0.0025): log sigma = -6 + softplus(raw + 6). It starts at `objective.sigma`, or
  without one at the optimum for the untrained network: the RMS error of its reconstructions of the first
  training batch (`start_at`, called by the training run). Adam moves log sigma by about its learning rate a
  step (1e-3: a factor e^0.2 = 1.22 in 200 steps), so a start at 1, far above the errors of real images (an
  RMS error of 0.1 to 0.3), would take thousands of steps to reach them, with the likelihood, and the ELBO
  read under it, far from the one that fits meanwhile.
- `sigma-optimal`: sigma^2 = the batch MSE, detached, at every step: the minimiser of the NLL above
  over sigma, d/d sigma [SSE / (2 sigma^2) + D log sigma] = 0  =>  sigma^2 = SSE / D. Since it is a
  stationary point, detaching it does not change the gradient with respect to the network.

`sigma_per_channel` gives each colour channel its own sigma (then the optimum is that channel's MSE).
The logged `sigma` is the mean over channels; the per-channel values are logged as `sigma_channel_<c>`.
"""

from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.config import ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.objectives.likelihood import Likelihood, gaussian_nll

LOG_SIGMA_FLOOR = -6.0  # as in Rybkin et al. 2021: keeps the NLL finite when a batch is reconstructed almost exactly


def check_config(config: ObjectiveConfig) -> None:
    """sigma-learned starts above its floor; one sigma per channel needs a sigma that is learned or optimal."""
    if config.recon == "sigma-learned" and config.sigma is not None and not config.sigma > math.exp(LOG_SIGMA_FLOOR):
        raise UsageError(f"objective.sigma={config.sigma} is below sigma-learned's floor e^-6: use e.g. --sigma 1")
    if config.sigma_per_channel and config.recon not in ("sigma-learned", "sigma-optimal"):
        raise UsageError("objective.sigma_per_channel needs --recon sigma-learned or --recon sigma-optimal")


def soft_clip_below(log_sigma: torch.Tensor, floor: float = LOG_SIGMA_FLOOR) -> torch.Tensor:
    """floor + softplus(log_sigma - floor): ~log_sigma well above the floor, never below it, smooth in between."""
    return floor + F.softplus(log_sigma - floor)


def unclipped(log_sigma):
    """The inverse of `soft_clip_below`: the raw value whose soft-clipped log sigma is `log_sigma` (> the floor)."""
    if isinstance(log_sigma, torch.Tensor):
        return LOG_SIGMA_FLOOR + torch.log(torch.expm1(log_sigma - LOG_SIGMA_FLOOR))
    return LOG_SIGMA_FLOOR + math.log(math.expm1(log_sigma - LOG_SIGMA_FLOOR))


def optimal_sigma(mse: torch.Tensor) -> torch.Tensor:
    """The Gaussian decoder std that minimises the NLL of errors whose mean square per pixel is `mse`:
    d/d sigma [SSE / (2 sigma^2) + D log sigma] = 0  =>  sigma^2 = SSE / D = MSE (Rybkin et al. 2021)."""
    return mse.sqrt()


def optimal_log_sigma(x: torch.Tensor, mean: torch.Tensor, *, per_channel: bool) -> torch.Tensor:
    """log `optimal_sigma` of the batch's MSE, detached: () or, per channel, (C, 1, 1).

    Floored at -6 (not soft-clipped, so that above the floor it is exactly the optimum); the floor
    also keeps log 0 out of a perfect reconstruction.
    """
    squared = (x - mean).detach().pow(2)  # (B, C, H, W)
    mse = squared.mean(dim=(0, 2, 3)).reshape(-1, 1, 1) if per_channel else squared.mean()
    return torch.log(optimal_sigma(mse)).clamp(min=LOG_SIGMA_FLOOR)


class GaussianWithItsSigma(Likelihood):
    """A Gaussian decoder whose sigma is its own (learned or fitted): the recon term is the NLL itself, and
    the sigma in force, `current_log_sigma()` (() or (C, 1, 1)), is logged with the step."""

    @abc.abstractmethod
    def current_log_sigma(self) -> torch.Tensor:
        """log sigma in force: () or, one per channel, (C, 1, 1)."""

    def nll(self, x, logits):
        return self.recon(x, logits)

    def nll_given_recon(self, x, logits, recon):
        return recon

    def sigma(self):
        return float(self.logged_sigma())

    def logged_sigma(self):
        return self.current_log_sigma().detach().exp().mean()

    def metrics(self):
        """sigma_channel_<c> as detached 0-d tensors (logging them does not wait for the device)."""
        log_sigma = self.current_log_sigma()
        if not log_sigma.dim():
            return {}
        return {f"sigma_channel_{c}": value for c, value in enumerate(log_sigma.detach().exp().flatten().unbind())}


class LearnedSigmaGaussian(GaussianWithItsSigma):
    """Gaussian decoder whose log sigma (one, or one per channel) is a trained parameter."""

    def __init__(self, *, channels: int, per_channel: bool, init_sigma: float = 1.0):
        super().__init__()
        self.per_channel = per_channel
        shape = (channels, 1, 1) if per_channel else ()
        self.raw_log_sigma = nn.Parameter(torch.full(shape, unclipped(math.log(init_sigma))))

    @torch.no_grad()
    def start_at(self, log_sigma: torch.Tensor) -> None:
        """Set log sigma (() or (C, 1, 1), above the floor) before training starts."""
        self.raw_log_sigma.copy_(unclipped(log_sigma).expand_as(self.raw_log_sigma))

    def log_sigma(self) -> torch.Tensor:
        """-6 + softplus(raw + 6): () or (C, 1, 1)."""
        return soft_clip_below(self.raw_log_sigma)

    current_log_sigma = log_sigma

    def recon(self, x, logits):
        return gaussian_nll(x, torch.sigmoid(logits), self.log_sigma())


class OptimalSigmaGaussian(GaussianWithItsSigma):
    """Gaussian decoder with sigma^2 = the batch MSE (one, or one per channel), recomputed at every call."""

    def __init__(self, *, per_channel: bool, channels: int):
        super().__init__()
        self.per_channel = per_channel
        # The latest batch's value, for the logs only: it is recomputed from every batch, so it is
        # not part of the state a resumed run needs.
        self.register_buffer("batch_log_sigma", torch.zeros((channels, 1, 1) if per_channel else ()), persistent=False)

    def recon(self, x, logits):
        mean = torch.sigmoid(logits)
        log_sigma = optimal_log_sigma(x, mean, per_channel=self.per_channel)
        self.batch_log_sigma.copy_(log_sigma)
        return gaussian_nll(x, mean, log_sigma)

    def current_log_sigma(self):
        return self.batch_log_sigma
