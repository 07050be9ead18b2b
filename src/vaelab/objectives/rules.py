"""Which KL-weighting settings make sense, alone and together: each method's own rules (beside it, in its
module's `check_config`) and the rules of their combination, checked where a run starts (`train`, a sweep's
plan) so that a bad combination stops before anything is written.
"""

from __future__ import annotations

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.model import prior
from vaelab.objectives import (
    adversarial,
    capacity,
    conditional,
    decoder_variance,
    free_bits,
    geco,
    infovae,
    iwae,
    recon_loss,
    schedules,
    tcvae,
)


def check_objective(config: Config) -> Config:
    """Every rule of the config's objective; a broken one is a one-line `UsageError`. Returns `config`."""
    objective = config.objective
    decoder_variance.check_config(objective)
    recon_loss.check_config(objective)
    adversarial.check_config(config)
    schedule = schedules.check_config(objective)
    free_bits.check_config(objective)
    capacity.check_config(objective)
    geco.check_config(objective)
    prior.check_config(config)
    iwae.check_config(config)
    tcvae.check_config(config)
    infovae.check_config(config)
    methods = [objective.free_bits > 0, objective.capacity is not None, objective.geco_target is not None]
    if sum(methods) > 1:
        raise UsageError("free bits, capacity and GECO each replace the KL term: choose one of them")
    _check_kl_form(config)
    if (objective.capacity is not None or objective.geco_target is not None) and schedule.kind != "constant":
        method = "GECO sets beta = 1/lambda" if objective.capacity is None else "capacity control's weight is gamma"
        raise UsageError(f"{method}, not a beta schedule: drop --beta-schedule {objective.beta_schedule}")
    if objective.beta_range is not None:
        weighting = [flag for flag, given in (
            ("--free-bits", objective.free_bits > 0), ("--capacity", objective.capacity is not None),
            ("--geco-target", objective.geco_target is not None),
            (f"--beta-schedule {objective.beta_schedule}", schedule.kind != "constant"),
        ) if given]
        conditional.check_config(config, weighting)
    return config


def length_warnings(config: Config, total_steps: int) -> list[str]:
    """What does not fit a run of `total_steps` steps: a beta warm-up or a capacity ramp longer than the run (said
    where the run starts, before its first step). Cycles that cannot fit are a `UsageError`."""
    objective = config.objective
    if config.model.kind == "ae" or objective.beta_range is not None:
        return []  # no KL weighting is built
    notes = [capacity.length_note(objective, total_steps)]
    if objective.capacity is None and objective.geco_target is None:
        notes.append(schedules.length_note(schedules.check_config(objective), total_steps))
    return [note for note in notes if note is not None]


def _check_kl_form(config: Config) -> None:
    """objective.method and the model's prior against the rest: one method that reshapes the KL term at a time."""
    objective = config.objective
    if objective.method != "elbo":
        flag = next((flag for flag, given in (
            ("--free-bits", objective.free_bits > 0), ("--capacity", objective.capacity is not None),
            ("--geco-target", objective.geco_target is not None), ("--beta-range", objective.beta_range is not None),
        ) if given), None)
        if config.model.kind == "ae":
            raise UsageError(f"objective.method={objective.method} acts on the KL term, which the plain autoencoder "
                             "has not: use --model vae, or drop the method")
        if flag is not None:
            raise UsageError(f"objective.method={objective.method} forms the KL term itself: drop {flag} (one method "
                             "that reshapes the KL term at a time)")
    if config.model.prior == "vamp" and objective.free_bits > 0 and objective.free_bits_mode != "total":
        raise UsageError("free bits per dimension or group need the KL of each dimension, which a VampPrior's KL "
                         "has not: use --set objective.free_bits_mode=total")
