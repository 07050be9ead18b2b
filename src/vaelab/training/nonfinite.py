"""Non-finite steps: a step whose loss or gradient is not finite updates nothing; a run whose steps keep
failing stops.

One bad batch (an overflow, the log of a zero, an extreme image) must neither end a long run nor
poison it. Its update is skipped, so the parameters and Adam's moments stay as they were (the trainer
also puts back the objective's buffers, e.g. GECO's multiplier, which its forward pass updates); the
step still counts as a step, its noise and its batch are used up. Skipped steps are counted
(`skipped_steps` in metrics.jsonl and in every checkpoint) and each is named in a warning.
`training.max_bad_steps` of them in a row mean that the run has diverged: it stops with a
`UsageError` (exit code 2) that says what to try, and saves nothing, so `last.pt` is the last
checkpoint from before. At the end of a run, skipped steps are weighed once more: a run that skipped
every one of its steps trained nothing and fails the same way (however few its steps), and one that
skipped more than MAX_SKIPPED_SHARE of them says so, since its numbers come from fewer updates than asked.

In a data-parallel run the processes decide together: one process's non-finite loss skips the step in
all of them, so that their parameters stay the same and all make the same collectives after it.

A gradient is non-finite when its total 2-norm is (any inf or nan makes it so). With
`training.clip_grad`, the gradients are scaled down to that total norm before the update
(Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural networks", Alg. 1);
the norm from before clipping is logged as `grad_norm`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from vaelab.config import TrainingConfig
from vaelab.errors import UsageError

if TYPE_CHECKING:
    from vaelab.training.distributed import DataParallel

log = logging.getLogger("vaelab")
MAX_SKIPPED_SHARE = 0.01  # skipped steps beyond this share of a run's steps are worth a warning at its end


def gradient_norm(params: list[torch.Tensor], max_norm: float | None) -> torch.Tensor:
    """The total 2-norm of the gradients of `params` (a 0-dim tensor); with `max_norm`, the gradients are
    then scaled down so that their total norm is at most `max_norm` (the norm returned is from before)."""
    if max_norm is not None:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    return torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])


class Diverged(UsageError):
    """Training stopped after `max_bad_steps` non-finite steps in a row (in every process of a data-parallel run)."""


class NonFiniteGuard:
    """Clips the gradients (if asked), says whether a step may update, and counts the steps that may not.

    `skipped_steps` (all run long) and `in_a_row` are checkpoint state: a resumed run counts on.
    `last_skipped` and `grad_norm` (None unless clipping; a 0-d tensor) describe the latest step, for the loggers.
    `parallel` is this process's place in a data-parallel run (None: it trains alone).
    """

    def __init__(self, training: TrainingConfig, params: list[torch.Tensor], total_steps: int,
                 parallel: DataParallel | None = None):
        self.training = training
        self.params = params
        self.total_steps = total_steps
        self.parallel = parallel
        self.skipped_steps = 0
        self.in_a_row = 0
        self.last_skipped = False
        self.grad_norm: torch.Tensor | None = None

    def allows_update(self, loss: torch.Tensor, step: int) -> bool:
        """Call after backward: True when `loss` and every gradient are finite (in every process of a
        data-parallel run). Otherwise the step is counted and named in a warning, or, when it makes
        `max_bad_steps` in a row, `Diverged` (a `UsageError`) ends the run. `step` is the step being taken,
        counted from 1
        as in metrics.jsonl."""
        norm = gradient_norm(self.params, self.training.clip_grad)
        self.grad_norm = None if self.training.clip_grad is None else norm.detach()
        # the one host synchronisation of a step: whether to update must be known here
        loss_finite, grad_finite = torch.stack([torch.isfinite(loss), torch.isfinite(norm)]).tolist()
        if self.parallel is not None:  # the gradients are averaged already, each process's loss is its own
            loss_finite, grad_finite = self.parallel.all_hold(loss_finite, grad_finite)
        self.last_skipped = not (loss_finite and grad_finite)
        if not self.last_skipped:
            self.in_a_row = 0
            return True
        self.skipped_steps += 1
        self.in_a_row += 1
        if self.in_a_row >= self.training.max_bad_steps:
            raise Diverged(self._diverged(step))
        log.warning("step %d: non-finite %s, update skipped (%d skipped so far)", step,
                    "gradient" if loss_finite else "loss", self.skipped_steps)
        return False

    def check_run(self, steps: int) -> None:
        """At the end of a run of `steps` steps: `Diverged` if every step was skipped, a warning if more than
        MAX_SKIPPED_SHARE of them were."""
        if steps and self.skipped_steps >= steps:
            raise Diverged(f"all {steps} steps of the run had a non-finite loss or gradient and were skipped: nothing "
                           f"was trained; start a new run with {self._remedies()}")
        if self.skipped_steps > MAX_SKIPPED_SHARE * steps:
            log.warning("%d of the run's %d steps (%.1f%%) had a non-finite loss or gradient and were skipped: its "
                        "numbers come from fewer updates than asked; a steadier run: %s", self.skipped_steps, steps,
                        100 * self.skipped_steps / steps, self._remedies())

    def _remedies(self) -> str:
        lr, amp = self.training.lr, self.training.amp
        return (f"a lower --lr (e.g. {lr / 10:g}), --clip-grad MAX_NORM or a KL warm-up (--beta-schedule "
                f"linear:{max(1, self.total_steps // 10)}){', or --no-amp' if amp else ''}")

    def _diverged(self, step: int) -> str:
        return (f"training stopped at step {step}: {self.in_a_row} steps in a row had a non-finite loss or gradient "
                f"(the run diverged; checkpoints/last.pt, if any, is from before): start a new run with "
                f"{self._remedies()}")

    def state_dict(self) -> dict[str, Any]:
        return {"skipped_steps": self.skipped_steps, "in_a_row": self.in_a_row}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.skipped_steps = state["skipped_steps"]
        self.in_a_row = state["in_a_row"]
