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
    return RunSummary(run_dir=run.path, config=run.config(), records=run.records(), evaluation=run.evaluation())


def read_run_end(run_dir: str | Path | RunDir) -> RunSummary:
    """A run's config and its last train and validation records only (metrics.last_records), without eval.json:
    what a listing of many runs shows, read in a few kilobytes per run however long the run was."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    return RunSummary(run_dir=run.path, config=run.config(), records=last_records(run.metrics_file))


def read_point(run_dir: Path, config: Config, evaluation_dir: Path) -> RunSummary:
    """A grid point of a sweep read back: its config, and the metrics.jsonl and eval.json of its evaluation
    folder (the run itself, or RUN/beta=B/ of a loss-conditional model)."""
    folder = RunDir(evaluation_dir)
    return RunSummary(run_dir=run_dir, config=config, records=folder.records(), evaluation=folder.evaluation())
