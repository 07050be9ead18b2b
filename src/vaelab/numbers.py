"""How vaelab writes numbers, the one home of it: in tables and pages (`format_number`), in run names and grid
values (`format_value`, which must read back as the same value), and in the files other programs read
(metrics.jsonl, eval.json, summary.csv: `stored`, without the noise of the last binary digit)."""

from __future__ import annotations

import math
from typing import Any

NOT_AVAILABLE = "n/a"


def format_number(value: Any, digits: int = 4) -> str:
    """`digits` significant digits, or the whole number with thousands separators once it has that many digits
    before the point (0.2236, -495.7, -7,290, 19,991; with digits=2: 0.22, 57); integers as they are; "n/a"
    for None or a number that is not finite (the AE's ELBO); anything else as `str`."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return NOT_AVAILABLE
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def format_value(value: Any) -> str:
    """A value as run names and config listings show it: 0.1 -> "0.1", 1e-05 -> "1e-05", 3.0 -> "3",
    True -> "true"; a float `:g` would round is written in full."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float) and math.isfinite(value):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def format_duration(seconds: float) -> str:
    """A duration as a person reads it: "40 s", "12 min", "2.5 h" (minutes from 90 s, hours from 90 min)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def remaining_time(elapsed: float, done: int, total: int) -> float:
    """The time the `total - done` jobs left should take at the pace of the `done` so far (workers included, as
    the pace is the wall clock's): elapsed / done * (total - done)."""
    return elapsed / done * (total - done)


STORED_DIGITS = 15  # every decimal of up to 15 significant digits survives a round trip through a double


def stored(value: Any) -> Any:
    """A number as the files store it: a float rounded to STORED_DIGITS significant digits, so that arithmetic's
    last-bit noise (exp(log 0.1) = 0.10000000000000002, 0.1 * 3 = 0.30000000000000004) is written as the 0.1 it
    stands for; a double carries about 16 digits, so nothing measured is lost. Dicts and lists are walked; anything
    else comes back as it is."""
    if isinstance(value, float):
        return float(f"{value:.{STORED_DIGITS}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {key: stored(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [stored(item) for item in value]
    return value
