"""Reading a numeric table from a CSV file with Python's csv module.

Issue-level scope: numeric columns only, a header row, one target column.
Errors are :class:`DataError` with a one-line message for the command line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DataError", "Table", "read_csv", "builtin_dataset"]


class DataError(ValueError):
    """The input data cannot be used (missing file, bad header, non-numeric values...)."""


@dataclass(frozen=True)
class Table:
    """Features, target and their names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    source: str


def read_csv(path: str | Path, target: str, features: list[str] | None = None) -> Table:
    """Read ``path`` (header row, comma-separated, numeric cells) into a :class:`Table`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError(f"{path} is empty")
    header = [name.strip() for name in rows[0]]
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    if not body:
        raise DataError(f"{path} has a header but no data rows")
    if target not in header:
        raise DataError(f"target column {target!r} not found; columns are: {', '.join(header)}")
    chosen = features or [name for name in header if name != target]
    missing = [name for name in chosen if name not in header]
    if missing:
        raise DataError(f"feature column(s) not found: {', '.join(missing)}")
    if target in chosen:
        raise DataError(f"the target {target!r} cannot also be a feature")
    index = {name: i for i, name in enumerate(header)}
    values = np.empty((len(body), len(chosen) + 1))
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}, line {r}: {len(row)} fields, the header has {len(header)}")
        for c, name in enumerate([*chosen, target]):
            cell = row[index[name]].strip()
            try:
                values[r - 2, c] = float(cell)
            except ValueError:
                what = "missing value" if cell == "" else f"non-numeric value {cell!r}"
                raise DataError(f"{path}, line {r}, column {name!r}: {what}") from None
    if not np.all(np.isfinite(values)):
        raise DataError(f"{path} contains NaN or infinite values")
    return Table(values[:, :-1], values[:, -1], list(chosen), target, str(path))


def builtin_dataset() -> Table:
    """scikit-learn's diabetes data (442 patients, 10 standardized features), no download."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    return Table(
        data.data,
        data.target,
        list(data.feature_names),
        "disease_progression",
        "scikit-learn diabetes data (built in)",
    )
