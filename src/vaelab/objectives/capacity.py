"""Capacity control (Burgess et al. 2018, "Understanding disentangling in beta-VAE"): the KL is held
at a target capacity C that grows during training, instead of being pushed down by a fixed beta.

    loss = recon + gamma * |KL - C(t)|,    C(t) = C_start + (C_max - C_start) * min(t / N, 1)

with KL the batch mean in nats per image. The paper uses gamma = 1000, C_max = 25 nats and
N = 100000 steps (vaelab's defaults). gamma is large on purpose: the KL is pinned to C(t), and the
reconstruction improves as fast as the growing capacity lets it. The weight in force, `beta`, is
gamma; `capacity` logs C(t) and `kl_objective` logs |KL - C(t)|.
"""

from __future__ import annotations

from vaelab.config import ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.objectives.weighting import KLWeight, KLWeighting


def check_config(config: ObjectiveConfig) -> None:
    if config.capacity is not None and config.capacity < 0:
        raise UsageError(f"objective.capacity={config.capacity} must be >= 0 nats")
    if config.capacity_start < 0:
        raise UsageError(f"objective.capacity_start={config.capacity_start} must be >= 0 nats")
    if config.capacity_steps < 1:
        raise UsageError(f"objective.capacity_steps={config.capacity_steps} must be at least 1")
    if not config.capacity_gamma > 0:
        raise UsageError(f"objective.capacity_gamma={config.capacity_gamma} must be > 0: e.g. --capacity-gamma 1e3")


def length_note(config: ObjectiveConfig, total_steps: int) -> str | None:
    """A warning when C(t) is still rising at the run's end (None when it reaches C_max in time)."""
    if config.capacity is None or config.capacity_steps <= total_steps:
        return None
    reached = capacity_at(total_steps - 1, start=config.capacity_start, end=config.capacity,
                          steps=config.capacity_steps)
    return (f"--capacity-steps {config.capacity_steps} is longer than the run's {total_steps} steps: the capacity ends "
            f"at {reached:.3g} nats, not {config.capacity:g}; use --capacity-steps {max(1, total_steps // 2)} or a "
            "longer run")


def capacity_at(step: int, *, start: float, end: float, steps: int) -> float:
    """C(t) = C_start + (C_max - C_start) * min(t / N, 1), in nats per image."""
    return start + (end - start) * min(step / steps, 1.0)


class CapacityControl(KLWeighting):
    """recon + gamma * |E_batch[KL] - C(t)|."""

    def __init__(self, *, gamma: float, start: float, end: float, steps: int):
        super().__init__()
        self.gamma = gamma
        self.start = start
        self.end = end
        self.steps = steps

    @classmethod
    def from_config(cls, config: ObjectiveConfig) -> CapacityControl:
        return cls(gamma=config.capacity_gamma, start=config.capacity_start, end=config.capacity,
                   steps=config.capacity_steps)

    def capacity(self, step: int) -> float:
        return capacity_at(step, start=self.start, end=self.end, steps=self.steps)

    def forward(self, *, recon, kl, kl_per_dim, mse, step):
        capacity = self.capacity(step)
        kl_objective = (kl.mean() - capacity).abs()
        return KLWeight(beta=self.gamma, kl_objective=kl_objective,
                        extras={"capacity": capacity, "kl_objective": kl_objective.detach()})

    def beta_at(self, step):
        return self.gamma
