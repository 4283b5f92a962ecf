"""The EM driver, shared by every model.

A model hands the driver a *problem*: an object with

    initialize(random_state) -> params
    source                                    # a _sources.Source: the blocks of rows
    e_step(block, params) -> Stats            # one block's additive statistics
    m_step(stats) -> params                   # from the statistics of all the blocks
    objective(params, stats) -> float         # what EM increases, at `params`
    converged(change, tol, old, new) -> bool  # optional, default |change| < tol
    final_score(params, objective) -> float   # optional, which of n_init runs is best
    report                                    # optional, a Report: the verbose lines
    pack(params) -> 1-d float array           # for SQUAREM: unconstrained coordinates
    unpack(vector, like) -> params            #   (any vector is valid parameters)

(or, instead of source/e_step/m_step/objective, ``step(params) -> (new_params,
objective)``, the whole EM map at once), and the driver runs restarts, the loop, the
convergence test, history, verbose output, callbacks, SQUAREM acceleration and the
ConvergenceWarning, once for all models. Online EM (``online_step``) blends the
statistics of successive batches with a step size, for every model the same way.
"""

from __future__ import annotations

import dataclasses
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
    em : EM for any model; its ``callback`` receives IterationInfo too.

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


class Stats:
    """Sufficient statistics of some rows: additive, and scalable by a number.

    A model's statistics are a dataclass deriving from Stats. ``additive`` names the
    members that add over rows (arrays or floats; the E-step's log-likelihood among
    them); any other member is context (e.g. the point moments are taken about), and
    ``align(other)`` returns ``other`` expressed in this one's context, so that a sum
    is always of like terms. ``a + b`` adds them, ``c * a`` scales them (online EM
    blends statistics with a step size); neither modifies its operands."""

    additive: tuple[str, ...] = ()

    def align(self, other):
        return other

    def __add__(self, other):
        if not isinstance(other, type(self)):
            return NotImplemented
        other = self.align(other)
        return dataclasses.replace(self, **{name: getattr(self, name) + getattr(other, name)
                                            for name in self.additive})

    def __mul__(self, factor):
        if not isinstance(factor, (int, float, np.floating, np.integer)):
            return NotImplemented
        return dataclasses.replace(self, **{name: getattr(self, name) * factor
                                            for name in self.additive})

    __rmul__ = __mul__


def em_map(problem, params):
    """One EM iteration from ``params``: (new params, objective at ``params``). The
    E-step runs over the problem's source, block by block, its statistics summed in
    block order; then the M-step."""
    step = getattr(problem, "step", None)
    if step is not None:
        return step(params)
    stats = problem.source.reduce(problem.e_step, params)
    return problem.m_step(stats), problem.objective(params, stats)


def stepwise_rate(n_steps, decay, offset):
    """The step size of stepwise (online) EM after ``n_steps`` steps: 1 for the first
    (the first batch's statistics alone), then (n_steps + offset) ** -decay (Cappé &
    Moulines 2009; Liang & Klein 2009: decay in (0.5, 1] makes the steps sum to
    infinity and their squares to a finite value, so that the running statistics
    converge)."""
    return 1.0 if n_steps == 0 else float((n_steps + offset) ** -decay)


def online_step(problem, params, running, keep, take, scale=1.0, m_step=None):
    """One step of online EM on one batch, ``problem.source``: the batch's statistics at
    ``params`` blended into the running ones, ``keep * running + take * batch`` (the
    batch alone, times ``take``, when ``running`` is None), and the M-step of the blend
    times ``scale`` (``m_step``, by default the problem's). Returns (new params, the
    blend, the objective on the batch at ``params``)."""
    batch = problem.source.reduce(problem.e_step, params)
    blended = take * batch if running is None else keep * running + take * batch
    new = (m_step or problem.m_step)(blended if scale == 1.0 else scale * blended)
    return new, blended, problem.objective(params, batch)


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


@dataclass
class _Run:
    """One run of EM: where it is, and what it has done."""

    init: int
    params: Any
    lower_bound: float
    squarem: Any = None
    history: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    stopped: bool = False
    started: float = field(default_factory=time.perf_counter)


def _default_converged(change, tol, old, new):
    return abs(change) < tol


ACCELERATIONS = (None, "squarem")
# A SQUAREM extrapolation may shrink a probability (a weight, a transition) by this
# factor at most: a model's unpack refuses a point beyond it, and the driver takes a
# shorter step. A probability pushed near zero would leave EM crawling back.
MAX_SHRINK = 1e-2


class _Squarem:
    """SQUAREM (Varadhan & Roland 2008, Scand. J. Statist. 35): the S3 steplength
    alpha = |r| / |v| from two EM steps, r = F(p) - p and v = F(F(p)) - 2 F(p) + p, in
    the problem's unconstrained coordinates, clipped to [1, step_max]; the extrapolated
    point p + 2 alpha r + alpha^2 v is stabilised by one more EM step. step_max starts
    at 1 and doubles each time alpha reaches it (R's SQUAREM starts at 1 too, and
    grows 4-fold: doubling took fewer E-steps on our mixtures and HMMs). A point the
    model's ``unpack`` refuses (it may bound how far a probability shrinks in one step)
    is retried with alpha halfway to 1, up to BACKTRACKS times, at no E-step's cost.

    Monotonicity safeguard: the extrapolation is kept only when the objective at the
    extrapolated point is at least the objective at p, so that the stabilised point,
    one EM step further, is no worse than p; otherwise the cycle ends at F(F(p)), plain
    EM, and step_max shrinks back. Every accepted cycle start therefore has an
    objective no lower than the one before.

    ``cycle(params)`` runs one cycle: returns (next params, objective at params, number
    of E passes used); it stops early, with the E passes it had, at ``budget``."""

    STEP_MAX0, MSTEP, BACKTRACKS = 1.0, 2.0, 6

    def __init__(self, problem):
        self.problem = problem
        self.step_max = self.STEP_MAX0

    def cycle(self, params, budget):
        problem = self.problem
        p1, objective = em_map(problem, params)
        if budget <= 1:
            return p1, objective, 1
        p2, _ = em_map(problem, p1)
        u0, u1, u2 = problem.pack(params), problem.pack(p1), problem.pack(p2)
        r = u1 - u0
        v = u2 - 2.0 * u1 + u0
        sr2, sv2 = float(r @ r), float(v @ v)
        if not (np.isfinite(sr2) and np.isfinite(sv2)) or sv2 == 0.0:
            return p2, objective, 2
        alpha = min(self.step_max, max(1.0, np.sqrt(sr2 / sv2)))
        if abs(alpha - 1.0) <= 0.01 or budget <= 2:    # the extrapolation is F(F(p))
            if alpha == self.step_max:
                self.step_max *= self.MSTEP
            return p2, objective, 2
        extrapolated = None
        for _ in range(self.BACKTRACKS):   # a point the model refuses: a shorter step
            try:
                extrapolated = problem.unpack(u0 + 2.0 * alpha * r + alpha**2 * v, params)
                break
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                alpha = (1.0 + alpha) / 2.0
        p3, at_extrapolated = None, -np.inf
        if extrapolated is not None:
            try:
                p3, at_extrapolated = em_map(problem, extrapolated)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                p3 = None
        if p3 is not None and np.isfinite(at_extrapolated) and at_extrapolated >= objective:
            if alpha == self.step_max:
                self.step_max *= self.MSTEP
            return p3, objective, 3
        if alpha == self.step_max:
            self.step_max = max(self.STEP_MAX0, self.step_max / self.MSTEP)
        return p2, objective, 2 if extrapolated is None else 3


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
    accelerate: str | None = None,
    init_iter: int | None = None,
    init_keep: int = 1,
) -> EMResult:
    """Fit by EM from n_init starts (or from ``start``) and return the best run.

    ``start`` (warm start) skips initialisation and runs once. The best run is the one
    with the highest ``problem.final_score`` (by default its last lower bound). A callback
    returning True stops the current run early (it is then not converged).

    ``accelerate="squarem"`` runs SQUAREM cycles (see _Squarem) instead of single EM
    steps: ``max_iter`` and ``n_iter`` then count E passes (each cycle uses up to three),
    the history, the callback, the verbose lines and the convergence test see one entry
    per cycle, the objective at the cycle's start.

    ``init_iter`` (with n_init > 1) runs every start for ``init_iter`` E passes first and
    continues only the ``init_keep`` best of them (by ``final_score``) to convergence or
    ``max_iter`` E passes in all (Biernacki, Celeux & Govaert 2003, "emEM"); the best
    of those at the end is kept.
    """
    converged_test = getattr(problem, "converged", _default_converged)
    final_score = getattr(problem, "final_score", lambda params, objective: objective)
    report = getattr(problem, "report", None) or Report()

    def say(line):
        if verbose and line is not None:
            print(line)

    def advance(run, limit):
        """Iterate ``run`` until it converges, a callback stops it, or it has done
        ``limit`` E passes."""
        while run.n_iter < limit and not (run.converged or run.stopped):
            t0 = time.perf_counter()
            previous = run.lower_bound
            if run.squarem is None:
                new_params, run.lower_bound = em_map(problem, run.params)
                run.n_iter += 1
            else:
                new_params, run.lower_bound, used = run.squarem.cycle(
                    run.params, limit - run.n_iter)
                run.n_iter += used
            run.history.append(run.lower_bound)
            change = run.lower_bound - previous
            elapsed = time.perf_counter() - t0
            cycles = len(run.history)     # = n_iter without acceleration
            if verbose and (cycles % verbose_interval == 0 or verbose >= 2 or cycles == 1):
                say(report.iteration(run.init, run.n_iter, run.lower_bound, change,
                                     elapsed))
            run.stopped = callback is not None and callback(IterationInfo(
                run.init, run.n_iter, float(run.lower_bound), float(change), elapsed)) is True
            run.converged = bool(converged_test(change, tol, run.params, new_params))
            run.params = new_params
        say(report.end(run.init, run.converged, run.n_iter, run.lower_bound,
                       time.perf_counter() - run.started))
        return run

    def begin(init):
        say(report.start(init))
        params = start if start is not None else problem.initialize(random_state)
        say(report.initialized(init))
        return _Run(init, params, start_lower_bound if start is not None else -np.inf,
                    _Squarem(problem) if accelerate == "squarem" else None)

    def result(run):
        return EMResult(run.params, run.lower_bound, run.history, run.converged,
                        run.n_iter, final_score(run.params, run.lower_bound))

    runs = 1 if start is not None else n_init
    best: EMResult | None = None
    if init_iter is not None and runs > 1 and init_iter < max_iter:
        # short runs (emEM): every start runs init_iter iterations, the best continues
        short = [advance(begin(init), init_iter) for init in range(runs)]
        scores = [final_score(r.params, r.lower_bound) for r in short]
        order = sorted(range(runs), key=lambda i: (scores[i], -i), reverse=True)
        for i in sorted(order[:max(1, min(runs, init_keep))]):
            say(report.start(short[i].init))
            candidate = result(advance(short[i], max_iter))
            if best is None or candidate.score > best.score:
                best = candidate
    for init in range(runs if best is None else 0):
        candidate = result(advance(begin(init), max_iter))
        if best is None or candidate.score > best.score:
            best = candidate
    assert best is not None  # runs >= 1
    if warn and not best.converged and max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. Try different init "
            "parameters, or increase max_iter, tol, or check for degenerate data.",
            interoperable(ConvergenceWarning),
            stacklevel=3,
        )
    return best
