"""Typed, validated run configuration: one dataclass per concept (data, model, objective, training).

A `Config` is the whole description of a run. It is saved as `RUN/config.yaml` and inside every
checkpoint, and a run can be re-created from that file alone. Unknown keys and values of the wrong
type are refused with a `UsageError` that names the key; inner code trusts a validated config.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vaelab.errors import UsageError

RECON_WORDS = {
    "sse": "summed squared error",
    "mse-mean": "mean squared error (averaged over pixels)",
    "gaussian": "Gaussian NLL (fixed sigma)",
    "bernoulli": "Bernoulli NLL",
    "sigma-learned": "Gaussian NLL (learned sigma)",
    "sigma-optimal": "Gaussian NLL (optimal sigma)",
}
RECONS = tuple(RECON_WORDS)
MAX_IMAGE_SIZE = 1024  # pixels on a side: one 1024 x 1024 RGB image is 3 MB in the cache, 12 MB as floats


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
        if self.limit is not None and self.limit < 2:
            raise UsageError(f"data.limit={self.limit} leaves nothing to train on: use --limit 2 or more")


@dataclass
class ModelConfig:
    """The convolutional encoder/decoder (see `vaelab.model`)."""

    kind: str = "vae"  # "vae" (Gaussian posterior) or "ae" (the same network, deterministic bottleneck)
    latent_dim: int = 32
    width: int = 32  # channels of the first convolution; doubled at each downsampling, capped at 8x
    film_width: int = 64  # hidden units of the MLP that turns log beta into FiLM parameters (objective.beta_range)

    def validate(self) -> None:
        if self.kind not in ("vae", "ae"):
            raise UsageError(f"model.kind={self.kind!r} is unknown: use --model vae or --model ae")
        if self.latent_dim < 1:
            raise UsageError(f"model.latent_dim={self.latent_dim} must be at least 1: e.g. --latent-dim 32")
        if self.width < 1:
            raise UsageError(f"model.width={self.width} must be at least 1: e.g. --width 32")
        if self.film_width < 1:
            raise UsageError(f"model.film_width={self.film_width} must be at least 1: e.g. --set model.film_width=64")


@dataclass
class ObjectiveConfig:
    """The reconstruction likelihood and the weighting of the KL term (see `vaelab.objectives`).

    loss = recon + beta(step) * KL, with the KL term optionally replaced by free bits, capacity
    control or GECO's constrained form (at most one of the three). docs/kl-weighting.md explains each.
    """

    recon: str = "sse"  # one of RECONS; "sse" is the seed's sum of squared errors
    sigma: float = 1.0  # decoder std for recon="gaussian", initial std for "sigma-learned" (pixels in [0, 1])
    sigma_per_channel: bool = False  # sigma-learned / sigma-optimal: one sigma per channel
    beta: float = 1.0  # weight of the KL term (the target of a schedule; with beta_range, the beta validated at)
    beta_range: list[float] | None = None  # [lo, hi]: one loss-conditional model for every beta in it (conditional.py)
    beta_schedule: str = "constant"  # constant | linear:STEPS | sigmoid:STEPS | cyclical:CYCLES:RATIO
    beta_start: float = 0.0  # where warm-up and cyclical schedules start
    free_bits: float = 0.0  # lambda in nats; 0 switches free bits off
    free_bits_mode: str = "dim"  # dim | group | total
    free_bits_groups: int = 1  # number of groups when free_bits_mode == "group"
    capacity: float | None = None  # C_max in nats; None switches capacity control off
    capacity_start: float = 0.0
    capacity_steps: int = 100_000
    capacity_gamma: float = 1000.0
    geco_target: float | None = None  # kappa; None switches GECO off
    geco_units: str = "mse"  # "mse": kappa is a per-pixel MSE; "recon": kappa is in the recon term's units
    geco_alpha: float = 0.99  # moving-average rate of the constraint
    geco_lr: float = 0.01  # step size of the multiplicative lambda update
    geco_lambda_init: float = 1.0
    geco_lambda_min: float = 1e-3
    geco_lambda_max: float = 1e4

    def describe_kl(self) -> str:
        """The KL term as it enters the loss, in words: "0.1 x KL", "KL under GECO (MSE <= 0.01)", ..."""
        if self.geco_target is not None:
            units = "MSE" if self.geco_units == "mse" else "recon"
            return f"KL under GECO ({units} <= {self.geco_target:g})"
        if self.capacity is not None:
            return (f"{self.capacity_gamma:g} x |KL - C|, C rising from {self.capacity_start:g} "
                    f"to {self.capacity:g} nats over {self.capacity_steps} steps")
        beta = "" if self.beta == 1 else f"{self.beta:g} x "
        kl = f"max(KL, {self.free_bits:g} nats per {self.free_bits_mode})" if self.free_bits > 0 else "KL"
        schedule = "" if self.beta_schedule == "constant" else f" (beta schedule {self.beta_schedule})"
        if self.beta_range is not None:
            low, high = self.beta_range
            schedule = f" (loss-conditional: one model for every beta in [{low:g}, {high:g}])"
        return f"{beta}{kl}{schedule}"

    def validate(self) -> None:
        if self.recon not in RECONS:
            raise UsageError(f"objective.recon={self.recon!r} is unknown: use one of {', '.join(RECONS)}")
        if not self.beta >= 0:
            raise UsageError(f"objective.beta={self.beta} must be >= 0: e.g. --beta 1 or --beta 0.1")
        if not self.sigma > 0:
            raise UsageError(f"objective.sigma={self.sigma} must be > 0: e.g. --sigma 0.1")
        if self.recon == "sigma-learned" and not self.sigma > math.exp(-6):
            raise UsageError(f"objective.sigma={self.sigma} is below sigma-learned's floor e^-6: use e.g. --sigma 1")
        if self.sigma_per_channel and self.recon not in ("sigma-learned", "sigma-optimal"):
            raise UsageError("objective.sigma_per_channel needs --recon sigma-learned or --recon sigma-optimal")
        # Imported here: vaelab.objectives imports this module.
        from vaelab.objectives.schedules import BetaSchedule

        schedule = BetaSchedule.parse(self.beta_schedule, beta=self.beta, beta_start=self.beta_start)
        if not self.beta_start >= 0:
            raise UsageError(f"objective.beta_start={self.beta_start} must be >= 0: e.g. --beta-start 0")
        if self.free_bits < 0:
            raise UsageError(f"objective.free_bits={self.free_bits} must be >= 0 nats")
        if self.free_bits_mode not in ("dim", "group", "total"):
            raise UsageError(f"objective.free_bits_mode={self.free_bits_mode!r}: use dim, group or total")
        if self.free_bits_groups < 1:
            raise UsageError(f"objective.free_bits_groups={self.free_bits_groups} must be at least 1")
        if self.capacity is not None and self.capacity < 0:
            raise UsageError(f"objective.capacity={self.capacity} must be >= 0 nats")
        if self.capacity_start < 0:
            raise UsageError(f"objective.capacity_start={self.capacity_start} must be >= 0 nats")
        if self.capacity_steps < 1:
            raise UsageError(f"objective.capacity_steps={self.capacity_steps} must be at least 1")
        if not self.capacity_gamma > 0:
            raise UsageError(f"objective.capacity_gamma={self.capacity_gamma} must be > 0: e.g. --capacity-gamma 1e3")
        if self.geco_target is not None and not self.geco_target > 0:
            raise UsageError(f"objective.geco_target={self.geco_target} must be > 0: e.g. --geco-target 0.01")
        if self.geco_units not in ("mse", "recon"):
            raise UsageError(f"objective.geco_units={self.geco_units!r}: use mse or recon")
        if not 0 <= self.geco_alpha < 1:
            raise UsageError(f"objective.geco_alpha={self.geco_alpha} must be in [0, 1)")
        if not self.geco_lr > 0:
            raise UsageError(f"objective.geco_lr={self.geco_lr} must be > 0: e.g. --geco-lr 0.01")
        if not 0 < self.geco_lambda_min <= self.geco_lambda_init <= self.geco_lambda_max:
            raise UsageError(
                f"objective.geco_lambda_min={self.geco_lambda_min}, geco_lambda_init={self.geco_lambda_init} and "
                f"geco_lambda_max={self.geco_lambda_max} must satisfy 0 < min <= init <= max"
            )
        if self.geco_target is not None and self.geco_units == "mse" and self.recon not in ("sse", "mse-mean"):
            raise UsageError(
                f"GECO in mse units constrains a squared error, not --recon {self.recon}: "
                "use --recon sse, or --geco-units recon with kappa in that term's units"
            )
        if self.geco_target is not None and self.recon not in ("sse", "mse-mean", "bernoulli"):
            raise UsageError(f"GECO needs a positive reconstruction error, which --recon {self.recon} (a Gaussian NLL) "
                             "is not: use --recon sse, mse-mean or bernoulli")
        methods = [self.free_bits > 0, self.capacity is not None, self.geco_target is not None]
        if sum(methods) > 1:
            raise UsageError("free bits, capacity and GECO each replace the KL term: choose one of them")
        if (self.capacity is not None or self.geco_target is not None) and schedule.kind != "constant":
            method = "GECO sets beta = 1/lambda" if self.capacity is None else "capacity control's weight is gamma"
            raise UsageError(f"{method}, not a beta schedule: drop --beta-schedule {self.beta_schedule}")
        if self.beta_range is not None:
            self._validate_beta_range(schedule.kind)

    def _validate_beta_range(self, schedule_kind: str) -> None:
        """A loss-conditional model's range, and the methods it does not combine with."""
        if len(self.beta_range) != 2 or not 0 < self.beta_range[0] < self.beta_range[1]:
            raise UsageError(f"objective.beta_range={self.beta_range} must be [LO, HI] with 0 < LO < HI: "
                             "e.g. --beta-range 0.01:10")
        low, high = self.beta_range
        weighting = [flag for flag, given in (
            ("--free-bits", self.free_bits > 0), ("--capacity", self.capacity is not None),
            ("--geco-target", self.geco_target is not None), (f"--beta-schedule {self.beta_schedule}",
                                                              schedule_kind != "constant"),
        ) if given]
        if weighting:
            raise UsageError(f"--beta-range gives every example its own fixed beta, and {weighting[0]} sets the KL "
                             f"weight itself: drop one of the two")
        if self.recon in ("sigma-learned", "sigma-optimal"):
            raise UsageError(f"--recon {self.recon} fits one decoder sigma to all examples, but the sigma that suits "
                             "a beta changes with beta: use --recon sse, mse-mean, gaussian or bernoulli with "
                             "--beta-range")
        if not low <= self.beta <= high:
            raise UsageError(f"objective.beta={self.beta:g} is outside objective.beta_range [{low:g}, {high:g}]: a "
                             "loss-conditional model is validated and drawn at objective.beta; give --beta inside "
                             f"the range, e.g. --beta {math.sqrt(low * high):.2g}")


@dataclass
class TrainingConfig:
    """The optimisation loop (see `vaelab.training`)."""

    epochs: int | None = None  # None: 10 epochs unless steps is given
    steps: int | None = None
    batch_size: int = 128  # under torchrun, the global batch: each of N processes takes 1/N of it
    lr: float = 1e-3
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
    figures: bool = True  # write figures at the end of each epoch and of the run
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


@dataclass
class Config:
    """Everything that defines a run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def validate(self) -> Config:
        for section in (self.data, self.model, self.objective, self.training):
            section.validate()
        if self.objective.beta_range is not None and self.model.kind == "ae":
            raise UsageError("the autoencoder has no KL term, so no beta to condition on: drop --beta-range, "
                             "or use --model vae")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """The run in words, e.g. "VAE, latent 128, summed squared error + 0.1 x KL"."""
        recon = RECON_WORDS[self.objective.recon]
        if self.model.kind == "ae":
            return f"AE, latent {self.model.latent_dim}, {recon} (no KL term)"
        return f"VAE, latent {self.model.latent_dim}, {recon} + {self.objective.describe_kl()}"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        """Build and validate a config; unknown keys and wrong types raise `UsageError`."""
        return _build(cls, raw, prefix="").validate()

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise UsageError(f"config file {path} does not exist: check the path") from None
        except yaml.YAMLError as error:
            raise UsageError(
                f"config file {path} is not valid YAML ({error.__class__.__name__}): fix the file") from None
        if not isinstance(raw, dict):
            raise UsageError(f"config file {path} must hold a mapping of sections (data, model, objective, training)")
        return cls.from_dict(raw)

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
            raw[section][name] = _parse_value(value) if isinstance(value, str) else value
        return Config.from_dict(raw)


def parse_assignment(text: str) -> tuple[str, str]:
    """Split `KEY=VALUE` from `--set`."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--set {text!r} is not KEY=VALUE: e.g. --set objective.beta=0.1")
    return key.strip(), value.strip()


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise UsageError(f"config section {prefix or 'root'!r} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        where = f"{prefix.rstrip('.')} has" if prefix else "known sections are"
        raise UsageError(f"unknown config key {prefix + unknown[0]!r}: {where} {', '.join(sorted(names))}")
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, prefix=f"{prefix}{name}.")
        else:
            values[name] = _coerce(value, hint, f"{prefix}{name}")
    return cls(**values)


def _parse_value(text: str) -> Any:
    """A `--set` value read as YAML (0.1, true, null, ...), or the text itself where it is not valid YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _float_text(text: str) -> float | str:
    """`text` as a float where it spells one (1e-3, 2E+2), else unchanged."""
    try:
        return float(text)
    except ValueError:
        return text


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check `value` against a simple type hint (int, float, str, bool, a list of one of them, X | None)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise UsageError(f"config key {key} must not be empty")
    if float in options and isinstance(value, str):
        value = _float_text(value)  # YAML 1.1 reads 1e-3 (no dot) as text
    for option in options:
        if typing.get_origin(option) is list and isinstance(value, (list, tuple)):
            return [_coerce(item, typing.get_args(option)[0], f"{key}[{i}]") for i, item in enumerate(value)]
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise UsageError(f"config key {key} must be a finite number, got {value!r}")
            return float(value)
        if option is str and isinstance(value, str):
            return value
    names = " or ".join("null" if o is type(None) else o.__name__ for o in options)
    raise UsageError(f"config key {key} must be {names}, got {value!r}")
