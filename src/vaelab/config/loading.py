"""Reading a config: YAML files, `--set KEY=VALUE` values, and the strict coercion of plain data into typed
dataclasses (unknown keys and values of the wrong type are one-line `UsageError`s naming the key).

The coercion is written out here rather than delegated to pydantic: it covers the few hint shapes configs
use (int, float, str, bool, a list of one of them, X | None), and keeps `vaelab --help` and `vaelab
explain` from importing a validation library at every start (pydantic costs about 0.12 s, as long as the
whole command line takes today; benchmarks/startup.py).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from vaelab.errors import UsageError

# libyaml's safe loader where PyYAML was built with it: the same resolver and constructor as yaml.safe_load, about
# ten times faster (`vaelab runs ls` reads one config.yaml per run)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file holding a mapping; a missing, unreadable, empty, unparsable or non-mapping file is a one-line
    `UsageError` (an empty file is not "all defaults": it is what a crash while writing one leaves)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist: check the path") from None
    except IsADirectoryError:
        raise UsageError(f"config file {path} is a folder: give the path of a YAML file, e.g. a run's "
                         "config.yaml") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not text (not UTF-8): give a YAML file, e.g. a run's "
                         "config.yaml") from None
    except OSError as error:
        raise UsageError(f"config file {path} cannot be read ({error.strerror or error}): check its "
                         "permissions") from None
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as error:
        raise UsageError(
            f"config file {path} is not valid YAML ({error.__class__.__name__}): fix the file") from None
    if raw is None:
        raise UsageError(f"config file {path} is empty: it must hold a mapping of {what} (damaged? restore it)")
    if not isinstance(raw, dict):
        raise UsageError(f"config file {path} must hold a mapping of {what}")
    return raw


def parse_assignment(text: str) -> tuple[str, str]:
    """Split `KEY=VALUE` from `--set`."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--set {text!r} is not KEY=VALUE: e.g. --set objective.beta=0.1")
    return key.strip(), value.strip()


def build_dataclass(cls: type, raw: Any, prefix: str = "") -> Any:
    """An instance of the dataclass `cls` (nested dataclasses too) from plain data, strictly coerced."""
    if not isinstance(raw, dict):
        raise UsageError(f"config section {prefix or 'root'!r} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        where = f"{prefix.rstrip('.')} has" if prefix else "known sections are"
        raise UsageError(f"unknown config key {prefix + unknown[0]!r}: {where} {', '.join(sorted(names))}")
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = build_dataclass(hint, value, prefix=f"{prefix}{name}.")
        else:
            values[name] = _coerce(value, hint, f"{prefix}{name}")
    return cls(**values)


def parse_value(text: str) -> Any:
    """A `--set` value read as YAML (0.1, true, null, ...), or the text itself where it is not valid YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _float_text(text: str) -> float | str:
    """`text` as a float where it spells one (1e-3, 2E+2), else unchanged."""
    try:
        return float(text)
    except ValueError:
        return text


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check `value` against a simple type hint (int, float, str, bool, a list of one of them, X | None)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise UsageError(f"config key {key} must not be empty")
    if float in options and isinstance(value, str):
        value = _float_text(value)  # YAML 1.1 reads 1e-3 (no dot) as text
    for option in options:
        if typing.get_origin(option) is list and isinstance(value, (list, tuple)):
            return [_coerce(item, typing.get_args(option)[0], f"{key}[{i}]") for i, item in enumerate(value)]
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise UsageError(f"config key {key} must be a finite number, got {value!r}")
            return float(value)
        if option is str and isinstance(value, str):
            return value
    names = " or ".join("null" if o is type(None) else o.__name__ for o in options)
    raise UsageError(f"config key {key} must be {names}, got {value!r}")
