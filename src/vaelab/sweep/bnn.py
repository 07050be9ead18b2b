"""A sweep of table networks (`vaelab sweep --bnn`): the grid of plain sweeps, each point a `vaelab bnn` run,
with a MAP network and a deep ensemble trained beside it as baselines.

    SWEEP/runs/kl_weight=constant_0.1,seed=0/    one bnn run per grid point (an ordinary bnn run directory)
    SWEEP/runs/baseline=map,seed=0/              per setting of the axes that are not objective.* keys: the MAP
    SWEEP/runs/baseline=ensemble,seed=0/         network (the prior as weight decay) and model.members MAP nets
    SWEEP/summary.csv                            one row per run (BNN_COLUMNS, docs/metrics.md)
    SWEEP/figures/bnn_sweep.png                  test NLL, RMSE or accuracy and pruned units against lambda

The plan, SWEEP/sweep.yaml and the executors are the image sweeps' (plan.py, executor.py); `BNNRunJob` is the
job type beside `RunJob`, and `bnn_row` the summary row beside `run_row`. A bnn run measures its test split
itself at its end, so a job is "train or resume", with no evaluation after it.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vaelab.bnn.config import BNNConfig
from vaelab.bnn.data import load_table
from vaelab.bnn.figures import plot_lambda_sweep
from vaelab.bnn.report import write_bnn_report, write_bnn_sweep_report
from vaelab.bnn.run import train_bnn
from vaelab.bnn.train import run_length
from vaelab.bnn.weighting import KLWeighting, Tempering
from vaelab.errors import UsageError
from vaelab.numbers import format_number
from vaelab.run_dir.checkpoint import load_checkpoint
from vaelab.run_dir.layout import REPORT
from vaelab.run_dir.metrics import read_metrics
from vaelab.sweep.executor import Executor
from vaelab.sweep.grid import Axis, grid_points, run_name, run_names
from vaelab.sweep.jobs import ERROR_FILE, FAILED, FINISHED, INTERRUPTED, JobOutcome
from vaelab.sweep.plan import RUNS, SWEEP_FILE, PlannedModel, PlannedRun, SweepPlan, record_or_check
from vaelab.sweep.run import FIGURES, SweepResult
from vaelab.sweep.summary import write_summary
from vaelab.training.lock import run_lock

log = logging.getLogger("vaelab")

BASELINES = ("map", "ensemble")
BNN_COLUMNS = (  # after `run` and the grid axes; names as in docs/metrics.md ("bnn runs")
    "status", "steps", "kind", "kl_weight", "temperature", "tempering",
    "lambda",  # the KL weight over the last epoch, times T under likelihood tempering (None for point estimates)
    "test_predictive_nll", "test_rmse", "test_accuracy", "test_ece", "test_elbo", "test_nll",  # the test record
    "kl", "pruned_units", "hidden_units", "val_predictive_nll", "run_dir",
)
# with a training.seed axis: their mean and sd over the seeds of each grid point (and kind), as image sweeps do
BNN_SUMMARISED = ("test_predictive_nll", "test_rmse", "test_accuracy", "test_ece", "test_elbo", "pruned_units")


@dataclass(frozen=True)
class BNNRunJob:
    """Train (or resume) one bnn run into `run_dir`; `threads` torch threads."""

    name: str
    run_dir: Path
    config: BNNConfig
    threads: int

    def __call__(self) -> JobOutcome:
        started = time.perf_counter()
        error_file = self.run_dir / ERROR_FILE
        try:
            config = self.config.with_updates({"training.progress": False, "training.threads": self.threads})
            resume = (self.run_dir / "config.yaml").exists()  # a start killed before config.yaml left nothing
            if not resume and self.run_dir.exists():
                shutil.rmtree(self.run_dir)
            train_bnn(config, self.run_dir, resume=resume)
        except UsageError as error:
            return JobOutcome(self.name, FAILED, str(error), time.perf_counter() - started)
        except Exception as error:  # noqa: BLE001 - reported as this run's failure; the other runs go on
            self.run_dir.mkdir(parents=True, exist_ok=True)
            error_file.write_text(traceback.format_exc())
            first_line = (str(error).splitlines() or [""])[0]
            return JobOutcome(self.name, FAILED, f"{type(error).__name__}: {first_line} (traceback: {error_file})",
                              time.perf_counter() - started)
        error_file.unlink(missing_ok=True)
        return JobOutcome(self.name, FINISHED, "", time.perf_counter() - started)


def plan_bnn_sweep(base: BNNConfig, axes: list[Axis], out: str | Path, *, baselines: bool = True) -> SweepPlan:
    """The grid's runs, then (with `baselines`) a MAP network and an ensemble for every setting of the axes
    that are not objective.* keys (the KL weight and the temperature mean nothing to a point estimate)."""
    out = Path(out)
    points = grid_points(axes)
    runs = [PlannedRun(name, point, _config(base, point, name), out / RUNS / name, out / RUNS / name)
            for name, point in zip(run_names(points, axes), points)]
    if baselines:
        others = [axis for axis in axes if not axis.key.startswith("objective.") and axis.key != "model.kind"]
        for point in grid_points(others):
            for kind in BASELINES:
                name = ",".join([f"baseline={kind}", *([run_name(point, others)] if others else [])])
                config = _config(base, {**point, "model.kind": kind, "objective.kl_weight": "elbo",
                                        "objective.temperature": 1.0}, name)
                runs.append(PlannedRun(name, point, config, out / RUNS / name, out / RUNS / name))
    models = [PlannedModel(run.name, run.config, run.run_dir, [run]) for run in runs]
    return SweepPlan(out=out, base=base, axes=axes, runs=runs, models=models)


def run_bnn_sweep(base: BNNConfig, axes: list[Axis], out: str | Path, *, executor: Executor,
                  baselines: bool = True) -> SweepResult:
    """Train every run of the plan that is not finished, then write the summary, the figure and the page.
    Re-running on the same `out` resumes, as for image sweeps (only the run length may change)."""
    plan = plan_bnn_sweep(base, axes, out, baselines=baselines)
    with run_lock(plan.out):  # one sweep at a time in SWEEP/
        saved = plan.out / SWEEP_FILE
        if saved.exists() and _mapping_of(_mapping(saved), "base").get("kind") != "bnn":
            raise UsageError(f"{plan.out} holds a sweep of image runs: run it without --bnn, or choose a new --out")
        record_or_check(plan)
        rows_of = _training_rows(plan)
        pending = [run for run in plan.runs if not finished(run, rows_of[run.name])]
        jobs = [BNNRunJob(run.name, run.run_dir, run.config, run.config.training.threads or 1) for run in pending]
        log.info("%s: %d bnn runs, %d already finished%s", plan.out, len(plan.runs), len(plan.runs) - len(jobs),
                 f", {len(jobs)} to train on {min(executor.workers, len(jobs))} workers" if jobs else "")
        statuses = {run.name: FINISHED for run in plan.runs}
        by_name = {run.name: run for run in plan.runs}
        done = 0

        def on_outcome(outcome: JobOutcome) -> None:
            nonlocal done
            done += 1
            statuses[outcome.name] = outcome.status
            row = bnn_row(plan, by_name[outcome.name], outcome.status, rows_of[outcome.name])
            log.info("[%d/%d] %s", done, len(jobs), describe(outcome, row))

        try:
            outcomes = executor.run(jobs, on_outcome)
        except KeyboardInterrupt:
            log.warning("interrupted: the runs under way saved their checkpoints; run the same command again to "
                        "resume the sweep")
            raise
        rows, summary, figures = summarise(plan, statuses, rows_of)
    unfinished = [outcome for outcome in outcomes if outcome.status != FINISHED]
    return SweepResult(out=plan.out, rows=rows, unfinished=unfinished, summary=summary, figures=figures)


def summarise(plan: SweepPlan, statuses: dict[str, str], rows_of: dict[str, int]
              ) -> tuple[list[dict[str, Any]], Path, list[Path]]:
    """SWEEP/summary.csv, SWEEP/figures/bnn_sweep.png (from the finished runs) and SWEEP/report.html."""
    rows = [bnn_row(plan, run, statuses[run.name], rows_of[run.name]) for run in plan.runs]
    summary = write_summary(plan, rows, BNN_COLUMNS, BNN_SUMMARISED, group_by=("kind",))
    finished_rows = [row for row in rows if row["status"] == FINISHED and row["test_predictive_nll"] is not None]
    figures = []
    if finished_rows:
        (plan.out / FIGURES).mkdir(exist_ok=True)
        figures = [plan.out / FIGURES / "bnn_sweep.png"]
        plot_lambda_sweep(finished_rows, figures[0], title=f"{plan.out.name}: {plan.base.data.spec}")
    write_bnn_sweep_report(plan.out, rows, figures, [axis.key for axis in plan.axes])
    return rows, summary, figures


def write_bnn_page(path: Path) -> Path | None:
    """`vaelab report` of a bnn run (RUN/report.html) or a bnn sweep (its summary, figure and page, from what its
    runs wrote); None when `path` is neither."""
    path = Path(path)
    if _mapping(path / "config.yaml").get("kind") == "bnn":
        return write_bnn_report(path)
    record = _mapping(path / SWEEP_FILE)
    if _mapping_of(record, "base").get("kind") != "bnn":
        return None
    axes = [Axis(axis["key"], tuple(axis["values"])) for axis in record["axes"]]
    baselines = any(name.startswith("baseline=") for name in record.get("runs", []))
    plan = plan_bnn_sweep(BNNConfig.from_dict(record["base"]), axes, path, baselines=baselines)
    rows_of = _training_rows(plan)
    statuses = {run.name: FINISHED if finished(run, rows_of[run.name]) else INTERRUPTED for run in plan.runs}
    summarise(plan, statuses, rows_of)
    return path / REPORT


def finished(run: PlannedRun, n_train: int) -> bool:
    """The run's last checkpoint reached its length and its test record is written."""
    last = run.run_dir / "checkpoints" / "last.pt"
    if not last.exists():
        return False
    step = load_checkpoint(last)["step"]
    tested = any(r.get("split") == "test" and r["step"] == step for r in read_metrics(run.run_dir / "metrics.jsonl"))
    return tested and step >= run_length(run.config.training, n_train)


def bnn_row(plan: SweepPlan, run: PlannedRun, status: str, n_train: int) -> dict[str, Any]:
    """The summary row of one run; metric cells are None until the run has written them."""
    config = run.config
    row: dict[str, Any] = {"run": run.name, **run.values, **dict.fromkeys(BNN_COLUMNS)}
    row.update(status=status, kind=config.model.kind, run_dir=run.run_dir.relative_to(plan.out).as_posix())
    if config.model.kind == "bayes":
        tempering = Tempering(config.objective.temperature, config.objective.tempering)
        scheme = KLWeighting.parse(config.objective.kl_weight)
        batch = min(config.training.batch_size, n_train)
        last_step = run_length(config.training, n_train) - 1
        row.update(kl_weight=config.objective.kl_weight, temperature=tempering.temperature, tempering=tempering.kind,
                   **{"lambda": scheme.epoch_mean(last_step, n=n_train, batch_size=batch) * tempering.lambda_factor})
    records = read_metrics(run.run_dir / "metrics.jsonl")
    test = next((r for r in reversed(records) if r.get("split") == "test"), {})
    val = next((r for r in reversed(records) if r.get("split") == "val"), {})
    if test:
        row["steps"] = int(test["step"])
        row.update({f"test_{name}": test.get(name) for name in ("predictive_nll", "rmse", "accuracy", "ece", "elbo",
                                                               "nll")})
        row.update(kl=test.get("kl"), pruned_units=test.get("pruned_units"), hidden_units=test.get("hidden_units"))
    row["val_predictive_nll"] = val.get("predictive_nll")
    return row


def describe(outcome: JobOutcome, row: dict[str, Any]) -> str:
    if outcome.status == FAILED:
        return f"{row['run']}: FAILED: {outcome.reason}"
    if outcome.status != FINISHED:
        return f"{row['run']}: {outcome.status} (re-run the sweep to resume it)"
    quality = "test_rmse" if row["test_rmse"] is not None else "test_accuracy"
    numbers = ", ".join(f"{name} {format_number(row[name])}" for name in ("test_predictive_nll", quality, "test_ece"))
    return f"{row['run']}: finished in {outcome.seconds:.0f} s ({numbers})"


def _config(base: BNNConfig, point: dict[str, Any], name: str) -> BNNConfig:
    try:
        return base.with_updates(point)
    except UsageError as error:
        raise UsageError(f"run {name}: {error}") from None


def _training_rows(plan: SweepPlan) -> dict[str, int]:
    """Each run's N (its table's training split), loading each distinct table once: a bad table stops the sweep
    before anything is trained."""
    sizes: dict[str, int] = {}
    rows = {}
    for run in plan.runs:
        key = json.dumps(run.config.to_dict()["data"], sort_keys=True)
        if key not in sizes:
            sizes[key] = load_table(run.config.data).size("train")
        rows[run.name] = sizes[key]
    return rows


def _mapping(path: Path) -> dict[str, Any]:
    """A YAML file's mapping; {} when the file is missing, unreadable as YAML or not a mapping."""
    try:
        raw = yaml.safe_load(path.read_text()) if path.is_file() else {}
    except yaml.YAMLError:
        return {}
    return raw if isinstance(raw, dict) else {}


def _mapping_of(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return raw[key] if isinstance(raw.get(key), dict) else {}
