"""Metric loggers: `log_metrics(metrics, step)`, as in Lightning. `metrics.jsonl` is the contract
(vaelab.run_dir.metrics writes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaelab.run_dir.metrics import MetricsWriter


class Logger:
    def log_metrics(self, metrics: dict[str, Any], step: int) -> None: ...

    def close(self) -> None: ...


class JsonlLogger(Logger):
    """One JSON object per line in RUN/metrics.jsonl; non-finite numbers are written as null."""

    def __init__(self, path: Path):
        self.writer = MetricsWriter(path)

    def log_metrics(self, metrics, step):
        self.writer.write({"step": step, **metrics})

    def close(self):
        self.writer.close()
