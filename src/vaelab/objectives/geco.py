"""GECO (Rezende & Viola 2018, "Taming VAEs"): minimise the KL subject to a reconstruction error
below a tolerance kappa, with a Lagrange multiplier lambda that finds the weight for you.

    minimise KL   subject to   E[error] <= kappa      Lagrangian: KL + lambda * (recon - kappa')

`error` is the per-pixel MSE (`geco_units="mse"`, kappa e.g. 0.01; the recon term must then be a
squared error, `sse` or `mse-mean`, so that lambda multiplies the constrained quantity) or the
reconstruction term as trained (`"recon"`, kappa in its units, e.g. nats per image, for a recon term
that is positive: sse, mse-mean or bernoulli); kappa' is kappa in the recon term's units. The
multiplier follows a moving average of the error and is updated multiplicatively after every
training step t = 1, 2, ...:

    m_t      = alpha * m_(t-1) + (1 - alpha) * error_t,   m_0 = 0           (alpha = 0.99)
    error_ma = m_t / (1 - alpha^t)                                           bias-corrected, as Adam's moments
    lambda   <- clamp(lambda * exp(nu * log(error_ma / kappa)), lambda_min, lambda_max)

The correction (Kingma & Ba 2015, section 3) makes error_ma the average of the errors so far with the
weights (1 - alpha) alpha^(t - i) normalised to sum to 1: exact for a constant error from the first step,
and free of the lag that starting the average at the first batch (the untrained network's error) leaves
for about 1 / (1 - alpha) = 100 steps.

so lambda grows while the error is above kappa and shrinks while it is below. The paper writes
exp(nu * C_ma) with C = error - kappa; vaelab writes the same constraint as log error - log kappa <= 0.
That makes the step size nu (`geco_lr`) unit-free (nu = 0.01 moves lambda by 0.7% per step when the
error is twice the target) and the update symmetric: an error twice the target raises lambda as
fast as an error half the target lowers it, so lambda winds up less while the network is still
learning to reconstruct at all.

vaelab minimises the Lagrangian divided by lambda, recon + (1 / lambda) * KL: the same gradient
direction, and under Adam (invariant to the scale of the loss) the same steps while lambda changes
slowly. So GECO is a beta-VAE whose beta = 1 / lambda is found by the constraint; that beta is what
`beta` logs, next to `geco_lambda`, `geco_error_ma` and `geco_constraint_ma` (= error_ma - kappa).
lambda, m_t and t are buffers: they go into every checkpoint and survive a resume. They change
only in training mode, never during validation. Under DDP the batch error is all-reduced first, so lambda
follows the global batch's error. With a squared error, the sigma the loss implies is that of the weight
in force, sigma^2 = (1 / lambda) / 2: the logged `sigma` and `elbo` use it (Objective.forward).

lambda pinned at lambda_max means the data cannot meet the target (an MSE below what the network reaches):
the KL weight 1 / lambda_max is then an arbitrary number, not one the constraint found (`pinned_note`).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from vaelab.config import EXTRA_RECONS, ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.objectives.weighting import KLWeight, KLWeighting


def check_config(config: ObjectiveConfig) -> None:
    """GECO's parameters, and a reconstruction error it can constrain."""
    if config.geco_target is not None and not config.geco_target > 0:
        raise UsageError(f"objective.geco_target={config.geco_target} must be > 0: e.g. --geco-target 0.01")
    if config.geco_units not in ("mse", "recon"):
        raise UsageError(f"objective.geco_units={config.geco_units!r}: use mse or recon")
    if not 0 <= config.geco_alpha < 1:
        raise UsageError(f"objective.geco_alpha={config.geco_alpha} must be in [0, 1)")
    if not config.geco_lr > 0:
        raise UsageError(f"objective.geco_lr={config.geco_lr} must be > 0: e.g. --geco-lr 0.01")
    if not 0 < config.geco_lambda_min <= config.geco_lambda_init <= config.geco_lambda_max:
        raise UsageError(
            f"objective.geco_lambda_min={config.geco_lambda_min}, geco_lambda_init={config.geco_lambda_init} and "
            f"geco_lambda_max={config.geco_lambda_max} must satisfy 0 < min <= init <= max"
        )
    if config.geco_target is None:
        return
    if config.geco_units == "mse" and config.recon not in ("sse", "mse-mean"):
        raise UsageError(
            f"GECO in mse units constrains a squared error, not --recon {config.recon}: "
            "use --recon sse, or --geco-units recon with kappa in that term's units"
        )
    if config.recon == "l1":  # its Laplace scale b = beta would have to follow GECO's weight 1 / lambda
        raise UsageError("GECO with --recon l1 is not supported (the Laplace scale would follow GECO's weight): use "
                         "--recon sse, or --recon l1 with a fixed --beta")
    if config.recon not in ("sse", "mse-mean", "bernoulli", *EXTRA_RECONS):
        raise UsageError(f"GECO needs a positive reconstruction error, which --recon {config.recon} (a Gaussian NLL) "
                         "is not: use --recon sse, mse-mean or bernoulli")


class GECO(KLWeighting):
    """recon + (1 / lambda) * KL, with lambda updated from the moving-average constraint after each training step."""

    def __init__(self, *, target: float, units: str, alpha: float, lr: float, lambda_init: float,
                 lambda_min: float, lambda_max: float):
        super().__init__()
        self.target = target
        self.units = units
        self.alpha = alpha
        self.lr = lr
        self.lambda_min = lambda_min
        self.lambda_max = lambda_max
        self.register_buffer("multiplier", torch.tensor(lambda_init))
        self.register_buffer("error_ma", torch.tensor(0.0))  # m_t, the moving average before its correction
        self.register_buffer("updates", torch.tensor(0.0))  # t, the training steps averaged so far

    @classmethod
    def from_config(cls, config: ObjectiveConfig) -> GECO:
        return cls(target=config.geco_target, units=config.geco_units, alpha=config.geco_alpha, lr=config.geco_lr,
                   lambda_init=config.geco_lambda_init, lambda_min=config.geco_lambda_min,
                   lambda_max=config.geco_lambda_max)

    @torch.no_grad()
    def update(self, error: torch.Tensor) -> None:
        """One step of the moving average and of the multiplicative lambda update. error: scalar.

        Written without a branch on the device's values, so that a training step never waits for them. In a
        data-parallel run (torch.distributed initialised) the error is first averaged over the processes, whose
        shares of the global batch are of equal size: every process then takes the same step from the global
        batch's error, as one process training alone would.
        """
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            error = error.clone()
            dist.all_reduce(error)
            error /= dist.get_world_size()
        self.error_ma.mul_(self.alpha).add_((1 - self.alpha) * error)
        self.updates.add_(1)
        log_constraint = torch.log(self.corrected_error() / self.target)  # <= 0 when the constraint holds
        self.multiplier.mul_(torch.exp(self.lr * log_constraint)).clamp_(self.lambda_min, self.lambda_max)

    def corrected_error(self) -> torch.Tensor:
        """error_ma = m_t / (1 - alpha^t); nan before the first training step (t = 0)."""
        return self.error_ma / (1 - self.alpha**self.updates)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A checkpoint from before the bias correction has no t; its average started at the first batch, so it
        # needs no correction: a large t makes 1 - alpha^t = 1.
        state_dict.setdefault(f"{prefix}updates", torch.tensor(1e9))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, *, recon, kl, kl_per_dim, mse, step):
        lagrange_multiplier = self.multiplier.clone()  # the weight of this step, from before its update
        if self.training:
            self.update((mse if self.units == "mse" else recon).detach().mean().to(self.error_ma.dtype))
        error_ma = self.corrected_error()
        extras = {
            "geco_lambda": lagrange_multiplier,
            "geco_error_ma": error_ma,
            "geco_constraint_ma": error_ma - self.target,
        }
        return KLWeight(beta=1.0 / lagrange_multiplier, kl_objective=kl.mean(), extras=extras)

    def beta_at(self, step):
        return 1.0 / float(self.multiplier)


def pinned_note(multiplier: float, config: ObjectiveConfig) -> str | None:
    """A one-line warning when lambda sits at a bound of [geco_lambda_min, geco_lambda_max], else None.

    At lambda_max the error stayed above kappa however little KL weight there was: the target is out of reach
    for this network on this data, and the weight in force, 1 / lambda_max, is the clamp's, not GECO's. At
    lambda_min the error stayed below kappa at the heaviest KL weight allowed: the constraint never bound.
    """
    units = "MSE" if config.geco_units == "mse" else "recon"
    where = f"--geco-target {config.geco_target:g} ({units})"
    if math.isclose(multiplier, config.geco_lambda_max, rel_tol=1e-5):
        return (f"GECO's lambda is pinned at its cap geco_lambda_max = {config.geco_lambda_max:g}: the error never "
                f"came down to {where}, so the KL weight 1 / lambda = {1 / config.geco_lambda_max:.3g} is the "
                "clamp's, not a weight the constraint found; raise the target (e.g. to the MSE the run reached) "
                "or train longer")
    if math.isclose(multiplier, config.geco_lambda_min, rel_tol=1e-5):
        return (f"GECO's lambda is pinned at its floor geco_lambda_min = {config.geco_lambda_min:g}: the error stays "
                f"below {where} even at the heaviest KL weight allowed, 1 / lambda = {1 / config.geco_lambda_min:.3g},"
                " so the constraint does not bind; lower the target to ask for sharper reconstructions")
    return None
