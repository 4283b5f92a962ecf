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
    """Load the Old Faithful geyser data: 272 eruptions, their duration and waiting time.

    The ``faithful`` data set of R's datasets package (Härdle, Smoothing Techniques,
    1991): for each of 272 eruptions of the Old Faithful geyser, its duration
    (``eruptions``) and the waiting time to it (``waiting``), both in minutes. Known
    maximum-likelihood fits: 2 full-covariance components reach log-likelihood
    -1130.264; ``waiting`` alone with 2 components reaches -1034.002.

    Parameters
    ----------
    return_columns : bool, default=False
        If True, also return the column names.

    Returns
    -------
    X : ndarray of shape (272, 2), dtype float64
        The data, one row per eruption, columns (eruptions, waiting). A new array at
        every call.
    columns : tuple of str
        ``('eruptions', 'waiting')``, returned only when ``return_columns`` is True.

    See Also
    --------
    GaussianMixture : Fit a Gaussian mixture, e.g. to this data.

    Examples
    --------
    >>> from fastem.datasets import load_faithful
    >>> X, columns = load_faithful(return_columns=True)
    >>> X.shape
    (272, 2)
    >>> columns
    ('eruptions', 'waiting')
    >>> print(X[:3])
    [[ 3.6   79.   ]
     [ 1.8   54.   ]
     [ 3.333 74.   ]]

    Two full-covariance components reach the known maximum of the log-likelihood:

    >>> from fastem import GaussianMixture
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> round(gm.score(X) * len(X), 3)
    -1130.264
    """
    text = resources.files("fastem.datasets").joinpath("data/faithful.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    if tuple(header) != FAITHFUL_COLUMNS:
        raise RuntimeError(f"unexpected columns in faithful.csv: {header}")
    X = np.array(body, dtype=np.float64)
    return (X, FAITHFUL_COLUMNS) if return_columns else X
