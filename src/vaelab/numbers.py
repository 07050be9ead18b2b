"""How vaelab writes numbers, the one home of it: in tables and pages (`format_number`) and in run names and
grid values (`format_value`, which must read back as the same value)."""

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
