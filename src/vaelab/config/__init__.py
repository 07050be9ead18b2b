"""Typed, validated run configuration: one dataclass per concept (data, model, objective, training).

    schema.py     the sections and `Config`; each field checked on its own
    objective.py  the objective's section (the reconstruction term, the KL term's weighting and form)
    loading.py    YAML files, `--set` values, and the strict coercion of plain data into the dataclasses

A `Config` is the whole description of a run. It is saved as `RUN/config.yaml` and inside every
checkpoint, and a run can be re-created from that file alone. Unknown keys and values of the wrong
type are refused with a `UsageError` that names the key; inner code trusts a validated config. The
KL-weighting methods' own rules live beside the methods (`vaelab.objectives.rules`).
"""

from vaelab.config.loading import parse_assignment
from vaelab.config.objective import EXTRA_RECONS, RECON_WORDS, RECONS
from vaelab.config.schema import (
    MAX_IMAGE_SIZE,
    RESUMABLE_KEYS,
    Config,
    DataConfig,
    ModelConfig,
    ObjectiveConfig,
    TrainingConfig,
    time_budget,
)

__all__ = ["EXTRA_RECONS", "MAX_IMAGE_SIZE", "RECONS", "RECON_WORDS", "RESUMABLE_KEYS", "Config", "DataConfig",
           "ModelConfig", "ObjectiveConfig",
           "TrainingConfig", "parse_assignment",
           "time_budget"]
