"""The EM driver, shared by every model.

A model hands the driver a *problem*: an object with

    initialize(random_state) -> params
    step(params) -> (new_params, objective)   # one E pass + M-step; objective at `params`
    converged(change, tol, old, new) -> bool  # optional, default |change| < tol
    final_score(params, objective) -> float   # optional, which of n_init runs is best
    report                                    # optional, a Report: the verbose lines

and the driver runs restarts, the loop, the convergence test, history, verbose output,
callbacks and the ConvergenceWarning, once for all models.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import ABSENT, interoperable
from .exceptions import ConvergenceWarning


@dataclass(frozen=True)
class IterationInfo:
    """Progress of one EM iteration: what a ``callback`` receives after every iteration.

    The estimators that take a ``callback`` (GaussianMixture and KMeans) call it after
    every iteration of every run with one IterationInfo; a callback that returns True
    stops that run (the next of ``n_init`` runs, if any, still starts). IterationInfo is
    a frozen dataclass: fastem builds it, a callback reads its attributes.

    Parameters
    ----------
    init : int
        Which run (0-based).
    n_iter : int
        Iterations done in this run (1-based).
    lower_bound : float
        Objective at the parameters the iteration started from.
    change : float
        ``lower_bound`` minus the previous one.
    time : float
        Seconds spent on this iteration.

    Attributes
    ----------
    init : int
        Which run of the ``n_init`` runs (0-based).
    n_iter : int
        Iterations done in this run, this one included (1-based).
    lower_bound : float
        Objective at the parameters the iteration started from: for GaussianMixture the
        mean (weighted) log-likelihood per sample, for KMeans minus the inertia.
    change : float
        ``lower_bound`` minus that of the previous iteration (``inf`` at a run's first
        iteration, but for a warm start, which continues from the previous fit's lower
        bound).
    time : float
        Seconds spent on this iteration.

    See Also
    --------
    GaussianMixture : Its ``callback`` parameter receives IterationInfo.
    KMeans : Its ``callback`` parameter receives IterationInfo.

    Examples
    --------
    >>> from fastem import GaussianMixture
    >>> from fastem.datasets import load_faithful
    >>> infos = []
    >>> gm = GaussianMixture(n_components=2, random_state=0, callback=infos.append)
    >>> gm = gm.fit(load_faithful())
    >>> len(infos) == gm.n_iter_
    True
    >>> info = infos[-1]
    >>> info.init, info.n_iter, round(info.lower_bound, 3)
    (0, 4, -4.155)
    >>> info.lower_bound == gm.lower_bound_
    True

    A callback that returns True stops the run:

    >>> def stop_after_two(info):
    ...     return info.n_iter == 2
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     gm = GaussianMixture(n_components=2, random_state=0,
    ...                          callback=stop_after_two).fit(load_faithful())
    >>> gm.n_iter_, gm.converged_
    (2, False)
    """

    init: int            # which restart (0-based)
    n_iter: int          # iterations done in this restart (1-based)
    lower_bound: float   # objective at the parameters the iteration started from
    change: float        # lower_bound minus the previous one
    time: float          # seconds spent on this iteration


@dataclass
class EMResult:
    params: Any
    lower_bound: float
    lower_bounds: list = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    score: float = -np.inf


class Report:
    """The lines the driver prints when verbose, each a str or None (nothing printed).

    A problem whose model prints its peer's lines gives its own as ``problem.report``;
    the driver decides when to print (per-iteration lines every ``verbose_interval``
    iterations, every one with verbose >= 2)."""

    def start(self, init):
        return f"Initialization {init}"

    def initialized(self, init):
        return None

    def iteration(self, init, n_iter, lower_bound, change, elapsed):
        return (f"  Iteration {n_iter:5d}  log-likelihood {lower_bound:.8g}  "
                f"change {change:.3e}  time {elapsed:.3f}s")

    def end(self, init, converged, n_iter, lower_bound, elapsed):
        state = "converged" if converged else "did not converge"
        return (f"Initialization {init} {state}: {n_iter} iterations, lower bound "
                f"{lower_bound:.8g}, {elapsed:.3f}s")


def commit(estimator, fitted):
    """Set all the attributes of a successful fit at once.

    A fit computes into locals and calls this last, so a fit that raises or is
    interrupted leaves the estimator exactly as it was. One dict update is a single C
    call, which a KeyboardInterrupt (delivered between bytecodes) cannot split.
    An attribute whose value is _validation.ABSENT is removed (a stale one from an
    earlier fit)."""
    state = vars(estimator)
    stale = [name for name, value in fitted.items() if value is ABSENT]
    state.update({name: value for name, value in fitted.items() if value is not ABSENT})
    for name in stale:
        state.pop(name, None)


def _default_converged(change, tol, old, new):
    return abs(change) < tol


def run_em(
    problem,
    *,
    n_init: int,
    max_iter: int,
    tol: float,
    random_state,
    verbose: int = 0,
    verbose_interval: int = 10,
    callback: Callable[[IterationInfo], Any] | None = None,
    start=None,
    start_lower_bound: float = -np.inf,
    warn: bool = True,
) -> EMResult:
    """Fit by EM from n_init starts (or from ``start``) and return the best run.

    ``start`` (warm start) skips initialisation and runs once. The best run is the one
    with the highest ``problem.final_score`` (by default its last lower bound). A callback
    returning True stops the current run early (it is then not converged).
    """
    converged_test = getattr(problem, "converged", _default_converged)
    final_score = getattr(problem, "final_score", lambda params, objective: objective)
    report = getattr(problem, "report", None) or Report()

    def say(line):
        if verbose and line is not None:
            print(line)

    runs = 1 if start is not None else n_init
    best: EMResult | None = None
    for init in range(runs):
        say(report.start(init))
        params = start if start is not None else problem.initialize(random_state)
        say(report.initialized(init))
        lower_bound = start_lower_bound if start is not None else -np.inf
        history = []
        converged = False
        n_iter = 0
        t_run = time.perf_counter()
        for n_iter in range(1, max_iter + 1):
            t0 = time.perf_counter()
            previous = lower_bound
            new_params, lower_bound = problem.step(params)
            history.append(lower_bound)
            change = lower_bound - previous
            elapsed = time.perf_counter() - t0
            if verbose and (n_iter % verbose_interval == 0 or verbose >= 2 or n_iter == 1):
                say(report.iteration(init, n_iter, lower_bound, change, elapsed))
            stop = callback is not None and callback(
                IterationInfo(init, n_iter, float(lower_bound), float(change), elapsed)
            ) is True
            done = converged_test(change, tol, params, new_params)
            params = new_params
            if done:
                converged = True
                break
            if stop:
                break
        say(report.end(init, converged, n_iter, lower_bound, time.perf_counter() - t_run))
        score = final_score(params, lower_bound)
        if best is None or score > best.score:
            best = EMResult(params, lower_bound, history, converged, n_iter, score)
    assert best is not None  # runs >= 1
    if warn and not best.converged and max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            interoperable(ConvergenceWarning),
            stacklevel=3,
        )
    return best
