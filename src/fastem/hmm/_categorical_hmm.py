"""Hidden Markov model with categorical emissions (hmmlearn's CategoricalHMM)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._kernels import _hmm
from .._validation import check_int, check_random_state
from ._base import (
    BaseHMM,
    _check_stochastic,
    _normalize_rows,
    log_positive,
    probabilities_from_logs,
    required,
)
from ._stats import EmissionPass, NoStats


@dataclass(frozen=True)
class CategoricalEmission(EmissionPass):
    """A CategoricalHMM's emission for the E-step: log-probabilities looked up by
    symbol, and the posterior-weighted counts of each symbol in each state, an
    (n_features, n_components) array. ``fitted``: 'e' is in params."""

    fitted: bool = True

    def log_prob(self, X, emission, out, n_threads):
        with np.errstate(divide="ignore"):
            log_emission = np.ascontiguousarray(np.log(emission).T)   # (n_features, K)
        # symbols are validated: "clip" writes straight into out (mode "raise" buffers)
        np.take(log_emission, X, axis=0, out=out, mode="clip")

    def stats(self, X, post, emission, n_threads):
        counts = np.empty((emission.shape[1], post.shape[1]))
        _hmm.symbol_counts(X, post, counts, n_threads)
        return counts


class CategoricalHMM(BaseHMM[np.int_]):
    """Hidden Markov model with categorical (discrete) emissions, fitted by Baum-Welch.

    A Markov chain of ``n_components`` hidden states, each emitting symbols from its own
    categorical distribution, estimated by expectation-maximization (the Baum-Welch
    algorithm). X is an integer array of shape (n_samples, 1) with symbols in
    [0, ``n_features``), holding one or more sequences, one after the other; ``lengths``
    (in ``fit`` and every method that takes X) gives their lengths. The parameters,
    attributes and methods are hmmlearn's ``hmm.CategoricalHMM``: switch by changing
    the import. ``n_threads`` is fastem's addition; results are bitwise identical for
    any value.

    Parameters
    ----------
    n_components : int, default=1
        The number of hidden states.

    startprob_prior : array-like of shape (n_components,) or float, default=1.0
        The parameters of the Dirichlet prior on ``startprob_``: the M-step adds
        ``startprob_prior - 1`` to the expected count of each first state (clipped at
        0) before normalizing. 1 is no prior. An entry of ``startprob_`` that is 0
        stays 0.

    transmat_prior : array-like of shape (n_components, n_components) or float, default=1.0
        The parameters of the Dirichlet prior on each row of ``transmat_``, used as
        ``startprob_prior`` is. An entry of ``transmat_`` that is 0 stays 0.

    emissionprob_prior : array-like of shape (n_components, n_features) or float, default=1.0
        The parameters of the Dirichlet prior on each row of ``emissionprob_``: the
        M-step adds ``emissionprob_prior - 1`` to the expected count of each symbol
        (clipped at 0) before normalizing. 1 is no prior.

    n_features : int, default=None
        The number of symbols. None: fit sets it, as hmmlearn does, from the
        ``emissionprob_`` it keeps (when set and 'e' is not in ``init_params``), else
        from the data (the largest symbol plus one); later fits then keep it.

    algorithm : {'viterbi', 'map'}, default='viterbi'
        The decoder of ``decode`` and ``predict``: 'viterbi' finds the jointly most
        likely path of states, 'map' the state of largest posterior probability at each
        step.

    random_state : int, RandomState instance or None, default=None
        Controls the random draws of the initialization (``startprob_``, ``transmat_``
        and ``emissionprob_``) and of ``sample``. Pass an int for reproducible results
        across calls. None uses numpy's global RandomState.

    n_iter : int, default=10
        The maximum number of Baum-Welch iterations. With 0 the model keeps its
        initial parameters.

    tol : float, default=1e-2
        The convergence threshold: fit stops when the log-likelihood gains less than
        ``tol`` (a loss included) from one iteration to the next. -inf never stops
        early. Setting it sets ``monitor_.tol``, which may also be set on its own.

    verbose : bool, default=False
        If True, ``monitor_`` prints hmmlearn's table to stderr during fit: the number,
        the log-likelihood and its change of every iteration.

    params : str, default='ste'
        The parameters that fit updates, any of 's' (``startprob_``), 't'
        (``transmat_``) and 'e' (``emissionprob_``); the others keep their values.

    init_params : str, default='ste'
        The parameters that fit initializes before its first iteration, letters as in
        ``params``: 's' and 't' are drawn from a Dirichlet distribution of concentration
        ``1 / n_components``, and 'e' from uniform draws, each row normalized (for an
        int ``random_state``, from a new generator of that seed, as hmmlearn does). A
        parameter whose letter is left out must be set by the user, else it is
        initialized too; one that is set and will be overwritten gets a warning logged
        on the ``'fastem.hmm'`` logger.

    implementation : {'log', 'scaling'}, default='log'
        Accepted for compatibility with hmmlearn: both values run the same scaled
        forward-backward in float64, which does not underflow.

    n_threads : int or None, default=None
        The number of OpenMP threads of the kernels. None uses every usable core
        (affinity mask and cgroup quota), limited by ``OMP_NUM_THREADS`` and
        threadpoolctl's ``threadpool_limits``; a negative value counts from all usable
        cores, as scikit-learn's ``n_jobs`` (-1: all, -2: all but one); without OpenMP
        the kernels run on one thread. Results do not depend on it: they are bitwise
        identical for any value.

    accelerate : {None, 'squarem'}, default=None
        None runs plain Baum-Welch, as hmmlearn. 'squarem' accelerates it with
        SQUAREM (Varadhan and Roland, 2008): every cycle takes two EM steps,
        extrapolates along them (in log-probability coordinates, where every point is
        valid parameters; zero probabilities stay zero) and takes one more EM step from
        there, kept only when the log-likelihood there is no lower than at the cycle's
        start. ``n_iter`` then counts E-steps (up to three per cycle) and
        ``monitor_`` records one log-likelihood per cycle, the one at its start.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        The probability of each state at the first step of a sequence.

    transmat_ : ndarray of shape (n_components, n_components)
        The transition matrix: ``transmat_[i, j]`` is the probability that state ``i``
        is followed by state ``j``.

    emissionprob_ : ndarray of shape (n_components, n_features)
        The emission probabilities: ``emissionprob_[i, s]`` is the probability that
        state ``i`` emits symbol ``s``.

    n_features : int
        The number of symbols: the constructor's value, or set by fit when that was
        None.

    monitor_ : ConvergenceMonitor
        The convergence monitor: it exists from construction, decides when fit stops
        and, after a fit, holds its ``history`` of log-likelihoods and its ``iter``.

    See Also
    --------
    GaussianHMM : Hidden Markov model with Gaussian emissions.
    fastem.hmm.ConvergenceMonitor : The monitor that decides when a fit stops.
    hmmlearn.hmm.CategoricalHMM : The hmmlearn estimator with the same API.

    Notes
    -----
    The parameters may be set by hand (``startprob_``, ``transmat_``,
    ``emissionprob_``), to sample from a model or to start a fit from them (leave their
    letters out of ``init_params``).

    Differences from hmmlearn: ``tol``, ``n_iter`` and ``verbose`` set on a model after
    construction reach its ``monitor_`` (hmmlearn's monitor keeps the constructor's
    values); a fit works on a copy of ``monitor_`` and stores it when it succeeds, and
    a fit that fails leaves the model as it was; ``decode(algorithm="map")`` returns
    the sum of the log posteriors of the chosen states (hmmlearn adds the posteriors
    themselves); with the default priors, a state that receives no weight keeps its
    previous rows of ``transmat_`` and ``emissionprob_``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import CategoricalHMM
    >>> from fastem.datasets import load_faithful
    >>> waiting = load_faithful()[:, 1]     # minutes to each eruption, in order
    >>> X = np.digitize(waiting, [60, 75]).reshape(-1, 1)   # 0 short, 1 medium, 2 long
    >>> model = CategoricalHMM(n_components=2, n_iter=100, random_state=0).fit(X)
    >>> model.n_features, model.monitor_.converged
    (3, True)
    >>> print(model.emissionprob_.round(2))
    [[0.64 0.29 0.06]
     [0.   0.09 0.91]]
    >>> print(model.transmat_.round(2))
    [[0.12 0.88]
     [0.7  0.3 ]]
    >>> model.predict(X[:8])
    array([1, 0, 1, 0, 1, 0, 1, 1])

    A model set by hand, and a sample from it:

    >>> truth = CategoricalHMM(n_components=2, random_state=0)
    >>> truth.startprob_ = np.array([1.0, 0.0])
    >>> truth.transmat_ = np.array([[0.8, 0.2], [0.1, 0.9]])
    >>> truth.emissionprob_ = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]])
    >>> symbols, states = truth.sample(10)
    >>> symbols.ravel(), states
    (array([1, 1, 1, 1, 0, 0, 0, 2, 2, 2]), array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]))

    Known emissions, transitions estimated ('e' left out of ``params`` and
    ``init_params``):

    >>> X, states = truth.sample(2000)
    >>> model = CategoricalHMM(n_components=2, n_iter=100, params="st", init_params="st",
    ...                        random_state=0)
    >>> model.emissionprob_ = truth.emissionprob_
    >>> print(model.fit(X).transmat_.round(2))
    [[0.8 0.2]
     [0.1 0.9]]
    """

    _emission_letters = "e"
    _emission_attributes = ("emissionprob_",)

    # fitted attribute (besides BaseHMM's); fit also sets n_features when it is None
    emissionprob_: NDArray[np.float64]

    def __init__(self, n_components: int = 1, startprob_prior: ArrayLike = 1.0,
                 transmat_prior: ArrayLike = 1.0, *, emissionprob_prior: ArrayLike = 1.0,
                 n_features: int | None = None, algorithm: str = "viterbi",
                 random_state: int | np.random.RandomState | None = None, n_iter: int = 10,
                 tol: float = 1e-2, verbose: bool = False, params: str = "ste",
                 init_params: str = "ste", implementation: str = "log",
                 n_threads: int | None = None, accelerate: str | None = None) -> None:
        super().__init__(n_components, startprob_prior, transmat_prior, algorithm,
                         random_state, n_iter, tol, verbose, params, init_params,
                         implementation, n_threads, accelerate)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _validate_settings(self):
        super()._validate_settings()
        check_int(self.n_features, "n_features", minimum=1, allow_none=True)

    def _known_n_features(self, fitting):
        """n_features when set, or given by an emissionprob_ the fit keeps; else None."""
        if self.n_features is not None:
            return self.n_features
        if hasattr(self, "emissionprob_") and not (fitting and "e" in self.init_params):
            return np.shape(np.atleast_2d(self.emissionprob_))[1]
        return None

    def _validate_X(self, X, fitting, name="X"):
        arr = np.asarray(X)
        if arr.ndim == 1:
            raise ValueError(f"{name} must be a 2-D array of shape (n_samples, 1) holding "
                             "symbols; reshape it with X.reshape(-1, 1)")
        if arr.ndim != 2 or arr.shape[1] != 1:
            raise ValueError(f"{name} must have shape (n_samples, 1), got {arr.shape}")
        if arr.shape[0] < 1:
            raise ValueError(f"{name} has 0 samples; at least one is required")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integer symbols, got dtype {arr.dtype}")
        symbols = np.ascontiguousarray(arr[:, 0], dtype=np.intp)
        low, high = int(symbols.min()), int(symbols.max())
        if low < 0:
            raise ValueError(f"{name} holds the symbol {low}; symbols must be >= 0")
        n_features = self._known_n_features(fitting)
        if n_features is not None and high >= n_features:
            raise ValueError(f"{name} holds the symbol {high}, but the model emits symbols "
                             f"0 .. {n_features - 1} only (n_features={n_features})")
        return symbols

    def _fit_n_features(self, X):
        # when unknown, n_features comes from the data (as hmmlearn); fit sets it
        known = self._known_n_features(fitting=True)
        return known if known is not None else int(X.max()) + 1

    def _emission_sizes(self, n_features):
        return {"emissionprob_": (self.n_components * n_features,
                                  "n_components x n_features")}

    def _initial_emission(self, rows, n_features):
        emission = getattr(self, "emissionprob_", None)
        if self._initializes("e", "emissionprob_"):
            # hmmlearn draws the emissions from a fresh generator of the same seed
            rs = check_random_state(self.random_state)
            emission = rs.rand(self.n_components, n_features)
            emission /= emission.sum(axis=1, keepdims=True)
        return {"emissionprob_": emission}

    def _checked_emission(self, values):
        emission = required(values["emissionprob_"], "emissionprob_", "e")
        emission = np.atleast_2d(emission)
        n_features = self.n_features if self.n_features is not None else emission.shape[1]
        return _check_stochastic(emission, "emissionprob_", (self.n_components, n_features))

    def _emission_state(self, emission):
        state = {"emissionprob_": emission}
        if self.n_features is None:
            state["n_features"] = emission.shape[1]
        return state

    def _fitted_n_features(self, emission):
        return emission.shape[1]

    def _emission_pass(self):
        return CategoricalEmission("e" in self.params)

    def _emission_pack(self, emission):
        return log_positive(emission)

    def _emission_unpack(self, vector, like):
        return probabilities_from_logs(vector.reshape(like.shape), like)

    def _emission_mstep(self, stats, emission):
        if isinstance(stats, NoStats):        # 'e' is not in params
            return emission
        counts = np.maximum(self.emissionprob_prior - 1 + stats.T, 0)
        return _normalize_rows(counts, emission)

    def _sample_emission(self, states, emission, rs):
        cdf = np.cumsum(emission, axis=1)
        cdf[:, -1] = 1.0
        u = rs.random_sample(states.shape[0])
        symbols = np.empty(states.shape[0], dtype=int)
        for k in range(self.n_components):
            rows = np.flatnonzero(states == k)
            if rows.size:
                symbols[rows] = np.searchsorted(cdf[k], u[rows], side="right")
        return symbols[:, None]

    def _n_emission_scalars(self, n_features):
        return {"e": self.n_components * (n_features - 1)}
