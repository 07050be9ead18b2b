"""A number as the pages show it with its uncertainty: eval.json's standard error or interval, or the gradient
view's interval over its batches."""

from __future__ import annotations

from typing import Any

from vaelab.numbers import format_number
from vaelab.viz.html import is_number


def with_uncertainty(evaluation: dict[str, Any], key: str) -> Any:
    """An eval.json number with its standard error, "0.0142 ± 0.0003", or interval, "5.3 [4.1, 6.8]"."""
    value = evaluation[key]
    if not is_number(value):
        return value
    if is_number(evaluation.get(f"{key}_se")):
        return f"{format_number(value)} ± {format_number(evaluation[f'{key}_se'], 2)}"
    interval = evaluation.get(f"{key}_ci")
    if isinstance(interval, list) and len(interval) == 2 and all(is_number(v) for v in interval):
        return f"{format_number(value)} [{format_number(interval[0], 3)}, {format_number(interval[1], 3)}]"
    return value


def with_interval(record: dict[str, Any], key: str) -> Any:
    """A gradient-view number with its 95% interval, "0.98 [0.91, 1.05]", or the bare number."""
    value = record.get(key)
    name, _, group = key.partition("/")
    interval = record.get(f"{name}_ci/{group}")
    if not is_number(value) or not isinstance(interval, list) or None in interval:
        return value
    return f"{format_number(value, 3)} [{format_number(interval[0], 3)}, {format_number(interval[1], 3)}]"
