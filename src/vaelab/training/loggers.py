"""Metric loggers: `log_metrics(metrics, step)`, as in Lightning. `metrics.jsonl` is the contract."""

from __future__ import annotations

import json
import math
import os
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
    """All records of a metrics.jsonl file (nulls read back as nan); a last line cut short is left out."""
    if not path.exists():
        return []
    return [{k: math.nan if v is None else v for k, v in record.items()} for _, record in _records(path)]


def truncate_metrics(path: Path, step: int) -> None:
    """Drop records after `step`: a resumed run re-logs them, so the file never holds a step twice.

    Records are written in step order, so this cuts the file short in place, at the first record after
    `step` (or at a last line cut short): one truncate, so a process killed meanwhile loses nothing,
    and a logger that already has the file open goes on appending to it.
    """
    if path.exists():
        kept = 0
        for end, record in _records(path):
            if record["step"] > step:
                break
            kept = end
        os.truncate(path, kept)


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(where its line ends, in bytes from the start of the file, record) for each complete line.

    A last line without its newline is incomplete: the process died while writing it (a long record
    takes more than one write; a full disk stops one midway). It is left out; damage anywhere else
    is an error.
    """
    records, end = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        end += len(line)
        if line.strip():
            records.append((end, json.loads(line)))
    return records


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
