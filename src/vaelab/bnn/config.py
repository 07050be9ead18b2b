"""`BNNConfig`: the whole description of a `vaelab bnn` run, typed and strict like the image runs' `Config`.

Saved as RUN/config.yaml (with `kind: bnn` at the top, which tells a table run from an image run) and in
every checkpoint; a run is re-created from that file alone. Unknown keys and wrong types are refused with a
one-line `UsageError` naming the key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vaelab.bnn.weighting import KLWeighting, Tempering
from vaelab.config.loading import build_dataclass, parse_value, read_mapping
from vaelab.errors import UsageError
from vaelab.files import atomic_write_text

TABLES = ("diabetes", "wine", "breast-cancer", "digits")  # scikit-learn's bundled tables, read offline
TASKS = ("regression", "classification")
KINDS = ("bayes", "map", "ensemble")
NOISES = ("learned", "fixed")
LR_SCHEDULES = ("constant", "cosine")
RUN_KIND = "bnn"
RESUMABLE_KEYS = ("training.epochs", "training.steps", "training.progress", "training.figures", "training.threads")


@dataclass
class TableConfig:
    """Which table, which column is predicted, and the seeded train / validation / test split (bnn/data.py)."""

    spec: str = "diabetes"  # one of TABLES, or a .csv file
    target: str | None = None  # the CSV column to predict (required for a CSV)
    task: str | None = None  # regression | classification; None: the table's own (a CSV: regression)
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    split_seed: int = 0  # apart from the training seed, so that runs share their splits

    def validate(self) -> None:
        if self.spec not in TABLES and not self.spec.lower().endswith(".csv"):
            raise UsageError(f"--data {self.spec!r} is unknown: use one of {', '.join(TABLES)} or a .csv file")
        if self.spec.lower().endswith(".csv") and not self.target:
            raise UsageError(f"--data {self.spec} is a CSV: name the column to predict with --target COLUMN")
        if self.task is not None and self.task not in TASKS:
            raise UsageError(f"data.task={self.task!r} is unknown: use --task regression or --task classification")
        fractions = (self.val_fraction, self.test_fraction)
        if not (all(0 < fraction < 1 for fraction in fractions) and sum(fractions) < 1):
            raise UsageError(f"data.val_fraction={self.val_fraction} and data.test_fraction={self.test_fraction} must "
                             "be in (0, 1) and leave rows to train on: e.g. 0.15 and 0.2")


@dataclass
class NetworkConfig:
    """The MLP and its posterior (bnn/model.py): mean-field Gaussian weights (bayes), one point estimate (map:
    the prior as weight decay) or `members` point estimates from different initialisations (ensemble)."""

    kind: str = "bayes"  # one of KINDS
    widths: list[int] = field(default_factory=lambda: [50])  # hidden layers; [] is a linear model
    prior_std: float = 1.0  # s in p(w) = N(0, s^2), on every weight and bias
    posterior_std_init: float = 1e-3  # the initial std of every q(w) (Blundell et al. start small)
    noise: str = "learned"  # regression: learned (a point estimate of the noise std) or fixed at noise_std
    noise_std: float = 1.0  # regression: the noise std (fixed) or its initial value (learned), target units
    members: int = 5  # ensemble size

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"model.kind={self.kind!r} is unknown: use --model {', '.join(KINDS)}")
        bad = [width for width in self.widths if width < 1]
        if bad:
            raise UsageError(f"--widths {','.join(map(str, self.widths))}: every hidden width must be at least 1 "
                             "(e.g. --widths 50,50; an empty --widths '' is a linear model)")
        if not self.prior_std > 0:
            raise UsageError(f"--prior-std {self.prior_std:g} must be > 0: e.g. --prior-std 1")
        if not self.posterior_std_init > 0:
            raise UsageError(f"model.posterior_std_init={self.posterior_std_init:g} must be > 0: e.g. 1e-3")
        if self.noise not in NOISES:
            raise UsageError(f"model.noise={self.noise!r} is unknown: use learned or fixed")
        if not self.noise_std > 0:
            raise UsageError(f"model.noise_std={self.noise_std:g} must be > 0: e.g. 1")
        if self.members < 1:
            raise UsageError(f"model.members={self.members} must be at least 1: e.g. --members 5")


@dataclass
class WeightingConfig:
    """The KL weight and the temperature (bnn/weighting.py), and the Monte Carlo samples of the predictions."""

    kl_weight: str = "elbo"  # a scheme of weighting.SCHEMES
    temperature: float = 1.0  # T; 1 is no tempering
    tempering: str = "likelihood"  # likelihood: p(D|w)^(1/T); posterior: (p(D|w) p(w))^(1/T)
    train_samples: int = 1  # output samples per example and step (local reparameterisation)
    test_samples: int = 100  # weight samples of the predictive distribution

    def validate(self) -> None:
        KLWeighting.parse(self.kl_weight)
        Tempering(self.temperature, self.tempering)
        if self.train_samples < 1 or self.test_samples < 1:
            raise UsageError(f"objective.train_samples={self.train_samples} and objective.test_samples="
                             f"{self.test_samples} must be at least 1")


@dataclass
class BNNTrainingConfig:
    """Adam on minibatches (bnn/train.py)."""

    epochs: int | None = None  # None: 300 epochs unless steps is given
    steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-2
    lr_schedule: str = "constant"  # constant | cosine (to 0 at the last step)
    seed: int = 0
    log_every: int = 10  # train records average this many steps
    eval_every: int = 200  # steps between validation passes (and last.pt); the last step always has one
    figures: bool = True
    progress: bool = True
    threads: int | None = 1  # torch threads; these networks are small enough that one is fastest (docs/bnn.md)

    def validate(self) -> None:
        if self.epochs is not None and self.steps is not None:
            raise UsageError("give either training.epochs or training.steps, not both")
        for name in ("epochs", "steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"training.{name}={value} must be at least 1")
        for name in ("batch_size", "log_every", "eval_every"):
            if getattr(self, name) < 1:
                raise UsageError(f"training.{name}={getattr(self, name)} must be at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"training.lr={self.lr:g} must be > 0: e.g. --lr 1e-2")
        if self.lr_schedule not in LR_SCHEDULES:
            raise UsageError(f"training.lr_schedule={self.lr_schedule!r} is unknown: use constant or cosine")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"training.threads={self.threads} must be at least 1")


@dataclass
class BNNConfig:
    kind: str = RUN_KIND
    data: TableConfig = field(default_factory=TableConfig)
    model: NetworkConfig = field(default_factory=NetworkConfig)
    objective: WeightingConfig = field(default_factory=WeightingConfig)
    training: BNNTrainingConfig = field(default_factory=BNNTrainingConfig)

    def validate(self) -> BNNConfig:
        if self.kind != RUN_KIND:
            raise UsageError(f"kind={self.kind!r}: a vaelab bnn config says kind: {RUN_KIND}")
        for section in (self.data, self.model, self.objective, self.training):
            section.validate()
        changed = [flag for flag, given in (("--kl-weight", self.objective.kl_weight != "elbo"),
                                            ("--temperature", self.objective.temperature != 1)) if given]
        if self.model.kind != "bayes" and changed:
            raise UsageError(f"--model {self.model.kind} trains point estimates, which have no KL term: drop "
                             f"{changed[0]} (or use --model bayes)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run_identity(self) -> dict[str, Any]:
        """What makes two configs the same run: everything but RESUMABLE_KEYS (the run length, the display and
        thread options), which a resumed run may set anew."""
        raw = self.to_dict()
        raw.pop("kind")  # always "bnn": the sections alone, as an image run's Config.run_identity gives them
        for key in RESUMABLE_KEYS:
            section, _, name = key.partition(".")
            raw[section].pop(name)
        return raw

    def describe(self) -> str:
        """The run in words, e.g. 'mean-field BNN 50, prior N(0, 1), KL weight elbo, on diabetes'."""
        widths = "x".join(map(str, self.model.widths)) or "linear"
        net = {"bayes": "mean-field BNN", "map": "MAP network", "ensemble": f"ensemble of {self.model.members} MAP "
               "networks"}[self.model.kind]
        weight = ""
        if self.model.kind == "bayes":
            weight = f", KL weight {self.objective.kl_weight}"
            if self.objective.temperature != 1:
                weight += f", {self.objective.tempering} tempering at T = {self.objective.temperature:g}"
        return f"{net} {widths}, prior N(0, {self.model.prior_std:g}^2){weight}, on {self.data.spec}"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BNNConfig:
        return build_dataclass(cls, raw).validate()

    def save(self, path: Path) -> None:
        """Written atomically (vaelab.files): never half a config."""
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> BNNConfig:
        raw = read_mapping(path, "sections (kind, data, model, objective, training)")
        if raw.get("kind") != RUN_KIND:
            raise UsageError(f"config file {path} is not a vaelab bnn config (no 'kind: {RUN_KIND}'): an image run's "
                             "config goes to vaelab train --config")
        return cls.from_dict(raw)

    def with_updates(self, updates: dict[str, Any]) -> BNNConfig:
        """A copy with dotted keys set, e.g. {"objective.kl_weight": "batch"}; string values are read as YAML."""
        raw = self.to_dict()
        for key, value in updates.items():
            section, _, name = key.partition(".")
            if not isinstance(raw.get(section), dict) or not name or "." in name:
                raise UsageError(f"unknown config key {key!r}: keys look like objective.kl_weight or model.prior_std")
            if name not in raw[section]:
                raise UsageError(f"unknown config key {key!r}: {section} has {', '.join(raw[section])}")
            raw[section][name] = parse_value(value) if isinstance(value, str) else value
        return BNNConfig.from_dict(raw)
