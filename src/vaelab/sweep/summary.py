"""SWEEP/summary.csv: one row per run, the grid values and the run's final numbers (docs/metrics.md).

The numbers come from the run directory alone: the last validation record of RUN/metrics.jsonl, the
cheap evaluation in RUN/eval.json and the model's image size in RUN/model.json. A point of a
loss-conditional sweep reads the first two from the model's evaluation at its beta, RUN/beta=B/. The rate and the
distortion are the two axes of the rate-distortion plane (Alemi et al. 2018, "Fixing a Broken ELBO"):

    rate        R = mean KL[q(z|x) || p(z)], nats per image (the logged `kl`; p = N(0, I) unless a VampPrior)
    distortion  the reconstruction term without any beta in it, per image:
                sse: the summed squared error itself (= recon); mse-mean: recon * P (back to the sum);
                gaussian, bernoulli, sigma-learned, sigma-optimal: -log p(x|z) as logged (= recon)

Non-finite and missing numbers (e.g. the ELBO of beta = 0 under sse, whose implied sigma is 0) are
written as empty cells.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from vaelab.files import atomic_write_text
from vaelab.numbers import format_value, stored
from vaelab.run_dir import RunDir, RunSummary, read_point
from vaelab.sweep.plan import PlannedRun, SweepPlan

SUMMARY_FILE = "summary.csv"
# After `run` and one column per grid axis (its dotted key), in this order; names as in docs/metrics.md.
METRIC_COLUMNS = (
    "status",  # finished | failed | interrupted
    "steps",  # the step of the last validation record
    "beta", "sigma", "loss", "rate", "distortion", "elbo_shared_sigma", "elbo", "mse",  # final validation metrics
    "elbo_optimal_sigma", "active_units", "aggregate_posterior_kl", "aggregate_posterior_mmd",  # eval.json
    "pixels",  # P = C * H * W
    "run_dir",  # the run's folder, relative to the sweep
)
FROM_METRICS = ("beta", "sigma", "loss", "elbo_shared_sigma", "elbo", "mse")
FROM_EVALUATION = ("elbo_optimal_sigma", "active_units", "aggregate_posterior_kl", "aggregate_posterior_mmd")


SEED_KEY = "training.seed"
SEED_SUMMARISED = ("rate", "distortion", "elbo_shared_sigma", "elbo", "elbo_optimal_sigma", "mse")  # mean and sd over the seeds


def columns(plan: SweepPlan, metric_columns: tuple[str, ...] = METRIC_COLUMNS,
            summarised: tuple[str, ...] = SEED_SUMMARISED) -> list[str]:
    """summary.csv's columns; a grid over training.seed adds `<name>_mean`, `<name>_sd` and `seeds`. A sweep of
    table networks has its own `metric_columns` and `summarised` ones (vaelab.sweep.bnn)."""
    seeded = [f"{name}_{stat}" for name in summarised for stat in ("mean", "sd")] + ["seeds"]
    return ["run", *(axis.key for axis in plan.axes), *metric_columns, *(seeded if has_seed_axis(plan) else [])]


def has_seed_axis(plan: SweepPlan) -> bool:
    return any(axis.key == SEED_KEY for axis in plan.axes)


def with_seed_statistics(plan: SweepPlan, rows: list[dict[str, Any]], summarised: tuple[str, ...] = SEED_SUMMARISED,
                         group_by: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Each row with the mean and sd (ddof 1) over the seeds of its grid point (the rows that share every axis
    but training.seed, and the `group_by` cells) of `summarised`, and how many seeds had the number; rows as they
    are without a seed axis."""
    if not has_seed_axis(plan):
        return rows
    others = [*(axis.key for axis in plan.axes if axis.key != SEED_KEY), *group_by]
    points: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        points.setdefault(tuple(row.get(key) for key in others), []).append(row)
    for members in points.values():
        for name in summarised:
            values = [row[name] for row in members
                      if isinstance(row.get(name), (int, float)) and math.isfinite(row[name])]
            mean = sum(values) / len(values) if values else None
            sd = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None)
            for row in members:
                row[f"{name}_mean"], row[f"{name}_sd"] = mean, sd
        for row in members:
            row["seeds"] = len(members)
    return rows


def distortion(recon_kind: str, recon: float, pixels: int | None) -> float:
    """The beta-independent reconstruction term (see the module docstring), nats or squared error per image."""
    if recon_kind == "mse-mean":
        return recon * pixels if pixels is not None else math.nan
    return recon


def run_row(plan: SweepPlan, run: PlannedRun, status: str) -> dict[str, Any]:
    """The summary row of one run; metric cells are None until the run has logged them."""
    row: dict[str, Any] = {"run": run.name, **run.values, **dict.fromkeys(METRIC_COLUMNS)}
    row.update(status=status, run_dir=run.run_dir.relative_to(plan.out).as_posix())
    if not (run.run_dir / "config.yaml").exists():
        return row
    summary = point_summary(run)
    final = summary.final("val")
    folder = RunDir(run.run_dir)
    if folder.model_file.exists() or folder.checkpoint("last").exists():
        row["pixels"] = math.prod(folder.image_shape())
    if final:
        row["steps"] = int(final["step"])
        row.update({name: final.get(name) for name in FROM_METRICS})
        row["rate"] = final.get("kl")
        row["distortion"] = distortion(run.config.objective.recon, final["recon"], row["pixels"])
    row.update({name: summary.evaluation.get(name) for name in FROM_EVALUATION})
    return row


def point_summary(run: PlannedRun) -> RunSummary:
    """A grid point read back: its config, and the metrics.jsonl and eval.json of its evaluation folder."""
    return read_point(run.run_dir, run.config, run.evaluation_dir)


def write_summary(plan: SweepPlan, rows: list[dict[str, Any]], metric_columns: tuple[str, ...] = METRIC_COLUMNS,
                  summarised: tuple[str, ...] = SEED_SUMMARISED, group_by: tuple[str, ...] = ()) -> Path:
    """SWEEP/summary.csv, written through a temporary file so that a reader never sees half of it; a sweep of
    table networks passes its own columns (vaelab.sweep.bnn)."""
    path = plan.out / SUMMARY_FILE
    axis_keys = {axis.key for axis in plan.axes}
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns(plan, metric_columns, summarised))
    writer.writeheader()
    for row in with_seed_statistics(plan, rows, summarised, group_by):
        writer.writerow({key: _cell(value, key in axis_keys) for key, value in row.items()})
    atomic_write_text(path, text.getvalue())
    return path


def _cell(value: Any, grid_value: bool) -> str:
    """Grid values as run names show them; numbers as the files store them (numbers.stored); None and non-finite
    numbers empty."""
    if grid_value:
        return format_value(value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(stored(value))
