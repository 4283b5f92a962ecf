"""What every hidden Markov model shares: sequences, Baum-Welch on the EM driver,
scoring, decoding and sampling. Models add only their emissions.

Baum-Welch is a driver problem (_BaumWelch): a source of blocks of whole sequences,
the E-step of a block (hmm._stats.hmm_e_step, its HMMStats summed in block order) and
the M-step from their sum.
"""

from __future__ import annotations

import copy
import functools
import logging
import numbers
import sys
from collections import deque
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import ParamsMixin, information_criteria
from .._engine import ACCELERATIONS, MAX_SHRINK, commit, run_em
from .._kernels import _hmm
from .._kernels._parallel import effective_n_threads
from .._sources import (
    INIT_SAMPLE_ROWS,
    Chunks,
    SequenceArraySource,
    is_dask_bag,
    sequence_starts,
)
from .._validation import (
    PARAMETER_COPIES,
    check_int,
    check_is_fitted,
    check_memory,
    check_option,
    check_random_state,
)
from ._stats import (
    HMMParams,
    emission_batches,
    forward_backward,
    hmm_e_step,
    largest_batch,
)

# hmmlearn's warnings (too little data, a set parameter that init_params overwrites)
# are logged, as hmmlearn logs them
_log = logging.getLogger("fastem.hmm")

DECODER_ALGORITHMS = ("viterbi", "map")


class ConvergenceMonitor:
    """Monitor the convergence of a Baum-Welch fit, as hmmlearn's ConvergenceMonitor.

    A fit reports each iteration's log-likelihood to its model's ``monitor_`` (see
    ``report``) and stops when ``converged`` is True, after at most the model's
    ``n_iter`` iterations. Every GaussianHMM and CategoricalHMM has a ``monitor_`` from
    its construction, made from its ``tol``, ``n_iter`` and ``verbose``; setting one of
    these on the model (``set_params`` included) sets it on ``monitor_`` too.

    To change when fits stop, set ``monitor_.tol``, or set as the model's ``monitor_``,
    before fit, an instance of a subclass that redefines ``converged`` (or ``report``).
    A fit works on a reset copy of ``monitor_`` (``iter`` 0, ``history`` empty), which
    it stores as the model's ``monitor_`` when it succeeds: a failed fit leaves
    ``monitor_`` as it was.

    Parameters
    ----------
    tol : float
        The convergence threshold: ``converged`` is True once the log-likelihood has
        gained less than ``tol`` (a loss included) from one iteration to the next.
        -inf never stops early.

    n_iter : int
        The maximum number of iterations: ``converged`` is True once ``n_iter``
        iterations have been reported.

    verbose : bool
        If True, ``report`` prints a row of hmmlearn's table to stderr for every
        iteration.

    Attributes
    ----------
    history : collections.deque of float
        The log-likelihood reported by each iteration, in order: the log-likelihood of
        the data at the parameters before that iteration's M-step.

    iter : int
        The number of iterations reported.

    tol : float
        The convergence threshold, as given (a model sets it with its own ``tol``).

    n_iter : int
        The maximum number of iterations, as given.

    verbose : bool
        Whether ``report`` prints, as given.

    See Also
    --------
    fastem.GaussianHMM : Hidden Markov model with Gaussian emissions.
    fastem.CategoricalHMM : Hidden Markov model with categorical emissions.

    Examples
    --------
    >>> from fastem import GaussianHMM
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> model = GaussianHMM(n_components=2, n_iter=100, random_state=0).fit(X)
    >>> model.monitor_.converged, model.monitor_.iter
    (True, 8)
    >>> print([round(value, 1) for value in model.monitor_.history][:4])
    [-1462.0, -1175.2, -1131.5, -1123.0]

    A monitor that stops when the gain is small relative to the log-likelihood:

    >>> from fastem.hmm import ConvergenceMonitor
    >>> class RelativeMonitor(ConvergenceMonitor):
    ...     @property
    ...     def converged(self):
    ...         h = self.history
    ...         return self.iter == self.n_iter or (
    ...             len(h) >= 2 and h[-1] - h[-2] < self.tol * abs(h[-1]))
    >>> model = GaussianHMM(n_components=2, n_iter=100, random_state=0)
    >>> model.monitor_ = RelativeMonitor(tol=1e-3, n_iter=100, verbose=False)
    >>> type(model.fit(X).monitor_).__name__, model.monitor_.iter
    ('RelativeMonitor', 7)
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol: float, n_iter: int, verbose: bool) -> None:
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history: deque[float] = deque()
        self.iter = 0

    def __repr__(self) -> str:
        params = sorted(dict(vars(self), history=list(self.history)).items())
        body = "".join(f"    {k}={v},\n" for k, v in params)
        return f"{type(self).__name__}(\n{body})"

    def _reset(self) -> None:
        self.iter = 0
        self.history.clear()

    def report(self, log_prob: float) -> None:
        """Record the log-likelihood of one iteration.

        Append ``log_prob`` to ``history`` and add one to ``iter``. When ``verbose``,
        first print to stderr a row of hmmlearn's table: the iteration's number,
        ``log_prob`` and its change from the previous iteration's (nan for the first).

        Parameters
        ----------
        log_prob : float
            The log-likelihood of the data at the iteration's parameters, before its
            M-step.

        See Also
        --------
        converged : Whether the fit has converged.

        Examples
        --------
        >>> import contextlib
        >>> import sys
        >>> from fastem.hmm import ConvergenceMonitor
        >>> monitor = ConvergenceMonitor(tol=0.01, n_iter=10, verbose=True)
        >>> with contextlib.redirect_stderr(sys.stdout):   # show the table here
        ...     monitor.report(-1462.05)
        ...     monitor.report(-1175.23)
                 1   -1462.05000000             +nan
                 2   -1175.23000000    +286.82000000
        >>> monitor.history, monitor.iter
        (deque([-1462.05, -1175.23]), 2)
        """
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                  file=sys.stderr)
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self) -> bool:
        """Whether the fit has converged: True when it should stop.

        True once ``n_iter`` iterations have been reported, or when the last two
        log-likelihoods of ``history`` differ by less than ``tol``
        (``history[-1] - history[-2] < tol``, so a loss counts as converged); else False.
        A subclass may redefine it to change when fits stop.

        See Also
        --------
        report : Record the log-likelihood of one iteration.

        Examples
        --------
        >>> from fastem.hmm import ConvergenceMonitor
        >>> monitor = ConvergenceMonitor(tol=0.01, n_iter=10, verbose=False)
        >>> monitor.report(-1113.5513)
        >>> monitor.converged
        False
        >>> monitor.report(-1113.5423)
        >>> monitor.converged
        True
        >>> ConvergenceMonitor(tol=0.01, n_iter=0, verbose=False).converged
        True
        """
        return (self.iter == self.n_iter
                or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol))


def _normalize_rows(counts, previous):
    """Rows of counts scaled to sum to one; a row with nothing in it keeps ``previous``."""
    sums = counts.sum(axis=-1, keepdims=True)
    empty = ~(sums > 0)
    out = counts / np.where(empty, 1.0, sums)
    return np.where(empty, previous, out)


def required(value, name, letter):
    """value, or a ValueError saying that the parameter ``name`` is not set."""
    if value is None:
        raise ValueError(f"{name} is not set: fit the model, or set {name} (and leave "
                         f"'{letter}' out of init_params)")
    return value


def _check_stochastic(value, name, shape):
    """A checked float64 copy of a probability vector or row-stochastic matrix."""
    arr = np.array(value, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise ValueError(f"{name} must hold finite probabilities >= 0")
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1):
        what = "must sum to 1" if arr.ndim == 1 else "rows must sum to 1"
        raise ValueError(f"{name} {what} (got {np.array2string(np.atleast_1d(sums))})")
    return np.ascontiguousarray(arr)


class _BaumWelch:
    """The EM problem the driver runs for a hidden Markov model on a source of blocks
    of whole sequences; ``monitor`` (a ConvergenceMonitor) hears every iteration and
    decides convergence."""

    def __init__(self, model, source, n_threads, monitor=None):
        self.model = model
        self.source = source
        self.n_features = source.n_features
        self.n_threads = n_threads
        self.monitor = monitor
        self.e_step = functools.partial(hmm_e_step, emission=model._emission_pass(),
                                        transitions="t" in model.params,
                                        n_threads=n_threads)

    def record(self, info):
        """The driver's callback: the monitor records (and, verbose, prints) the
        iteration's log-likelihood; ``iter`` counts E-steps (several per SQUAREM
        cycle)."""
        self.monitor.report(info.lower_bound)
        self.monitor.iter = info.n_iter

    def initialize(self, random_state):
        return self.model._initial_params(self.source, self.n_features)

    def m_step(self, stats):
        """The parameters from the statistics of all the sequences (hmmlearn's M-step,
        with its Dirichlet priors); those not in ``params`` are kept."""
        if not np.isfinite(stats.loglik):
            raise ValueError("The data has probability zero under the current parameters "
                             "(some observation cannot be emitted from any reachable state); "
                             "check startprob_, transmat_ and the emission parameters.")
        model, params = self.model, stats.params
        letters = model.params
        startprob, transmat = params.startprob, params.transmat
        if "s" in letters:
            new = np.maximum(model.startprob_prior - 1 + stats.start, 0)
            new = np.where(startprob == 0, 0, new)
            startprob = _normalize_rows(new, startprob)
        if "t" in letters:
            new = np.maximum(model.transmat_prior - 1 + stats.trans, 0)
            new = np.where(transmat == 0, 0, new)
            transmat = _normalize_rows(new, transmat)
        emission = model._emission_mstep(stats.emission, params.emission)
        return HMMParams(startprob, transmat, emission)

    def objective(self, params, stats):
        """The log-likelihood of the sequences at ``params`` (a total, as hmmlearn's)."""
        return stats.loglik

    # SQUAREM's coordinates: logs of the probabilities (the zeros of the cycle's start
    # stay zero), then the emissions' own
    def pack(self, params):
        return np.concatenate([log_positive(params.startprob), log_positive(params.transmat),
                               self.model._emission_pack(params.emission)])

    def unpack(self, vector, like):
        K = self.model.n_components
        startprob = probabilities_from_logs(vector[:K], like.startprob)
        transmat = probabilities_from_logs(vector[K:K + K * K].reshape(K, K), like.transmat)
        emission = self.model._emission_unpack(vector[K + K * K:], like.emission)
        return HMMParams(startprob, transmat, emission)

    def converged(self, change, tol, old, new):
        # hmmlearn's rule (a gain below tol, a loss, or n_iter), or the user's monitor's
        return bool(self.monitor.converged)


def log_positive(p):
    """log p, with the zeros of p at log(tiny) (probabilities_from_logs puts them back)."""
    return np.log(np.maximum(p, np.finfo(np.float64).tiny)).ravel()


def probabilities_from_logs(logs, like):
    """Rows of probabilities exp(logs), normalized, zero where ``like`` is zero; a
    FloatingPointError when some fall below MAX_SHRINK times their value in ``like``."""
    logs = np.where(like > 0, logs, -np.inf)
    top = logs.max(axis=-1, keepdims=True)
    p = np.exp(logs - top)
    p /= p.sum(axis=-1, keepdims=True)
    if not np.isfinite(p).all() or (p < MAX_SHRINK * like).any():
        raise FloatingPointError("the extrapolated probabilities are not finite or too "
                                 "small")
    return p


# the constructor's parameters that a model's monitor_ holds too
_MONITOR_SETTINGS = ("tol", "n_iter", "verbose")
_MONITOR_METHODS = ("_reset", "report", "converged")

# the model's own type, which fit returns, and the type of the values its emission samples
_H = TypeVar("_H", bound="BaseHMM[Any]")
_Emitted = TypeVar("_Emitted", bound=np.generic)


class BaseHMM(ParamsMixin, Generic[_Emitted]):
    """Hidden Markov model API shared by GaussianHMM and CategoricalHMM (hmmlearn's).

    Subclasses provide the emission through the hooks below.

    As hmmlearn's, a model has a ``monitor_`` from its construction; a fit reports to it
    and stops when it says ``converged`` (after at most ``n_iter`` iterations), so a user
    may set ``monitor_.tol`` or replace ``monitor_`` with a ConvergenceMonitor subclass
    before fit. Setting ``tol``, ``n_iter`` or ``verbose`` on the model (set_params
    included) sets it on ``monitor_`` too. A fit works on a copy of ``monitor_``, which
    it stores as ``monitor_`` when it succeeds.
    """

    _emission_letters = ""

    # fitted attributes: fit sets them all at once, at its end (see _engine.commit)
    startprob_: NDArray[np.float64]
    transmat_: NDArray[np.float64]
    monitor_: ConvergenceMonitor

    def __init__(self, n_components: int, startprob_prior: ArrayLike,
                 transmat_prior: ArrayLike, algorithm: str,
                 random_state: int | np.random.RandomState | None, n_iter: int, tol: float,
                 verbose: bool, params: str, init_params: str, implementation: str,
                 n_threads: int | None, accelerate: str | None = None) -> None:
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_threads = n_threads
        self.accelerate = accelerate
        self.monitor_ = ConvergenceMonitor(tol, n_iter, verbose)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _MONITOR_SETTINGS:
            monitor = vars(self).get("monitor_")
            if monitor is not None:
                setattr(monitor, name, value)

    # ----------------------------------------------------------------- emission hooks
    # The hooks never write to the model: a fit works on local values and commits all
    # fitted attributes at its end (fit), so a failed fit changes nothing.
    _emission_attributes: tuple[str, ...] = ()   # the attributes holding the emission

    def _validate_X(self, X, fitting, name="X"):
        """X checked and converted for the kernels (errors name it ``name``)."""
        raise NotImplementedError

    def _fit_n_features(self, X):
        """The number of features (symbols) the fit of validated X works with (of
        several blocks of X: the largest of theirs)."""
        raise NotImplementedError

    def _check_fit_sizes(self, n_samples, n_features):
        """ValueError when the data cannot initialise the model (before any allocation)."""

    def _emission_sizes(self, n_features):
        """{attribute: (number of values, its shape in words)} of the emission arrays."""
        raise NotImplementedError

    def _initial_emission(self, rows, n_features):
        """{attribute: value} of the emission: initialised for the letters in init_params
        (or when unset), else the user's values (checked later by _checked_emission).
        ``rows()`` returns the rows to estimate from (all of X, or a sample of them)."""
        raise NotImplementedError

    def _checked_emission(self, values):
        """The emission parameters from {attribute: value or None}, checked (ValueError
        naming the attribute), as the object the hooks below pass around."""
        raise NotImplementedError

    def _emission_state(self, emission):
        """{attribute: value} that a successful fit sets from its emission parameters."""
        raise NotImplementedError

    def _fitted_n_features(self, emission):
        raise NotImplementedError

    def _emission_pass(self):
        """The emission's EmissionPass (hmm._stats): the log-probabilities and the
        statistics of a batch of rows, with the model's settings (picklable)."""
        raise NotImplementedError

    def _emission_mstep(self, stats, emission):
        """New emission parameters from the summed statistics of the EmissionPass."""
        raise NotImplementedError

    def _sample_emission(self, states, emission, rs):
        raise NotImplementedError

    def _n_emission_scalars(self, n_features) -> dict[str, int]:
        """{letter: number of free scalars} of the emission parameters."""
        raise NotImplementedError

    # ----------------------------------------------------------------- validation
    def _validate_settings(self):
        check_int(self.n_components, "n_components", minimum=1)
        check_int(self.n_iter, "n_iter", minimum=0)
        if not isinstance(self.tol, numbers.Real) or isinstance(self.tol, bool) or (
                np.isnan(self.tol)):
            raise TypeError(f"tol must be a real number (-inf never stops early), "
                            f"got {self.tol!r}")
        check_option(self.algorithm, "algorithm", DECODER_ALGORITHMS)
        check_option(self.implementation, "implementation", ("log", "scaling"))
        letters = "st" + self._emission_letters
        for name in ("params", "init_params"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string of the letters {letters!r}, "
                                f"got {value!r}")
        effective_n_threads(self.n_threads)   # validates it (TypeError, ValueError)
        if self.accelerate is not None:
            check_option(self.accelerate, "accelerate", ACCELERATIONS[1:])

    def _threads(self):
        return effective_n_threads(self.n_threads)

    def _fit_monitor(self):
        """The monitor a fit reports to: a reset copy of monitor_ (so that a failed fit
        leaves monitor_ as it was), or a new one when monitor_ is missing or None."""
        monitor = vars(self).get("monitor_")
        if monitor is None:
            return ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        missing = [name for name in _MONITOR_METHODS if not hasattr(type(monitor), name)]
        if missing:
            raise TypeError(f"monitor_ must be a ConvergenceMonitor (or have its "
                            f"{', '.join(_MONITOR_METHODS)}), got {type(monitor).__name__} "
                            f"without {', '.join(missing)}")
        monitor = copy.deepcopy(monitor)
        monitor._reset()
        return monitor

    def _needs_init(self, code, name):
        return code in self.init_params or not hasattr(self, name)

    def _initializes(self, code, name, attribute=None):
        """_needs_init for the initialisation itself: whether the parameter ``name``
        (held in ``attribute``) is initialised, logging hmmlearn's warning when it is set
        and init_params will overwrite it."""
        if code in self.init_params and hasattr(self, attribute or name):
            _log.warning("Even though the %r attribute is set, it will be overwritten "
                         "during initialization because 'init_params' contains %r",
                         name, code)
        return self._needs_init(code, attribute or name)

    def _warn_if_degenerate(self, n_values, n_features):
        """hmmlearn's warning when X has fewer values than the parameters in ``params``
        have free scalars."""
        n_fit = self._n_fit_scalars(n_features)
        n_scalars = sum(n_fit[letter] for letter in set(self.params) & n_fit.keys())
        if n_values < n_scalars:
            _log.warning("Fitting a model with %d free scalar parameters with only %d data "
                         "points will result in a degenerate solution.", n_scalars, n_values)

    def _check_sizes(self, n_features, rows):
        """ValueError naming n_components (or n_features) when the parameter arrays, with
        the copies a fit holds, and the per-batch buffers (of ``rows``, the largest
        batch's) would not fit in the machine's memory; called before anything of that
        size is allocated."""
        K = self.n_components
        arrays = {"transmat_": (K * K, "n_components x n_components"),
                  **self._emission_sizes(n_features)}
        # bytes: float64 parameters, PARAMETER_COPIES times; per batch of sequences two
        # float64 (rows x states) buffers and Viterbi's int32 backpointers
        need = {name: (8 * PARAMETER_COPIES * count, shape, count)
                for name, (count, shape) in arrays.items()}
        need["the forward-backward buffers"] = (20 * rows * K, "rows of the longest "
                                                "sequence x n_components", rows * K)
        largest = max(need, key=lambda name: need[name][0])
        _, shape, count = need[largest]
        advice = ("reduce n_components or cut X into shorter sequences (lengths)"
                  if largest.startswith("the ") else
                  "reduce n_components" if "n_features" not in shape else
                  "reduce n_components or n_features")
        check_memory(sum(n_bytes for n_bytes, _, _ in need.values()),
                     f"n_components={K} with n_features={n_features} (mostly for "
                     f"{largest}: {shape} = {count} values)", advice)

    def _initial_params(self, source, n_features):
        """Checked starting parameters: drawn or estimated for the letters in init_params
        (and for anything unset), the user's values otherwise. Nothing is written.

        The emission is estimated from the rows of an in-memory source, else from a
        sample of at most INIT_SAMPLE_ROWS of its rows (all of them, in order, when
        there are no more), drawn (after startprob and transmat) only when needed."""
        K = self.n_components
        rs = check_random_state(self.random_state)
        startprob = (rs.dirichlet(np.full(K, 1.0 / K)) if self._initializes("s", "startprob_")
                     else self.startprob_)
        transmat = (rs.dirichlet(np.full(K, 1.0 / K), size=K)
                    if self._initializes("t", "transmat_") else self.transmat_)
        self._warn_if_degenerate(source.n_values, n_features)

        @functools.cache
        def rows():
            if source.in_memory:
                return source.X
            return source.sample(max(INIT_SAMPLE_ROWS, 50 * K), rs)[0]

        emission = self._initial_emission(rows, n_features)
        return self._checked_params(startprob, transmat, emission)

    def _checked_params(self, startprob, transmat, emission):
        K = self.n_components
        return HMMParams(
            _check_stochastic(required(startprob, "startprob_", "s"), "startprob_", (K,)),
            _check_stochastic(required(transmat, "transmat_", "t"), "transmat_", (K, K)),
            self._checked_emission(emission))

    def _fitted_params(self):
        """The model's parameters, checked; nothing is written."""
        check_is_fitted(self, "startprob_")
        self._validate_settings()
        return self._checked_params(
            self.startprob_, getattr(self, "transmat_", None),
            {name: getattr(self, name, None) for name in self._emission_attributes})

    def _fitted_state(self, params):
        """{attribute: value} that a fit (or _init) sets from the parameters."""
        return {"startprob_": params.startprob, "transmat_": params.transmat,
                **self._emission_state(params.emission)}

    # hmmlearn's hooks of these names, which its users and its tests call
    def _check(self):
        """Check the settings and the parameters: a ValueError naming the first one that
        is wrong (NotFittedError when startprob_ is not set). Nothing is written."""
        self._fitted_params()

    def _init(self, X, lengths=None):
        """Initialise the parameters as fit does before its first iteration, and set
        them: those whose letter is in init_params, and any not yet set, are drawn or
        estimated from X; the others are checked. Logs the warnings fit logs."""
        problem = self._problem(X, lengths)
        commit(self, self._fitted_state(problem.initialize(None)))

    # ----------------------------------------------------------------- fitting
    def fit(self: _H, X: ArrayLike | Chunks, lengths: ArrayLike | None = None) -> _H:
        """Estimate the model parameters with the Baum-Welch (EM) algorithm.

        First the parameters whose letters are in ``init_params``, and any that is not
        set, are initialized; the others, set by the user, are checked and kept as the
        starting point. Then each iteration, an E-step (forward-backward on every
        sequence) and an M-step, updates the parameters whose letters are in ``params``.
        Every iteration reports the log-likelihood to ``monitor_``, and the fit stops
        when ``monitor_.converged`` is True, after at most ``n_iter`` iterations: set
        ``monitor_.tol``, or set a ConvergenceMonitor subclass as ``monitor_``, to change
        when. The fit works on a copy of ``monitor_``, which it stores as ``monitor_``
        when it succeeds. A fit that raises or is interrupted leaves the model as it
        was, user-set parameters included.

        Sequences that are not one array in memory (many files, a generator) are fitted
        from ``fastem.Chunks(factory)``: ``factory()`` returns an iterable of sequences,
        each an array of its rows, or of ``(X, lengths)`` pairs of several; it is called
        once per iteration, and before them once to check the data (and once to draw the
        rows that initialize ``means_`` and ``covars_``: all of them up to 100,000, else
        a sample of 100,000); each call must yield the same sequences, and memory holds
        one block of whole sequences (consecutive items are joined up to the
        ``chunk_size`` rows of the Chunks, by default about 16 MB of float64 rows). From
        the same start the fit is the in-memory fit of the concatenated sequences, to
        rounding.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1), or Chunks
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``). Or ``fastem.Chunks`` of a function that yields the
            sequences (see above).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence. Chunks give their lengths in
            their items instead.

        Returns
        -------
        GaussianHMM or CategoricalHMM
            The fitted model (self).

        See Also
        --------
        score : Compute the log-likelihood of X under the model.
        decode : Find the most likely sequence of states.
        fastem.hmm.ConvergenceMonitor : The monitor that decides when a fit stops.

        Notes
        -----
        As hmmlearn's, fit logs two warnings on the ``'fastem.hmm'`` logger (Python's
        ``logging``, which prints them to stderr unless configured otherwise): when a
        parameter is set but will be overwritten because its letter is in
        ``init_params``, and when X has fewer values than the parameters in ``params``
        have free scalars ("will result in a degenerate solution"). With ``verbose``,
        ``monitor_`` prints hmmlearn's table to stderr: the number, the log-likelihood
        and its change of every iteration.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
        >>> print(model.transmat_.round(2))
        [[0.06 0.94]
         [0.52 0.48]]
        >>> model.monitor_.converged, model.monitor_.iter
        (True, 8)

        Two sequences, given by their lengths:

        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X, lengths=[136, 136])
        >>> print(model.means_.round(1))
        [[ 2.  54.5]
         [ 4.3 80. ]]

        Parameters set by hand and kept: only the means and covariances ('m' and 'c')
        are initialized and fitted.

        >>> import numpy as np
        >>> model = GaussianHMM(n_components=2, params="mc", init_params="mc",
        ...                     random_state=0)
        >>> model.startprob_ = np.array([0.5, 0.5])
        >>> model.transmat_ = np.array([[0.1, 0.9], [0.5, 0.5]])
        >>> print(model.fit(X).transmat_)
        [[0.1 0.9]
         [0.5 0.5]]

        Integer symbols, one column:

        >>> from fastem import CategoricalHMM
        >>> long_eruption = (X[:, :1] > 3).astype(int)
        >>> model = CategoricalHMM(n_components=2, random_state=0).fit(long_eruption)
        >>> print(model.emissionprob_.round(2))
        [[0.04 0.96]
         [0.79 0.21]]

        Sequences yielded one by one (here from an array; as well from files):

        >>> from fastem import Chunks
        >>> def sequences():
        ...     for lo in range(0, 272, 68):
        ...         yield X[lo:lo + 68]
        >>> streamed = GaussianHMM(n_components=2, random_state=0).fit(Chunks(sequences))
        >>> in_memory = GaussianHMM(n_components=2, random_state=0).fit(X, [68] * 4)
        >>> bool(np.allclose(streamed.means_, in_memory.means_, rtol=1e-10))
        True
        """
        problem = self._problem(X, lengths)
        problem.monitor = self._fit_monitor()
        # the monitor prints hmmlearn's table (to stderr) when verbose, not the driver
        result = run_em(problem, n_init=1, max_iter=self.n_iter, tol=self.tol,
                        random_state=None, verbose=0, callback=problem.record, warn=False,
                        accelerate=self.accelerate)
        commit(self, {**self._fitted_state(result.params), "monitor_": problem.monitor})
        return self

    def _problem(self, X, lengths):
        """The Baum-Welch problem of fitting X, everything checked; nothing is written."""
        self._validate_settings()
        source = self._source(X, lengths)
        n_features = source.n_features
        self._check_fit_sizes(source.n_samples, n_features)
        K = self.n_components
        self._check_sizes(n_features, max(largest_batch(starts, K)
                                          for starts in source.block_starts))
        return _BaumWelch(self, source, self._threads())

    def _source(self, X, lengths):
        """X (and lengths) as a validated source of blocks of whole sequences: the array
        in memory, one block; or Chunks of a factory of sequences, read once per pass."""
        if isinstance(X, Chunks):
            return X._sequences(functools.partial(self._validate_X, fitting=True),
                                self._fit_n_features, lengths)
        if is_dask_bag(X):       # sequences on a Dask cluster
            if lengths is not None:
                raise ValueError("lengths is for an array of sequences; a bag's elements "
                                 "give their lengths, as (array, lengths) pairs")
            from ..dask import DaskSequenceSource

            return DaskSequenceSource(X, functools.partial(self._validate_X, fitting=True),
                                      self._fit_n_features)
        X = self._validate_X(X, fitting=True)
        starts = sequence_starts(lengths, X.shape[0])
        return SequenceArraySource(X, starts, self._fit_n_features(X))

    # ----------------------------------------------------------------- inference
    def _prepared(self, X, lengths):
        params = self._fitted_params()
        if isinstance(X, Chunks):
            raise TypeError("only fit reads Chunks; score, predict and decode take X as an "
                            "array of sequences, with their lengths")
        X = self._validate_X(X, fitting=False)
        starts = sequence_starts(lengths, X.shape[0])
        self._check_sizes(self._fitted_n_features(params.emission),
                          largest_batch(starts, self.n_components))
        return params, X, starts

    def _score(self, X, lengths, per_step=None):
        """(log-likelihood, per-step output) by forward-backward, batch by batch.

        per_step None: no per-step output (forward pass only); "posteriors": the
        (n_samples, K) posteriors; "map": the most likely state at each step, and the
        sum of the log posteriors of those states instead of the log-likelihood."""
        params, X, starts = self._prepared(X, lengths)
        n = X.shape[0]
        out = (np.empty((n, self.n_components)) if per_step == "posteriors"
               else np.empty(n, dtype=np.intp) if per_step == "map" else None)
        total = 0.0
        for lo, _, post, _, seq_ll in forward_backward(
                self._emission_pass(), X, starts, params, posteriors=per_step is not None,
                transitions=False, n_threads=self._threads()):
            rows = slice(lo, lo + post.shape[0])
            if per_step == "posteriors":
                out[rows] = post
            elif per_step == "map":
                best = np.argmax(post, axis=1)
                out[rows] = best
                with np.errstate(divide="ignore"):
                    total += float(np.log(post[np.arange(best.size), best]).sum())
            if per_step != "map":
                total += float(seq_ll.sum())
        return total, out

    def score(self, X: ArrayLike, lengths: ArrayLike | None = None) -> float:
        """Compute the log-likelihood of X under the model.

        The sum of the log-likelihoods of the sequences of X, by the forward algorithm:
        a total, as hmmlearn's score (scikit-learn's mixtures return a mean per sample).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        Returns
        -------
        float
            The log-likelihood of X.

        See Also
        --------
        score_samples : Compute the log-likelihood and the posteriors of the states.
        aic : Compute the Akaike information criterion.
        bic : Compute the Bayesian information criterion.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
        >>> round(model.score(X), 1)
        -1113.5
        >>> round(model.score(X, lengths=[100, 172]), 1)
        -1126.1
        """
        return self._score(X, lengths)[0]

    def score_samples(self, X: ArrayLike, lengths: ArrayLike | None = None
                      ) -> tuple[float, NDArray[np.float64]]:
        """Compute the log-likelihood of X and the posterior probabilities of the states.

        Both come from one forward-backward pass over every sequence of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        Returns
        -------
        log_prob : float
            The log-likelihood of X, as ``score`` returns it.
        posteriors : ndarray of shape (n_samples, n_components)
            The probability of each state at each step, given the whole sequence of
            that step; each row sums to 1.

        See Also
        --------
        score : Compute the log-likelihood of X alone.
        predict_proba : Compute the posteriors alone.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
        >>> log_prob, posteriors = model.score_samples(X)
        >>> round(log_prob, 1), posteriors.shape
        (-1113.5, (272, 2))
        >>> print(posteriors[21:24].round(2))
        [[1.   0.  ]
         [0.   1.  ]
         [0.04 0.96]]
        """
        return self._score(X, lengths, "posteriors")

    def predict_proba(self, X: ArrayLike,
                      lengths: ArrayLike | None = None) -> NDArray[np.float64]:
        """Compute the posterior probability of each state at each step.

        The probability of each state given the whole sequence of the step, by
        forward-backward: the second output of ``score_samples``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The posterior probabilities; each row sums to 1.

        See Also
        --------
        predict : Find the most likely state at each step.
        score_samples : Compute the log-likelihood too.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
        >>> print(model.predict_proba(X)[21:24].round(2))
        [[1.   0.  ]
         [0.   1.  ]
         [0.04 0.96]]
        """
        return self._score(X, lengths, "posteriors")[1]

    def decode(self, X: ArrayLike, lengths: ArrayLike | None = None,
               algorithm: str | None = None) -> tuple[float, NDArray[np.intp]]:
        """Find the most likely sequence of states of X.

        With 'viterbi', the jointly most likely path of states of each sequence (the
        Viterbi algorithm); with 'map', the individually most likely state at each step
        (the largest posterior probability, by forward-backward).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        algorithm : {'viterbi', 'map'}, default=None
            The decoder. None uses the model's ``algorithm``.

        Returns
        -------
        log_prob : float
            For 'viterbi', the log-probability of X jointly with the decoded path (the
            largest of all paths), summed over the sequences. For 'map', the sum of the
            log posterior probabilities of the decoded states (hmmlearn reports the
            plain sum of the posteriors instead).
        state_sequence : ndarray of shape (n_samples,), dtype intp
            The decoded state of each step.

        See Also
        --------
        predict : Find the most likely state at each step, by the model's algorithm.
        predict_proba : Compute the posterior probability of each state.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
        >>> log_prob, states = model.decode(X)
        >>> round(log_prob, 1), states[:8]
        (-1113.6, array([1, 0, 1, 0, 1, 0, 1, 1]))
        >>> log_post, map_states = model.decode(X, algorithm="map")
        >>> print(f"{log_post:.1e}", (map_states == states).all())
        -5.1e-02 True
        """
        algorithm = check_option(algorithm or self.algorithm, "algorithm", DECODER_ALGORITHMS)
        if algorithm == "map":
            return self._score(X, lengths, "map")
        params, X, starts = self._prepared(X, lengths)
        K = self.n_components
        with np.errstate(divide="ignore"):
            log_start = np.log(params.startprob)
            log_trans = np.log(params.transmat)
        path = np.empty(X.shape[0], dtype=np.intp)
        log_prob = 0.0
        n_threads = self._threads()
        back_buf = np.empty(largest_batch(starts, K) * K, dtype=np.intc)
        for lo, local, order, frame in emission_batches(self._emission_pass(), X, starts,
                                                        params, n_threads):
            seq_lp = np.empty(local.size - 1)
            _hmm.viterbi(frame, local, order, log_start, log_trans,
                         back_buf[:frame.size].reshape(frame.shape),
                         path[lo:lo + frame.shape[0]], seq_lp, n_threads)
            log_prob += float(seq_lp.sum())
        return log_prob, path

    def predict(self, X: ArrayLike, lengths: ArrayLike | None = None) -> NDArray[np.intp]:
        """Find the most likely state at each step of X.

        The states of ``decode(X, lengths)``, by the model's ``algorithm``: the Viterbi
        path ('viterbi') or the state of largest posterior probability at each step
        ('map').

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        Returns
        -------
        ndarray of shape (n_samples,), dtype intp
            The decoded state of each step.

        See Also
        --------
        decode : Find the most likely states and their log-probability.
        predict_proba : Compute the posterior probability of each state.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
        >>> model.predict(X)[:8]
        array([1, 0, 1, 0, 1, 0, 1, 1])
        >>> model.set_params(algorithm="map").predict(X, lengths=[100, 172])[:8]
        array([1, 0, 1, 0, 1, 0, 1, 1])
        """
        return self.decode(X, lengths)[1]

    def sample(self, n_samples: int = 1,
               random_state: int | np.random.RandomState | None = None,
               currstate: int | None = None) -> tuple[NDArray[_Emitted], NDArray[np.int_]]:
        """Generate a random sequence from the model.

        Draw one sequence of ``n_samples`` steps: its first state from ``startprob_``
        (or ``currstate``), each next state from the row of ``transmat_`` of the state
        before it, and each observation from the emission of its state.

        Parameters
        ----------
        n_samples : int, default=1
            The number of steps to draw.

        random_state : int, RandomState instance or None, default=None
            The random draws. None uses the model's ``random_state``: with an int there,
            every call returns the same sequence.

        currstate : int, default=None
            The state of the first step, in [0, ``n_components``). None draws it from
            ``startprob_``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features) or (n_samples, 1)
            The observations: float64 rows for GaussianHMM; for CategoricalHMM, one
            column of integer symbols (numpy's default int).
        state_sequence : ndarray of shape (n_samples,), dtype int
            The state of each step.

        See Also
        --------
        get_stationary_distribution : Compute the long-run distribution of the states.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(load_faithful())
        >>> X, states = model.sample(5, random_state=0)
        >>> print(X.round(1))
        [[ 3.9 91.8]
         [ 4.8 77. ]
         [ 5.3 86.4]
         [ 4.5 83.5]
         [ 2.  62.7]]
        >>> states
        array([1, 1, 1, 1, 0])
        >>> model.sample(5, random_state=0, currstate=0)[1]
        array([0, 1, 1, 1, 0])
        """
        params = self._fitted_params()
        n = check_int(n_samples, "n_samples", minimum=1)
        K = self.n_components
        rs = check_random_state(self.random_state if random_state is None else random_state)
        first = -1
        if currstate is not None:
            first = check_int(currstate, "currstate", minimum=0)
            if first >= K:
                raise ValueError(f"currstate must be < n_components = {K}, got {first}")
        start_cdf = np.cumsum(params.startprob)
        trans_cdf = np.cumsum(params.transmat, axis=1)
        start_cdf[-1] = 1.0
        trans_cdf[:, -1] = 1.0
        states = np.empty(n, dtype=np.intp)
        _hmm.sample_chain(start_cdf, np.ascontiguousarray(trans_cdf), rs.random_sample(n),
                          first, states)
        X = self._sample_emission(states, params.emission, rs)
        return X, states.astype(int)

    # ----------------------------------------------------------------- model selection
    def _n_fit_scalars(self, n_features):
        """{letter: number of free scalars} of every parameter (hmmlearn's
        _get_n_fit_scalars_per_param)."""
        K = self.n_components
        return {"s": K - 1, "t": K * (K - 1), **self._n_emission_scalars(n_features)}

    def _n_parameters(self):
        """The free scalars of all the parameters, as hmmlearn counts them for aic and
        bic (those left out of ``params`` included)."""
        params = self._fitted_params()
        return sum(self._n_fit_scalars(self._fitted_n_features(params.emission)).values())

    def aic(self, X: ArrayLike, lengths: ArrayLike | None = None) -> float:
        """Compute the Akaike information criterion of the model on X.

        ``-2 * score(X, lengths) + 2 * n_parameters``, where ``n_parameters`` counts the
        free scalars of all the parameters as hmmlearn does, those left out of
        ``params`` included: ``n_components - 1`` for ``startprob_``,
        ``n_components * (n_components - 1)`` for ``transmat_``, and those of the
        emission (for GaussianHMM ``n_components * n_features`` means and the free
        entries of the covariances, for CategoricalHMM
        ``n_components * (n_features - 1)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        Returns
        -------
        float
            The AIC: the lower the better.

        See Also
        --------
        bic : Compute the Bayesian information criterion.
        score : Compute the log-likelihood of X under the model.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> for k in (1, 2, 3):
        ...     model = GaussianHMM(n_components=k, random_state=0).fit(X)
        ...     print(k, round(model.aic(X), 1))
        1 3041.4
        2 2249.1
        3 2185.2
        """
        return information_criteria(self.score(X, lengths), self._n_parameters(),
                                    np.shape(X)[0])[1]

    def bic(self, X: ArrayLike, lengths: ArrayLike | None = None) -> float:
        """Compute the Bayesian information criterion of the model on X.

        ``-2 * score(X, lengths) + n_parameters * log(n_samples)``, where
        ``n_parameters`` counts the free scalars of all the parameters as hmmlearn
        does, those left out of ``params`` included (see ``aic``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, 1)
            The observations of one or more sequences, one after the other: rows of real
            numbers for GaussianHMM; for CategoricalHMM, one column of integer symbols
            in [0, ``n_features``).

        lengths : array-like of int, default=None
            The lengths of the sequences in X, in order: positive integers that sum to
            ``n_samples``. None takes X as one sequence.

        Returns
        -------
        float
            The BIC: the lower the better.

        See Also
        --------
        aic : Compute the Akaike information criterion.
        score : Compute the log-likelihood of X under the model.

        Examples
        --------
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> for k in (1, 2, 3):
        ...     model = GaussianHMM(n_components=k, random_state=0).fit(X)
        ...     print(k, round(model.bic(X), 1))
        1 3055.8
        2 2288.7
        3 2257.3
        """
        return information_criteria(self.score(X, lengths), self._n_parameters(),
                                    np.shape(X)[0])[0]

    def get_stationary_distribution(self) -> NDArray[np.float64]:
        """Compute the stationary distribution of the states.

        The left eigenvector of ``transmat_`` of eigenvalue 1 (the eigenvalue of
        largest real part), scaled to sum to 1: the distribution of the states that a
        transition leaves unchanged, the long-run fraction of steps in each state.

        Returns
        -------
        ndarray of shape (n_components,)
            The stationary probability of each state.

        See Also
        --------
        sample : Generate a random sequence from the model.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianHMM
        >>> from fastem.datasets import load_faithful
        >>> model = GaussianHMM(n_components=2, random_state=0).fit(load_faithful())
        >>> pi = model.get_stationary_distribution()
        >>> print(pi.round(3))
        [0.358 0.642]
        >>> np.allclose(pi @ model.transmat_, pi)
        True
        """
        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = np.linalg.eig(np.asarray(self.transmat_).T)
        vec = np.real_if_close(eigvecs[:, np.argmax(eigvals.real)])
        return np.real(vec / vec.sum())
