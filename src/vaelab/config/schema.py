"""The sections of a run's config (data, model, objective, training) and `Config`, which holds them.

Each section checks its own fields (`validate`); the rules of the KL-weighting methods, alone and
combined, are the methods' own (vaelab.objectives.rules). See the package docstring.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vaelab.config.loading import build_dataclass, parse_value, read_mapping
from vaelab.config.objective import ObjectiveConfig
from vaelab.errors import UsageError
from vaelab.files import atomic_write_text
from vaelab.numbers import format_value

LR_SCHEDULES = ("constant", "cosine")
ARCHITECTURES = ("resnet", "plain")
PRIORS = ("normal", "vamp", "gmm")  # model.prior (model/prior.py)
ACTIVATIONS = ("silu", "relu")
# What a resumed run may change: its length, the display, and how its steps are executed (threads, device,
# torch.compile, the divergence limit), none of which changes what is trained.
RESUMABLE_KEYS = ("training.epochs", "training.steps", "training.time", "training.val_every", "training.progress",
                  "training.figures", "training.tensorboard",
                  "training.threads", "training.device", "training.compile", "training.max_bad_steps")
# Keys added with a default that differs from how runs were trained before the key existed: a run's own config
# (config.yaml, a checkpoint's) that lacks one was trained with this value, not with today's default.
SAVED_BEFORE_THE_KEY = {"model.arch": "plain", "model.linear_path": False, "data.augment": "none",
                        "training.lr_schedule": "constant", "training.ema": False}
MAX_IMAGE_SIZE = 1024  # pixels on a side: one 1024 x 1024 RGB image is 3 MB in the cache, 12 MB as floats
MAX_SEED = 2**63 - 1  # torch's generators take 64-bit seeds, numpy's SeedSequence non-negative ones


def check_seed(key: str, seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"{key}={seed} is not a seed: use a whole number from 0 to 2**63 - 1, e.g. 0")


@dataclass
class DataConfig:
    """Where the images come from and how they are prepared (see `vaelab.data`)."""

    spec: str = "digits"  # a folder, "fashion-mnist", "digits", or a Hugging Face dataset (hf:NAME[:SPLIT])
    image_size: int | None = None  # None: 28 for fashion-mnist, 32 for digits, 64 for folders
    channels: int | None = None  # None: 3 if any image has colour, else 1
    data_root: str | None = None  # where fashion-mnist's IDX files live
    val_fraction: float = 0.1
    split_seed: int = 0  # fixed apart from the training seed, so runs share a validation set
    limit: int | None = None  # use only the first N images (after a seeded shuffle)
    augment: str = "auto"  # auto | none | flip | crop | flip,crop of training batches (data/augment.py)
    cache_dir: str | None = None  # default: $VAELAB_CACHE or ~/.cache/vaelab

    def validate(self) -> None:
        if self.image_size is not None and self.image_size < 8:
            raise UsageError(f"data.image_size={self.image_size} is too small: use 8 or more (e.g. --image-size 64)")
        if self.image_size is not None and self.image_size > MAX_IMAGE_SIZE:
            raise UsageError(f"data.image_size={self.image_size} is too large: the cache and the network grow with its "
                             f"square; use at most {MAX_IMAGE_SIZE} (e.g. --image-size 256)")
        if self.channels not in (None, 1, 3):
            raise UsageError(f"data.channels={self.channels} is not supported: use --channels 1 or 3")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UsageError(f"data.val_fraction={self.val_fraction} must be in [0, 1): e.g. --val-fraction 0.1")
        check_seed("data.split_seed", self.split_seed)
        if self.limit is not None and self.limit < 2:
            raise UsageError(f"data.limit={self.limit} leaves nothing to train on: use --limit 2 or more")
        kinds = [part.strip() for part in self.augment.split(",")]
        spelled = set(kinds) <= {"flip", "crop"} and len(set(kinds)) == len(kinds)
        if self.augment not in ("auto", "none") and not spelled:
            raise UsageError(f"data.augment={self.augment!r} is not an augmentation: use auto, none, flip, crop or "
                             "flip,crop (e.g. --augment none)")


@dataclass
class ModelConfig:
    """The convolutional encoder/decoder (see `vaelab.model`)."""

    kind: str = "vae"  # "vae" (Gaussian posterior) or "ae" (the same network, deterministic bottleneck)
    arch: str = "resnet"  # resnet: residual blocks (model/resnet.py); plain: the seed's simple conv VAE (model/conv.py)
    latent_dim: int = 32
    width: int = 16  # channels at full resolution (plain: of the first convolution; doubled at each downsampling)
    blocks: int = 1  # resnet: residual blocks per resolution
    channel_mults: list[int] | None = None  # resnet: width multiplier per resolution; None: 1, 2, 4, 4, ...
    attention: bool = False  # resnet: self-attention at the lowest resolution
    linear_path: bool = True  # a linear map beside the network, started at the training split's PCA (linear_path.py)
    activation: str = "silu"  # silu | relu
    film_width: int = 64  # hidden units of the MLP that turns log beta into FiLM parameters (objective.beta_range)
    prior: str = "normal"  # normal: N(0, I) | vamp: VampPrior | gmm: a mixture fitted to the training codes (prior.py)
    prior_components: int | None = None  # K: vamp's pseudo-inputs (None: 50), gmm's components (None: 10)
    prior_covariance: str | None = None  # gmm: full | diag covariances of its components (None: full)

    def validate(self) -> None:
        if self.kind not in ("vae", "ae"):
            raise UsageError(f"model.kind={self.kind!r} is unknown: use --model vae or --model ae")
        if self.latent_dim < 1:
            raise UsageError(f"model.latent_dim={self.latent_dim} must be at least 1: e.g. --latent-dim 32")
        if self.width < 1:
            raise UsageError(f"model.width={self.width} must be at least 1: e.g. --width 32")
        if self.arch not in ARCHITECTURES:
            raise UsageError(f"model.arch={self.arch!r} is unknown: use --arch {' or --arch '.join(ARCHITECTURES)}")
        if self.blocks < 1:
            raise UsageError(f"model.blocks={self.blocks} must be at least 1: e.g. --set model.blocks=2")
        if self.channel_mults is not None and (not self.channel_mults or min(self.channel_mults) < 1):
            raise UsageError(f"model.channel_mults={self.channel_mults} must be positive whole numbers, one per "
                             "resolution: e.g. --set model.channel_mults=[1,2,4,4,4]")
        if self.activation not in ACTIVATIONS:
            raise UsageError(f"model.activation={self.activation!r} is unknown: use {' or '.join(ACTIVATIONS)}")
        plain_only = [name for name, changed in (("blocks", self.blocks != 1), ("channel_mults", self.channel_mults),
                                                  ("attention", self.attention)) if changed]
        if self.arch == "plain" and plain_only:
            raise UsageError(f"model.{plain_only[0]} shapes the residual network: drop it, or use --arch resnet")
        if self.film_width < 1:
            raise UsageError(f"model.film_width={self.film_width} must be at least 1: e.g. --set model.film_width=64")
        if self.prior not in PRIORS:
            raise UsageError(f"model.prior={self.prior!r} is unknown: use {', '.join(PRIORS)} "
                             "(e.g. --set model.prior=vamp)")


@dataclass
class TrainingConfig:
    """The optimisation loop (see `vaelab.training`)."""

    epochs: int | None = None  # with steps None: a length that fits the data (training/length.py)
    steps: int | None = None
    time: str | float | None = None  # a wall-clock budget, e.g. 10m, 90s, 1.5h: the run ends when it is spent
    batch_size: int = 128  # under torchrun, the global batch: each of N processes takes 1/N of it
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # constant | cosine (with linear warm-up; training/lr_schedule.py)
    warmup_steps: int | None = None  # cosine's warm-up; None: 5% of the run, at most 500 steps
    weight_decay: float = 0.0  # AdamW's decoupled weight decay (Loshchilov & Hutter 2019)
    ema: bool = True  # evaluate a moving average of the weights (training/ema.py)
    ema_decay: float = 0.999
    val_every: int | None = None  # steps between validations (and checkpoints); None: about 20 a run (length.py)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = False  # bf16 autocast
    channels_last: bool = True  # NHWC memory layout: faster steps on the CPU (docs/benchmarks.md)
    compile: bool = False  # torch.compile the model in place (nn.Module.compile): costs seconds to start
    clip_grad: float | None = None  # clip the gradients' total 2-norm to this; None: no clipping
    max_bad_steps: int = 20  # steps in a row with a non-finite loss or gradient that stop the run
    threads: int | None = None  # torch intra-op threads; None: torch's default
    log_every: int = 20  # train metrics are averaged over this many steps
    grad_every: int = 50  # steps between gradient decompositions (vaelab.diagnostics.gradients); 0: off
    figures: bool = True  # redraw figures at validations (a tenth of the run's time at most) and at its end
    tensorboard: bool = False  # also write metrics and figures as TensorBoard events in RUN/tensorboard/
    progress: bool = True

    def validate(self) -> None:
        if self.epochs is not None and self.steps is not None:
            raise UsageError("give either training.epochs or training.steps, not both")
        for name in ("epochs", "steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"training.{name}={value} must be at least 1")
        if self.batch_size < 1:
            raise UsageError(f"training.batch_size={self.batch_size} must be at least 1: e.g. --batch-size 128")
        check_seed("training.seed", self.seed)
        if not self.lr > 0:
            raise UsageError(f"training.lr={self.lr} must be > 0: e.g. --lr 1e-3")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise UsageError(f"training.device={self.device!r} is unknown: use auto, cpu, cuda or mps")
        if self.log_every < 1:
            raise UsageError(f"training.log_every={self.log_every} must be at least 1")
        if self.grad_every < 0:
            raise UsageError(f"training.grad_every={self.grad_every} must be >= 0 steps (0: off)")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"training.threads={self.threads} must be at least 1")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise UsageError(f"training.clip_grad={self.clip_grad} must be > 0 (or null: no clipping): "
                             "e.g. --clip-grad 100")
        if self.max_bad_steps < 1:
            raise UsageError(f"training.max_bad_steps={self.max_bad_steps} must be at least 1: e.g. --max-bad-steps 20")
        if self.time is not None:
            time_budget(self.time)
        if self.lr_schedule not in LR_SCHEDULES:
            raise UsageError(f"training.lr_schedule={self.lr_schedule!r} is unknown: use {' or '.join(LR_SCHEDULES)}")
        if self.warmup_steps is not None and self.warmup_steps < 1:
            raise UsageError(f"training.warmup_steps={self.warmup_steps} must be at least 1 (or null: 5% of the run)")
        if not self.weight_decay >= 0:
            raise UsageError(f"training.weight_decay={self.weight_decay} must be >= 0: e.g. --weight-decay 1e-4")
        if not 0 < self.ema_decay < 1:
            raise UsageError(f"training.ema_decay={self.ema_decay} must be in (0, 1): "
                             "e.g. --set training.ema_decay=0.999")
        if self.val_every is not None and self.val_every < 1:
            raise UsageError(f"training.val_every={self.val_every} must be at least 1 step (or null: about 20 a run)")


def time_budget(text: str | float) -> float:
    """`--time` in seconds: a positive number with a unit, s, m or h (90s, 10m, 1.5h); a one-line `UsageError`
    for anything else (a bare number included: say its unit)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh])\s*", text) if isinstance(text, str) else None
    seconds = float(found[1]) * {"s": 1, "m": 60, "h": 3600}[found[2]] if found else None
    if seconds is None or not seconds > 0:
        raise UsageError(f"training.time={format_value(text)} is not a time budget: give a positive number with a "
                         "unit, e.g. --time 10m, --time 90s or --time 1.5h")
    return seconds


@dataclass
class Config:
    """Everything that defines a run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def validate(self) -> Config:
        """Each section's fields. The KL-weighting methods' own rules and how they combine are checked where
        a run starts (`vaelab.objectives.rules.check_objective`, called by train and sweep)."""
        for section in (self.data, self.model, self.objective, self.training):
            section.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run_identity(self) -> dict[str, Any]:
        """What makes two configs the same run: everything but the keys a resumed run may set anew
        (RESUMABLE_KEYS: the run length, the display options and how the steps are executed)."""
        raw = self.to_dict()
        for key in RESUMABLE_KEYS:
            section, _, name = key.partition(".")
            raw[section].pop(name)
        return raw

    def describe(self) -> str:
        """The run in words, e.g. "VAE, latent 128, summed squared error + 0.1 x KL"."""
        recon = self.objective.describe_recon()
        if self.model.kind == "ae":
            fitted = ", mixture prior fitted after training" if self.model.prior == "gmm" else ""
            return f"AE, latent {self.model.latent_dim}, {recon} (no KL term){fitted}"
        prior = {"vamp": ", VampPrior", "gmm": ", mixture prior fitted after training"}.get(self.model.prior, "")
        return f"VAE, latent {self.model.latent_dim}, {recon} + {self.objective.describe_kl()}{prior}"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Build and validate a config; unknown keys and wrong types raise `UsageError`."""
        return build_dataclass(cls, raw).validate()

    def save(self, path: Path) -> None:
        """Written atomically: a crash while saving leaves the previous file, never an empty one."""
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> Config:
        return cls.from_dict(read_mapping(path, "sections (data, model, objective, training)"))

    @classmethod
    def from_saved(cls, raw: dict[str, Any]) -> Config:
        """The config a run saved (its config.yaml, or a checkpoint's): a key it lacks is one vaelab added later,
        and the run was trained as SAVED_BEFORE_THE_KEY says, not with today's default."""
        raw = {section: dict(values) if isinstance(values, dict) else values for section, values in raw.items()}
        for key, value in SAVED_BEFORE_THE_KEY.items():
            section, _, name = key.partition(".")
            if isinstance(raw.get(section), dict):
                raw[section].setdefault(name, value)
        return cls.from_dict(raw)

    @classmethod
    def load_saved(cls, path: Path) -> Config:
        """`from_saved` of a run's config.yaml."""
        return cls.from_saved(read_mapping(path, "sections (data, model, objective, training)"))

    def with_updates(self, updates: dict[str, Any]) -> Config:
        """A copy with dotted keys set, e.g. {"objective.beta": 0.1}; values may be strings (parsed as YAML)."""
        raw = self.to_dict()
        for key, value in updates.items():
            section, _, name = key.partition(".")
            if section not in raw or not name or "." in name:
                raise UsageError(f"unknown config key {key!r}: keys look like objective.beta or data.image_size")
            if name not in raw[section]:
                known = ", ".join(raw[section])
                raise UsageError(f"unknown config key {key!r}: {section} has {known}")
            raw[section][name] = parse_value(value) if isinstance(value, str) else value
        return Config.from_dict(raw)
