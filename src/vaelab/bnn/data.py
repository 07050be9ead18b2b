"""Tables for `vaelab bnn`: scikit-learn's bundled tables or a CSV file, checked, split and standardised.

    data = load_table(config.data)    # TableData: standardised float32 features, targets, the three splits

Built in (read from scikit-learn's own files, never downloaded): diabetes (442 rows, 10 features,
regression), wine (178 x 13, 3 classes), breast-cancer (569 x 30, 2 classes), digits (1797 8x8 images as 64
features, 10 classes). A CSV needs a header row and `--target COLUMN`; every other column must be numeric.
Rows are numbered from 1 after the header (row r is line r + 1 of the file).

The split is a permutation seeded by `data.split_seed`: test first, then validation, the rest trains.
Features are standardised with the training split's mean and std (a constant column keeps std 1); a
regression target too, so every regression metric (nll, rmse, noise_std) is in units of the training
targets' std (`target_std` converts back: rmse * target_std, nll + log(target_std)).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaelab.bnn.config import TableConfig
from vaelab.errors import UsageError

BUILT_IN = {  # name: (scikit-learn loader, task)
    "diabetes": ("load_diabetes", "regression"),
    "wine": ("load_wine", "classification"),
    "breast-cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
}
SPLITS = ("train", "val", "test")


@dataclass
class TableData:
    """The three splits, standardised: x float32 (N, D); y float32 (N,) for regression, int64 class indices for
    classification. `classes` are the original labels (classification), `target_mean`/`target_std` the scale
    a regression target was divided by."""

    source: str
    task: str
    features: list[str]
    target: str
    x: dict[str, np.ndarray]  # split -> (N, D)
    y: dict[str, np.ndarray]  # split -> (N,)
    classes: list[str]
    target_mean: float = 0.0
    target_std: float = 1.0

    @property
    def out_features(self) -> int:
        """Network outputs: 1 (the regression mean) or one logit per class."""
        return len(self.classes) if self.task == "classification" else 1

    def size(self, split: str) -> int:
        return len(self.y[split])


def load_table(config: TableConfig) -> TableData:
    """Read, check, split and standardise the table that `config.spec` names."""
    if config.spec in BUILT_IN:
        features, x, target, labels, task = _built_in(config)
    else:
        task = config.task or "regression"
        features, x, target, labels = read_csv(Path(config.spec), config.target, numeric_target=task == "regression")
    if task == "classification":
        classes, y = _classes(labels, target, config.spec)
    else:
        classes, y = [], np.array([float(label) for label in labels])
    index = split_rows(len(y), config.val_fraction, config.test_fraction, config.split_seed, config.spec)
    x_mean, x_std = _moments(x[index["train"]])
    data = TableData(source=config.spec, task=task, features=features, target=target,
                     x={split: ((x[rows] - x_mean) / x_std).astype(np.float32) for split, rows in index.items()},
                     y={split: y[rows] for split, rows in index.items()}, classes=classes)
    if task == "regression":
        mean, std = _moments(y[index["train"]])
        data.target_mean, data.target_std = float(mean), float(std)
        data.y = {split: ((values - mean) / std).astype(np.float32) for split, values in data.y.items()}
    return data


def split_rows(n: int, val_fraction: float, test_fraction: float, seed: int, name: str) -> dict[str, np.ndarray]:
    """Seeded row indices of the three splits, each sorted; every split gets at least one row."""
    n_test, n_val = max(1, round(n * test_fraction)), max(1, round(n * val_fraction))
    if n - n_test - n_val < 2:
        raise UsageError(f"{name} has {n} rows: too few for a train / validation / test split (use 10 or more)")
    order = np.random.default_rng(seed).permutation(n)
    return {"test": np.sort(order[:n_test]), "val": np.sort(order[n_test:n_test + n_val]),
            "train": np.sort(order[n_test + n_val:])}


def read_csv(path: Path, target: str | None, *, numeric_target: bool) -> tuple[list[str], np.ndarray, str, list[str]]:
    """(feature names, float64 features (N, D), target name, the target column's cells as text); with
    `numeric_target` (regression) the target must be numbers too.

    Every problem is one `UsageError` naming the column and the first bad row."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise UsageError(f"--data {path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"--data {path} is not a readable CSV file ({type(error).__name__}): save it as UTF-8 "
                         "CSV") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise UsageError(f"--data {path} is empty: a CSV needs a header row, then one row per example")
    header = [name.strip() for name in rows[0]]
    body = [(number, row) for number, row in enumerate(rows[1:], start=1) if any(cell.strip() for cell in row)]
    if target not in header:
        raise UsageError(f"--target {target!r} is not a column of {path}: its columns are {', '.join(header)}")
    if not body:
        raise UsageError(f"--data {path} has a header but no rows")
    for number, row in body:
        if len(row) != len(header):
            raise UsageError(f"{path}, row {number} (line {number + 1}) has {len(row)} cells but the header has "
                             f"{len(header)}: fix that row")
    column = header.index(target)
    features = [name for i, name in enumerate(header) if i != column]
    if not features:
        raise UsageError(f"{path} has no column besides the target {target!r}: nothing to predict it from")
    x = np.empty((len(body), len(features)))
    for j, (i, name) in enumerate((i, name) for i, name in enumerate(header) if i != column):
        for k, (number, row) in enumerate(body):
            x[k, j] = _cell(row[i], name, number, path)
    labels = []
    for number, row in body:
        if not row[column].strip() or row[column].strip().lower() in ("nan", "na"):
            raise UsageError(f"{path}, row {number} (line {number + 1}), column {target!r} is "
                             f"{'empty' if not row[column].strip() else 'NaN'}: fill it or drop the row")
        if numeric_target:
            _cell(row[column], target, number, path,
                  fix="a regression target must be numbers (or use --task classification)")
        labels.append(row[column].strip())
    return features, x, target, labels


def _cell(text: str, column: str, number: int, path: Path, fix: str = "encode it as numbers or drop the column"
          ) -> float:
    where = f"{path}, row {number} (line {number + 1}), column {column!r}"
    if not text.strip():
        raise UsageError(f"{where} is empty: fill it or drop the row")
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"column {column!r} of {path} is not numeric: row {number} (line {number + 1}) holds "
                         f"{text.strip()[:40]!r}; {fix}") from None
    if math.isnan(value):
        raise UsageError(f"{where} is NaN: fill it or drop the row")
    if math.isinf(value):
        raise UsageError(f"{where} is infinite ({text.strip()}): fix it or drop the row")
    return value


def _built_in(config: TableConfig) -> tuple[list[str], np.ndarray, str, list[str], str]:
    import sklearn.datasets

    loader, task = BUILT_IN[config.spec]
    if config.task is not None and config.task != task:
        raise UsageError(f"--data {config.spec} is a {task} table: drop --task {config.task}")
    if config.target is not None:
        raise UsageError(f"--data {config.spec} has its own target: --target names a CSV column, drop it")
    bunch = getattr(sklearn.datasets, loader)()
    names = [str(name) for name in getattr(bunch, "feature_names", [])] or [f"x{i}" for i in
                                                                            range(bunch.data.shape[1])]
    labels = [str(value) for value in bunch.target]
    if task == "classification" and hasattr(bunch, "target_names"):
        labels = [str(bunch.target_names[value]) for value in bunch.target]
    return names, np.asarray(bunch.data, dtype=np.float64), "target", labels, task


def _classes(labels: list[str], target: str, name: str) -> tuple[list[str], np.ndarray]:
    """Sorted distinct labels (numerically when they all are numbers) and each row's class index."""
    distinct = sorted(set(labels), key=lambda text: (0, float(text), text) if _is_number(text) else (1, 0.0, text))
    if len(distinct) < 2:
        raise UsageError(f"the target {target!r} of {name} holds one class only ({distinct[0]!r}): a classifier "
                         "needs two or more (or use --task regression)")
    index = {label: i for i, label in enumerate(distinct)}
    return distinct, np.array([index[label] for label in labels], dtype=np.int64)


def _moments(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over rows; a constant column (std 0) keeps std 1, so it stays 0 after centring."""
    mean, std = values.mean(axis=0), values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
