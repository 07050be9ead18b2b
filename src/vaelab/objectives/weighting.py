"""The KL weighting: how the KL term enters the loss. One method per module, all behind one interface.

Every method turns the batch's terms into a weight `beta` and a KL term `kl_objective`, and the
objective minimises

    loss = mean over the batch of recon  +  beta * kl_objective

(a loss-conditional model's betas are per example, and so is its KL term: the mean of their product
enters the loss; see conditional.py)

    method                     beta               kl_objective                 module
    constant or scheduled      beta(t)            mean KL                      schedules.py
    free bits                  beta(t)            sum_j max(mean KL_j, lambda)  free_bits.py
    capacity control           gamma              |mean KL - C(t)|             capacity.py
    GECO                       1 / lambda_t       mean KL                      geco.py

`kl` in the logs is always the true KL; `kl_objective` is logged where it differs from it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import torch
from torch import nn

from vaelab.objectives.schedules import BetaSchedule


@dataclass
class KLWeight:
    """A method's verdict for one batch: loss = recon.mean() + mean(beta * kl_objective)."""

    beta: float | torch.Tensor  # one number, or one per example (B,) for a loss-conditional model
    kl_objective: torch.Tensor  # the KL term as it enters the loss, in nats per image: scalar, or (B,) with beta
    extras: dict[str, float | torch.Tensor] = field(default_factory=dict)  # the method's state, logged as is


class KLWeighting(nn.Module, abc.ABC):
    """Interface: weigh the KL term of one batch. State that must survive a restart lives in buffers."""

    @abc.abstractmethod
    def forward(self, *, recon: torch.Tensor, kl: torch.Tensor, kl_per_dim: torch.Tensor, mse: torch.Tensor,
                step: int) -> KLWeight:
        """recon: (B,) the reconstruction term as trained; kl: (B,) the KL in nats, the sum of kl_per_dim (B, Z)
        over the latent dimensions; mse: (B,) per pixel."""

    @abc.abstractmethod
    def beta_at(self, step: int) -> float:
        """The weight the KL term gets at `step` in the method's current state."""


class ScheduledKL(KLWeighting):
    """recon + beta(t) * KL with beta(t) from a schedule (constant by default, see schedules.py)."""

    def __init__(self, schedule: BetaSchedule):
        super().__init__()
        self.schedule = schedule

    def forward(self, *, recon, kl, kl_per_dim, mse, step):
        return KLWeight(beta=self.schedule(step), kl_objective=kl.mean())

    def beta_at(self, step):
        return self.schedule(step)

