"""A loss-conditional sweep (`vaelab sweep --conditional`): one model for the whole beta axis.

Instead of one run per beta, one network is trained for every beta of the axis's range at once
(objectives/conditional.py, Dosovitskiy & Djolonga 2020) and evaluated at each beta of the axis,
which gives the same summary.csv, figures and report as separate runs would, at the cost of about one
run. Other axes still multiply: one conditional model per setting of them.

    SWEEP/runs/beta=0.01-10/             the model (an ordinary run directory), trained on beta in [0.01, 10]
    SWEEP/runs/beta=0.01-10/beta=0.1/    its evaluation at beta = 0.1: metrics.jsonl (the validation record
                                         a run trained at 0.1 would end with), eval.json, figures/

The range is `--beta-range` or, by default, from the smallest to the largest beta of the axis. The
model is validated (and its figures drawn) at the base config's beta, 1 by default, clipped into the
range; the evaluations use its last checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from vaelab.config import Config
from vaelab.errors import UsageError
from vaelab.numbers import format_value
from vaelab.run_dir import RunDir
from vaelab.sweep.grid import Axis, grid_points, run_name, run_names
from vaelab.sweep.plan import RUNS, PlannedModel, PlannedRun, SweepPlan, run_config

BETA_KEY = "objective.beta"


def plan_conditional_sweep(base: Config, axes: list[Axis], out: str | Path,
                           beta_range: list[float] | None = None) -> SweepPlan:
    """One loss-conditional model per setting of the axes other than beta, and every grid point read off
    its model; every config is built and validated here, before anything is trained."""
    out = Path(out)
    betas = beta_axis(axes).values
    low, high = beta_range or base.objective.beta_range or (min(betas), max(betas))
    outside = [beta for beta in betas if not low <= beta <= high]
    if outside:
        raise UsageError(f"--grid objective.beta has {format_value(outside[0])}, outside --beta-range "
                         f"{format_value(low)}:{format_value(high)}: widen the range or drop the value")
    validation_beta = min(max(base.objective.beta, low), high)
    points: dict[str, PlannedRun] = {}
    models = []
    for others in grid_points([axis for axis in axes if axis.key != BETA_KEY]):
        name = run_name({**others, BETA_KEY: f"{format_value(low)}-{format_value(high)}"}, axes)
        config = run_config(base, {**others, "objective.beta_range": [low, high], BETA_KEY: validation_beta}, name)
        run_dir = out / RUNS / name
        model_points = []
        for beta in betas:
            point = {axis.key: beta if axis.key == BETA_KEY else others[axis.key] for axis in axes}
            model_points.append(PlannedRun(run_name(point, axes), point, config.with_updates({BETA_KEY: beta}),
                                           run_dir, RunDir(run_dir).at_beta(beta).path))
        points.update((run.name, run) for run in model_points)
        models.append(PlannedModel(name, config, run_dir, model_points))
    runs = [points[name] for name in run_names(grid_points(axes), axes)]  # first axis outermost, as a sweep's
    return SweepPlan(out=out, base=base, axes=axes, runs=runs, models=models, conditional=True)


def beta_axis(axes: list[Axis]) -> Axis:
    """The `objective.beta` axis, whose values a loss-conditional model must be able to serve (beta > 0)."""
    axis = next((axis for axis in axes if axis.key == BETA_KEY), None)
    if axis is None:
        raise UsageError("--conditional reads every beta off one model: list them as --grid objective.beta=B1,B2,... "
                         "(e.g. 0.01,0.1,1,10)")
    bad = [value for value in axis.values
           if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0]
    if bad:
        raise UsageError(f"--grid objective.beta has {format_value(bad[0])}: a loss-conditional model serves betas "
                         "above 0 (its input is log beta); drop it (the plain autoencoder is --model ae)")
    return axis
