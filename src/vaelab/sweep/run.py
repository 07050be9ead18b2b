"""`run_sweep(base, axes, out)`: the whole of `vaelab sweep` as one importable function.

It plans the grid (plan.py; conditional.py for one loss-conditional model over the beta axis),
records or checks SWEEP/sweep.yaml, trains the runs that are not finished with an executor
(executor.py) while printing one line per finished run, then writes SWEEP/summary.csv (summary.py),
the figures in SWEEP/figures/ (vaelab.viz.sweep) and the report.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaelab.config import RECON_WORDS, Config
from vaelab.defaults import SWEEP_IW_SAMPLES
from vaelab.errors import UsageError
from vaelab.evaluation.compare import plot_run_reconstructions
from vaelab.numbers import format_duration, format_number, remaining_time
from vaelab.sweep.conditional import BETA_KEY, plan_conditional_sweep
from vaelab.sweep.executor import Executor, thread_budget
from vaelab.sweep.grid import Axis
from vaelab.sweep.jobs import FAILED, FINISHED, JobOutcome, RunJob
from vaelab.sweep.plan import PlannedModel, RunProgress, SweepPlan, plan_sweep, read_progress, record_or_check
from vaelab.sweep.summary import point_summary, run_row, write_summary
from vaelab.training.lock import run_lock
from vaelab.viz.report import refresh_report
from vaelab.viz.sweep import plot_metrics_vs_beta, plot_rate_distortion

log = logging.getLogger("vaelab")

FIGURES = "figures"


@dataclass
class SweepResult:
    """What `run_sweep` returns: the summary rows (as in summary.csv) and the runs that did not finish
    (failed or interrupted)."""

    out: Path
    rows: list[dict[str, Any]]
    unfinished: list[JobOutcome]
    summary: Path
    figures: list[Path]


def run_sweep(base: Config, axes: list[Axis], out: str | Path, *, executor: Executor,
              iw_samples: int = SWEEP_IW_SAMPLES, conditional: bool = False,
              beta_range: list[float] | None = None) -> SweepResult:
    """Train every run of the grid over `base` that is not finished into out/runs/<name>/, then summarise.

    `conditional` (implied by `beta_range`): one loss-conditional model per setting of the axes other
    than beta, trained on `beta_range` (default: the beta axis's smallest to largest value) and
    evaluated at each beta of the axis (conditional.py).

    Re-running on the same `out` resumes: finished runs are kept untouched, the others resume from their
    checkpoints. A failed run is reported and the others go on; Ctrl-C stops the runs (each saves its
    checkpoint) and raises KeyboardInterrupt.
    """
    if iw_samples < 1:
        raise UsageError(f"--iw-samples {iw_samples} must be at least 1: e.g. --iw-samples {SWEEP_IW_SAMPLES}")
    if conditional or beta_range is not None:
        plan = plan_conditional_sweep(base, axes, out, beta_range)
    else:
        plan = plan_sweep(base, axes, out)
    with run_lock(plan.out):  # one sweep at a time in SWEEP/
        record_or_check(plan)
        progress = read_progress(plan)
        jobs = [job for model in plan.models
                if (job := model_job(plan, model, progress, iw_samples, executor.workers)) is not None]
        kept = sum(progress[run.name].finished and progress[run.name].evaluated for run in plan.runs)
        trained = f" off {len(plan.models)} loss-conditional model(s)" if plan.conditional else ""
        log.info("%s: %d runs%s, %d already finished%s", plan.out, len(plan.runs), trained, kept,
                 f", {len(jobs)} to train on {min(executor.workers, len(jobs))} workers" if jobs else "")
        started = time.perf_counter()
        statuses = {run.name: FINISHED for run in plan.runs}
        points = {model.name: model.points for model in plan.models}
        done = 0

        def on_outcome(outcome: JobOutcome) -> None:
            nonlocal done
            done += 1
            left = remaining_time(time.perf_counter() - started, done, len(jobs))
            eta = f"; about {format_duration(left)} left" if done < len(jobs) else ""
            for run in points[outcome.name]:
                statuses[run.name] = outcome.status
                log.info("[%d/%d] %s%s", done, len(jobs), describe(outcome, run_row(plan, run, outcome.status)), eta)

        try:
            outcomes = executor.run(jobs, on_outcome)
        except KeyboardInterrupt:
            log.warning("interrupted: the runs under way saved their checkpoints; run the same command again to "
                        "resume the sweep")
            raise
        unfinished = [outcome for outcome in outcomes if outcome.status != FINISHED]
        if jobs:
            log.info("%d of %d runs trained in %.0f s%s", len(jobs) - len(unfinished), len(jobs),
                     time.perf_counter() - started, f"; {len(unfinished)} did not finish" if unfinished else "")
        rows = [run_row(plan, run, statuses[run.name]) for run in plan.runs]
        summary = write_summary(plan, rows)
        figures = write_figures(plan, [row for row, run in zip(rows, plan.runs) if statuses[run.name] == FINISHED])
        refresh_report(plan.out)
    return SweepResult(out=plan.out, rows=rows, unfinished=unfinished, summary=summary, figures=figures)


def model_job(plan: SweepPlan, model: PlannedModel, progress: dict[str, RunProgress], iw_samples: int,
              workers: int) -> RunJob | None:
    """The job that brings `model` and its grid points to "trained and evaluated"; None when they are."""
    pending = [run for run in model.points if not (progress[run.name].finished and progress[run.name].evaluated)]
    if not pending:
        return None
    return RunJob(name=model.name, run_dir=model.run_dir, config=model.config,
                  train=not progress[model.points[0].name].finished,
                  threads=model.config.training.threads or thread_budget(workers), iw_samples=iw_samples,
                  betas=tuple(run.config.objective.beta for run in pending) if plan.conditional else None)


def describe(outcome: JobOutcome, row: dict[str, Any]) -> str:
    """One progress line: the run, how it ended, and its rate and distortion."""
    if outcome.status == FAILED:
        return f"{row['run']}: FAILED: {outcome.reason}"
    if outcome.status != FINISHED:
        return f"{row['run']}: {outcome.status} at step {row['steps'] or 0} (re-run the sweep to resume it)"
    numbers = ", ".join(f"{name} {format_number(row[name])}"
                        for name in ("rate", "distortion", "elbo_shared_sigma", "mse"))
    return f"{row['run']}: finished in {outcome.seconds:.0f} s ({numbers})"


def write_figures(plan: SweepPlan, rows: list[dict[str, Any]]) -> list[Path]:
    """SWEEP/figures/rate_distortion.png, metrics_vs_beta.png and reconstructions.png from the finished runs."""
    if not rows:
        return []
    folder = plan.out / FIGURES
    folder.mkdir(exist_ok=True)
    group_keys = [axis.key for axis in plan.axes if axis.key != BETA_KEY]
    recons = {run.config.objective.recon for run in plan.runs}
    recon = recons.pop() if len(recons) == 1 else None
    likelihood = RECON_WORDS[recon] if recon else "mixed likelihoods"
    title = f"{plan.out.name}: {likelihood}, grid over {' x '.join(axis.label for axis in plan.axes)}"
    if plan.conditional:
        title += ", one loss-conditional model per curve"
    written = [folder / "rate_distortion.png", folder / "metrics_vs_beta.png"]
    plot_rate_distortion(rows, written[0], group_keys=group_keys, recon=recon, title=title)
    plot_metrics_vs_beta(rows, written[1], group_keys=group_keys, recon=recon, title=title)
    finished = [run for run in plan.runs if run.name in {row["run"] for row in rows}]
    try:
        plot_run_reconstructions([(run.name, point_summary(run)) for run in finished], folder / "reconstructions.png",
                                 title="the same validation images, reconstructed by every run (posterior means)")
    except UsageError as error:  # the runs trained on different data (a data.* axis): no common inputs
        log.warning("no side-by-side reconstructions: %s", error)
    else:
        written.append(folder / "reconstructions.png")
    return written
