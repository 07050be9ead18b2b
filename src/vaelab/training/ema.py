"""An exponential moving average of the weights (Polyak & Juditsky 1992), the weights that are evaluated.

    ema_t = d_t * ema_{t-1} + (1 - d_t) * theta_t,      d_t = min(decay, (1 + t) / (10 + t))

after every optimiser step t (counted from 1). The warm-up of d_t (TensorFlow's ExponentialMovingAverage
with num_updates) keeps the first averages from being dominated by the random initialisation: the average
starts as a short window and widens to about 1 / (1 - decay) steps (1,000 for decay 0.999). Validation,
the figures, best.pt, `vaelab evaluate` and the report use the averaged weights; both sets are in every
checkpoint, so a resumed run continues the same average.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


def ema_decay(step: int, decay: float) -> float:
    """d_t = min(decay, (1 + t) / (10 + t)) for the t-th update, t >= 1."""
    return min(decay, (1 + step) / (10 + step))


class WeightAverage:
    """A copy of `model` whose parameters are the moving average of `model`'s; buffers are copied as they are."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.model.__dict__.pop("_compiled_call_impl", None)  # a copy of nn.Module.compile's would run `model`
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average towards `model`'s current weights."""
        self.updates += 1
        weight = 1.0 - ema_decay(self.updates, self.decay)
        averaged = list(self.model.parameters())
        current = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(averaged, current, weight)  # ema + w (theta - ema) = (1 - w) ema + w theta
        for mine, theirs in zip(self.model.buffers(), model.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = state["updates"]
