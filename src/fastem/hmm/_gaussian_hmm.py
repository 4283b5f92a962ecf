"""Hidden Markov model with Gaussian emissions (hmmlearn's GaussianHMM).

The emission log-probabilities and the emission statistics come from the Gaussian
mixture kernels (fastem.mixture._gaussian): a state is a mixture component with unit
weight, and the posteriors of the states are its responsibilities.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import (
    check_array,
    check_float,
    check_option,
    check_positive_definite,
    is_positive_definite,
    positive_variances,
)
from ..cluster import KMeans
from ..mixture._gaussian import (
    COVARIANCE_TYPES,
    GaussianParams,
    cov_shape,
    log_densities,
    pack_unconstrained,
    precision_cholesky_from_covariances,
    responsibility_stats,
    unpack_symmetric,
    unpack_unconstrained,
)
from ..mixture._stats import GaussianStats
from ._base import BaseHMM, required
from ._stats import EmissionPass


def _full_from(covars, covariance_type, n_components, n_features):
    """(K, d, d) covariance matrices from the type's own shape (hmmlearn's covars_)."""
    check_option(covariance_type, "covariance_type", COVARIANCE_TYPES)
    if covariance_type == "full":
        return covars.copy()
    if covariance_type == "tied":
        return np.tile(covars, (n_components, 1, 1))
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covars]).reshape(n_components, n_features,
                                                             n_features)
    return covars[:, None, None] * np.eye(n_features)[None]


def _check_covars(covars, covariance_type, n_components, n_features=None):
    """Covariances in the type's shape, checked: positive, symmetric positive-definite.

    Spherical variances may also come as hmmlearn accepts them: one value per state
    with trailing axes of length one ((K, 1), (K, 1, 1), (K, 1, 1, 1)), (K, d) rows
    (hmmlearn's own fitted shape; each row's mean is taken) or full (K, d, d) matrices
    (as covars_ returns them; the mean of each diagonal is taken)."""
    check_option(covariance_type, "covariance_type", COVARIANCE_TYPES)
    cv = np.array(covars, dtype=np.float64)
    if not np.all(np.isfinite(cv)):
        raise ValueError("covars_ must be finite")
    if covariance_type == "spherical" and cv.ndim > 1 and all(n == 1 for n in cv.shape[1:]):
        cv = cv.reshape(cv.shape[0])
    if covariance_type in ("spherical", "diag") and cv.ndim == 3:
        # full matrices given (as covars_ returns them): take their diagonals
        diag = np.diagonal(cv, axis1=1, axis2=2)
        cv = diag.mean(axis=1) if covariance_type == "spherical" else diag.copy()
    if covariance_type == "spherical" and cv.ndim == 2:
        cv = cv.mean(axis=1)
    d = n_features if n_features is not None else (cv.shape[-1] if cv.ndim else 0)
    if cv.shape != cov_shape(covariance_type, n_components, d):
        want = cov_shape(covariance_type, n_components, d if n_features else "n_features")
        raise ValueError(f"'{covariance_type}' covars_ must have shape {want}, got {cv.shape}")
    if covariance_type in ("spherical", "diag"):
        if not positive_variances(cv).all():
            raise ValueError(f"'{covariance_type}' covars_ must be positive")
    else:
        check_positive_definite(cv, f"'{covariance_type}' covars_",
                                "state" if covariance_type == "full" else None)
    return cv


@dataclass(frozen=True)
class GaussianEmission(EmissionPass):
    """A GaussianHMM's emission for the E-step: the mixture kernels' log-densities of
    the states (components of unit weight), and the moments of a batch about the
    means, weighted by the posteriors, as GaussianStats (its loglik unused: 0).
    ``fitted``: 'm' or 'c' is in params."""

    covariance_type: str
    fitted: bool = True

    def log_prob(self, X, emission, out, n_threads):
        log_densities(X, emission, out, n_threads=n_threads)

    def stats(self, X, post, emission, n_threads):
        nk, s1, s2 = responsibility_stats(X, None, post, emission.means,
                                          self.covariance_type, n_threads=n_threads)
        return GaussianStats(0.0, float(X.shape[0]), nk, s1, s2, emission.means,
                             self.covariance_type)


_COVARS_SHAPE_WORDS = {"full": "n_components x n_features x n_features",
                       "tied": "n_features x n_features",
                       "diag": "n_components x n_features", "spherical": "n_components"}


class GaussianHMM(BaseHMM[np.float64]):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch.

    A Markov chain of ``n_components`` hidden states, each emitting a Gaussian
    distribution, estimated by expectation-maximization (the Baum-Welch algorithm). The
    parameters, attributes and methods are hmmlearn's ``hmm.GaussianHMM``: switch by
    changing the import. From the same initial parameters the iterates are hmmlearn's,
    to floating-point accuracy. X holds one or more sequences, one after the other, and
    ``lengths`` (in ``fit`` and every method that takes X) gives their lengths.
    ``n_threads`` is fastem's addition; results are bitwise identical for any value.

    Parameters
    ----------
    n_components : int, default=1
        The number of hidden states.

    covariance_type : {'diag', 'full', 'tied', 'spherical'}, default='diag'
        The form of the covariance of each state's Gaussian:

        - 'diag': each state has its own diagonal covariance matrix.
        - 'full': each state has its own general covariance matrix.
        - 'tied': all states share the same general covariance matrix.
        - 'spherical': each state has its own single variance.

    min_covar : float, default=1e-3
        Floor on the covariances. It is added to the diagonal of the covariance of X
        from which ``covars_`` is initialized, and to the diagonal of a 'full' or 'tied'
        covariance that an M-step leaves not positive definite (which keeps its previous
        value if that is not enough); a 'diag' or 'spherical' variance that an M-step
        leaves not positive becomes the larger of its previous value and ``min_covar``.

    startprob_prior : array-like of shape (n_components,) or float, default=1.0
        The parameters of the Dirichlet prior on ``startprob_``: the M-step adds
        ``startprob_prior - 1`` to the expected count of each first state (clipped at
        0) before normalizing. 1 is no prior. An entry of ``startprob_`` that is 0
        stays 0.

    transmat_prior : array-like of shape (n_components, n_components) or float, default=1.0
        The parameters of the Dirichlet prior on each row of ``transmat_``, used as
        ``startprob_prior`` is. An entry of ``transmat_`` that is 0 stays 0.

    means_prior : array-like of shape (n_components, n_features) or float, default=0
        The mean of the normal prior on ``means_``.

    means_weight : array-like of shape (n_components,) or float, default=0
        The weight of the normal prior on ``means_``, in samples: each state's mean is
        ``(means_weight * means_prior + sum of the posterior-weighted observations) /
        (means_weight + sum of the posteriors)``. 0 is no prior.

    covars_prior : array-like or float, default=1e-2
        The scale of the prior on the covariances: an inverse gamma prior for 'diag'
        and 'spherical', an inverse Wishart prior for 'full' and 'tied' (hmmlearn's
        update). It is added to the scatter of the posterior-weighted observations.

    covars_weight : array-like or float, default=1
        The weight of the prior on the covariances: the M-step divides by the sum of
        the posteriors plus ``max(covars_weight - 1, 0)`` ('diag' and 'spherical') or
        ``max(covars_weight - n_features, 0)`` ('full' and 'tied').

    algorithm : {'viterbi', 'map'}, default='viterbi'
        The decoder of ``decode`` and ``predict``: 'viterbi' finds the jointly most
        likely path of states, 'map' the state of largest posterior probability at each
        step.

    random_state : int, RandomState instance or None, default=None
        Controls the random draws of the initialization (``startprob_``, ``transmat_``
        and the k-means that initializes ``means_``) and of ``sample``. Pass an int for
        reproducible results across calls. None uses numpy's global RandomState.

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

    params : str, default='stmc'
        The parameters that fit updates, any of 's' (``startprob_``), 't'
        (``transmat_``), 'm' (``means_``) and 'c' (``covars_``); the others keep their
        values.

    init_params : str, default='stmc'
        The parameters that fit initializes before its first iteration, letters as in
        ``params``: 's' and 't' are drawn from a Dirichlet distribution of concentration
        ``1 / n_components``, 'm' is set to the centers of a k-means of X (10 restarts),
        and 'c' to the covariance of X plus ``min_covar`` on its diagonal, in the form of
        ``covariance_type`` (for 'spherical', the mean of all its entries). A parameter
        whose letter is left out must be set by the user, else it is initialized too;
        one that is set and will be overwritten gets a warning logged on the
        ``'fastem.hmm'`` logger.

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

    means_ : ndarray of shape (n_components, n_features)
        The mean of each state's Gaussian.

    covars_ : ndarray of shape (n_components, n_features, n_features)
        The covariance matrix of each state's Gaussian, of this shape whatever the
        ``covariance_type`` (the fitted covariances, in the type's own shape, are in
        ``_covars_``). It may be set in the type's own shape.

    n_features : int
        The number of features (columns of X), set by fit.

    monitor_ : ConvergenceMonitor
        The convergence monitor: it exists from construction, decides when fit stops
        and, after a fit, holds its ``history`` of log-likelihoods and its ``iter``.

    See Also
    --------
    CategoricalHMM : Hidden Markov model with categorical emissions.
    GaussianMixture : Gaussian mixture, for independent samples.
    fastem.hmm.ConvergenceMonitor : The monitor that decides when a fit stops.
    hmmlearn.hmm.GaussianHMM : The hmmlearn estimator with the same API.

    Notes
    -----
    The parameters may be set by hand (``startprob_``, ``transmat_``, ``means_``,
    ``covars_``), to sample from a model or to start a fit from them (leave their
    letters out of ``init_params``).

    Differences from hmmlearn: ``tol``, ``n_iter`` and ``verbose`` set on a model after
    construction reach its ``monitor_`` (hmmlearn's monitor keeps the constructor's
    values); a fit works on a copy of ``monitor_`` and stores it when it succeeds, and
    a fit that fails leaves the model as it was; ``decode(algorithm="map")`` returns
    the sum of the log posteriors of the chosen states (hmmlearn adds the posteriors
    themselves); ``covars_`` reads as (n_components, n_features, n_features) for every
    covariance type; with the default priors, a state that receives no weight keeps its
    previous row of ``transmat_`` and its mean; a covariance that is not positive
    definite gets ``min_covar`` added to its diagonal, so a fit never ends with invalid
    parameters.

    Examples
    --------
    >>> from fastem import GaussianHMM
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()       # eruptions of Old Faithful, in order
    >>> model = GaussianHMM(n_components=2, random_state=0).fit(X)
    >>> print(model.means_.round(2))
    [[ 2.04 54.5 ]
     [ 4.29 79.99]]
    >>> print(model.transmat_.round(2))   # a short eruption is followed by a long one
    [[0.06 0.94]
     [0.52 0.48]]
    >>> model.covars_.shape
    (2, 2, 2)
    >>> model.predict(X[:8])
    array([1, 0, 1, 0, 1, 0, 1, 1])
    >>> round(model.score(X), 1)
    -1113.5

    A model set by hand, and a sample from it:

    >>> import numpy as np
    >>> truth = GaussianHMM(n_components=2, random_state=0)
    >>> truth.startprob_ = np.array([0.6, 0.4])
    >>> truth.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> truth.means_ = np.array([[0.0], [5.0]])
    >>> truth.covars_ = np.array([[1.0], [0.5]])
    >>> X, states = truth.sample(1000)
    >>> model = GaussianHMM(n_components=2, n_iter=100, random_state=0).fit(X)
    >>> print(model.means_.round(1))
    [[0.]
     [5.]]
    >>> print(model.transmat_.round(2))
    [[0.9 0.1]
     [0.2 0.8]]
    >>> print((model.predict(X) == states).mean())
    1.0
    """

    _emission_letters = "mc"
    _emission_attributes = ("means_", "_covars_")

    # fitted attributes (besides BaseHMM's): fit sets them all at once, at its end
    means_: NDArray[np.float64]
    _covars_: NDArray[np.float64]       # in the covariance type's own shape
    n_features: int

    def __init__(self, n_components: int = 1, covariance_type: str = "diag",
                 min_covar: float = 1e-3, startprob_prior: ArrayLike = 1.0,
                 transmat_prior: ArrayLike = 1.0, means_prior: ArrayLike = 0,
                 means_weight: ArrayLike = 0, covars_prior: ArrayLike = 1e-2,
                 covars_weight: ArrayLike = 1, algorithm: str = "viterbi",
                 random_state: int | np.random.RandomState | None = None, n_iter: int = 10,
                 tol: float = 1e-2, verbose: bool = False, params: str = "stmc",
                 init_params: str = "stmc", implementation: str = "log",
                 n_threads: int | None = None, accelerate: str | None = None) -> None:
        super().__init__(n_components, startprob_prior, transmat_prior, algorithm,
                         random_state, n_iter, tol, verbose, params, init_params,
                         implementation, n_threads, accelerate)
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    # covars_ reads as full matrices, as hmmlearn's; it accepts the type's own shape
    @property
    def covars_(self) -> NDArray[np.float64]:
        """Covariance matrix of each state, of shape (n_components, n_features, n_features).

        Of this shape whatever the ``covariance_type``, as hmmlearn's: the model holds
        the covariances in the type's own shape (in ``_covars_``)::

            (n_components,)                        if 'spherical',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag',
            (n_components, n_features, n_features) if 'full'

        and reading ``covars_`` (which needs ``means_``, for n_features) expands them
        into a new array ('tied' repeated for every state, 'diag' and 'spherical' as
        diagonal matrices), so changing that array does not change the model. Setting
        ``covars_`` takes the type's own shape and checks it (positive variances,
        symmetric positive-definite matrices); 'spherical' also takes hmmlearn's other
        shapes ((n_components, 1) and other trailing axes of length one,
        (n_components, n_features) rows, whose means are taken, and full matrices,
        whose diagonals' means are taken) and 'diag' full matrices (their diagonals
        are taken).

        See Also
        --------
        GaussianHMM.fit : Estimate the covariances with the other parameters.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianHMM
        >>> model = GaussianHMM(n_components=2, covariance_type="diag")
        >>> model.means_ = np.zeros((2, 3))
        >>> model.covars_ = [[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]]
        >>> model.covars_.shape
        (2, 3, 3)
        >>> print(model.covars_[0])
        [[1. 0. 0.]
         [0. 2. 0.]
         [0. 0. 3.]]

        A fitted 'tied' model shares one matrix:

        >>> from fastem.datasets import load_faithful
        >>> tied = GaussianHMM(n_components=2, covariance_type="tied", random_state=0)
        >>> covars = tied.fit(load_faithful()).covars_
        >>> print(covars[0].round(2))
        [[ 0.13  0.76]
         [ 0.76 35.11]]
        >>> np.array_equal(covars[0], covars[1])
        True
        """
        return _full_from(self._covars_, self.covariance_type, self.n_components,
                          np.shape(self.means_)[1])

    @covars_.setter
    def covars_(self, covars: ArrayLike) -> None:
        self._covars_ = _check_covars(covars, self.covariance_type, self.n_components)

    def _validate_settings(self):
        super()._validate_settings()
        check_option(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_float(self.min_covar, "min_covar", minimum=0.0)

    def _validate_X(self, X, fitting, name="X"):
        X = check_array(X, name)
        X = np.ascontiguousarray(X, dtype=np.float64)
        if not (fitting and "m" in self.init_params) and hasattr(self, "means_"):
            d = np.shape(self.means_)[1]
            if X.shape[1] != d:
                raise ValueError(f"{name} has {X.shape[1]} features, but "
                                 f"{type(self).__name__} is expecting {d} features as "
                                 "input.")
        return X

    def _fit_n_features(self, X):
        return X.shape[1]

    def _check_fit_sizes(self, n_samples, n_features):
        K = self.n_components
        if self._needs_init("m", "means_") and n_samples < K:
            raise ValueError(f"n_components={K} must be at most the number of samples "
                             f"({n_samples}) to initialise means_ by k-means; reduce "
                             "n_components, or set means_ and leave 'm' out of init_params")
        if self._needs_init("c", "_covars_") and n_samples < 2:
            raise ValueError("X has 1 sample: covars_ is initialised from the covariance "
                             "of X, which needs at least 2; give more samples, or set "
                             "covars_ and leave 'c' out of init_params")

    def _emission_sizes(self, n_features):
        K, ct = self.n_components, self.covariance_type
        n_cov = int(np.prod(cov_shape(ct, K, n_features), dtype=object))
        return {"means_": (K * n_features, "n_components x n_features"),
                "covars_": (n_cov, _COVARS_SHAPE_WORDS[ct])}

    def _initial_emission(self, rows, n_features):
        K, d = self.n_components, n_features
        means = getattr(self, "means_", None)
        if self._initializes("m", "means_"):
            kmeans = KMeans(n_clusters=K, n_init=10, random_state=self.random_state,
                            n_threads=self.n_threads)
            means = kmeans.fit(rows()).cluster_centers_
        covars = getattr(self, "_covars_", None)
        if self._initializes("c", "covars_", "_covars_"):
            X = rows()
            cv = np.atleast_2d(np.cov(X.T)) + self.min_covar * np.eye(d)
            if self.covariance_type == "spherical":
                # hmmlearn's: the mean of every entry of cv (its diagonal and the
                # covariances between features), >= min_covar / d as 1'cov(X)1 >= 0
                covars = np.full(K, cv.mean())
            elif self.covariance_type == "diag":
                covars = np.tile(np.diag(cv), (K, 1))
            elif self.covariance_type == "tied":
                covars = cv
            else:
                covars = np.tile(cv, (K, 1, 1))
            try:
                _check_covars(covars, self.covariance_type, K, d)
            except ValueError:
                raise ValueError(
                    f"covars_ is initialised from the covariance of X plus min_covar="
                    f"{self.min_covar:g} on its diagonal, which is not positive definite "
                    f"to working precision (X: {X.shape[0]} samples, {d} features); "
                    "increase min_covar, scale X, or set covars_ and leave 'c' out of "
                    "init_params") from None
        return {"means_": means, "_covars_": covars}

    def _checked_emission(self, values):
        K, ct = self.n_components, self.covariance_type
        means = np.array(required(values["means_"], "means_", "m"), dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != K or not np.all(np.isfinite(means)):
            raise ValueError(f"means_ must be a finite array of shape (n_components={K}, "
                             f"n_features), got shape {means.shape}")
        cov = _check_covars(required(values["_covars_"], "covars_", "c"), ct, K,
                            means.shape[1])
        prec = precision_cholesky_from_covariances(cov, ct)
        return GaussianParams(np.ones(K), means, cov, prec, ct)

    def _emission_state(self, emission):
        return {"means_": emission.means, "_covars_": emission.covariances,
                "n_features": emission.means.shape[1]}

    def _fitted_n_features(self, emission):
        return emission.means.shape[1]

    def _emission_pass(self):
        return GaussianEmission(self.covariance_type,
                                "m" in self.params or "c" in self.params)

    # ----------------------------------------------------------------- M-step
    def _emission_pack(self, emission):
        return pack_unconstrained(emission, weights=False)

    def _emission_unpack(self, vector, like):
        return unpack_unconstrained(vector, like, weights=False)

    def _emission_mstep(self, stats, emission):
        if not isinstance(stats, GaussianStats):        # NoStats: neither 'm' nor 'c'
            return emission
        nk, s1, s2 = stats.nk, stats.s1, stats.s2
        K, d = s1.shape
        ct = self.covariance_type
        shift = stats.shift
        obs = s1 + nk[:, None] * shift
        mw = np.broadcast_to(np.asarray(self.means_weight, dtype=np.float64), (K,))[:, None]
        mp = np.asarray(self.means_prior, dtype=np.float64)
        means = shift
        if "m" in self.params:
            denom = mw + nk[:, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                fresh = (mw * mp + obs) / denom
            means = np.where(denom > 0, fresh, shift)
        cov = emission.covariances
        if "c" in self.params:
            cov = self._covariance_mstep(nk, s1, s2, shift, means, mw, mp, cov, K, d)
        prec = precision_cholesky_from_covariances(cov, ct)
        return replace(emission, means=means, covariances=cov, precisions_cholesky=prec)

    def _covariance_mstep(self, nk, s1, s2, shift, means, mw, mp, old, K, d):
        """hmmlearn's covariance update (its priors), from moments about ``shift``; a
        state with no weight keeps its covariance, and a result that is not positive
        definite gets min_covar added to its diagonal."""
        ct = self.covariance_type
        cp = np.asarray(self.covars_prior, dtype=np.float64)
        cw = np.asarray(self.covars_weight, dtype=np.float64)
        delta = means - shift                     # (K, d)
        meandiff = means - mp
        if ct in ("spherical", "diag"):
            second = s2.reshape(K, d)
            scatter = second - 2 * delta * s1 + nk[:, None] * delta**2
            c_n = mw * meandiff**2 + scatter
            c_d = np.maximum(cw - 1, 0) + nk[:, None]
            cov = (cp + c_n) / np.maximum(c_d, 1e-5)
            if ct == "spherical":
                cov = cov.mean(axis=1)
            return np.where(positive_variances(cov), cov, np.maximum(old, self.min_covar))
        second = unpack_symmetric(s2.reshape(K, -1) if ct == "full" else s2, d)
        if ct == "tied":
            # the tied pass sums the moments of all states in one matrix
            cross = np.einsum("ki,kj->ij", s1, delta)
            scatter = second - cross - cross.T + np.einsum("k,ki,kj->ij", nk, delta, delta)
            c_n = scatter + np.einsum("k,ki,kj->ij", mw[:, 0], meandiff, meandiff)
            cvweight = np.maximum(cw - d, 0)
            cov = (cp + c_n) / (cvweight + nk.sum())
            return self._positive_definite(cov[None], old[None])[0]
        cross = s1[:, :, None] * delta[:, None, :]
        scatter = (second - cross - np.swapaxes(cross, 1, 2)
                   + nk[:, None, None] * delta[:, :, None] * delta[:, None, :])
        c_n = mw[:, :, None] * meandiff[:, :, None] * meandiff[:, None, :] + scatter
        cvweight = np.maximum(cw - d, 0)
        denom = cvweight + nk[:, None, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = (cp + c_n) / denom
        cov = np.where(denom > 0, cov, old)
        return self._positive_definite(cov, old)

    def _positive_definite(self, stack, old):
        """The matrices of stack symmetrised; one that is not positive definite (by the
        test that validates covars_, so a fitted model always passes it) gets min_covar
        added to its diagonal or, if that is not enough, keeps its old value."""
        out = 0.5 * (stack + np.swapaxes(stack, -1, -2))
        eye = np.eye(stack.shape[-1])
        for k in range(stack.shape[0]):
            for candidate in (out[k], out[k] + self.min_covar * eye, old[k]):
                if is_positive_definite(candidate):
                    out[k] = candidate
                    break
        return out

    # ----------------------------------------------------------------- the rest
    def _sample_emission(self, states, emission, rs):
        K, d = emission.means.shape
        n = states.shape[0]
        z = rs.standard_normal((n, d))
        X = np.empty((n, d))
        full = _full_from(emission.covariances, self.covariance_type, K, d)
        for k in range(K):
            rows = np.flatnonzero(states == k)
            if rows.size:
                factor = np.linalg.cholesky(full[k])
                X[rows] = emission.means[k] + z[rows] @ factor.T
        return X

    def _n_emission_scalars(self, n_features):
        K, d = self.n_components, n_features
        cov = {"spherical": K, "diag": K * d, "full": K * d * (d + 1) // 2,
               "tied": d * (d + 1) // 2}[self.covariance_type]
        return {"m": K * d, "c": cov}
