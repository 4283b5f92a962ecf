"""fastem.em: EM for any model, on the shared driver.

The user's E- and M-steps become a driver problem (_UserProblem), so that restarts, the
convergence test, the history, verbose lines, callbacks, SQUAREM and the
ConvergenceWarning are the built-in models' own (fastem._engine.run_em). The generalised
EM M-step maximises the user's Q with scipy.optimize.minimize, imported only when used.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._engine import ACCELERATIONS, IterationInfo, run_em
from ._validation import check_float, check_int, check_option, check_random_state

Theta = TypeVar("Theta")

# what a user's function raises at a point it cannot evaluate (outside the parameter
# space): at an extrapolated point the driver then takes a shorter step or plain EM
_REFUSALS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


class _Required:
    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: Any = _Required()


@dataclass(frozen=True)
class EMFit(Generic[Theta]):
    """The result of :func:`fastem.em`: the estimate, its log-likelihood and the history.

    A frozen dataclass: :func:`fastem.em` builds it, you read its attributes. With
    ``n_init > 1`` it describes the run whose final log-likelihood is highest.

    Parameters
    ----------
    theta : object
        The estimate, of the structure of the parameters that ``m_step`` returns.
    log_likelihood : float
        The observed-data log-likelihood at ``theta``.
    history : ndarray of shape (n_entries,)
        The log-likelihood at the parameters each iteration started from.
    n_iter : int
        The number of E-steps of the iterations.
    converged : bool
        Whether the convergence test was met.

    Attributes
    ----------
    theta : object
        The estimate: the parameters after the last iteration, of the structure that
        ``m_step`` returns (a float, an array, a tuple or dict of arrays, ...).
    log_likelihood : float
        The observed-data log-likelihood at ``theta``, from one more evaluation after
        the last iteration (``log_likelihood(theta)``, or ``e_step(theta)``'s second
        item). With EM it is at least ``history[-1]``.
    history : ndarray of shape (n_entries,)
        The log-likelihood at the parameters each iteration started from (float64): one
        entry per EM iteration, or per SQUAREM cycle with ``accelerate="squarem"``. It
        never decreases (up to rounding, and to the accuracy of the numerical M-step with
        ``q``).
    n_iter : int
        The number of E-steps the iterations used: ``len(history)`` for plain EM, two or
        three per cycle for SQUAREM. The final evaluation is not counted.
    converged : bool
        Whether the relative change of the log-likelihood fell below ``tol`` within
        ``max_iter`` E-steps (False too when a ``callback`` stopped the run).

    See Also
    --------
    em : Returns an EMFit.

    Examples
    --------
    Exponential lifetimes, two of them right-censored: a censored lifetime ``T > c``
    is ``c + 1/rate`` on average, and the M-step divides the count by the expected
    total time.

    >>> import numpy as np
    >>> import fastem
    >>> times = np.array([2.0, 0.5, 3.0, 1.5])
    >>> censored = np.array([False, False, True, True])
    >>> def e_step(rate):
    ...     expected_total = times.sum() + censored.sum() / rate
    ...     loglik = (~censored).sum() * np.log(rate) - rate * times.sum()
    ...     return expected_total, loglik
    >>> fit = fastem.em(e_step, lambda expected_total: 4 / expected_total, 1.0,
    ...                 tol=1e-12)
    >>> print(f"{fit.theta:.6f} {2 / 7:.6f}", fit.converged, fit.n_iter)
    0.285714 0.285714 True 21
    >>> fit.history[:3].round(4)
    array([-7.    , -4.733 , -4.5469])
    """

    theta: Theta
    log_likelihood: float
    history: NDArray[np.float64]
    n_iter: int
    converged: bool


def em(
    e_step: Callable[[Theta], Any],
    m_step: Callable[[Any], Theta] | None = None,
    theta0: Theta | Callable[[Any], Theta] = _REQUIRED,
    *,
    log_likelihood: Callable[[Theta], float] | None = None,
    q: Callable[[Theta, Any], float] | None = None,
    q_grad: Callable[[Theta, Any], Any] | None = None,
    minimize_options: Mapping[str, Any] | None = None,
    accelerate: str | None = None,
    pack: Callable[[Theta], ArrayLike] | None = None,
    unpack: Callable[[NDArray[np.float64]], Theta] | None = None,
    tol: float = 1e-8,
    max_iter: int = 1000,
    n_init: int = 1,
    init_iter: int | None = None,
    random_state: Any = None,
    callback: Callable[[IterationInfo], Any] | None = None,
    verbose: int = 0,
    verbose_interval: int = 10,
) -> EMFit[Theta]:
    """Maximum likelihood by EM for any model, given its E-step and M-step.

    Iterates ``theta = m_step(e_step(theta))`` on fastem's EM driver, the one the
    built-in models use: the same convergence test, history, restarts, verbose lines,
    callback (with :class:`IterationInfo`), SQUAREM acceleration and
    :class:`ConvergenceWarning`. Where the M-step has no closed form, give ``q``, the
    expected complete-data log-likelihood, instead of ``m_step``: the M-step then
    maximises it numerically (generalised EM).

    Parameters
    ----------
    e_step : callable
        ``e_step(theta)``: the expected sufficient statistics of the complete data
        given the observed data at ``theta``, of any type that ``m_step`` (or ``q``)
        takes. Without ``log_likelihood`` it returns the pair ``(stats, loglik)``,
        ``loglik`` being the observed-data log-likelihood at ``theta`` (most E-steps
        compute it on the way); with ``log_likelihood`` it returns ``stats`` alone.
    m_step : callable, optional
        ``m_step(stats)``: the parameters that maximise the expected complete-data
        log-likelihood given ``stats``. Omit it, and give ``q``, for generalised EM.
    theta0 : object or callable
        The initial parameters: a float, a numpy array, a tuple, list or dict of them,
        or anything else when neither SQUAREM nor ``q`` has to flatten it (or when
        ``pack`` and ``unpack`` are given). A callable is an initialiser
        ``theta0(random_state)`` that returns initial parameters; it is called once per
        run, with one generator for all ``n_init`` runs.
    log_likelihood : callable, optional
        ``log_likelihood(theta)``: the observed-data log-likelihood at ``theta``. When
        given, ``e_step`` returns the statistics alone and this is called once per
        E-step; when omitted (the default), ``e_step`` returns ``(stats, loglik)``.
    q : callable, optional
        ``q(theta, stats)``: the expected complete-data log-likelihood at ``theta`` given
        the statistics of the E-step (Q of Dempster, Laird and Rubin, up to terms free
        of ``theta``). With ``q`` and no ``m_step``, every M-step maximises
        ``q(., stats)`` by ``scipy.optimize.minimize`` from the current parameters, in
        the coordinates ``pack`` gives (the flattened parameters by default), and keeps
        the result unless it decreases ``q``. Needs scipy.
    q_grad : callable, optional
        ``q_grad(theta, stats)``: the gradient of ``q`` with respect to the optimised
        vector ``pack(theta)``: with the default ``pack`` a value of the structure of
        ``theta`` (the gradient with respect to each entry), with your own ``pack`` a
        1-d array like ``pack(theta)``. Without it scipy differentiates numerically.
    minimize_options : mapping, optional
        Keyword arguments for ``scipy.optimize.minimize`` (``method``, ``tol``,
        ``options``, ``bounds``, ...; not ``fun``, ``x0`` or ``jac``). By default scipy's
        defaults (BFGS without bounds).
    accelerate : {None, 'squarem'}, default=None
        'squarem' accelerates EM with SQUAREM (Varadhan and Roland, 2008), the driver's
        S3 steplength with its monotonicity safeguard: each cycle extrapolates from two
        EM steps in the coordinates of ``pack`` and is kept only when the
        log-likelihood at the extrapolated point is no lower. A point where your
        functions raise ValueError or an ArithmeticError (FloatingPointError,
        ZeroDivisionError, OverflowError), or give a non-finite log-likelihood, is
        refused: the cycle takes a shorter step or ends as plain EM. ``max_iter``,
        ``n_iter`` and the callback count E-steps; the history has one entry per cycle.
    pack : callable, optional
        ``pack(theta)``: a 1-d float array of coordinates of the parameters, for
        SQUAREM's extrapolation and ``q``'s optimisation; best unconstrained ones, in
        which every vector is valid parameters (e.g. the logit of a probability, the log
        of a rate). By default the parameters flattened (a float, an array, or the
        arrays of a tuple, list or dict in order). Give ``unpack`` with it.
    unpack : callable, optional
        ``unpack(vector)``: the parameters with coordinates ``vector``, the inverse of
        ``pack``. It may raise ValueError to refuse a vector (SQUAREM then takes a
        shorter step).
    tol : float, default=1e-8
        Convergence threshold on the relative change of the log-likelihood: a run
        stops after the iteration (or SQUAREM cycle) whose log-likelihood ``l`` differs
        from the previous one by less than ``tol * max(abs(l), 1)`` (relative, but
        absolute for log-likelihoods below 1 in magnitude). ``tol=0`` runs
        ``max_iter`` E-steps.
    max_iter : int, default=1000
        The most E-steps per run.
    n_init : int, default=1
        The number of runs, each from ``theta0(random_state)``; the one with the highest
        final log-likelihood is returned. More than 1 needs a callable ``theta0``.
    init_iter : int, optional
        With ``n_init > 1``: every run first does ``init_iter`` E-steps, and only the one
        with the highest log-likelihood then continues, to convergence or ``max_iter``
        E-steps in all (short runs, the "emEM" of Biernacki, Celeux and Govaert,
        2003), so that many starts cost little more than one. By default every run goes
        to convergence.
    random_state : int, numpy RandomState or Generator, default=None
        What a callable ``theta0`` draws from: a RandomState made from None or an int
        (as the estimators do), or the RandomState or Generator given.
    callback : callable, optional
        Called after every iteration of every run with an :class:`IterationInfo`
        (``lower_bound`` is the log-likelihood); returning True stops that run.
    verbose : int, default=0
        1 prints a line per run and one every ``verbose_interval`` iterations, 2 or more
        one every iteration.
    verbose_interval : int, default=10
        Iterations between progress lines when ``verbose == 1``.

    Returns
    -------
    EMFit
        The estimate ``theta``, its ``log_likelihood``, the ``history``, ``n_iter`` (the
        number of E-steps) and ``converged``.

    Raises
    ------
    ValueError
        For an invalid argument (the message names it), and when the log-likelihood at
        an iterate is not finite.
    TypeError
        When an argument is of the wrong type, or ``e_step`` does not return
        ``(stats, loglik)`` though ``log_likelihood`` is not given.
    ImportError
        When ``q`` is given and scipy is not installed.

    Warns
    -----
    ConvergenceWarning
        When the best run did not converge within ``max_iter`` E-steps.

    See Also
    --------
    EMFit : The result.
    IterationInfo : What ``callback`` receives.

    Notes
    -----
    The monitored objective is the observed-data log-likelihood at the parameters each
    iteration starts from, as for the built-in models' ``lower_bounds_``; EM never
    decreases it. Convergence is judged on it, not on the parameters: a relative change
    of ``tol`` leaves the parameters about ``sqrt(tol)`` (relative) from the maximum
    when EM converges slowly, so ask a small ``tol`` (or ``tol=0`` and a fixed
    ``max_iter``) for many correct digits.

    References
    ----------
    Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from
    incomplete data via the EM algorithm. J. R. Statist. Soc. B 39, 1-38.

    Varadhan, R. and Roland, C. (2008). Simple and globally convergent methods for
    accelerating the convergence of any EM algorithm. Scand. J. Statist. 35, 335-353.

    Examples
    --------
    The genetic-linkage example of Dempster, Laird and Rubin (1977): 197 animals in four
    cells with probabilities (1/2 + t/4, (1 - t)/4, (1 - t)/4, t/4). The first cell is
    the sum of two latent ones, of probabilities 1/2 and t/4; the E-step splits its
    count, the M-step is the binomial proportion of the complete data.

    >>> import numpy as np
    >>> import fastem
    >>> y = np.array([125, 18, 20, 34])
    >>> def e_step(t):
    ...     latent = y[0] * (t / 4) / (1 / 2 + t / 4)
    ...     probabilities = np.array([1 / 2 + t / 4, (1 - t) / 4, (1 - t) / 4, t / 4])
    ...     return latent, float(y @ np.log(probabilities))
    >>> def m_step(latent):
    ...     return (latent + y[3]) / (latent + y[1] + y[2] + y[3])
    >>> fit = fastem.em(e_step, m_step, 0.5, tol=1e-12)
    >>> print(f"{fit.theta:.9f}", fit.n_iter, fit.converged)
    0.626821484 8 True

    The maximum is the positive root of 197 t^2 - 15 t - 68 (the score equation); EM
    stopped 1.4e-8 short of it, where the log-likelihood changes by less than ``tol``
    (relative). SQUAREM, with the same ``tol``, lands on it:

    >>> print(f"{(15 + np.sqrt(15**2 + 4 * 197 * 68)) / 394:.9f}")
    0.626821498
    >>> fast = fastem.em(e_step, m_step, 0.5, tol=1e-12, accelerate="squarem")
    >>> print(f"{fast.theta:.9f}", fast.n_iter)
    0.626821498 10

    Generalised EM: the same model with Q instead of the M-step, maximised numerically
    (scipy) in the logit of t, where every value is a probability:

    >>> def q(t, latent):
    ...     return (latent + y[3]) * np.log(t) + (y[1] + y[2]) * np.log(1 - t)
    >>> gem = fastem.em(e_step, theta0=0.5, q=q, tol=1e-12,
    ...                 pack=lambda t: [np.log(t / (1 - t))],
    ...                 unpack=lambda u: float(1 / (1 + np.exp(-u[0]))))
    >>> print(f"{gem.theta:.6f}")
    0.626821
    """
    if accelerate is not None:
        check_option(accelerate, "accelerate", ACCELERATIONS[1:])
    tol = check_float(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    n_init = check_int(n_init, "n_init", minimum=1)
    init_iter = check_int(init_iter, "init_iter", minimum=1, allow_none=True)
    verbose = check_int(verbose, "verbose", minimum=0)
    verbose_interval = check_int(verbose_interval, "verbose_interval", minimum=1)
    if not isinstance(random_state, np.random.Generator):
        random_state = check_random_state(random_state)
    problem = _checked_problem(e_step, m_step, theta0, log_likelihood, q, q_grad,
                               minimize_options, pack, unpack, n_init, callback)
    problem.flattens = accelerate is not None or q is not None
    best = run_em(problem, n_init=n_init, max_iter=max_iter, tol=tol,
                  random_state=random_state, verbose=verbose,
                  verbose_interval=verbose_interval, callback=problem.record,
                  accelerate=accelerate, init_iter=init_iter)
    history = np.array(best.lower_bounds, dtype=np.float64)
    history.flags.writeable = False
    return EMFit(theta=best.params, log_likelihood=float(best.score), history=history,
                 n_iter=int(best.n_iter), converged=bool(best.converged))


def _checked_problem(e_step, m_step, theta0, log_likelihood, q, q_grad, minimize_options,
                     pack, unpack, n_init, callback):
    for name, value in (("e_step", e_step), ("m_step", m_step),
                        ("log_likelihood", log_likelihood), ("q", q), ("q_grad", q_grad),
                        ("pack", pack), ("unpack", unpack), ("callback", callback)):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be callable, got {value!r}")
    if e_step is None:
        raise TypeError("e_step must be callable, got None")
    if theta0 is _REQUIRED:
        raise TypeError("em() missing the initial parameters theta0")
    if m_step is not None and q is not None:
        raise ValueError("give m_step (a closed-form M-step) or q (maximised numerically, "
                         "generalised EM), not both")
    if m_step is None and q is None:
        raise ValueError("give m_step, the M-step, or q, the expected complete-data "
                         "log-likelihood to maximise numerically (generalised EM)")
    if q is None and (q_grad is not None or minimize_options is not None):
        name = "q_grad" if q_grad is not None else "minimize_options"
        raise ValueError(f"{name} is for the numerical M-step: give q (and no m_step)")
    if (pack is None) != (unpack is None):
        raise ValueError("pack and unpack must be given together (unpack inverts pack)")
    options: dict[str, Any] = {}
    if minimize_options is not None:
        if not isinstance(minimize_options, Mapping):
            raise TypeError("minimize_options must be a mapping of keyword arguments for "
                            f"scipy.optimize.minimize, got {minimize_options!r}")
        options = dict(minimize_options)
        taken = sorted({"fun", "x0", "jac", "args"} & set(options))
        if taken:
            raise ValueError(f"minimize_options may not set {', '.join(taken)}: fastem "
                             "passes them (give the gradient as q_grad)")
    if n_init > 1 and not callable(theta0):
        raise ValueError(f"n_init={n_init} restarts need theta0 to be a callable "
                         "theta0(random_state) returning initial parameters")
    minimize = _scipy_minimize() if q is not None else None
    return _UserProblem(e_step, m_step, theta0, log_likelihood, q, q_grad, minimize,
                        options, pack, unpack, callback)


def _scipy_minimize():
    try:
        from scipy.optimize import minimize
    except ImportError as exc:    # pragma: no cover - scipy is installed where tests run
        raise ImportError("the numerical M-step of fastem.em (q=...) needs scipy: "
                          "pip install scipy") from exc
    return minimize


class _UserProblem:
    """The driver's problem for user functions (see fastem._engine): step = E then M,
    the objective the log-likelihood at the step's start; SQUAREM's coordinates from
    pack/unpack; the final score the log-likelihood at the run's estimate."""

    def __init__(self, e_step, m_step, theta0, log_likelihood, q, q_grad, minimize, options,
                 pack, unpack, callback=None):
        self.e_step = e_step
        self.m_step = m_step
        self.theta0 = theta0
        self.log_likelihood = log_likelihood
        self.q = q
        self.q_grad = q_grad
        self.minimize = minimize
        self.options = options
        self.user_pack = pack
        self.user_unpack = unpack
        self.callback: Callable[[IterationInfo], Any] | None = callback
        self.lower_bound = -np.inf     # of the driver's latest iteration (see record)
        self.extrapolated: Any = None  # the latest point SQUAREM extrapolated to
        self.flattens = q is not None  # SQUAREM or q: initialize checks that pack works

    # -- the driver's interface ---------------------------------------------------------
    def initialize(self, random_state):
        theta = self.theta0(random_state) if callable(self.theta0) else self.theta0
        if self.flattens:
            self.pack(theta)
        return theta

    def step(self, theta):
        if theta is not self.extrapolated:
            stats, loglik = self.evaluate(theta, "theta")
            return self.maximize(stats, theta), loglik
        # A point of SQUAREM's: outside the parameter space the user's functions may
        # raise, warn or return nan; any of those refuses it (the driver catches these).
        self.extrapolated = None
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                stats, loglik = self.evaluate(theta, "the extrapolated theta")
                return self.maximize(stats, theta), loglik
            except (ArithmeticError, np.linalg.LinAlgError) as exc:
                raise FloatingPointError(str(exc)) from exc

    def record(self, info):
        """The driver's callback: keeps the iteration's log-likelihood for converged()
        (which the driver calls next), then calls the user's callback."""
        self.lower_bound = info.lower_bound
        return None if self.callback is None else self.callback(info)

    def converged(self, change, tol, old, new):
        # relative to the log-likelihood, absolute where it is below 1 in magnitude
        return abs(change) < tol * max(abs(self.lower_bound), 1.0)

    def final_score(self, theta, objective):
        if self.log_likelihood is not None:
            return self._loglik(self.log_likelihood(theta), "log_likelihood")
        return self._pair(self.e_step(theta))[1]

    def pack(self, theta):
        if self.user_pack is None:
            return flatten(theta)
        vector = np.asarray(self.user_pack(theta), dtype=np.float64)
        if vector.ndim != 1:
            raise TypeError(f"pack must return a 1-d array, got shape {vector.shape}")
        return vector

    def unpack(self, vector, like):
        # only SQUAREM's extrapolations come here: step() knows them by identity
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                self.extrapolated = self._unpack(vector, like)
            except ArithmeticError as exc:    # e.g. math.exp's OverflowError
                raise FloatingPointError(str(exc)) from exc
        return self.extrapolated

    # -- the steps --------------------------------------------------------------------
    def _unpack(self, vector, like):
        if self.user_unpack is None:
            return unflatten(vector, like)
        return self.user_unpack(vector.copy())

    def evaluate(self, theta, where):
        """(stats, loglik) at theta; a ValueError when loglik is not finite."""
        if self.log_likelihood is None:
            stats, loglik = self._pair(self.e_step(theta))
        else:
            stats = self.e_step(theta)
            loglik = self._loglik(self.log_likelihood(theta), "log_likelihood")
        if not np.isfinite(loglik):
            raise ValueError(f"the log-likelihood at {where} is {loglik}: EM needs a finite "
                             f"log-likelihood at every iterate (theta = {_short(theta)})")
        return stats, loglik

    def _pair(self, out):
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("e_step must return the pair (stats, loglik) when "
                            "log_likelihood is not given; got "
                            f"{type(out).__name__} {_short(out)}")
        return out[0], self._loglik(out[1], "e_step's log-likelihood")

    @staticmethod
    def _loglik(value, name):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {_short(value)}") from None

    def maximize(self, stats, theta):
        if self.m_step is not None:
            return self.m_step(stats)
        return self._numerical_m_step(stats, theta)

    def _numerical_m_step(self, stats, theta):
        """Generalised EM: maximise q(., stats) from theta; keep theta if q decreases."""
        q, start = self.q, self.pack(theta)

        def negative_q(u):
            with np.errstate(all="ignore"):
                try:
                    value = float(q(self._unpack(u, theta), stats))
                except _REFUSALS:
                    return np.inf
            return -value if np.isfinite(value) else np.inf

        jac = None
        if self.q_grad is not None:
            q_grad = self.q_grad

            def jac(u):
                point = self._unpack(u, theta)
                grad = q_grad(point, stats)
                grad = (flatten(grad) if self.user_pack is None
                        else np.asarray(grad, dtype=np.float64).ravel())
                if grad.shape != u.shape:
                    raise ValueError(f"q_grad must return the gradient with respect to the "
                                     f"{u.size} coordinates of pack(theta), got "
                                     f"{grad.size} values")
                return -grad

        at_start = negative_q(start)
        if not np.isfinite(at_start):
            raise ValueError(f"q is not finite at the current theta = {_short(theta)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = self.minimize(negative_q, start, jac=jac, **self.options)
        x = np.asarray(result.x, dtype=np.float64)
        # near the maximum q's gain is below its rounding: no worse is good enough
        if not (np.all(np.isfinite(x)) and negative_q(x) <= at_start):
            return theta
        return self._unpack(x, theta)


# -- the default coordinates: parameters flattened ---------------------------------------
def flatten(theta) -> NDArray[np.float64]:
    """The float64 entries of a float, an array, or (recursively) a tuple, list or dict
    of them, in order: the default ``pack``."""
    parts: list[NDArray[np.float64]] = []
    _collect(theta, parts, "theta")
    return np.concatenate(parts) if parts else np.empty(0)


def _collect(value, parts, where):
    if isinstance(value, Mapping):
        for key, item in value.items():
            _collect(item, parts, f"{where}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            _collect(item, parts, f"{where}[{i}]")
    elif isinstance(value, (numbers.Real, np.ndarray, np.generic)) and not isinstance(
            value, (bool, np.bool_)):
        array = np.asarray(value)
        if not (np.issubdtype(array.dtype, np.floating)
                or np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"{where} has dtype {array.dtype}: the default pack flattens "
                            "real numbers only; give pack= and unpack=")
        parts.append(array.astype(np.float64).ravel())
    else:
        raise TypeError(f"{where} is a {type(value).__name__}: SQUAREM and q work on the "
                        "parameters flattened, and by default fastem flattens floats, "
                        "numpy arrays and tuples, lists or dicts of them; give pack= and "
                        "unpack= for other parameters")


def unflatten(vector, like):
    """The parameters of the structure of ``like`` with entries ``vector`` (floats become
    Python floats, arrays float64 arrays of like's shape): the default ``unpack``."""
    value, used = _rebuild(np.asarray(vector, dtype=np.float64), 0, like)
    if used != len(vector):
        raise ValueError(f"the vector has {len(vector)} entries, the parameters {used}")
    return value


def _rebuild(vector, offset, like):
    if isinstance(like, Mapping):
        items = {}
        for key, item in like.items():
            items[key], offset = _rebuild(vector, offset, item)
        return (items if type(like) is dict else type(like)(items)), offset
    if isinstance(like, (tuple, list)):
        values = []
        for item in like:
            value, offset = _rebuild(vector, offset, item)
            values.append(value)
        if hasattr(like, "_fields"):     # a namedtuple
            return type(like)(*values), offset
        return type(like)(values), offset
    if isinstance(like, np.ndarray):
        size = like.size
        return vector[offset:offset + size].reshape(like.shape).copy(), offset + size
    return float(vector[offset]), offset + 1


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


__all__ = ["EMFit", "em"]

