"""The unit of work an executor runs in a worker: bring one run to "trained and evaluated".

A job is a picklable callable returning a `JobOutcome`; executors (executor.py) know nothing else
about it. `RunJob` trains (or resumes) one run with `vaelab.training.run.train`, then measures it
with a cheap `vaelab.evaluation.evaluate.evaluate_run` (few importance samples) into RUN/eval.json,
or a loss-conditional model at each beta of its sweep into RUN/beta=B/.
A failure becomes an outcome with a one-line reason, never an exception, so one broken run does not
stop the others; the full traceback of an unexpected error goes to RUN/error.txt.
"""

from __future__ import annotations

import logging
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from vaelab.config import Config
from vaelab.defaults import CHECKPOINT
from vaelab.errors import UsageError
from vaelab.evaluation.evaluate import evaluate_run
from vaelab.training.run import train
from vaelab.viz.report import write_run_report

log = logging.getLogger("vaelab")

FINISHED = "finished"
FAILED = "failed"
INTERRUPTED = "interrupted"
ERROR_FILE = "error.txt"


@dataclass(frozen=True)
class JobOutcome:
    """What came of a job: `status` is finished, failed or interrupted; `reason` one line when it failed."""

    name: str
    status: str
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class RunJob:
    """Train `config` into `run_dir` (resuming what is there) unless `train` is False, then evaluate it:
    as it is, or a loss-conditional model at each of `betas`.

    `threads` is the torch thread budget of the worker (cores / workers, or `training.threads`);
    `iw_samples` the importance samples per image of the evaluation.
    """

    name: str
    run_dir: Path
    config: Config
    train: bool
    threads: int
    iw_samples: int
    betas: tuple[float, ...] | None = None

    def __call__(self) -> JobOutcome:
        started = time.perf_counter()
        torch.set_num_threads(self.threads)
        error_file = self.run_dir / ERROR_FILE
        try:
            if self.train:
                self._train()
            for beta in (None,) if self.betas is None else self.betas:
                evaluate_run(self.run_dir, iw_samples=self.iw_samples, checkpoint=CHECKPOINT, beta=beta,
                             device=self.config.training.device, write_figures=self.config.training.figures)
            self._write_report()
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

    def _train(self) -> None:
        """Resume the run if it got as far as saving its config.yaml; otherwise start it afresh (a start
        killed before that point leaves nothing worth keeping)."""
        config = self.config.with_updates({"training.progress": False})
        resume = (self.run_dir / "config.yaml").exists()
        if not resume and self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        train(config, self.run_dir, resume=resume)

    def _write_report(self) -> None:
        """RUN/report.html again, now with eval.json; a failure costs the page, never the run."""
        try:
            write_run_report(self.run_dir)
        except Exception as error:  # noqa: BLE001 - the run and its numbers are saved
            log.warning("%s: the report failed (%s: %s); retry with: vaelab report %s",
                        self.name, type(error).__name__, error, self.run_dir)
