"""A run read back in one piece: its config, every metrics.jsonl record and eval.json (if any)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaelab.config import Config
from vaelab.run_dir.layout import RunDir
from vaelab.run_dir.metrics import last_records


@dataclass
class RunSummary:
    """A run directory read back. `run_dir` is the run's folder; for a point of a loss-conditional sweep the
    records and evaluation come from its evaluation folder RUN/beta=B/ and `config` is the run's at B."""

    run_dir: Path
    config: Config
    records: list[dict[str, Any]]
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def steps(self) -> int:
        return max((int(r["step"]) for r in self.records), default=0)

    def final(self, split: str) -> dict[str, Any]:
        """The last loss record of a split ("train" or "val"); {} before the first one is logged.
        (Diagnostics log records of their own, e.g. gradient shares, which hold no `loss`.)"""
        return next((r for r in reversed(self.records) if r.get("split") == split and "loss" in r), {})

    def series(self, split: str, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric in one split, finite values only."""
        points = [(r["step"], r[key]) for r in self.records
                  if r.get("split") == split and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        return [p[0] for p in points], [float(p[1]) for p in points]


def read_run(run_dir: str | Path | RunDir) -> RunSummary:
    """RUN/config.yaml, RUN/metrics.jsonl and RUN/eval.json; a folder without config.yaml is refused."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    config = run.config()
    records = as_written_now(run.records(), config, _pixels(run))
    return RunSummary(run_dir=run.path, config=config, records=records, evaluation=run.evaluation())


def read_run_end(run_dir: str | Path | RunDir) -> RunSummary:
    """A run's config and its last train and validation records only (metrics.last_records), without eval.json:
    what a listing of many runs shows, read in a few kilobytes per run however long the run was."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    return RunSummary(run_dir=run.path, config=run.config(), records=last_records(run.metrics_file))


def read_point(run_dir: Path, config: Config, evaluation_dir: Path) -> RunSummary:
    """A grid point of a sweep read back: its config, and the metrics.jsonl and eval.json of its evaluation
    folder (the run itself, or RUN/beta=B/ of a loss-conditional model)."""
    folder = RunDir(evaluation_dir)
    records = as_written_now(folder.records(), config, _pixels(RunDir(run_dir)))
    return RunSummary(run_dir=run_dir, config=config, records=records, evaluation=folder.evaluation())


NO_DENSITY = ("kl", "elbo", "elbo_shared_sigma", "sigma")  # what a point-mass posterior does not have


def as_written_now(records: list[dict[str, Any]], config: Config, pixels: int | None) -> list[dict[str, Any]]:
    """The loss records of runs written before `elbo_shared_sigma` and the autoencoder's nulls, read as runs
    write them now: the autoencoder's KL, ELBO and sigma as nan (older runs logged a KL of 0 and the sigma of
    beta = 1), and a VAE's `elbo_shared_sigma` from its `mse` and `kl` (its definition,
    objectives.likelihood.elbo_shared_sigma, with the summed squared error mse * D) where the record lacks it."""
    ae = config.model.kind == "ae"
    read = []
    for record in records:
        if "loss" in record:
            if ae:
                record = {**record, **dict.fromkeys(NO_DENSITY, math.nan)}
            elif "elbo_shared_sigma" not in record and pixels is not None and "mse" in record and "kl" in record:
                from vaelab.objectives.likelihood import elbo_shared_sigma  # loads torch: only for older runs

                record = {**record, "elbo_shared_sigma": elbo_shared_sigma(record["mse"] * pixels, record["kl"], pixels)}
        read.append(record)
    return read


def _pixels(run: RunDir) -> int | None:
    """D = C * H * W of the run's images, None before model.json or a checkpoint is written."""
    if not (run.model_file.is_file() or run.checkpoint("last").is_file() or run.checkpoint("best").is_file()):
        return None
    return math.prod(run.image_shape())
