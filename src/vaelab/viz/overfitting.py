"""Whether a run overfits, read from its metrics.jsonl: the validation error rising while the training error falls.

For a metric where lower is better (the MSE of a posterior sample, or minus the ELBO at the shared sigma, which
stay comparable over the steps whatever the KL weight does), with v(t) its validation passes and u(t) its training
averages: let t* be the step of the lowest v. The run overfits when, from t* to the last pass T,

    v(T) >= (1 + RISE) v(t*)    and    u(T) <= (1 - RISE) u(t*)

(u(t*) the training average logged nearest t*), i.e. held-out error up by RISE or more of its best value while the
training error went down by as much: the network fits its training images at the expense of others. Both must
move: a KL weight that rises (a schedule, GECO) makes both errors rise, which is not overfitting. For -ELBO,
which can be negative, the changes are measured against |v(t*)|.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaelab.numbers import format_number
from vaelab.run_dir import RunSummary

RISE = 0.05  # 5% of the best value: well above the pass-to-pass wobble of a converged run's validation error
WATCHED = (("mse", 1.0, "validation MSE (one z ~ q per image)"),
           ("elbo_shared_sigma", -1.0, "validation -ELBO at the shared sigma"))  # (metric, sign: lower is better)


@dataclass
class Overfitting:
    """What rose and what fell: the metric, the best validation step and value, and the last ones, each as the
    lower-is-better quantity of `label` (the MSE, or -ELBO)."""

    metric: str
    label: str
    best_step: int
    best: float
    last_step: int
    last: float
    train_then: float
    train_last: float

    def text(self) -> str:
        """One sentence for the pages and the terminal."""
        rise = (self.last - self.best) / abs(self.best)
        return (f"overfitting: the {self.label} rose from {format_number(self.best)} at step {self.best_step} (its "
                f"best) to {format_number(self.last)} at step {self.last_step} (+{rise:.0%}), while the training "
                f"value fell from {format_number(self.train_then)} to {format_number(self.train_last)}: the network "
                "fits its training images at the expense of held-out ones. The numbers of the last step are past "
                "its best: checkpoints/best.pt holds the best validation score (vaelab evaluate --checkpoint best), "
                "and fewer steps, a smaller network, augmentation or more images would help")


def overfitting(run: RunSummary) -> Overfitting | None:
    """The first of WATCHED (MSE, then -ELBO at the shared sigma) by which the run overfits, or None."""
    for metric, sign, label in WATCHED:
        found = _rise(run, metric, sign, label)
        if found is not None:
            return found
    return None


def _rise(run: RunSummary, metric: str, sign: float, label: str) -> Overfitting | None:
    val_steps, val_values = run.series("val", metric)
    train_steps, train_values = run.series("train", metric)
    if len(val_steps) < 3 or not train_steps:
        return None
    val = [sign * value for value in val_values]
    train = [sign * value for value in train_values]
    best = min(range(len(val)), key=val.__getitem__)
    if best == len(val) - 1 or val[best] == 0:
        return None
    then = min(range(len(train_steps)), key=lambda i: abs(train_steps[i] - val_steps[best]))
    scale = abs(val[best])
    rose = val[-1] - val[best] >= RISE * scale
    fell = train[then] - train[-1] >= RISE * abs(train[then]) and train_steps[then] < train_steps[-1]
    if not (rose and fell and math.isfinite(val[-1])):
        return None
    return Overfitting(metric=metric, label=label, best_step=val_steps[best], best=val[best],
                       last_step=val_steps[-1], last=val[-1], train_then=train[then], train_last=train[-1])
