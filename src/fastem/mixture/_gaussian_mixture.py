"""GaussianMixture: scikit-learn's API on the fused EM kernels and the shared driver."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import ParamsMixin, sklearn_tags
from .._engine import commit, run_em
from .._kernels import _gaussian
from .._kernels._parallel import effective_n_threads
from .._validation import (
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
    positive_variances,
)
from ..cluster._kmeans import _kmeans_plusplus, lloyd
from ._gaussian import (
    COV_CODE,
    COVARIANCE_TYPES,
    GaussianParams,
    cov_shape,
    covariances_from_precisions,
    e_pass,
    labelled_stats,
    n_parameters,
    params_from_stats,
    precision_cholesky_from_precisions,
    precisions_from_cholesky,
    responsibility_stats,
)
from ._missing import MissingPatterns, impute, missing_e_pass

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
_INIT_SAMPLE_ROWS = 20_000  # rows used to initialise when X has missing values
# rows x components per chunk of initial responsibilities: 2^15 to 2^18 (256 KB to
# 2 MB), at most a sixteenth of the memory of X
_CHUNK_CELLS = (1 << 15, 1 << 18)


def _column_means(X):
    """Mean of the observed entries of each column, without a temporary of X's size."""
    total = np.zeros(X.shape[1])
    count = np.zeros(X.shape[1])
    for lo in range(0, X.shape[0], 1 << 14):
        chunk = X[lo:lo + (1 << 14)]
        seen = ~np.isnan(chunk)
        total += np.where(seen, chunk, 0).sum(axis=0)
        count += seen.sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _chunk_rows(n_components, data_bytes=0):
    lo, hi = _CHUNK_CELLS
    cells = min(hi, max(lo, data_bytes // 16 // 8))
    return max(256, (cells // n_components) // 256 * 256)


class _GaussianMixtureEM:
    """The driver's problem for a Gaussian mixture on validated data."""

    def __init__(self, X, sample_weight, *, n_components, covariance_type, reg_covar,
                 init_params, weights_init, means_init, precisions_init, n_threads,
                 patterns=None):
        self.X = X
        self.sw = sample_weight
        self.patterns = patterns
        self.total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        if patterns is not None and len(patterns.empty_rows):
            # rows with nothing observed carry no information and are left out
            dropped = patterns.empty_rows
            self.total_weight -= len(dropped) if sample_weight is None else sample_weight[
                dropped].sum()
        self.k = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.n_threads = n_threads

    def step(self, params):
        if self.patterns is None:
            loglik, nk, s1, s2, shift = e_pass(self.X, self.sw, params,
                                               n_threads=self.n_threads, want_stats=True)
        else:
            loglik, nk, s1, s2, shift = missing_e_pass(self.X, self.sw, params, self.patterns,
                                                       n_threads=self.n_threads,
                                                       want_stats=True)
        new = params_from_stats(nk, s1, s2, shift, self.reg_covar, self.covariance_type)
        return new, loglik / self.total_weight

    # -- initialisation -------------------------------------------------------------
    def initialize(self, rs):
        given = (self.weights_init, self.means_init, self.precisions_init)
        if all(v is not None for v in given):
            params = self._from_given(None)
        else:
            params = self._from_given(self._initial_estimate(rs))
        return params

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
        if self.patterns is not None:
            return self._initial_estimate_with_missing(rs)
        X, k, n = self.X, self.k, self.X.shape[0]
        if self.init_params in ("random_from_data", "k-means++"):
            if self.init_params == "k-means++":
                indices = _kmeans_plusplus(X, k, self.sw, rs, None, self.n_threads)
            else:
                indices = rs.choice(n, size=k, replace=False)
            return self._from_points(indices)
        if self.init_params == "kmeans":
            problem, run = lloyd(X, self.sw, k, init="k-means++", n_init=1, max_iter=300,
                                 tol=1e-4, random_state=rs, n_threads=self.n_threads)
            centers = run.params
            # responsibilities one-hot at the nearest center (scikit-learn's k-means
            # initialisation), as labels (from the run's final pass): no n x k array
            nk, s1, s2 = labelled_stats(X, self.sw, problem.best_labels, centers,
                                        self.covariance_type, n_threads=self.n_threads)
            return params_from_stats(nk, s1, s2, centers.astype(np.float64), self.reg_covar,
                                     self.covariance_type)
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

    def _initial_estimate_with_missing(self, rs):
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
            sub = np.where(np.isnan(sub), _column_means(self.X), sub).astype(self.X.dtype)
        sw = None if self.sw is None else self.sw[rows]
        if sw is not None and not sw.sum() > 0:
            sw = None
        sample = _GaussianMixtureEM(
            np.ascontiguousarray(sub), sw, n_components=self.k,
            covariance_type=self.covariance_type, reg_covar=self.reg_covar,
            init_params=self.init_params, weights_init=None, means_init=None,
            precisions_init=None, n_threads=self.n_threads)
        return sample._initial_estimate(rs)

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
        return params_from_stats(nk, s1, s2, shift, self.reg_covar, self.covariance_type)

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


class GaussianMixture(ParamsMixin):
    """Gaussian mixture model fitted by EM on fused Cython/OpenMP kernels.

    Same parameters, attributes and methods as scikit-learn's GaussianMixture; from the
    same initial parameters the EM iterates are the same. Additions: ``sample_weight`` in
    fit, ``n_threads``, ``callback``, and bitwise-reproducible results for any n_threads.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood changes by less than tol.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.
    max_iter : int, default=100
    n_init : int, default=1
        Number of initialisations; the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
    weights_init, means_init, precisions_init : array-like or None
        User-provided initial parameters (scikit-learn's shapes).
    random_state : None, int or RandomState
    warm_start : bool, default=False
        Continue from the last fit's parameters (n_init is then ignored).
    verbose : int, default=0
    verbose_interval : int, default=10
    n_threads : int or None, default=None
        OpenMP threads (None or -1: every usable core; -2: all but one, ...). Results do
        not depend on it.
    callback : callable or None
        Called after every EM iteration with an IterationInfo (init, n_iter, lower_bound,
        change, time); returning True stops that run.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean (weighted) log-likelihood per sample of the best run's last E-step.
    lower_bounds_ : list of float
        The lower bound at every iteration of the best run.
    n_features_in_ : int

    Examples
    --------
    >>> from fastem import GaussianMixture
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> round(gm.score(X) * len(X), 1)
    -1130.3
    """

    # fitted attributes: fit sets them all at once, at its end (see _engine.commit)
    weights_: NDArray[np.float64]
    means_: NDArray[np.float64]
    covariances_: NDArray[np.float64]
    precisions_: NDArray[np.float64]
    precisions_cholesky_: NDArray[np.float64]
    converged_: bool
    n_iter_: int
    lower_bound_: float
    lower_bounds_: list[float]
    n_features_in_: int

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full",
                 tol: float = 1e-3, reg_covar: float = 1e-6, max_iter: int = 100,
                 n_init: int = 1, init_params: str = "kmeans",
                 weights_init: ArrayLike | None = None, means_init: ArrayLike | None = None,
                 precisions_init: ArrayLike | None = None,
                 random_state: int | np.random.RandomState | None = None,
                 warm_start: bool = False, verbose: int = 0, verbose_interval: int = 10,
                 n_threads: int | None = None,
                 callback: Callable[[Any], Any] | None = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.callback = callback

    def __sklearn_tags__(self):
        return sklearn_tags(self, estimator_type="density_estimator", allow_nan=True)

    # -- validation -----------------------------------------------------------------
    def _check_parameters(self, X):
        k = check_int(self.n_components, "n_components", minimum=1)
        ct = check_option(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_option(self.init_params, "init_params", INIT_PARAMS)
        check_float(self.tol, "tol", minimum=0.0)
        check_float(self.reg_covar, "reg_covar", minimum=0.0)
        check_int(self.max_iter, "max_iter", minimum=0)
        check_int(self.n_init, "n_init", minimum=1)
        check_int(self.verbose_interval, "verbose_interval", minimum=1)
        effective_n_threads(self.n_threads)   # validates it (TypeError, ValueError)
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an integer, got {self.verbose!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError("callback must be callable or None")
        n, d = X.shape
        if n < k:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = {k}, "
                             f"n_samples = {n}")
        n_cov = int(np.prod(cov_shape(ct, k, d), dtype=object))
        check_memory(8 * PARAMETER_COPIES * n_cov,
                     f"covariance_type={ct!r} with n_components={k} and {d} features",
                     "reduce n_components or use a cheaper covariance_type")
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = self._init_array(self.weights_init, "weights_init", (k,))
            if (weights < 0).any() or (weights > 1).any():
                raise ValueError("weights_init must be in [0, 1], got "
                                 f"min {weights.min():g}, max {weights.max():g}")
            if not np.allclose(weights.sum(), 1.0):
                raise ValueError(f"weights_init must sum to 1, got sum {weights.sum():.6f}")
        if self.means_init is not None:
            means = self._init_array(self.means_init, "means_init", (k, d))
        if self.precisions_init is not None:
            precisions = self._init_array(self.precisions_init, "precisions_init",
                                          cov_shape(ct, k, d))
            self._check_precisions(precisions, ct)
        return k, ct, weights, means, precisions

    @staticmethod
    def _init_array(value, name, shape):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
        arr = np.array(arr, dtype=np.float64)
        if arr.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return arr

    @staticmethod
    def _check_precisions(precisions, ct):
        if ct in ("diag", "spherical"):
            if not positive_variances(precisions).all():
                raise ValueError(f"precisions_init for covariance_type={ct!r} must be "
                                 "positive")
            return
        check_positive_definite(precisions, "precisions_init",
                                "component" if ct == "full" else None)

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
        """Estimate the parameters by EM; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; an integer weight is the same as repeating the row.
        """
        X, missing = check_array(X, return_missing=True)
        k, ct, weights, means, precisions = self._check_parameters(X)
        sw = check_sample_weight(sample_weight, X.shape[0])
        patterns = MissingPatterns(X) if missing else None
        if patterns is not None and len(patterns.order) < k:
            raise ValueError(f"Expected at least n_components = {k} rows with an observed "
                             f"entry, got {len(patterns.order)}")
        warm = bool(self.warm_start) and hasattr(self, "converged_")
        if warm:
            self._check_warm_start(X, k, ct)
        problem = _GaussianMixtureEM(
            X, sw, n_components=k, covariance_type=ct, reg_covar=float(self.reg_covar),
            init_params=self.init_params, weights_init=weights, means_init=means,
            precisions_init=precisions, n_threads=effective_n_threads(self.n_threads),
            patterns=patterns,
        )
        result = run_em(
            problem, n_init=self.n_init, max_iter=self.max_iter, tol=float(self.tol),
            random_state=check_random_state(self.random_state), verbose=self.verbose,
            verbose_interval=self.verbose_interval, callback=self.callback,
            start=self._params() if warm else None,
            start_lower_bound=float(getattr(self, "lower_bound_", -np.inf)) if warm
            else -np.inf,
        )
        commit(self, {
            **self._fitted_params(result.params),
            "converged_": result.converged,
            "n_iter_": result.n_iter,
            "lower_bound_": float(result.lower_bound),
            "lower_bounds_": [float(v) for v in result.lower_bounds],
            "n_features_in_": X.shape[1],
            "_fit_settings": {"n_components": k, "covariance_type": ct},
        })
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None,
                    sample_weight: ArrayLike | None = None) -> NDArray[np.intp]:
        """Fit, then return the most probable component of each row."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _params(self):
        return GaussianParams(self.weights_, self.means_, self.covariances_,
                              self.precisions_cholesky_, self.covariance_type)

    @staticmethod
    def _fitted_params(params):
        """The fitted attributes of ``params``, as a dict for commit."""
        precisions = precisions_from_cholesky(params.precisions_cholesky,
                                              params.covariance_type)
        covariances = (params.covariances if params.covariances is not None
                       else covariances_from_precisions(precisions, params.covariance_type))
        return {"weights_": params.weights, "means_": params.means,
                "precisions_cholesky_": params.precisions_cholesky,
                "precisions_": precisions, "covariances_": covariances}

    # -- inference ------------------------------------------------------------------
    def _checked(self, X):
        """(X validated, whether it holds a NaN) for a fitted model."""
        check_is_fitted(self, "means_")
        X, missing = check_array(X, return_missing=True)
        check_n_features(self, X)
        return X, missing

    def _pass(self, X, missing, sample_weight=None, **outputs):
        """The E pass at the fitted parameters; rows with NaN use their observed entries."""
        n_threads = effective_n_threads(self.n_threads)
        if missing:
            patterns = MissingPatterns(X, for_fit=False)
            return missing_e_pass(X, sample_weight, self._params(), patterns,
                                  n_threads=n_threads, **outputs)
        return e_pass(X, sample_weight, self._params(), n_threads=n_threads, **outputs)

    def score_samples(self, X: ArrayLike) -> NDArray[np.float64]:
        """Log-likelihood of each row (of its observed entries), shape (n_samples,)."""
        X, missing = self._checked(X)
        out = np.empty(X.shape[0])
        self._pass(X, missing, lse_out=out)
        return out

    def score(self, X: ArrayLike, y: Any = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Mean (weighted) log-likelihood per row."""
        loglik, total = self._log_likelihood(X, sample_weight)
        return loglik / total

    def _log_likelihood(self, X, sample_weight=None):
        """(sum of the weighted per-row log-likelihoods, sum of the weights) of X."""
        X, missing = self._checked(X)
        sw = check_sample_weight(sample_weight, X.shape[0])
        loglik = self._pass(X, missing, sw)[0]
        return float(loglik), float(X.shape[0] if sw is None else sw.sum())

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Posterior probability of each component for each row, shape (n, n_components).

        Rows with missing entries (NaN) use their observed entries; a row with nothing
        observed gets the mixture weights. A row whose density underflows to zero under
        every component (score_samples -inf) gets zeros."""
        X, missing = self._checked(X)
        resp = np.empty((X.shape[0], self.weights_.shape[0]))
        self._pass(X, missing, resp_out=resp)
        return resp

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Most probable component of each row."""
        X, missing = self._checked(X)
        k = self.weights_.shape[0]
        labels = np.empty(X.shape[0], dtype=np.intp)
        step = _chunk_rows(k)
        resp = np.empty((min(step, X.shape[0]), k))
        for lo in range(0, X.shape[0], step):
            hi = min(X.shape[0], lo + step)
            self._pass(X[lo:hi], missing, resp_out=resp[: hi - lo])
            labels[lo:hi] = resp[: hi - lo].argmax(axis=1)
        return labels

    def impute(self, X: ArrayLike, method: str = "mean",
               random_state: int | np.random.RandomState | None = None) -> NDArray[Any]:
        """Return a copy of X with every NaN filled in under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), NaN marking missing entries
        method : {'mean', 'sample'}, default='mean'
            'mean': the conditional expectation, sum over components of the posterior
            probability times the component's conditional mean given the observed
            entries. 'sample': a draw from the conditional distribution (for multiple
            imputation; call repeatedly with different random states).
        random_state : None, int or RandomState
            Used by method='sample'.

        Observed entries are returned unchanged, bit for bit.
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
        """Draw n_samples rows from the fitted mixture; returns (X, component labels)."""
        check_is_fitted(self, "means_")
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
        """Bayesian information criterion (lower is better)."""
        loglik, n = self._log_likelihood(X)
        return -2 * loglik + self._n_parameters() * np.log(n)

    def aic(self, X: ArrayLike) -> float:
        """Akaike information criterion (lower is better)."""
        loglik, _ = self._log_likelihood(X)
        return -2 * loglik + 2 * self._n_parameters()
