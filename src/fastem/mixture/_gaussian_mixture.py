"""GaussianMixture: scikit-learn's API on the fused EM kernels and the shared driver."""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import ParamsMixin, information_criteria, sklearn_tags
from .._engine import ACCELERATIONS, commit, online_step, run_em, stepwise_rate
from .._kernels import _gaussian
from .._kernels._parallel import effective_n_threads
from .._sources import INIT_SAMPLE_ROWS, ArraySource, as_source
from .._validation import (
    ABSENT,
    PARAMETER_COPIES,
    check_array,
    check_float,
    check_int,
    check_is_fitted,
    check_memory,
    check_n_features,
    check_option,
    check_positive_definite,
    check_random_state,
    check_sample_weight,
    fitted_features,
    positive_variances,
)
from ..cluster._kmeans import _kmeans_plusplus, _nearest, lloyd
from ._gaussian import (
    COV_CODE,
    COVARIANCE_TYPES,
    GaussianParams,
    classification_entropy,
    cov_shape,
    covariances_from_precisions,
    e_pass,
    labelled_stats,
    n_parameters,
    pack_unconstrained,
    params_from_stats,
    precision_cholesky_from_precisions,
    precisions_from_cholesky,
    responsibility_stats,
    unpack_unconstrained,
)
from ._hierarchical import hierarchical_labels
from ._information import InformationMixin
from ._missing import MissingPatterns, impute, missing_e_pass, observed_means
from ._prior import ConjugatePrior, check_prior, resolve_prior
from ._stats import GaussianStats, gaussian_e_step

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data", "hierarchical", "auto")
# init_params='auto': the first starts, then the others in turn; the E-steps of every
# short run; how many of them continue
AUTO_FIRST = ("hierarchical", "hierarchical VARS")
AUTO_STARTS = ("scaled k-means++", "k-means++")
AUTO_INIT_ITER = 20
AUTO_KEEP = 3
# a component is degenerate when, with the columns scaled to unit variance, its
# covariance's smallest eigenvalue is below this (a standard deviation under 0.3% of the
# data's: a spurious maximum, on tied values or a flat subset of the rows)
DEGENERATE_FLAT = 1e-5
_INIT_SAMPLE_ROWS = 20_000  # rows used to initialise when X has missing values
# rows x components per chunk of initial responsibilities: 2^15 to 2^18 (256 KB to
# 2 MB), at most a sixteenth of the memory of X
_CHUNK_CELLS = (1 << 15, 1 << 18)


def _mixture_variances(params):
    """The variance of each feature under the mixture: sum_k w_k (Sigma_k,jj +
    (mu_kj - mu_j)^2), mu the mixture's mean."""
    w, means, cov, ct = params.weights, params.means, params.covariances, params.covariance_type
    within = {"full": lambda: np.diagonal(cov, axis1=1, axis2=2),
              "tied": lambda: np.diag(cov)[None, :],
              "diag": lambda: cov,
              "spherical": lambda: cov[:, None] * np.ones(means.shape[1])}[ct]()
    center = w @ means
    return w @ (np.broadcast_to(within, means.shape) + (means - center) ** 2)


def _chunk_rows(n_components, data_bytes=0):
    lo, hi = _CHUNK_CELLS
    cells = min(hi, max(lo, data_bytes // 16 // 8))
    return max(256, (cells // n_components) // 256 * 256)


class _GaussianMixtureEM:
    """The driver's problem for a Gaussian mixture on a validated source of rows."""

    def __init__(self, source, *, n_components, covariance_type, reg_covar,
                 init_params, weights_init, means_init, precisions_init, n_threads,
                 prior=None):
        self.source = source
        self.X = self.sw = self.patterns = None
        if source.in_memory:        # the initialisations read the rows themselves
            self.X, self.sw = source.X, source.sample_weight
            self.patterns = source.block.cache.get("patterns")
        self.n_features = source.n_features
        # rows with nothing observed carry no information and are left out
        self.total_weight = source.observed_weight
        self.k = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.n_threads = n_threads
        self.prior = prior
        self.e_step = functools.partial(gaussian_e_step, n_threads=n_threads)
        self.starts = 0           # initialize() calls so far ('auto' takes them in turn)
        self._sample = None       # the in-memory problem on a sample of the rows

    def m_step(self, stats):
        """Parameters from the statistics: the ML estimates, or the posterior mode with
        a prior."""
        return self.params_from_moments(stats.nk, stats.s1, stats.s2, stats.shift)

    def params_from_moments(self, nk, s1, s2, shift):
        return params_from_stats(nk, s1, s2, shift, self.reg_covar, self.covariance_type,
                                 self.prior)

    def objective(self, params, stats):
        """The mean log-likelihood per unit of weight at ``params``, or the
        log-posterior's with a prior."""
        loglik = stats.loglik
        if self.prior is not None:
            loglik += self.prior.log_density(params)
        return loglik / stats.weight

    def degenerate(self, params):
        """Whether a component has collapsed: an effective weight below n_features + 1
        points, or a covariance that is flat relative to the data: with the columns
        scaled to unit variance (the variances of the fitted mixture, which are the
        data's at a maximum-likelihood fit), its smallest eigenvalue is below
        DEGENERATE_FLAT."""
        d = self.n_features
        if (self.total_weight * params.weights < d + 1).any():
            return True
        var = _mixture_variances(params)
        inv_sd = 1.0 / np.sqrt(np.where(var > 0, var, 1.0))
        cov, ct = params.covariances, self.covariance_type
        if ct in ("full", "tied"):
            stack = cov if ct == "full" else cov[None]
            smallest = np.linalg.eigvalsh(stack * inv_sd[:, None] * inv_sd[None, :]).min()
        elif ct == "diag":
            smallest = np.min(cov * inv_sd**2)
        else:
            smallest = np.min(cov) * np.min(inv_sd**2)
        return bool(smallest < DEGENERATE_FLAT)

    def final_score(self, params, objective):
        """Which of several runs is best: a non-degenerate one, then the higher lower
        bound."""
        return (not self.degenerate(params), objective)

    def pack(self, params):
        return pack_unconstrained(params)

    def unpack(self, vector, like):
        return unpack_unconstrained(vector, like, self.reg_covar)

    # -- initialisation -------------------------------------------------------------
    def initialize(self, rs):
        given = (self.weights_init, self.means_init, self.precisions_init)
        if all(v is not None for v in given):
            return self._from_given(None)
        if self.X is None:       # rows not in memory: initialise on a sample of them
            return self._from_given(self._sample_problem(rs)._initial_estimate(rs))
        return self._from_given(self._initial_estimate(rs))

    def _sample_problem(self, rs):
        """The problem on at most INIT_SAMPLE_ROWS rows of the source, in memory (all of
        them, in order, when there are no more); drawn once per fit."""
        if self._sample is None:
            X, sw = self.source.sample(max(INIT_SAMPLE_ROWS, 50 * self.k), rs)
            if sw is not None and not sw.sum() > 0:
                sw = None
            missing = bool(self.source.missing and np.isnan(X).any())
            patterns = MissingPatterns(X, for_fit=False) if missing else None
            self._sample = self._on(ArraySource(X, sw, missing, patterns=patterns))
        return self._sample

    def _on(self, source):
        """The same problem on other rows."""
        return _GaussianMixtureEM(
            source, n_components=self.k, covariance_type=self.covariance_type,
            reg_covar=self.reg_covar, init_params=self.init_params, weights_init=None,
            means_init=None, precisions_init=None, n_threads=self.n_threads,
            prior=self.prior)

    def _from_given(self, estimate):
        ct = self.covariance_type
        weights = self.weights_init if self.weights_init is not None else estimate.weights
        means = self.means_init if self.means_init is not None else estimate.means
        if self.precisions_init is not None:
            prec_chol = precision_cholesky_from_precisions(self.precisions_init, ct)
            cov = covariances_from_precisions(self.precisions_init, ct)
        else:
            prec_chol, cov = estimate.precisions_cholesky, estimate.covariances
        return GaussianParams(weights.copy(), means.copy(), cov, prec_chol, ct)

    def _initial_estimate(self, rs):
        method = self.init_params
        if method == "auto":      # AUTO_FIRST, then AUTO_STARTS in turn
            later = (self.starts - len(AUTO_FIRST)) % len(AUTO_STARTS)
            method = (AUTO_FIRST[self.starts] if self.starts < len(AUTO_FIRST)
                      else AUTO_STARTS[later])
        self.starts += 1
        if self.patterns is not None:
            return self._initial_estimate_with_missing(rs, method)
        X, k, n = self.X, self.k, self.X.shape[0]
        if method.startswith("hierarchical"):
            use = method.partition(" ")[2] or "SVD"
            rows, labels = hierarchical_labels(X, k, rs, use=use)
            return self._from_partition(rows, labels)
        if method in ("scaled kmeans", "scaled k-means++"):
            return self._scaled_start(rs, method)
        if method in ("random_from_data", "k-means++"):
            if method == "k-means++":
                indices = _kmeans_plusplus(X, k, self.sw, rs, None, self.n_threads)
            else:
                indices = rs.choice(n, size=k, replace=False)
            return self._from_points(indices)
        if method == "kmeans":
            problem, run = lloyd(X, self.sw, k, init="k-means++", n_init=1, max_iter=300,
                                 tol=1e-4, random_state=rs, n_threads=self.n_threads)
            centers = run.params
            # responsibilities one-hot at the nearest center (scikit-learn's k-means
            # initialisation), as labels (from the run's final pass): no n x k array
            nk, s1, s2 = labelled_stats(X, self.sw, problem.best_labels, centers,
                                        self.covariance_type, n_threads=self.n_threads)
            return self.params_from_moments(nk, s1, s2, centers.astype(np.float64))
        else:  # random responsibilities, drawn chunk by chunk in scikit-learn's order

            def chunk(lo, hi):
                r = rs.uniform(size=(hi - lo, k))
                r /= r.sum(axis=1)[:, None]
                return X[lo:hi], None if self.sw is None else self.sw[lo:hi], r

            if self.sw is None:
                center = X.mean(axis=0, dtype=np.float64)
            else:
                center = (self.sw @ X) / self.total_weight
            shift = np.tile(center, (k, 1))
        return self._from_responsibilities(chunk, shift)

    def _initial_estimate_with_missing(self, rs, method):
        """Initialise on a bounded sample of complete rows when there are enough of them,
        else of rows with their missing entries set to the column means."""
        pat = self.patterns
        cap = max(_INIT_SAMPLE_ROWS, 50 * self.k)
        complete = [p for p in range(pat.n_patterns) if not pat.masks[p].any()]
        rows = (pat.order[pat.seg[complete[0]]:pat.seg[complete[0] + 1]] if complete
                else np.empty(0, dtype=np.intp))
        use_complete = len(rows) >= max(10 * self.k, 50)
        if not use_complete:
            rows = pat.order
        if len(rows) > cap:
            rows = np.sort(rs.choice(rows, size=cap, replace=False))
        sub = self.X[rows]
        if not use_complete:
            sub = np.where(np.isnan(sub), observed_means(self.X)[0], sub).astype(self.X.dtype)
        sw = None if self.sw is None else self.sw[rows]
        if sw is not None and not sw.sum() > 0:
            sw = None
        sample = self._on(ArraySource(np.ascontiguousarray(sub), sw))
        sample.init_params = method
        return sample._initial_estimate(rs)

    def _from_partition(self, rows, labels):
        """The M-step of the rows ``rows`` of X partitioned by ``labels``."""
        X, k = self.X, self.k
        sub = np.ascontiguousarray(X[rows])
        sw = None if self.sw is None else self.sw[rows]
        centers = np.zeros((k, X.shape[1]))
        np.add.at(centers, labels, sub.astype(np.float64))
        centers /= np.maximum(np.bincount(labels, minlength=k), 1)[:, None]
        nk, s1, s2 = labelled_stats(sub, sw, labels, centers, self.covariance_type,
                                    n_threads=self.n_threads)
        return self.params_from_moments(nk, s1, s2, centers.astype(X.dtype).astype(np.float64))

    def _scaled_start(self, rs, method):
        """A partition of a sample of at most _INIT_SAMPLE_ROWS rows, its columns scaled
        to unit variance (so that no feature's units decide it): Lloyd's k-means from
        k-means++ seeds ('scaled kmeans'), or each row at its nearest k-means++ seed
        ('scaled k-means++')."""
        X, k, n = self.X, self.k, self.X.shape[0]
        rows = np.arange(n)
        if n > _INIT_SAMPLE_ROWS:
            rows = np.sort(rs.choice(n, size=_INIT_SAMPLE_ROWS, replace=False))
        Z = X[rows].astype(np.float64)
        sd = Z.std(axis=0)
        Z = np.ascontiguousarray((Z - Z.mean(axis=0)) / np.where(sd > 0, sd, 1.0))
        sw = None if self.sw is None else self.sw[rows]
        if method == "scaled kmeans":
            problem, _ = lloyd(Z, sw, k, init="k-means++", n_init=1, max_iter=300,
                               tol=1e-4, random_state=rs, n_threads=self.n_threads)
            labels = problem.best_labels
        else:     # each row at its nearest seed (the k-means kernel's labels)
            seeds = np.ascontiguousarray(Z[_kmeans_plusplus(Z, k, sw, rs, None,
                                                            self.n_threads)])
            labels = np.empty(len(Z), dtype=np.intc)
            _nearest(Z, sw, seeds, labels, self.n_threads)
        return self._from_partition(rows, np.asarray(labels, dtype=np.intc))

    def _from_responsibilities(self, chunk, shift):
        """M-step from initial responsibilities, given chunk by chunk: chunk(lo, hi)
        returns (rows, their weights or None, their responsibilities)."""
        n = self.X.shape[0]
        step = _chunk_rows(self.k, self.X.nbytes)
        nk = s1 = s2 = 0.0
        for lo in range(0, n, step):
            rows, sw, resp = chunk(lo, min(n, lo + step))
            a, b, c = responsibility_stats(rows, sw, resp, shift, self.covariance_type,
                                           n_threads=self.n_threads)
            nk, s1, s2 = nk + a, s1 + b, s2 + c
        shift = np.ascontiguousarray(shift, dtype=self.X.dtype).astype(np.float64)
        return self.params_from_moments(nk, s1, s2, shift)

    def _from_points(self, indices):
        """One row per component: means at those rows, covariances reg_covar * I."""
        d = self.X.shape[1]
        means = self.X[indices].astype(np.float64)
        s1 = np.zeros((self.k, d))
        s2 = np.zeros(_gaussian.stats_size(COV_CODE[self.covariance_type], self.k, d))
        nk = np.ones(self.k) if self.sw is None else self.sw[indices].astype(np.float64)
        if not (nk > 0).all():
            nk = np.ones(self.k)
        return params_from_stats(nk, s1, s2, means, self.reg_covar, self.covariance_type)


class GaussianMixture(InformationMixin, ParamsMixin):
    """Gaussian mixture model fitted by EM on fused Cython/OpenMP kernels.

    Estimate the parameters of a mixture of Gaussian distributions by
    expectation-maximization. Same parameters, attributes and methods as scikit-learn's
    GaussianMixture; from the same initial parameters the EM iterates are the same, to
    floating-point accuracy. Additions: ``sample_weight`` in fit, missing values (NaN)
    in fit and every method that takes X, ``impute``, ``n_threads``, ``callback`` and
    ``lower_bounds_``; results are bitwise identical for any ``n_threads``.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The form of the covariance parameters:

        - 'full': each component has its own general covariance matrix.
        - 'tied': all components share the same general covariance matrix.
        - 'diag': each component has its own diagonal covariance matrix.
        - 'spherical': each component has its own single variance.

    tol : float, default=1e-3
        The convergence threshold: a run stops, converged, when the lower bound (the
        mean per-sample log-likelihood) changes by less than ``tol`` in absolute value.

    reg_covar : float, default=1e-6
        Non-negative regularization added to the diagonal of every covariance, so that
        the covariances stay positive-definite.

    max_iter : int, default=100
        The number of EM iterations to perform in each run. With 0 the model keeps its
        initial parameters (``converged_`` is then False, without a warning).

    n_init : int, default=1
        The number of initializations (runs); the run with the highest final lower bound
        is kept (the first of equal ones), a non-degenerate run before any degenerate
        one (see ``degenerate_``).

    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical', 'auto'}, default='kmeans'
        The method used to initialize the weights, the means and the precisions that
        are not given by ``weights_init``, ``means_init`` and ``precisions_init``:

        - 'kmeans': responsibilities one-hot at the nearest center of a k-means fit
          (Lloyd's algorithm from k-means++ seeding, one run of at most 300
          iterations).
        - 'k-means++': the means at rows chosen by k-means++ seeding (weighted by
          ``sample_weight``), the covariances ``reg_covar`` times the identity.
        - 'random': responsibilities drawn uniformly at random, then normalized.
        - 'random_from_data': as 'k-means++', but the rows chosen uniformly at random.
        - 'hierarchical': the partition of model-based agglomerative hierarchical
          clustering, as R mclust's default start: its VVV criterion on the data
          scaled as mclust's ``hcUse = "SVD"``, on a random sample of at most 1000
          rows (fewer for many features), cut at ``n_components`` clusters.
        - 'auto': the recommended search for the best optimum, for ``n_init`` > 1:
          the first run starts 'hierarchical', the second from the same hierarchy
          on the unscaled data, the others alternately from k-means++ seeds chosen
          on the data scaled to unit variance (each row at its nearest seed) and
          from 'k-means++'; every run does ``init_iter`` (default 20) iterations,
          the 3 best continue to convergence and the best of those is kept
          (short-run restarts, "emEM"). With ``n_init=1``, 'hierarchical'.

        With missing values, the initialization uses a random sample of at most
        max(20000, 50 * n_components) rows: complete rows when at least
        max(10 * n_components, 50) rows are complete, else every row with its missing
        entries set to the column means.

    init_iter : int or None, default=None
        With ``n_init`` > 1: every run first does at most ``init_iter`` iterations,
        and only the best of them (a non-degenerate one first, then the highest lower
        bound) continues, so that ``n_init`` starts cost little more than one
        (Biernacki, Celeux and Govaert, 2003). None runs every start to convergence,
        as scikit-learn (but 20 with ``init_params='auto'``, whose 3 best runs
        continue).

    weights_init : array-like of shape (n_components,), default=None
        The initial weights, in [0, 1] and summing to 1. If None, from ``init_params``.

    means_init : array-like of shape (n_components, n_features), default=None
        The initial means. If None, from ``init_params``.

    precisions_init : array-like, default=None
        The initial precisions (inverses of the covariances), positive (for 'diag' and
        'spherical') or symmetric positive-definite (for 'full' and 'tied'). If None,
        from ``init_params``. The shape depends on ``covariance_type``::

            (n_components,)                        if 'spherical',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag',
            (n_components, n_features, n_features) if 'full'

    random_state : int, RandomState instance or None, default=None
        Controls the random draws of the initialization and of ``sample``. Pass an int
        for reproducible results across calls. None uses numpy's global RandomState.

    warm_start : bool, default=False
        If True and the model is fitted, fit continues from the fitted parameters and
        lower bound: it makes one run (``n_init`` and the ``*_init`` parameters are then
        ignored) and ``lower_bounds_`` holds that run's iterations only. The data must
        have the same number of features, and ``n_components`` and ``covariance_type``
        must be unchanged (a ValueError otherwise).

    verbose : int, default=0
        0 prints nothing. 1 prints the start and the end of each run and the lower
        bound, its change and the time of the first iteration and of every
        ``verbose_interval``-th one. 2 or more prints every iteration.

    verbose_interval : int, default=10
        The number of iterations between two printed ones, with ``verbose=1``.

    n_threads : int or None, default=None
        The number of OpenMP threads of the kernels. None uses every usable core
        (affinity mask and cgroup quota), limited by ``OMP_NUM_THREADS`` and
        threadpoolctl's ``threadpool_limits``; a negative value counts from all usable
        cores, as scikit-learn's ``n_jobs`` (-1: all, -2: all but one); without OpenMP
        the kernels run on one thread. Results do not depend on it: they are bitwise
        identical for any value.

    callback : callable or None, default=None
        Called after every EM iteration of every run with an :class:`IterationInfo`
        (``init``, ``n_iter``, ``lower_bound``, ``change``, ``time``). Returning True
        (the value True itself) stops that run, which then counts as converged only if
        that iteration also met ``tol``.

    prior : None, 'default' or ConjugatePrior, default=None
        None fits by maximum likelihood. A :class:`~fastem.mixture.ConjugatePrior`
        fits by maximum a posteriori (MAP): every M-step returns the posterior mode,
        and the lower bound is the log-posterior. 'default' is ``ConjugatePrior()``,
        R mclust's default prior (``priorControl()``), whose values not given are
        computed from the data at fit. ``reg_covar`` is still added to the
        covariances: ``reg_covar=0`` gives the exact posterior mode.

    accelerate : {None, 'squarem'}, default=None
        None runs plain EM, one E-step and one M-step per iteration, as scikit-learn.
        'squarem' accelerates it with SQUAREM (Varadhan and Roland, 2008): every
        cycle takes two EM steps, extrapolates along them (in coordinates where every
        point is valid parameters: log-ratio weights, means, Cholesky factors with log
        diagonals) and takes one more EM step from the extrapolated point, which is
        kept only when its lower bound is no lower than at the cycle's start, so the
        lower bound never decreases. ``max_iter`` and ``n_iter_`` then count E-steps
        (up to three per cycle), and ``lower_bounds_``, ``tol`` and ``callback`` see
        one value per cycle, the lower bound at its start. It reaches the same optimum
        in several times fewer E-steps when EM converges slowly (overlapping
        components); iterates differ from scikit-learn's.

    learning_decay : float, default=0.7
        How fast ``partial_fit``'s step sizes decrease: the batch after ``t`` steps is
        blended into the running statistics with weight ``(t + learning_offset) **
        -learning_decay``. In (0.5, 1], so that the steps sum to infinity and their
        squares do not (the running statistics then converge). Not used by ``fit``.

    learning_offset : float, default=10.0
        A non-negative offset that damps ``partial_fit``'s early steps (see
        ``learning_decay``). Not used by ``fit``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The weights of the mixture components.

    means_ : ndarray of shape (n_components, n_features)
        The mean of each mixture component.

    covariances_ : ndarray
        The covariance of each mixture component. The shape depends on
        ``covariance_type``::

            (n_components,)                        if 'spherical',
            (n_features, n_features)               if 'tied',
            (n_components, n_features)             if 'diag',
            (n_components, n_features, n_features) if 'full'

    precisions_ : ndarray
        The precision matrices (inverses of the covariances) of the mixture components,
        of the shape of ``covariances_``.

    precisions_cholesky_ : ndarray
        The Cholesky factors of the precision matrices, of the shape of
        ``covariances_``: upper-triangular ``U`` with ``precision = U @ U.T`` for
        'full' and 'tied', the square roots of the precisions for 'diag' and
        'spherical'.

    converged_ : bool
        True when the best run converged (its lower bound changed by less than ``tol``
        within ``max_iter`` iterations), else False.

    n_iter_ : int
        The number of EM iterations of the best run.

    lower_bound_ : float
        The mean (weighted) log-likelihood per sample at the last E-step of the best
        run, that is at the parameters before its last M-step, as scikit-learn's. With
        a ``prior``, the mean log-posterior: the (weighted) log-likelihood plus the log
        prior density, divided by the total weight (``score`` stays the
        log-likelihood).

    degenerate_ : bool
        True when a component of the fit has collapsed: its effective number of points
        (the total weight times its weight) is below ``n_features + 1``, or its
        covariance is flat relative to the data (with every column scaled to unit
        variance, its smallest eigenvalue is below 1e-5: a standard deviation under
        0.3% of the data's, as on a set of tied values). Such a fit is a spurious
        maximum of the likelihood, an artefact of ``reg_covar``; with ``n_init`` > 1 it
        is kept only when every run is degenerate.

    lower_bounds_ : list of float
        The lower bound at every iteration of the best run (``n_iter_`` values).

    n_features_in_ : int
        The number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        The names of the features seen during fit, str objects. Defined only when X
        was a DataFrame whose column names are all strings.

    prior_ : ConjugatePrior
        The prior of the fit with every value filled in (the defaults computed from
        the data). Defined only for a fit with a ``prior``.

    n_steps_ : int
        The number of batches ``partial_fit`` has taken since the model was
        initialised (a ``fit`` counts as the first). Defined after ``partial_fit``.

    See Also
    --------
    KMeans : K-means clustering, the hard-assignment limit of a Gaussian mixture.
    GaussianHMM : Hidden Markov model with Gaussian emissions.
    sklearn.mixture.GaussianMixture : The scikit-learn estimator with the same API.

    Notes
    -----
    float32 data is fitted in float32 kernels (statistics accumulated in float64), and
    the fitted arrays, ``predict_proba`` and ``score_samples`` are then float32, as in
    scikit-learn; any other numeric data is converted to float64.

    Missing values: X may hold NaN, taken as missing at random (infinity is an error).
    The iterates are exact EM for the likelihood of the observed entries: the E-step
    uses each row's observed entries, the M-step the conditional means and covariances
    of its missing ones. A row with nothing observed is left out of fit, and a column
    with nothing observed is an error. ``predict``, ``predict_proba``,
    ``score_samples``, ``score``, ``bic`` and ``aic`` use each row's observed entries,
    and ``impute`` fills the NaN in.

    Examples
    --------
    >>> from fastem import GaussianMixture
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> print(gm.weights_.round(2))
    [0.36 0.64]
    >>> print(gm.means_.round(2))
    [[ 2.04 54.48]
     [ 4.29 79.97]]
    >>> gm.predict([[2.0, 50.0], [4.5, 85.0]])
    array([0, 1])
    >>> gm.converged_, gm.n_iter_
    (True, 4)
    >>> round(gm.score(X) * len(X), 1)
    -1130.3
    """

    # fitted attributes: fit sets them all at once, at its end (see _engine.commit)
    # (float32 for float32 data, else float64)
    weights_: NDArray[np.floating[Any]]
    means_: NDArray[np.floating[Any]]
    covariances_: NDArray[np.floating[Any]]
    precisions_: NDArray[np.floating[Any]]
    precisions_cholesky_: NDArray[np.floating[Any]]
    converged_: bool
    n_iter_: int
    degenerate_: bool
    lower_bound_: float
    lower_bounds_: list[float]
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]
    prior_: ConjugatePrior
    n_steps_: int

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full",
                 tol: float = 1e-3, reg_covar: float = 1e-6, max_iter: int = 100,
                 n_init: int = 1, init_params: str = "kmeans", init_iter: int | None = None,
                 weights_init: ArrayLike | None = None, means_init: ArrayLike | None = None,
                 precisions_init: ArrayLike | None = None,
                 random_state: int | np.random.RandomState | None = None,
                 warm_start: bool = False, verbose: int = 0, verbose_interval: int = 10,
                 n_threads: int | None = None,
                 callback: Callable[[Any], Any] | None = None,
                 prior: ConjugatePrior | str | None = None,
                 accelerate: str | None = None, learning_decay: float = 0.7,
                 learning_offset: float = 10.0) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.init_iter = init_iter
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.callback = callback
        self.prior = prior
        self.accelerate = accelerate
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    def __sklearn_tags__(self):
        return sklearn_tags(self, estimator_type="density_estimator", allow_nan=True)

    # -- validation -----------------------------------------------------------------
    def _check_parameters(self, shape):
        k = check_int(self.n_components, "n_components", minimum=1)
        ct = check_option(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_option(self.init_params, "init_params", INIT_PARAMS)
        check_float(self.tol, "tol", minimum=0.0)
        check_float(self.reg_covar, "reg_covar", minimum=0.0)
        check_int(self.max_iter, "max_iter", minimum=0)
        check_int(self.n_init, "n_init", minimum=1)
        check_int(self.init_iter, "init_iter", minimum=1, allow_none=True)
        check_int(self.verbose_interval, "verbose_interval", minimum=1)
        effective_n_threads(self.n_threads)   # validates it (TypeError, ValueError)
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an integer, got {self.verbose!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError("callback must be callable or None")
        check_prior(self.prior)
        if self.accelerate is not None:
            check_option(self.accelerate, "accelerate", ACCELERATIONS[1:])
        n, d = shape
        if n < k:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = {k}, "
                             f"n_samples = {n}")
        n_cov = int(np.prod(cov_shape(ct, k, d), dtype=object))
        check_memory(8 * PARAMETER_COPIES * n_cov,
                     f"covariance_type={ct!r} with n_components={k} and {d} features",
                     "reduce n_components or use a cheaper covariance_type")
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = self._init_array(self.weights_init, "weights_init", "weights", (k,))
            if (weights < 0).any() or (weights > 1).any():
                raise ValueError("The parameter 'weights' should be in the range [0, 1], "
                                 f"but got min value {weights.min():.5f}, max value "
                                 f"{weights.max():.5f} (weights_init)")
            if not np.allclose(weights.sum(), 1.0):
                raise ValueError("The parameter 'weights' should be normalized, but got "
                                 f"sum(weights) = {weights.sum():.5f} (weights_init)")
        if self.means_init is not None:
            means = self._init_array(self.means_init, "means_init", "means", (k, d))
        if self.precisions_init is not None:
            precisions = self._init_array(self.precisions_init, "precisions_init",
                                          f"{ct} precision", cov_shape(ct, k, d))
            self._check_precisions(precisions, ct)
        return k, ct, weights, means, precisions

    @staticmethod
    def _init_array(value, name, label, shape):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        arr = np.array(arr, dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(f"The parameter '{label}' should have the shape of {shape}, "
                             f"but got {arr.shape} ({name})")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return arr

    @staticmethod
    def _check_precisions(precisions, ct):
        if ct in ("diag", "spherical"):
            if not positive_variances(precisions).all():
                raise ValueError(f"'{ct} precision' should be positive (precisions_init)")
            return
        try:
            check_positive_definite(precisions, "precisions_init",
                                    "component" if ct == "full" else None)
        except ValueError as exc:
            raise ValueError(f"'{ct} precision' should be symmetric, positive-definite: "
                             f"{exc}") from None

    def _check_warm_start(self, X, k, ct):
        """The previous fit must be the model that is now asked for: warm_start cannot
        continue a fit of another n_components or covariance_type (scikit-learn 1.9
        fails with a broadcasting error on the latter and silently keeps the old
        n_components on the former)."""
        check_n_features(self, X)
        afresh = "set warm_start=False to fit afresh"
        previous = getattr(self, "_fit_settings", None)
        if previous is None:    # e.g. a loaded model: what its fitted shapes say
            shape, want = np.shape(self.covariances_), cov_shape(ct, k, X.shape[1])
            if shape != want:
                raise ValueError(
                    f"warm_start=True continues the previous fit, whose covariances_ have "
                    f"shape {shape}, but n_components={k} and covariance_type={ct!r} "
                    f"need {want}; {afresh}")
            return
        for name, now in (("n_components", k), ("covariance_type", ct)):
            if previous[name] != now:
                raise ValueError(
                    f"warm_start=True continues the previous fit, which has {name}="
                    f"{previous[name]!r}, but {name} is now {now!r}; {afresh}, or set "
                    f"{name} back")

    # -- fitting --------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: Any = None,
            sample_weight: ArrayLike | None = None) -> GaussianMixture:
        """Estimate the model parameters with the EM algorithm.

        The model is fitted ``n_init`` times (once with ``warm_start`` and a fitted
        model) and the parameters of the run with the highest lower bound are kept.
        Each run iterates until the change of the lower bound is less than ``tol``, or
        for ``max_iter`` iterations, or until ``callback`` returns True. A fit that
        raises or is interrupted (Ctrl-C) leaves the estimator as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one row per sample. It may hold NaN for missing values (see the
            class's Notes); float32 data gives float32 fitted arrays. A dask array is
            fitted where it lives: the E-step runs on the Dask workers (see
            ``fastem.dask``; persist it first).

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative finite weights, not all zero; a float gives every row that
            weight. The fit maximizes the weighted log-likelihood, so an integer
            weight counts its row that many times (the random draws of the
            initialization can differ from those of repeated rows). None gives every
            row weight 1.

        Returns
        -------
        GaussianMixture
            The fitted estimator (self).

        Warns
        -----
        ConvergenceWarning
            If the best run did not converge (and ``max_iter`` > 0).

        See Also
        --------
        fit_predict : Fit, then return the component of each sample.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, covariance_type="diag", n_init=3,
        ...                      random_state=0).fit(X)
        >>> gm.covariances_.shape
        (2, 2)
        >>> gm.converged_, gm.n_iter_, len(gm.lower_bounds_)
        (True, 4, 4)

        Weighted rows, and float32 data:

        >>> import numpy as np
        >>> weights = np.where(X[:, 0] > 3, 2.0, 1.0)
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X, sample_weight=weights)
        >>> print(gm.weights_.round(2))
        [0.78 0.22]
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X.astype(np.float32))
        >>> gm.means_.dtype
        dtype('float32')

        Missing values:

        >>> X_missing = X.copy()
        >>> X_missing[::4, 1] = np.nan
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X_missing)
        >>> print(gm.means_.round(1))
        [[ 2.  54.9]
         [ 4.3 80.3]]
        """
        raw = X
        source = self._source(X, sample_weight)
        k, ct, weights, means, precisions = self._check_parameters(source.shape)
        if source.observed_rows < k:
            raise ValueError(f"Expected at least n_components = {k} rows with an observed "
                             f"entry, got {source.observed_rows}")
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        if warm:
            self._check_warm_start(source, k, ct)
        prior = resolve_prior(check_prior(self.prior),
                              source.X if source.in_memory else source,
                              source.sample_weight if source.in_memory else None, k, ct)
        problem = _GaussianMixtureEM(
            source, n_components=k, covariance_type=ct, reg_covar=float(self.reg_covar),
            init_params=self.init_params, weights_init=weights, means_init=means,
            precisions_init=precisions, n_threads=effective_n_threads(self.n_threads),
            prior=prior,
        )
        result = run_em(
            problem, n_init=self.n_init, max_iter=self.max_iter, tol=float(self.tol),
            random_state=check_random_state(self.random_state), verbose=self.verbose,
            verbose_interval=self.verbose_interval, callback=self.callback,
            start=self._params() if warm else None,
            start_lower_bound=float(getattr(self, "lower_bound_", -np.inf)) if warm
            else -np.inf, accelerate=self.accelerate,
            init_iter=self.init_iter if self.init_iter is not None else (
                AUTO_INIT_ITER if self.init_params == "auto" else None),
            init_keep=AUTO_KEEP if self.init_params == "auto" else 1,
        )
        commit(self, {
            **self._fitted_params(result.params, source.dtype),
            "converged_": result.converged,
            "n_iter_": result.n_iter,
            "degenerate_": bool(problem.degenerate(result.params)),
            "lower_bound_": float(result.lower_bound),
            "lower_bounds_": [float(v) for v in result.lower_bounds],
            **fitted_features(raw, source),
            "prior_": ABSENT if prior is None else prior.public(),
            "_fit_settings": {"n_components": k, "covariance_type": ct,
                              "weight": source.observed_weight},
            "n_steps_": ABSENT, "_online": ABSENT,
        })
        return self

    @staticmethod
    def _source(X, sample_weight):
        """X as a validated Source: an in-memory array (its missingness patterns found
        once), or Chunks, a memmap or a dask array read block by block."""
        source = as_source(X, sample_weight, allow_nan=True)
        if source is None:
            X, missing = check_array(X, return_missing=True)
            sw = check_sample_weight(sample_weight, X.shape[0])
            patterns = MissingPatterns(X) if missing else None
            return ArraySource(X, sw, missing, patterns=patterns)
        if source.missing and not source.observed_columns.all():
            column = int(np.flatnonzero(~source.observed_columns)[0])
            raise ValueError(f"column {column} of X is entirely missing (NaN); drop it "
                             "before fitting")
        return source

    def partial_fit(self, X: ArrayLike, y: Any = None,
                    sample_weight: ArrayLike | None = None) -> GaussianMixture:
        """Update the model with one batch of rows: a step of online (stepwise) EM.

        The E-step runs on the batch at the current parameters; its statistics (per
        unit weight) are blended into the running statistics with step size
        ``eta = (t + learning_offset) ** -learning_decay``, ``t`` being the steps taken
        so far, and the M-step of the blend gives the new parameters (Cappé and
        Moulines, 2009; Liang and Klein, 2009). The first call initialises the model
        on its batch (``init_params``, one start) and takes the batch's statistics
        alone; after ``fit`` (or ``load``), the fitted model stands for the running
        statistics and the first batch is step ``t = 1``. One pass over shuffled data
        in small batches comes close to the batch fit (see the Notes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch, one row per sample; NaN for missing values, as in ``fit``. It
            may be Chunks or a memmap (read in chunks). The first batch needs at least
            ``n_components`` rows.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the batch's rows, as in ``fit``.

        Returns
        -------
        GaussianMixture
            The updated estimator (self).

        See Also
        --------
        fit : Fit by EM on all the data at once.
        fastem.Chunks : Data read in chunks, for data that does not fit in memory.

        Notes
        -----
        ``lower_bound_`` is the batch's mean log-likelihood (log-posterior with a
        prior) at the parameters before the step, ``n_steps_`` the number of steps.
        A ``prior``'s values computed from data (the defaults) come from the first
        batch. ``warm_start``, ``n_init``, ``max_iter``, ``tol`` and ``accelerate``
        are not used.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> rows = np.random.default_rng(0).permutation(len(X))
        >>> gm = GaussianMixture(n_components=2, random_state=0)
        >>> for batch in np.array_split(X[rows], 10):
        ...     gm = gm.partial_fit(batch)
        >>> gm.n_steps_
        10
        >>> print(gm.means_.round(1))
        [[ 4.3 80.1]
         [ 2.1 54.5]]
        """
        raw = X
        source = self._source(X, sample_weight)
        decay = check_float(self.learning_decay, "learning_decay", minimum=0.0)
        if not 0.5 < decay <= 1.0:
            raise ValueError("learning_decay must be in (0.5, 1] (the step sizes must sum "
                             f"to infinity and their squares must not), got {decay!r}")
        offset = check_float(self.learning_offset, "learning_offset", minimum=0.0)
        fitted = hasattr(self, "means_")
        k, ct, _, _, _ = self._check_parameters(
            (math.inf, source.n_features) if fitted else source.shape)
        if fitted:
            self._check_warm_start(source, k, ct)
        elif source.observed_rows < k:
            raise ValueError(f"Expected at least n_components = {k} rows with an observed "
                             f"entry in the first batch, got {source.observed_rows}")
        state: dict[str, Any] | None = getattr(self, "_online", None)
        prior = check_prior(self.prior)
        if prior is not None:
            given = state["prior"] if state is not None else getattr(self, "prior_", None)
            prior = given if given is not None else prior
            prior = resolve_prior(prior, source.X if source.in_memory else source,
                                  source.sample_weight if source.in_memory else None, k, ct)
        problem = _GaussianMixtureEM(
            source, n_components=k, covariance_type=ct, reg_covar=float(self.reg_covar),
            init_params=self.init_params, weights_init=None, means_init=None,
            precisions_init=None, n_threads=effective_n_threads(self.n_threads),
            prior=prior)
        if fitted:
            params = self._params()
            settings = getattr(self, "_fit_settings", {})
            if state is None:       # a fitted model stands for the running statistics
                state = {"stats": GaussianStats.of_params(params, 1.0, problem.reg_covar),
                         "steps": 1, "weight": settings.get("weight", 0.0)}
        else:
            params = problem.initialize(check_random_state(self.random_state))
            state = {"stats": None, "steps": 0, "weight": 0.0}
        eta = stepwise_rate(state["steps"], decay, offset)
        batch_weight = source.observed_weight
        seen = state["weight"] + batch_weight
        new, running, objective = online_step(
            problem, params, state["stats"], 1.0 - eta, eta / batch_weight, scale=seen)
        commit(self, {
            **self._fitted_params(new, source.dtype),
            "converged_": getattr(self, "converged_", False),
            "n_iter_": getattr(self, "n_iter_", 0),
            "lower_bounds_": getattr(self, "lower_bounds_", []),
            "lower_bound_": float(objective),
            "degenerate_": bool(problem.degenerate(new)),
            "n_steps_": state["steps"] + 1,
            **fitted_features(raw, source),
            "prior_": ABSENT if prior is None else prior.public(),
            "_online": {"stats": running, "steps": state["steps"] + 1, "weight": seen,
                        "prior": None if prior is None else prior.public()},
            "_fit_settings": {"n_components": k, "covariance_type": ct, "weight": seen},
        })
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None,
                    sample_weight: ArrayLike | None = None) -> NDArray[np.intp]:
        """Estimate the model parameters with the EM algorithm, then predict the labels.

        The same as ``fit(X, sample_weight=sample_weight).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one row per sample. It may hold NaN for missing values.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the rows, as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,), dtype intp
            The index of the most probable component of each row.

        See Also
        --------
        fit : Estimate the model parameters.
        predict : Predict the labels of (new) data with the fitted model.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> labels = GaussianMixture(n_components=2, random_state=0).fit_predict(X)
        >>> labels[:8]
        array([1, 0, 1, 0, 1, 0, 1, 1])
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _params(self):
        """The fitted parameters in float64, what the kernels take (a float32 fit stores
        them in float32, as scikit-learn)."""
        def f64(value):
            return np.asarray(value, dtype=np.float64)

        return GaussianParams(f64(self.weights_), f64(self.means_),
                              f64(self.covariances_), f64(self.precisions_cholesky_),
                              self.covariance_type)

    @staticmethod
    def _fitted_params(params, dtype=np.float64):
        """The fitted attributes of ``params`` in ``dtype`` (the data's), a dict for
        commit."""
        precisions = precisions_from_cholesky(params.precisions_cholesky,
                                              params.covariance_type)
        covariances = (params.covariances if params.covariances is not None
                       else covariances_from_precisions(precisions, params.covariance_type))
        fitted = {"weights_": params.weights, "means_": params.means,
                  "precisions_cholesky_": params.precisions_cholesky,
                  "precisions_": precisions, "covariances_": covariances}
        return {name: np.asarray(value, dtype=dtype) for name, value in fitted.items()}

    # -- inference ------------------------------------------------------------------
    def _checked(self, X):
        """(X validated, whether it holds a NaN) for a fitted model."""
        check_is_fitted(self, "means_")
        raw = X
        X, missing = check_array(X, return_missing=True)
        check_n_features(self, X, raw)
        return X, missing

    def _pass(self, X, missing, sample_weight=None, **outputs):
        """The E pass at the fitted parameters; rows with NaN use their observed entries."""
        n_threads = effective_n_threads(self.n_threads)
        if missing:
            patterns = MissingPatterns(X, for_fit=False)
            return missing_e_pass(X, sample_weight, self._params(), patterns,
                                  n_threads=n_threads, **outputs)
        return e_pass(X, sample_weight, self._params(), n_threads=n_threads, **outputs)

    def score_samples(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """Compute the log-likelihood of each sample under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row. A row with NaN gets the log-likelihood of its
            observed entries (their marginal density); a row with nothing observed
            gets 0.

        Returns
        -------
        ndarray of shape (n_samples,)
            The log of the mixture density at each row, float32 for float32 X, else
            float64.

        See Also
        --------
        score : Compute the mean log-likelihood of the samples.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> print(gm.score_samples(X[:3]).round(3))
        [-4.638 -3.673 -5.808]
        """
        return self._per_row(*self._checked(X))

    def _per_row(self, X, missing):
        """score_samples of a checked X, in X's dtype."""
        out = np.empty(X.shape[0])
        self._pass(X, missing, lse_out=out)
        return out.astype(X.dtype, copy=False)

    def score(self, X: ArrayLike, y: Any = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Compute the mean log-likelihood per sample of the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row. Rows with NaN use their observed entries, as in
            ``score_samples``.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the rows: the mean is then weighted. None gives
            every row weight 1.

        Returns
        -------
        float
            The (weighted) mean of ``score_samples(X)``.

        See Also
        --------
        score_samples : Compute the log-likelihood of each sample.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> round(gm.score(X), 4)
        -4.1554
        >>> round(gm.score(X) * len(X), 1)
        -1130.3
        """
        X, missing = self._checked(X)
        if X.dtype == np.float32:
            # as scikit-learn: the mean of score_samples at the data's precision
            per_row = self._per_row(X, missing)
            sw = check_sample_weight(sample_weight, X.shape[0])
            return float(per_row.mean() if sw is None else np.average(per_row, weights=sw))
        loglik, total = self._log_likelihood(X, sample_weight)
        return loglik / total

    def _log_likelihood(self, X, sample_weight=None):
        """(sum of the weighted per-row log-likelihoods, sum of the weights) of X."""
        X, missing = self._checked(X)
        sw = check_sample_weight(sample_weight, X.shape[0])
        loglik = self._pass(X, missing, sw)[0]
        return float(loglik), float(X.shape[0] if sw is None else sw.sum())

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """Evaluate the posterior probability of each component given each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row. Rows with missing entries (NaN) use their
            observed entries; a row with nothing observed gets the mixture weights.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The probability of each component given each row, float32 for float32 X,
            else float64. A row whose density underflows to zero under every component
            (``score_samples`` -inf) gets zeros.

        See Also
        --------
        predict : Predict the most probable component of each sample.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> print(gm.predict_proba([[2.0, 50.0], [3.0, 65.0]]).round(3))
        [[1.    0.   ]
         [0.219 0.781]]
        """
        X, missing = self._checked(X)
        resp = np.empty((X.shape[0], self.weights_.shape[0]))
        self._pass(X, missing, resp_out=resp)
        return resp.astype(X.dtype, copy=False)

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Predict the labels for the data samples in X using the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row. Rows with missing entries (NaN) use their
            observed entries; a row with nothing observed gets the component of
            largest weight.

        Returns
        -------
        ndarray of shape (n_samples,), dtype intp
            The index of the most probable component of each row (the first of equally
            probable ones).

        See Also
        --------
        predict_proba : Evaluate the probability of each component.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> gm.predict([[2.0, 50.0], [4.5, 85.0], [np.nan, 85.0]])
        array([0, 1, 1])
        """
        X, missing = self._checked(X)
        labels = np.empty(X.shape[0], dtype=np.intp)
        for lo, hi, resp, _ in self._responsibility_chunks(X, missing):
            labels[lo:hi] = resp.argmax(axis=1)
        return labels

    def _responsibility_chunks(self, X, missing):
        """(first row, end row, responsibilities, log-likelihood sum) of each block of
        rows of a checked X: one E pass in blocks, never an n_samples x n_components
        array (the responsibilities buffer is reused from block to block)."""
        k = self.weights_.shape[0]
        step = _chunk_rows(k)
        buffer = np.empty((min(step, X.shape[0]), k))
        for lo in range(0, X.shape[0], step):
            hi = min(X.shape[0], lo + step)
            resp = buffer[: hi - lo]
            loglik = self._pass(X[lo:hi], missing, resp_out=resp)[0]
            yield lo, hi, resp, float(loglik)

    def _log_likelihood_and_entropy(self, X):
        """(sum of the per-row log-likelihoods, entropy of the classification: -sum of
        p log p over rows and components) of X, in one E pass in blocks of rows."""
        X, missing = self._checked(X)
        loglik = entropy = 0.0
        for _, _, resp, block_loglik in self._responsibility_chunks(X, missing):
            loglik += block_loglik
            entropy += classification_entropy(resp)
        return loglik, entropy

    def impute(self, X: ArrayLike, method: str = "mean",
               random_state: int | np.random.RandomState | None = None) -> NDArray[Any]:
        """Return a copy of X with every NaN filled in under the fitted mixture.

        Observed entries are returned unchanged, bit for bit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, NaN marking missing entries.

        method : {'mean', 'sample'}, default='mean'
            'mean': the conditional expectation, sum over components of the posterior
            probability times the component's conditional mean given the observed
            entries. 'sample': a draw from the conditional distribution (for multiple
            imputation; call repeatedly with different random states).

        random_state : int, RandomState instance or None, default=None
            The random draws of ``method='sample'`` (unused by 'mean'). None uses
            numpy's global RandomState.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            X with its NaN filled in, a new array: float32 for float32 X, else float64.

        See Also
        --------
        predict_proba : The posterior probabilities the imputation uses.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> holes = np.array([[3.6, np.nan], [np.nan, 74.0], [2.283, 62.0]])
        >>> print(gm.impute(holes).round(2))
        [[ 3.6  76.16]
         [ 4.13 74.  ]
         [ 2.28 62.  ]]
        >>> print(gm.impute(holes, method="sample", random_state=0).round(2))
        [[ 3.6  80.27]
         [ 4.73 74.  ]
         [ 2.28 62.  ]]
        """
        check_option(method, "method", ("mean", "sample"))
        X, missing = self._checked(X)
        if not missing:
            return X.copy()
        patterns = MissingPatterns(X, for_fit=False)
        resp = np.empty((X.shape[0], self.weights_.shape[0]))
        missing_e_pass(X, None, self._params(), patterns,
                       n_threads=effective_n_threads(self.n_threads), resp_out=resp)
        return impute(X, self._params(), resp, patterns, sample=method == "sample",
                      random_state=check_random_state(random_state))

    def sample(self, n_samples: int = 1) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
        """Generate random samples from the fitted Gaussian distribution.

        The draws come from the estimator's ``random_state``: with an int, every call
        returns the same samples, as in scikit-learn.

        Parameters
        ----------
        n_samples : int, default=1
            The number of samples to generate.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype float64
            The random samples, grouped by component.
        y : ndarray of shape (n_samples,), dtype intp
            The component of each sample, in increasing order.

        See Also
        --------
        impute : Draw the missing entries of data given its observed ones.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(load_faithful())
        >>> X, y = gm.sample(4)
        >>> X.shape
        (4, 2)
        >>> y
        array([0, 1, 1, 1])
        """
        check_is_fitted(self, "means_")
        if isinstance(n_samples, numbers.Integral) and n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples} . The sampling "
                             "requires at least one sample.")
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        k, d = self.means_.shape
        ct = self.covariance_type
        parts = []
        for j, count in enumerate(counts):
            z = rng.standard_normal(size=(count, d))
            if ct in ("full", "tied"):
                cov = self.covariances_[j] if ct == "full" else self.covariances_
                parts.append(self.means_[j] + z @ np.linalg.cholesky(cov).T)
            else:
                parts.append(self.means_[j] + z * np.sqrt(self.covariances_[j]))
        labels = np.repeat(np.arange(k), counts)
        return np.vstack(parts), labels

    def _n_parameters(self):
        k, d = self.means_.shape
        return n_parameters(self.covariance_type, k, d)

    def bic(self, X: ArrayLike) -> float:
        """Compute the Bayesian information criterion for the current model on X.

        ``-2 * log_likelihood + n_parameters * log(n_samples)``, where ``log_likelihood``
        is the total log-likelihood of X (of the observed entries for rows with NaN)
        and ``n_parameters`` the number of free parameters of the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        float
            The BIC: the lower the better.

        See Also
        --------
        aic : Compute the Akaike information criterion.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> for k in (1, 2, 3):
        ...     gm = GaussianMixture(n_components=k, random_state=0).fit(X)
        ...     print(k, round(gm.bic(X), 1))
        1 2607.6
        2 2322.2
        3 2349.1
        """
        loglik, n = self._log_likelihood(X)
        return information_criteria(loglik, self._n_parameters(), n)[0]

    def aic(self, X: ArrayLike) -> float:
        """Compute the Akaike information criterion for the current model on X.

        ``-2 * log_likelihood + 2 * n_parameters``, where ``log_likelihood`` is the total
        log-likelihood of X (of the observed entries for rows with NaN) and
        ``n_parameters`` the number of free parameters of the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        float
            The AIC: the lower the better.

        See Also
        --------
        bic : Compute the Bayesian information criterion.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> round(gm.aic(X), 1)
        2282.5
        """
        loglik, n = self._log_likelihood(X)
        return information_criteria(loglik, self._n_parameters(), n)[1]
