"""Model selection: fit a model for every cell of a grid (numbers of components x
covariance types) and compare them by BIC, ICL or AIC. One grid loop serves
``fastem.mixture.select``, ``fastem.hmm.select`` and the command line's ``fastem select``.

Every criterion has scikit-learn's sign, smaller is better:
BIC = -2 log-likelihood + (free parameters) log(rows), mclust's BIC with the sign flipped;
ICL = BIC + 2 entropy, the entropy of the classification being
-sum over rows and components of p log p, p the posterior probabilities (Biernacki,
Celeux and Govaert, 2000). A model whose components overlap pays for the rows it
cannot classify clearly. AIC = -2 log-likelihood + 2 (free parameters).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._base import information_criteria
from ._kernels._parallel import effective_n_threads
from ._validation import check_array
from .exceptions import ConvergenceWarning

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
ROW_KEYS = ("n_components", "covariance_type", "log_likelihood", "n_parameters", "bic",
            "icl", "aic", "n_iter", "converged", "degenerate", "error")
_VALUES = ("log_likelihood", "n_parameters", "bic", "icl", "aic")
# between these numbers of data entries (rows x features) a fit is too small to keep
# several threads busy but large enough that its kernels, not the Python around them
# (which holds the GIL), take the time: there the grid's fits run side by side, one
# thread each (measured on 2 cores: 272 x 2 and 3000 x 4 run faster serially,
# 15000 x 4 faster side by side)
_GRID_THREADS = (50_000, 200_000)


class SelectionResult:
    """The table of a model selection over numbers of components and covariance types.

    Returned by :func:`fastem.mixture.select` and :func:`fastem.hmm.select`: one fit per
    cell of the grid, its log-likelihood, free parameters, criteria and convergence, and
    the best model by the chosen criterion. Every criterion has scikit-learn's sign:
    smaller is better (mclust's BIC is minus fastem's).

    Parameters
    ----------
    rows : list of dict
        One dict per fit, in the order of the grid (covariance types outer, numbers of
        components inner), with the keys of ``rows`` below.
    n_components : sequence of int
        The numbers of components of the grid, in order.
    covariance_types : sequence of str or None
        The covariance types of the grid, in order (None for a CategoricalHMM).
    criterion : {'bic', 'icl', 'aic'}
        The criterion that chose the best model.
    best_index : int
        The index in ``rows`` of the best fit.
    best_estimator : object
        The fitted model of that row.

    Attributes
    ----------
    rows : list of dict
        One dict per fit with the keys ``n_components``, ``covariance_type``,
        ``log_likelihood`` (total, over the rows), ``n_parameters`` (free parameters),
        ``bic``, ``icl``, ``aic``, ``n_iter``, ``converged``, ``degenerate`` (a component
        holds fewer than ``n_features + 1`` points' worth of weight: never chosen) and
        ``error`` (the message of a failed fit, else None). The values of a failed fit,
        and the ICL of a hidden Markov model, are None.
    n_components : ndarray of shape (n_k,)
        The numbers of components, the rows of the arrays below.
    covariance_types : tuple
        The covariance types, the columns of the arrays below.
    log_likelihood, n_parameters, bic, icl, aic : ndarray of shape (n_k, n_types)
        The values of ``rows`` as arrays, NaN for a failed fit.
    converged, degenerate, failed : ndarray of bool, of shape (n_k, n_types)
        Whether each fit converged, is degenerate, failed.
    criterion : str
        The criterion that chose the best model ('bic', 'icl' or 'aic').
    best_index_ : int
        The index in ``rows`` of the best fit.
    best_estimator_ : object
        The fitted best model (a GaussianMixture, GaussianHMM or CategoricalHMM).
    best_params_ : dict
        ``{"n_components": ..., "covariance_type": ...}`` of the best fit
        (``{"n_components": ...}`` for a CategoricalHMM).

    See Also
    --------
    fastem.mixture.select : Choose a Gaussian mixture.
    fastem.hmm.select : Choose a hidden Markov model.

    Examples
    --------
    >>> from fastem.datasets import load_faithful
    >>> from fastem.mixture import select
    >>> result = select(load_faithful(), n_components=range(1, 4),
    ...                 covariance_types=("full", "diag"), random_state=0)
    >>> result.bic.shape
    (3, 2)
    >>> result.best_params_
    {'n_components': 2, 'covariance_type': 'full'}
    >>> print(result.bic.round(1))
    [[2607.6 3055.8]
     [2322.2 2346.1]
     [2349.1 2345.1]]
    """

    def __init__(self, rows: list[dict[str, Any]], n_components: Sequence[int],
                 covariance_types: Sequence[str | None], criterion: str, best_index: int,
                 best_estimator: Any) -> None:
        self.rows = rows
        self.n_components = np.array(list(n_components), dtype=np.intp)
        self.covariance_types = tuple(covariance_types)
        self.criterion = criterion
        self.best_index_ = best_index
        self.best_estimator_ = best_estimator
        best = rows[best_index]
        self.best_params_: dict[str, Any] = {"n_components": best["n_components"]}
        if best["covariance_type"] is not None:
            self.best_params_["covariance_type"] = best["covariance_type"]
        shape = (len(self.n_components), len(self.covariance_types))
        where = {(r["n_components"], r["covariance_type"]): r for r in rows}
        arrays = {key: np.full(shape, np.nan) for key in _VALUES}
        flags = {key: np.zeros(shape, dtype=bool)
                 for key in ("converged", "degenerate", "failed")}
        for i, k in enumerate(self.n_components.tolist()):
            for j, ct in enumerate(self.covariance_types):
                row = where[k, ct]
                for key in _VALUES:
                    if row[key] is not None:
                        arrays[key][i, j] = row[key]
                flags["converged"][i, j] = bool(row["converged"])
                flags["degenerate"][i, j] = bool(row["degenerate"])
                flags["failed"][i, j] = row["error"] is not None
        self.log_likelihood: NDArray[np.float64] = arrays["log_likelihood"]
        self.n_parameters: NDArray[np.float64] = arrays["n_parameters"]
        self.bic: NDArray[np.float64] = arrays["bic"]
        self.icl: NDArray[np.float64] = arrays["icl"]
        self.aic: NDArray[np.float64] = arrays["aic"]
        self.converged: NDArray[np.bool_] = flags["converged"]
        self.degenerate: NDArray[np.bool_] = flags["degenerate"]
        self.failed: NDArray[np.bool_] = flags["failed"]

    def __repr__(self) -> str:
        return (f"SelectionResult(criterion={self.criterion!r}, "
                f"best_params_={self.best_params_!r}, fits={len(self.rows)})")

    def to_frame(self) -> Any:
        """Return the table as a pandas DataFrame, one row per fit.

        Returns
        -------
        pandas.DataFrame
            The columns of ``rows``, failed values as NaN.

        Raises
        ------
        ImportError
            If pandas is not installed (it is optional).

        See Also
        --------
        plot : Draw the criterion against the number of components.

        Examples
        --------
        >>> from fastem.datasets import load_faithful
        >>> from fastem.mixture import select
        >>> result = select(load_faithful(), n_components=[1, 2],
        ...                 covariance_types=("full",), random_state=0)
        >>> frame = result.to_frame()
        >>> frame[["n_components", "covariance_type", "bic"]].round(1)
           n_components covariance_type     bic
        0             1            full  2607.6
        1             2            full  2322.2
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame needs pandas: pip install pandas") from None
        frame = pd.DataFrame(self.rows, columns=list(ROW_KEYS))
        for key in _VALUES:
            frame[key] = frame[key].astype(float)
        return frame

    def plot(self, ax: Any = None, criterion: str | None = None) -> Any:
        """Draw the criterion against the number of components, one line per type.

        As mclust's BIC plot, with fastem's sign (smaller is better); the best model is
        circled. Failed fits are left out; degenerate ones are drawn hollow.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw. None draws on a new figure of matplotlib.pyplot.
        criterion : {'bic', 'icl', 'aic'}, default=None
            What to draw. None draws ``self.criterion``.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.

        Raises
        ------
        ImportError
            If matplotlib is not installed (it is optional).

        See Also
        --------
        to_frame : The table as a DataFrame.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from fastem.datasets import load_faithful
        >>> from fastem.mixture import select
        >>> result = select(load_faithful(), n_components=range(1, 4), random_state=0)
        >>> ax = result.plot()
        >>> [line.get_label() for line in ax.get_lines()][:4]
        ['full', 'tied', 'diag', 'spherical']
        """
        from ._plots import select_axes

        criterion = self.criterion if criterion is None else _check_criterion(criterion)
        if np.isnan(getattr(self, criterion)).all():
            raise ValueError(f"no fit has a {criterion.upper()} to draw")
        if ax is None:
            try:
                import matplotlib.pyplot as plt
            except ImportError:
                raise ImportError("plot needs matplotlib: pip install 'fastem[plot]'") \
                    from None
            _, ax = plt.subplots()
        select_axes(ax, self.rows, criterion)
        return ax


def _check_criterion(criterion, hmm=False):
    allowed = ("bic", "aic") if hmm else ("bic", "icl", "aic")
    if criterion not in allowed:
        extra = " (ICL is not computed for hidden Markov models)" if criterion == "icl" \
            and hmm else ""
        raise ValueError(f"criterion must be one of {', '.join(map(repr, allowed))}, "
                         f"got {criterion!r}{extra}")
    return criterion


def check_n_components(values):
    ks = [values] if isinstance(values, numbers.Integral) else list(values)
    if not ks:
        raise ValueError("n_components must hold at least one number of components")
    for k in ks:
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"n_components must be positive integers, got {k!r}")
    if len(set(ks)) != len(ks):
        raise ValueError(f"n_components has duplicates: {ks}")
    return [int(k) for k in ks]


def check_covariance_types(values):
    types = [values] if isinstance(values, str) else list(values)
    if not types:
        raise ValueError("covariance_types must hold at least one covariance type")
    for ct in types:
        if ct not in COVARIANCE_TYPES:
            raise ValueError(f"unknown covariance type {ct!r}: expected one of "
                             f"{', '.join(COVARIANCE_TYPES)}")
    if len(set(types)) != len(types):
        raise ValueError(f"covariance_types has duplicates: {types}")
    return types


def fixed_seed(random_state):
    """The seed every fit of a grid gets: an int or None as given; a RandomState gives
    one int drawn from it, so that fits running in threads never share a generator."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    return random_state


def plan_threads(n_threads, n_cells, n_entries, n_jobs, serial=False):
    """(fits run at once, threads of each fit). n_threads is the whole budget."""
    budget = effective_n_threads(n_threads)
    if serial:
        return 1, budget
    if n_jobs is None:
        low, high = _GRID_THREADS
        n_jobs = budget if low <= n_entries <= high else 1
    n_jobs = max(1, min(int(n_jobs), n_cells))
    return n_jobs, max(1, budget // n_jobs)


def run_grid(cells, fit_cell, n_jobs):
    """[fit_cell(cell) for cell in cells], side by side in n_jobs threads (the kernels
    release the GIL); each fit's ConvergenceWarning is left to its row's ``converged``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if n_jobs == 1:
            return [fit_cell(cell) for cell in cells]
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            return list(pool.map(fit_cell, cells))


def failed_row(k, ct, exc):
    row = dict.fromkeys(ROW_KEYS)
    row.update(n_components=k, covariance_type=ct, degenerate=False,
               error=" ".join(str(exc).split()) or type(exc).__name__)
    return row


def best_index(rows, criterion):
    """(index of the best row by criterion, whether every fitted row is degenerate):
    the smallest value among the fits that are not degenerate (the first of equal
    ones); among the degenerate ones when there is nothing else; None if all failed."""
    fitted = [i for i, r in enumerate(rows)
              if r[criterion] is not None and not math.isnan(r[criterion])]
    sound = [i for i in fitted if not rows[i]["degenerate"]]
    pool = sound or fitted
    if not pool:
        return None, False
    return min(pool, key=lambda i: rows[i][criterion]), not sound


def finish(rows, models, ks, types, criterion):
    """The SelectionResult of a grid's rows, with the warnings a user should see."""
    index, all_degenerate = best_index(rows, criterion)
    if index is None:
        first = rows[0]
        where = f"K={first['n_components']}" + (
            f" {first['covariance_type']}" if first["covariance_type"] else "")
        raise ValueError(f"every fit failed; the first ({where}): {first['error']}")
    if all_degenerate:
        warnings.warn("every fit is degenerate (a component holds fewer points than "
                      "n_features + 1): the best of them is chosen anyway",
                      UserWarning, stacklevel=3)
    slow = sum(r["converged"] is False for r in rows)
    if slow:
        warnings.warn(f"{slow} of {len(rows)} fits did not converge (see the rows' "
                      "'converged'); raise max_iter or tol", ConvergenceWarning,
                      stacklevel=3)
    return SelectionResult(rows, ks, types, criterion, index, models[index])


def _mixture_row(gm, X, k, ct):
    loglik, entropy = gm._log_likelihood_and_entropy(X)    # one E pass
    n, p = X.shape[0], gm._n_parameters()
    bic, aic = information_criteria(loglik, p, n)          # as GaussianMixture.bic/aic
    n_features = gm.means_.shape[1]
    return {"n_components": k, "covariance_type": ct, "log_likelihood": float(loglik),
            "n_parameters": int(p), "bic": bic, "icl": bic + 2 * entropy,
            "aic": aic, "n_iter": int(gm.n_iter_),
            "converged": bool(gm.converged_),
            "degenerate": bool(np.any(n * np.asarray(gm.weights_) < n_features + 1)),
            "error": None}


def select(X: ArrayLike, n_components: int | Iterable[int] = range(1, 10),
           covariance_types: str | Iterable[str] = COVARIANCE_TYPES,
           criterion: str = "bic", n_init: int = 1,
           random_state: int | np.random.RandomState | None = None, *,
           prior: Any = None, n_jobs: int | None = None,
           on_fit: Callable[[int, str], object] | None = None,
           **gaussian_mixture_kwargs: Any) -> SelectionResult:
    """Choose a Gaussian mixture's number of components and covariance type.

    Fit a :class:`~fastem.GaussianMixture` for every number of components and every
    covariance type, and compare the fits by BIC, ICL or AIC, as mclust's ``Mclust``
    does. Every criterion has scikit-learn's sign, smaller is better (mclust's BIC is
    minus fastem's):

    - BIC = -2 log-likelihood + (free parameters) log(n_samples), as
      ``GaussianMixture.bic``;
    - ICL = BIC + 2 x the entropy of the classification, -sum over rows and
      components of p log p with p the posterior probabilities (Biernacki, Celeux and
      Govaert, 2000), so that ICL >= BIC and overlapping components pay;
    - AIC = -2 log-likelihood + 2 (free parameters).

    A fit is degenerate when a component's effective number of points
    (``n_samples * weights_[k]``) is below ``n_features + 1``: it has collapsed onto
    fewer points than it has dimensions, and its likelihood is an artefact of
    ``reg_covar``. Degenerate fits are flagged and never chosen, unless every fit is
    degenerate: then the best of them is chosen, with a warning. A fit that raises
    (e.g. more components than rows) is recorded with its error and NaN criteria.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data, one row per sample (NaN for missing values, as in
        ``GaussianMixture.fit``).
    n_components : int or iterable of int, default=range(1, 10)
        The numbers of components to try.
    covariance_types : str or iterable of str, default=("full", "tied", "diag", \
"spherical")
        The covariance types to try.
    criterion : {'bic', 'icl', 'aic'}, default='bic'
        The criterion that chooses ``best_estimator_``.
    n_init : int, default=1
        The number of initializations of each fit.
    random_state : int, RandomState instance or None, default=None
        The seed of every fit. Every fit gets the same seed, as a scikit-learn user
        would write the loop: the cell (K, type) of the table is
        ``GaussianMixture(K, covariance_type=type, random_state=random_state).fit(X)``.
        A RandomState gives one int drawn from it, shared by every fit. None leaves
        each fit to numpy's global RandomState (not reproducible).
    prior : None, 'default' or ConjugatePrior, default=None
        The ``prior`` of every GaussianMixture: None fits by maximum likelihood,
        'default' or a :class:`~fastem.mixture.ConjugatePrior` by maximum a posteriori,
        as mclust's ``Mclust(..., prior = priorControl())``. The values the prior
        leaves to the data are computed for each fit (its scale depends on K). The
        criteria then use the log-likelihood at the MAP estimates, as mclust's.
    n_jobs : int or None, default=None
        How many fits run at once, in threads (the kernels release the GIL). None:
        one per usable thread when n_samples * n_features is between 50000 and
        200000 (one fit cannot keep several threads busy, and the kernels take the
        time), one fit at a time otherwise, each fit using every thread (tiny data
        spends its time in Python, where threads only wait for each other). The
        threads of each fit are ``n_threads // n_jobs``. The table does not depend on
        it: the results are bitwise identical.
    on_fit : callable or None, default=None
        Called as ``on_fit(n_components, covariance_type)`` before each fit; with it,
        or with a ``callback``, the fits run one at a time, in the order of the table.
    **gaussian_mixture_kwargs : dict
        Further parameters of every GaussianMixture (``tol``, ``reg_covar``,
        ``max_iter``, ``init_params``, ``n_threads`` (the whole thread budget),
        ``callback``, ...).

    Returns
    -------
    SelectionResult
        The table (``rows``, and ``bic``, ``icl``, ... as K x type arrays),
        ``best_estimator_``, ``best_params_``, ``to_frame()`` and ``plot()``.

    Raises
    ------
    ValueError
        If an argument is invalid, or every fit failed.

    Warns
    -----
    ConvergenceWarning
        Once, if some fits did not converge (their rows say which).
    UserWarning
        If every fit is degenerate.

    See Also
    --------
    GaussianMixture.bic : The BIC of one fitted mixture.
    fastem.hmm.select : The same for hidden Markov models.

    Notes
    -----
    The rows are in the order covariance types outer, numbers of components inner.
    ``sample_weight`` is not supported.

    Examples
    --------
    >>> from fastem.datasets import load_faithful
    >>> from fastem.mixture import select
    >>> result = select(load_faithful(), random_state=0)
    >>> result.best_params_
    {'n_components': 2, 'covariance_type': 'full'}
    >>> print(round(result.best_estimator_.bic(load_faithful()), 1))
    2322.2
    >>> result.bic.shape
    (9, 4)
    >>> select(load_faithful(), criterion="icl", random_state=0).best_params_
    {'n_components': 2, 'covariance_type': 'full'}
    """
    from .mixture._gaussian_mixture import GaussianMixture

    ks = check_n_components(n_components)
    types = check_covariance_types(covariance_types)
    criterion = _check_criterion(criterion)
    for name in ("n_components", "covariance_type", "random_state", "n_init"):
        if name in gaussian_mixture_kwargs:
            raise TypeError(f"select() sets {name} of every GaussianMixture itself")
    Xv, _ = check_array(X, return_missing=True)
    data = X if hasattr(X, "columns") else Xv      # keep a DataFrame's feature names
    seed = fixed_seed(random_state)
    kwargs = dict(gaussian_mixture_kwargs)
    serial = on_fit is not None or kwargs.get("callback") is not None
    n_jobs, per_fit = plan_threads(kwargs.pop("n_threads", None), len(ks) * len(types),
                                   Xv.size, n_jobs, serial)
    cells = [(k, ct) for ct in types for k in ks]

    def fit_cell(cell):
        k, ct = cell
        if on_fit is not None:
            on_fit(k, ct)
        gm = GaussianMixture(k, covariance_type=ct, n_init=n_init, random_state=seed,
                             n_threads=per_fit, prior=prior, **kwargs)
        try:
            gm.fit(data)
            return _mixture_row(gm, data, k, ct), gm
        except (ValueError, np.linalg.LinAlgError) as exc:
            return failed_row(k, ct, exc), None

    done = run_grid(cells, fit_cell, n_jobs)
    return finish([row for row, _ in done], [model for _, model in done], ks, types,
                  criterion)


def table(results, criterion):
    """A K x covariance-type table of one criterion, as text: '-' for a failed fit, '*'
    after a fit that did not converge."""
    types = list(dict.fromkeys(r["covariance_type"] for r in results))
    ks = list(dict.fromkeys(r["n_components"] for r in results))
    cell = {(r["n_components"], r["covariance_type"]): r for r in results}
    width = max(12, *(len(t) + 2 for t in types))
    lines = [f"{'K':>3}" + "".join(f"{t:>{width - 1}} " for t in types)]
    for k in ks:
        parts = []
        for t in types:
            r = cell[k, t]
            if r[criterion] is None:
                parts.append(f"{'-':>{width - 1}} ")
            else:
                mark = " " if r["converged"] else "*"
                parts.append(f"{r[criterion]:.3f}{mark}".rjust(width))
        lines.append(f"{k:>3}" + "".join(parts))
    return "\n".join(line.rstrip() for line in lines)
