"""Metric loggers: `log_metrics(metrics, step)`, as in Lightning. `metrics.jsonl` is the contract."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class Logger:
    def log_metrics(self, metrics: dict[str, Any], step: int) -> None: ...

    def close(self) -> None: ...


class JsonlLogger(Logger):
    """One JSON object per line in RUN/metrics.jsonl; non-finite numbers are written as null."""

    def __init__(self, path: Path):
        self.handle = path.open("a")

    def log_metrics(self, metrics, step):
        record = {"step": step, **{k: _finite_or_none(v) for k, v in metrics.items()}}
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()

    def close(self):
        self.handle.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file (nulls read back as nan)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            rows.append({k: math.nan if v is None else v for k, v in json.loads(line).items()})
    return rows


def truncate_metrics(path: Path, step: int) -> None:
    """Drop records after `step`: a resumed run re-logs them, so the file never holds a step twice."""
    if path.exists():
        keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in keep))


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
