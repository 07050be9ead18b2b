"""Which KL-weighting settings make sense, alone and together: each method's own rules (beside it, in its
module's `check_config`) and the rules of their combination, checked where a run starts (`train`, a sweep's
plan) so that a bad combination stops before anything is written.
"""

from __future__ import annotations

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.objectives import (
    adversarial,
    capacity,
    conditional,
    decoder_variance,
    free_bits,
    geco,
    recon_loss,
    schedules,
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
    methods = [objective.free_bits > 0, objective.capacity is not None, objective.geco_target is not None]
    if sum(methods) > 1:
        raise UsageError("free bits, capacity and GECO each replace the KL term: choose one of them")
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
