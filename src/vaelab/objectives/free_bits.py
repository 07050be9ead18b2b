"""Free bits (Kingma et al. 2016, "Improved variational inference with inverse autoregressive
flow"): every latent dimension (or group of dimensions) gets lambda nats for free.

    kl_objective = sum over groups g of  max(lambda, mean over the batch of KL_g)

where KL_g is the KL summed over the dimensions of group g: one group per latent dimension
(`mode="dim"`), `groups` contiguous groups (`"group"`), or one group holding them all (`"total"`).
A group whose KL is below lambda contributes the constant lambda, so its KL gradient is exactly
zero: the encoder is free to use those nats, and nothing pushes them down to a collapsed posterior.
The logged `kl` stays the true KL; `kl_objective` is the term above.
"""

from __future__ import annotations

import torch

from vaelab.config import ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.objectives.schedules import BetaSchedule
from vaelab.objectives.weighting import KLWeight, KLWeighting


def check_config(config: ObjectiveConfig) -> None:
    if config.free_bits < 0:
        raise UsageError(f"objective.free_bits={config.free_bits} must be >= 0 nats")
    if config.free_bits_mode not in ("dim", "group", "total"):
        raise UsageError(f"objective.free_bits_mode={config.free_bits_mode!r}: use dim, group or total")
    if config.free_bits_groups < 1:
        raise UsageError(f"objective.free_bits_groups={config.free_bits_groups} must be at least 1")


def free_bits_kl(kl_per_dim: torch.Tensor, *, free_bits: float, mode: str = "dim", groups: int = 1) -> torch.Tensor:
    """sum_g max(lambda, E_batch[KL_g]) in nats per image. kl_per_dim: (B, Z) -> scalar."""
    kl_mean = kl_per_dim.mean(dim=0)  # (Z,)
    if mode == "dim":
        per_group = kl_mean
    elif mode == "group":
        if groups > kl_mean.numel():
            dims = kl_mean.numel()
            raise UsageError(f"objective.free_bits_groups={groups} exceeds the {dims} latent dims: use at most {dims}")
        per_group = torch.stack([chunk.sum() for chunk in torch.tensor_split(kl_mean, groups)])  # (G,)
    elif mode == "total":
        per_group = kl_mean.sum().reshape(1)
    else:
        raise ValueError(f"unknown free-bits mode {mode!r}")
    # clamp(min=) passes no gradient where KL_g < lambda: the dimension is "free".
    return per_group.clamp(min=free_bits).sum()


class FreeBits(KLWeighting):
    """recon + beta(t) * sum_g max(lambda, E_batch[KL_g]); beta(t) follows the configured schedule."""

    def __init__(self, schedule: BetaSchedule, *, free_bits: float, mode: str, groups: int):
        super().__init__()
        self.schedule = schedule
        self.free_bits = free_bits
        self.mode = mode
        self.groups = groups

    def forward(self, *, recon, kl, kl_per_dim, mse, step):
        kl_objective = free_bits_kl(kl_per_dim, free_bits=self.free_bits, mode=self.mode, groups=self.groups)
        return KLWeight(beta=self.schedule(step), kl_objective=kl_objective,
                        extras={"kl_objective": kl_objective.detach()})

    def beta_at(self, step):
        return self.schedule(step)
