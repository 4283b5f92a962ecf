"""Loaders for the data sets bundled in fastem/datasets/data."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Literal, overload

import numpy as np
from numpy.typing import NDArray

FAITHFUL_COLUMNS = ("eruptions", "waiting")


@overload
def load_faithful(*, return_columns: Literal[False] = ...) -> NDArray[np.float64]: ...


@overload
def load_faithful(*, return_columns: Literal[True]
                  ) -> tuple[NDArray[np.float64], tuple[str, ...]]: ...


def load_faithful(*, return_columns: bool = False
                  ) -> NDArray[np.float64] | tuple[NDArray[np.float64], tuple[str, ...]]:
    """Old Faithful geyser data: 272 eruptions, columns (eruptions, waiting) in minutes.

    The ``faithful`` data set of R's datasets package (Härdle, Smoothing Techniques,
    1991). Known maximum-likelihood fits: 2 full-covariance components reach
    log-likelihood -1130.264; ``waiting`` alone with 2 components reaches -1034.002.

    Returns
    -------
    X : ndarray of shape (272, 2), float64
    columns : tuple of str, only when return_columns is True
    """
    text = resources.files("fastem.datasets").joinpath("data/faithful.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    if tuple(header) != FAITHFUL_COLUMNS:
        raise RuntimeError(f"unexpected columns in faithful.csv: {header}")
    X = np.array(body, dtype=np.float64)
    return (X, FAITHFUL_COLUMNS) if return_columns else X
