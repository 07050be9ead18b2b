"""RUN/metrics.jsonl: one JSON object per line, appended as training goes (names: docs/metrics.md).

Non-finite numbers are written as null and read back as nan. A last line without its newline is a
record the process died while writing (a long record takes more than one write; a full disk stops one
midway): readers leave it out, and a resumed run cuts the file back to its checkpoint's step. Any other
damaged line (not a JSON object with a step, e.g. bytes written over it) is left out too, with a warning
naming it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from vaelab.numbers import stored

log = logging.getLogger(__name__)
_warned: set[tuple[str, int]] = set()  # (file, line) of each damaged line already named: once per process


class MetricsWriter:
    """Appends records to a metrics.jsonl file, one line each, written straight to the file: no buffer is left
    holding part of a line after a failed write (a full disk), to fail again when the file is closed."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.handle = self.path.open("ab", buffering=0)

    def write(self, record: dict[str, Any]) -> None:
        line = memoryview((json.dumps({k: _finite_or_none(stored(v)) for k, v in record.items()}) + "\n").encode())
        try:
            while line:
                line = line[self.handle.write(line):]
        except OSError as error:  # a full disk names no file
            error.filename = error.filename or str(self.path)
            raise

    def close(self) -> None:
        self.handle.close()


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """`path` holding exactly `records` (e.g. the one validation record of an evaluation at another beta)."""
    Path(path).unlink(missing_ok=True)
    writer = MetricsWriter(path)
    for record in records:
        writer.write(record)
    writer.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file (nulls read back as nan); a last line cut short is left out."""
    if not Path(path).exists():
        return []
    return [{k: math.nan if v is None else v for k, v in record.items()} for _, record in _records(path)]


TAIL_BLOCK = 1 << 16  # bytes `last_records` reads at a time, from the end


def last_records(path: Path, splits: tuple[str, ...] = ("train", "val"),
                 block: int = TAIL_BLOCK) -> list[dict[str, Any]]:
    """The last loss record (one with a `loss`) of each split, in file order, read from the end of the file in
    blocks of `block` bytes: a long run's file is megabytes, and a listing of runs wants only its last lines.
    Nulls read back as nan; a last line cut short is left out."""
    path = Path(path)
    if not path.exists():
        return []
    found: dict[str, dict[str, Any]] = {}  # in the order found: from the end
    with path.open("rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        carry = b""  # the start of a line whose beginning lies before `position`
        after_last_newline = True  # the file's last piece, after its last newline: nothing, or a line cut short
        while position > 0 and len(found) < len(splits):
            start = max(0, position - block)
            handle.seek(start)
            pieces = (handle.read(position - start) + carry).split(b"\n")
            position = start
            carry = pieces.pop(0) if start > 0 else b""
            if after_last_newline and pieces:
                pieces.pop()
                after_last_newline = False
            for line in reversed(pieces):
                if line.strip():
                    record = json.loads(line)
                    if record.get("split") in splits and "loss" in record and record["split"] not in found:
                        found[record["split"]] = record
    return [{k: math.nan if v is None else v for k, v in record.items()} for record in reversed(found.values())]


def truncate_metrics(path: Path, step: int) -> None:
    """Drop records after `step`: a resumed run re-logs them, so the file never holds a step twice.

    Records are written in step order, so this cuts the file short in place, at the first record after
    `step` (or at a last line cut short): one truncate, so a process killed meanwhile loses nothing,
    and a writer that already has the file open goes on appending to it.
    """
    if Path(path).exists():
        kept = 0
        for end, record in _records(path):
            if record["step"] > step:
                break
            kept = end
        os.truncate(path, kept)


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(where its line ends, in bytes from the start of the file, record) for each complete line that holds a
    record; damaged lines are left out with a warning."""
    records, end = [], 0
    for number, line in enumerate(Path(path).read_bytes().splitlines(keepends=True), start=1):
        if not line.endswith(b"\n"):
            break
        end += len(line)
        if not line.strip():
            continue
        record = _record(line)
        if record is None:
            if (str(path), number) not in _warned:
                _warned.add((str(path), number))
                log.warning("%s line %d is damaged (not a JSON record with a step): left out", path, number)
            continue
        records.append((end, record))
    return records


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError, and bytes that are not UTF-8
        return None
    valid = isinstance(record, dict) and isinstance(record.get("step"), int)
    return record if valid else None


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
