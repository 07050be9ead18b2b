"""The learning rate as a pure function of the step (`training.lr_schedule`).

    constant   lr at every step
    cosine     linear warm-up from 0 over W steps, then a half cosine down to 0 at the run's last step
               (Loshchilov & Hutter 2017, SGDR without restarts; Goyal et al. 2017's warm-up):

        lr(t) = lr * (t + 1) / W                                        t < W
        lr(t) = lr * 0.5 * (1 + cos(pi * (t - W) / (T - W)))            W <= t < T

Steps count from 0, as the beta schedules do: lr(0) is the rate of the first optimiser step. W is
`training.warmup_steps`, by default 5% of the run (at most 500 steps); T the run's length in steps.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")
WARMUP_SHARE = 0.05
WARMUP_CAP = 500


def warmup_steps(total_steps: int, configured: int | None) -> int:
    """W: the configured warm-up, or 5% of the run capped at 500 steps (at least 1 for a run of 1 step)."""
    if configured is not None:
        return configured
    return max(1, min(WARMUP_CAP, round(WARMUP_SHARE * total_steps)))


def learning_rate(step: int, *, lr: float, schedule: str, warmup: int, total_steps: int) -> float:
    """lr(t) of the module docstring."""
    if schedule == "constant":
        return lr
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
