"""What a sweep trains and where: one run per grid point, each an ordinary run directory.

    SWEEP/sweep.yaml            the base config and the axes (what makes the sweep this sweep)
    SWEEP/runs/<name>/          one run per grid point, e.g. runs/beta=0.1,latent_dim=32/

A loss-conditional sweep (conditional.py) trains one model for all the betas of the grid instead and
reads each grid point off it; `PlannedModel` is what is trained, `PlannedRun` a grid point.

A sweep is re-run on the same SWEEP to resume it: runs whose last checkpoint reached the run's
length are kept as they are, the others resume from their checkpoints. Only the run length
(`--epochs`/`--steps`) may change between invocations, as with `vaelab train --resume`, and the grid may
grow: values added to its axes (the same axes, in the same order, every old value kept) add runs, which
are trained while the old ones are kept. Another grid or base config on the same SWEEP is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vaelab.config import Config
from vaelab.data import load_images, split_indices
from vaelab.errors import UsageError
from vaelab.files import atomic_write_text
from vaelab.numbers import format_value
from vaelab.objectives import check_objective
from vaelab.run_dir import load_checkpoint, read_json
from vaelab.sweep.grid import Axis, grid_points, run_names
from vaelab.training.length import run_length
from vaelab.training.lock import LOCK_NAME
from vaelab.version import __version__

SWEEP_FILE = "sweep.yaml"
RUNS = "runs"


@dataclass(frozen=True)
class PlannedRun:
    """One grid point: its name, its values {dotted key: value}, its full config, the run directory of the
    network that gives its numbers, and the folder its numbers are in (metrics.jsonl, eval.json): the
    run directory itself, or a loss-conditional model's evaluation at the point's beta, RUN/beta=B/."""

    name: str
    values: dict[str, Any]
    config: Config
    run_dir: Path
    evaluation_dir: Path


@dataclass(frozen=True)
class PlannedModel:
    """One network to train: its name, config and run directory, and the grid points read off it (its own
    run's point, or every beta of a loss-conditional sweep)."""

    name: str
    config: Config
    run_dir: Path
    points: list[PlannedRun]


@dataclass(frozen=True)
class RunProgress:
    """How far a run directory has got: its last checkpoint's step against the run's length, and whether
    RUN/eval.json describes that checkpoint."""

    step: int
    total_steps: int
    evaluated: bool

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps


@dataclass(frozen=True)
class SweepPlan:
    out: Path
    base: Config
    axes: list[Axis]
    runs: list[PlannedRun]  # the grid points, first axis outermost
    models: list[PlannedModel]  # what is trained
    conditional: bool = False  # one loss-conditional model per setting of the other axes (conditional.py)


def plan_sweep(base: Config, axes: list[Axis], out: str | Path) -> SweepPlan:
    """The runs of the grid over `base`; every run's config is built and validated here, so a bad key
    or value stops the sweep before anything is trained."""
    if base.objective.beta_range is not None:
        raise UsageError("the base config trains a loss-conditional model (objective.beta_range): add --conditional "
                         "to train one model for the whole beta axis")
    out = Path(out)
    points = grid_points(axes)
    names = run_names(points, axes)
    runs = [PlannedRun(name, point, run_config(base, point, name), out / RUNS / name, out / RUNS / name)
            for name, point in zip(names, points)]
    models = [PlannedModel(run.name, run.config, run.run_dir, [run]) for run in runs]
    return SweepPlan(out=out, base=base, axes=axes, runs=runs, models=models)


def run_config(base: Config, point: dict[str, Any], name: str) -> Config:
    """`base` with the grid point's values; an invalid combination names the run."""
    try:
        return check_objective(base.with_updates(point))
    except UsageError as error:
        raise UsageError(f"run {name}: {error}") from None


def record_or_check(plan: SweepPlan) -> None:
    """Write SWEEP/sweep.yaml for a new sweep; for an existing one, refuse a different grid or base config
    (a different run length is recorded: the runs then resume to the new length)."""
    path = plan.out / SWEEP_FILE
    if path.exists():
        saved = yaml.safe_load(path.read_text()) or {}
        if saved.get("conditional", False) != plan.conditional:
            kind, flag = ("one loss-conditional model", "with") if saved.get("conditional") else ("separate runs",
                                                                                                 "without")
            raise UsageError(f"{plan.out} holds a sweep of {kind}: re-run it {flag} --conditional, or choose a new "
                             "--out")
        saved_axes = [Axis(axis["key"], tuple(axis["values"])) for axis in saved.get("axes", [])]
        if saved_axes != plan.axes and not grows(saved_axes, plan.axes):
            grid = " ".join(f"--grid {axis.key}={','.join(map(format_value, axis.values))}" for axis in saved_axes)
            raise UsageError(f"{plan.out} holds a sweep over another grid ({grid}): re-run it with that grid or with "
                             "values added to its axes, or choose a new --out")
        differing = _differing_keys(type(plan.base).from_dict(saved["base"]).run_identity(), plan.base.run_identity())
        if differing:
            raise UsageError(f"{plan.out} holds a sweep whose base config differs in {', '.join(differing)}: re-run "
                             f"it with the same flags (only --epochs/--steps may change), or choose a new --out")
    elif any(path.name != LOCK_NAME for path in plan.out.iterdir()):
        raise UsageError(f"{plan.out} already holds files but no {SWEEP_FILE}: choose a new --out for the sweep")
    record = {"vaelab_version": __version__, "base": plan.base.to_dict(), "conditional": plan.conditional,
              "axes": [axis.to_dict() for axis in plan.axes], "runs": [run.name for run in plan.runs]}
    atomic_write_text(path, yaml.safe_dump(record, sort_keys=False))


def grows(saved: list[Axis], given: list[Axis]) -> bool:
    """Whether `given` is `saved` with values added: the same keys in the same order, every saved value kept
    (compared as run names write them, so that the old runs keep their names and folders)."""
    if [axis.key for axis in saved] != [axis.key for axis in given]:
        return False
    return all({format_value(v) for v in old.values} <= {format_value(v) for v in new.values}
               for old, new in zip(saved, given))


def read_progress(plan: SweepPlan) -> dict[str, RunProgress]:
    """Each run's progress, read from its directory. Loads each distinct data source once (to count the
    training images that an `--epochs` length depends on), which also checks the data before any run starts."""
    training_images: dict[str, int] = {}
    steps: dict[Path, int] = {}  # a loss-conditional model's step, read once for all its points
    progress = {}
    for run in plan.runs:
        data_key = json.dumps(run.config.to_dict()["data"], sort_keys=True)
        if data_key not in training_images:
            count = len(load_images(run.config.data).images)
            train_index, _ = split_indices(count, run.config.data.val_fraction, run.config.data.split_seed)
            training_images[data_key] = len(train_index)
        last = run.run_dir / "checkpoints" / "last.pt"
        if last not in steps:
            steps[last] = load_checkpoint(last)["step"] if last.exists() else 0
        step = steps[last]
        evaluation = read_json(run.evaluation_dir / "eval.json")
        progress[run.name] = RunProgress(
            step=step, total_steps=run_length(run.config.training, training_images[data_key]).steps,
            evaluated=last.exists() and evaluation.get("checkpoint") == "last" and evaluation.get("step") == step,
        )
    return progress


def _differing_keys(saved: dict[str, Any], given: dict[str, Any]) -> list[str]:
    return [f"{section}.{name}" for section, values in given.items() for name, value in values.items()
            if saved.get(section, {}).get(name) != value]
