"""Reading the command line's data files: tables of numbers with named columns."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


class UsageError(Exception):
    """A problem with the user's files or options: reported in one line."""


_MISSING = ("", "nan", "na", "null")


def _cell(text):
    """The number in a CSV cell, NaN for a missing value, None when it is not a number."""
    text = text.strip()
    if text.lower() in _MISSING:
        return np.nan
    try:
        return float(text)
    except ValueError:
        return None


def _number(text, where):
    value = _cell(text)
    if value is None:
        raise UsageError(f"{where}: {text.strip()!r} is not a number")
    return value


def read_table(path):
    """(X, column names) from a .csv (optional header, empty cells = missing) or .npy."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix.lower() == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise UsageError(f"{path}: not a readable .npy array ({exc})") from None
        if not isinstance(X, np.ndarray):       # np.load opened a .npz archive
            X.close()
            raise UsageError(f"{path}: a .npz archive, not a .npy array (write one array "
                             "with numpy.save)")
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or X.dtype.kind not in "biuf":
            raise UsageError(f"{path}: need a 2-D numeric array, got {X.ndim}-D {X.dtype}")
        return X.astype(np.float64), [str(i) for i in range(X.shape[1])]
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:   # -sig: drop a BOM
            rows = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read as CSV ({exc})") from None
    if not rows:
        raise UsageError(f"{path}: the file is empty")
    first = rows[0]
    if all(_cell(c) is not None for c in first):    # numbers and missing values: data
        names = [str(i) for i in range(len(first))]
    else:
        names = [c.strip() for c in first]
        rows = rows[1:]
    if not rows:
        raise UsageError(f"{path}: no data rows after the header")
    width = len(names)
    data = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise UsageError(f"{path}: row {i + 1} has {len(row)} fields, expected {width}")
        data[i] = [_number(c, f"{path}: row {i + 1}, column {names[j]!r}")
                   for j, c in enumerate(row)]
    return data, names


def select_columns(X, names, spec):
    """Columns chosen by name or 0-based index, e.g. 'waiting' or '0,2'."""
    if not spec:
        return X, names
    chosen = []
    for item in spec.split(","):
        item = item.strip()
        if item in names:
            chosen.append(names.index(item))
        elif item.isdigit() and int(item) < len(names):
            chosen.append(int(item))
        else:
            raise UsageError(f"no column {item!r}; the columns are {', '.join(names)}")
    return X[:, chosen], [names[j] for j in chosen]


