"""The grid of a sweep: axes (`--grid KEY=V1,V2,...`), their product, and the runs' names.

Any config key is an axis (dotted, as in `--set`); values are YAML scalars, so `0.1` is a float,
`32` an int, `true` a bool and `sse` a string (and `1e-3` a float, which plain YAML 1.1 would read
as a string). The product of the axes, first axis outermost, is the set of runs; each is named
after its values, e.g. `beta=0.1,latent_dim=32`, which is also its folder under SWEEP/runs/.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from vaelab.errors import UsageError
from vaelab.numbers import format_value

# Characters a run name keeps; anything else becomes "_" so that the name is one safe folder name.
UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]")


@dataclass(frozen=True)
class Axis:
    """One `--grid` axis: a dotted config key and the values it takes, in the order given."""

    key: str
    values: tuple[Any, ...]

    @property
    def label(self) -> str:
        """The key's last part (`objective.beta` -> `beta`), as run names show it."""
        return self.key.rpartition(".")[2]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "values": list(self.values)}


def parse_value(text: str) -> Any:
    """One grid value as a YAML scalar; a number YAML 1.1 leaves as a string (`1e-3`) is a float."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise UsageError(f"grid value {text!r} is not a YAML scalar: use plain numbers, words, true/false") from None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if value is not None and not isinstance(value, (bool, int, float)):
        raise UsageError(f"grid value {text!r} is not a single value: separate values with commas, e.g. 0.1,1,10")
    return value


def parse_axis(text: str) -> Axis:
    """`objective.beta=0,0.1,1` -> Axis("objective.beta", (0, 0.1, 1))."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise UsageError(f"--grid {text!r} is not KEY=V1,V2,...: e.g. --grid objective.beta=0.1,1,10")
    items = [item.strip() for item in values.split(",")]
    if "" in items:
        raise UsageError(f"--grid {text!r} has an empty value: write null for none, e.g. data.limit=null,1000")
    parsed = tuple(parse_value(item) for item in items)
    shown = [format_value(value) for value in parsed]
    repeated = sorted({value for value in shown if shown.count(value) > 1})
    if repeated:
        raise UsageError(f"--grid {key} lists {', '.join(repeated)} more than once: give each value once")
    return Axis(key, parsed)


def parse_axes(texts: list[str]) -> list[Axis]:
    """Every `--grid`; a key given twice is refused (list all its values in one --grid)."""
    if not texts:
        raise UsageError("say what to sweep: --grid KEY=V1,V2,... e.g. --grid objective.beta=0.1,1,10")
    axes = [parse_axis(text) for text in texts]
    keys = [axis.key for axis in axes]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise UsageError(f"--grid {twice[0]} is given twice: list all its values in one --grid {twice[0]}=V1,V2,...")
    return axes


def grid_points(axes: list[Axis]) -> list[dict[str, Any]]:
    """The product of the axes, first axis outermost: one {key: value} per run."""
    keys = [axis.key for axis in axes]
    return [dict(zip(keys, values)) for values in itertools.product(*(axis.values for axis in axes))]


def run_name(point: dict[str, Any], axes: list[Axis]) -> str:
    """`beta=0.1,latent_dim=32`: each axis as label=value, in axis order, as one safe folder name.

    Axes whose keys end alike (`a.size`, `b.size`) keep their full dotted keys so names stay distinct.
    """
    labels = [axis.label for axis in axes]
    parts = []
    for axis in axes:
        label = axis.key if labels.count(axis.label) > 1 else axis.label
        parts.append(f"{label}={format_value(point[axis.key])}")
    return UNSAFE.sub("_", ",".join(parts))


def run_names(points: list[dict[str, Any]], axes: list[Axis]) -> list[str]:
    """The names of all points; values that only differ in unsafe characters (`a/b`, `a:b`) are refused."""
    names = [run_name(point, axes) for point in points]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise UsageError(f"two grid points would share the folder {clashes[0]!r}: make the values differ in "
                         "letters or digits, not only in punctuation")
    return names
