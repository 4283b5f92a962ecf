"""Conjugate priors for Gaussian mixtures: MAP estimation as mclust's ``priorControl``.

The prior (Fraley & Raftery 2007, "Bayesian regularization for normal mixture estimation
and model-based clustering", J. Classification 24) is, for every component k,

    mean_k | Sigma_k ~ Normal(mean, Sigma_k / shrinkage)
    Sigma_k          ~ inverse Wishart(dof, scale)         full; tied: one Sigma
    sigma2_kj        ~ inverse gamma(dof / 2, scale_j / 2) diag, each variance
    sigma2_k         ~ inverse gamma(dof / 2, scale / 2)   spherical
    weights          ~ Dirichlet(weights_concentration)    optional

so the M-step stays in closed form: it returns the posterior mode given the sufficient
statistics. Nothing here passes over the data but ``resolve``, once per fit.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._sources import Source, row_pieces
from ._missing import OBSERVED_CHUNK, observed_means

_LOG_2 = math.log(2.0)
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class ConjugatePrior:
    """The conjugate prior of a Gaussian mixture, for MAP estimation (mclust's prior).

    With ``GaussianMixture(prior=ConjugatePrior(...))`` EM maximizes the log-posterior:
    every M-step returns the posterior mode given the expected sufficient statistics,
    in closed form. The prior of Fraley and Raftery (2007), as R's mclust
    (``priorControl()``): for each component, a normal prior on the mean given the
    covariance, ``Normal(mean, covariance / shrinkage)``, and an inverse Wishart prior
    on the covariance (inverse gamma on each variance for 'diag' and on the single
    variance for 'spherical'; one inverse Wishart for the shared 'tied' covariance);
    optionally a Dirichlet prior on the weights. Each argument left None takes mclust's
    default, computed from the data the model is fitted to.

    Parameters
    ----------
    shrinkage : float, default=0.01
        The prior's weight on the means, in units of samples (mclust's ``shrinkage``,
        kappa). 0 gives a flat prior on the means (their ML values, given the
        covariances).
    mean : array-like of shape (n_features,) or None, default=None
        The prior mean of the component means. None: the (weighted) column means of
        the data (of the observed entries, with missing values).
    dof : float or None, default=None
        The degrees of freedom of the covariance prior (nu), greater than 0. None:
        ``n_features + 2``.
    scale : float or array-like or None, default=None
        The scale of the covariance prior (Lambda): an (n_features, n_features)
        symmetric positive definite matrix (or a positive number, times the identity)
        for 'full' and 'tied', n_features positive values (or one for all) for 'diag',
        one positive value for 'spherical'. None, as
        mclust: ``var(X) / n_components ** (2 / n_features)``, with ``var(X)`` the
        data's sample covariance matrix for 'full' and 'tied' (its diagonal when
        n_samples <= n_features), and the mean of the column variances for 'diag' and
        'spherical'.
    weights_concentration : float or array-like of shape (n_components,) or None, \
default=None
        The concentration of a Dirichlet prior on the weights, every value >= 1 (so
        that its mode is finite). None: no prior on the weights (their ML values, as
        mclust). 1 is the flat Dirichlet (the same estimates as None).

    See Also
    --------
    GaussianMixture : Its ``prior`` parameter takes a ConjugatePrior.

    Notes
    -----
    The posterior modes, for component k with (weighted) count n_k, mean xbar_k and
    scatter matrix W_k = sum_i r_ik (x_i - xbar_k)(x_i - xbar_k)^T, b_k = xbar_k - mean
    and c_k = shrinkage * n_k / (n_k + shrinkage), with d features and K components
    and n the total weight::

        means_k       = (n_k xbar_k + shrinkage * mean) / (n_k + shrinkage)
        full          (scale + c_k b_k b_k^T + W_k) / (dof + n_k + d + 2)
        tied          (scale + sum_k (c_k b_k b_k^T + W_k)) / (dof + n + d + K + 1)
        diag          (scale_j + c_k b_kj^2 + W_kjj) / (dof + n_k + 3)
        spherical     (scale + c_k |b_k|^2 + trace W_k) / (dof + (n_k + 1) d + 2)
        weights_k     (n_k + a_k - 1) / (n + sum(a) - K)     (a: weights_concentration)

    to which the estimator adds its ``reg_covar`` (set ``reg_covar=0`` for the exact
    posterior mode). As the data grow (for instance all sample weights multiplied by
    c), the prior's weight relative to the data goes to zero and the MAP estimates
    tend to the maximum-likelihood ones, at rate 1/c.

    Examples
    --------
    >>> from fastem import GaussianMixture
    >>> from fastem.mixture import ConjugatePrior
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> gm = GaussianMixture(2, prior=ConjugatePrior(shrinkage=0.01), reg_covar=0,
    ...                      random_state=0).fit(X)
    >>> print(gm.means_.round(2))
    [[ 2.04 54.49]
     [ 4.29 79.97]]

    The values left None are filled in from the data (``prior_``):

    >>> gm.prior_.dof, gm.prior_.mean.round(2)
    (4.0, array([ 3.49, 70.9 ]))
    """

    shrinkage: float = 0.01
    mean: ArrayLike | None = None
    dof: float | None = None
    scale: ArrayLike | float | None = None
    weights_concentration: ArrayLike | float | None = None

    __hash__ = None  # type: ignore[assignment]  # its fields may be arrays

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConjugatePrior):
            return NotImplemented
        return all(
            (a is None and b is None) or (a is not None and b is not None
                                          and np.array_equal(np.asarray(a), np.asarray(b)))
            for a, b in ((getattr(self, f.name), getattr(other, f.name))
                         for f in fields(self)))

    def _json(self) -> dict[str, Any]:
        """The fields as JSON values (a model file stores the prior this way)."""
        def plain(value):
            if value is None or isinstance(value, numbers.Real):
                return None if value is None else float(value)
            return np.asarray(value, dtype=np.float64).tolist()

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


PRIOR_FIELDS = tuple(f.name for f in fields(ConjugatePrior))


@dataclass(frozen=True)
class ResolvedPrior:
    """A prior with every value set for one fit: arrays of the shapes the M-step uses."""

    covariance_type: str
    shrinkage: float
    mean: np.ndarray          # (d,)
    dof: float
    scale: np.ndarray         # (d, d) full/tied, (d,) diag, () spherical
    concentration: np.ndarray | None   # (K,) or None

    def public(self) -> ConjugatePrior:
        """The ConjugatePrior with every value filled in (the fitted ``prior_``)."""
        scale: Any = float(self.scale) if self.scale.ndim == 0 else self.scale.copy()
        conc = None if self.concentration is None else self.concentration.copy()
        return ConjugatePrior(self.shrinkage, self.mean.copy(), self.dof, scale, conc)

    # -- the M-step -------------------------------------------------------------------
    def posterior_mode(self, nk, xbar, scatter, reg_covar):
        """(weights, means, covariances) maximizing the posterior given the statistics:
        counts nk (K,), component means xbar (K, d) and scatter matrices: (K, d, d) for
        full, their sum (d, d) for tied, their diagonals (K, d) for diag/spherical."""
        k, d = xbar.shape
        kappa, ct = self.shrinkage, self.covariance_type
        b = xbar - self.mean
        c = kappa * nk / (nk + kappa) if kappa > 0 else np.zeros(k)
        means = (nk[:, None] * xbar + kappa * self.mean) / (nk + kappa)[:, None]
        if ct == "full":
            num = self.scale + c[:, None, None] * b[:, :, None] * b[:, None, :] + scatter
            cov = num / (self.dof + nk + d + 2)[:, None, None] + reg_covar * np.eye(d)
        elif ct == "tied":
            num = self.scale + np.einsum("k,ki,kj->ij", c, b, b) + scatter
            cov = num / (self.dof + nk.sum() + d + k + 1) + reg_covar * np.eye(d)
        elif ct == "diag":
            num = self.scale + c[:, None] * b**2 + scatter
            cov = num / (self.dof + nk + 3)[:, None] + reg_covar
        else:
            num = self.scale + c * (b**2).sum(axis=1) + scatter.sum(axis=1)
            cov = num / (self.dof + (nk + 1) * d + 2) + reg_covar
        if self.concentration is None:
            weights = nk / nk.sum()
        else:
            a = self.concentration
            weights = (nk + a - 1) / (nk.sum() + a.sum() - k)
        return weights, means, cov

    # -- the log prior density, which the driver adds to the log-likelihood -------------
    def log_density(self, params) -> float:
        """log p(weights, means, covariances) under the prior (normalized; the flat
        parts, shrinkage 0 or no weights prior, contribute 0)."""
        k, d = params.means.shape
        ct, nu, kappa = self.covariance_type, self.dof, self.shrinkage
        chol = np.asarray(params.precisions_cholesky, dtype=np.float64)
        diff = params.means - self.mean
        total = 0.0
        if ct in ("full", "tied"):
            factors = chol if ct == "full" else chol[None]
            # log|Sigma| = -2 sum log diag(U), Sigma^-1 = U U^T
            log_det = -2.0 * np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
            sign, log_det_scale = np.linalg.slogdet(self.scale)
            trace = np.einsum("kij,ij->k", factors @ np.swapaxes(factors, 1, 2), self.scale)
            log_gamma_d = (d * (d - 1) / 4.0 * math.log(math.pi)
                           + sum(math.lgamma((nu - j) / 2.0) for j in range(d)))
            total += float(np.sum(nu / 2.0 * log_det_scale - nu * d / 2.0 * _LOG_2
                                  - log_gamma_d - (nu + d + 1) / 2.0 * log_det
                                  - 0.5 * trace))
            if kappa > 0:
                proj = np.einsum("ki,kij->kj", diff, factors if ct == "full"
                                 else np.broadcast_to(factors, (k, d, d)))
                log_dets = log_det if ct == "full" else np.full(k, log_det[0])
                total += float(np.sum(-0.5 * d * (_LOG_2PI - math.log(kappa))
                                      - 0.5 * log_dets - 0.5 * kappa * (proj**2).sum(1)))
        else:
            # inverse gamma(nu/2, scale/2) on each variance, normal on each mean entry
            var = 1.0 / np.asarray(chol, dtype=np.float64) ** 2     # (K, d) or (K,)
            a = nu / 2.0
            half_scale = self.scale / 2.0
            per = (a * np.log(half_scale) - math.lgamma(a) - (a + 1) * np.log(var)
                   - half_scale / var)
            total += float(np.sum(per))
            if kappa > 0:
                v = var if ct == "diag" else var[:, None]
                total += float(np.sum(-0.5 * (_LOG_2PI - math.log(kappa)) - 0.5 * np.log(v)
                                      - 0.5 * kappa * diff**2 / v))
        if self.concentration is not None:
            a = self.concentration
            with np.errstate(divide="ignore"):
                logw = np.log(params.weights)
            total += float(math.lgamma(a.sum()) - sum(math.lgamma(x) for x in a)
                           + np.sum(np.where(a == 1, 0.0, (a - 1) * logw)))
        return total


# -- resolving a prior against the data ----------------------------------------------
def _weighted_moments(X, sample_weight):
    """Column means, and the sample covariance (divisor total weight - 1, as R's var for
    unit weights), of the observed entries: pairwise over rows where both are observed.
    X is an array (weighted by sample_weight) or a Source."""
    mean, count = observed_means(X, sample_weight)
    cross = pairs = 0.0
    for chunk, w in row_pieces(X, sample_weight, OBSERVED_CHUNK):
        w = np.ones(len(chunk)) if w is None else w
        seen = ~np.isnan(chunk)
        centred = np.where(seen, chunk - mean, 0.0)
        cross = cross + (centred * w[:, None]).T @ centred
        observed = seen.astype(np.float64)
        pairs = pairs + (observed * w[:, None]).T @ observed
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = cross / (pairs - 1.0)
    return mean, cov, count


def _positive_definite(m):
    try:
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return False
    return bool(np.isfinite(m).all())


def _real(value, name, minimum, strict):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"prior.{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        sign = ">" if strict else ">="
        raise ValueError(f"prior.{name} must be a finite number {sign} {minimum:g}, "
                         f"got {value!r}")
    return value


def _array(value, name, shape):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"prior.{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = np.array(np.broadcast_to(arr, shape) if arr.ndim == 0 else arr, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"prior.{name} must have shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"prior.{name} contains NaN or infinity")
    return arr


def check_prior(prior):
    """The prior parameter as a ConjugatePrior, or None (a clear error otherwise)."""
    if prior is None:
        return None
    if isinstance(prior, str):
        if prior != "default":
            raise ValueError(f"prior must be None, 'default' or a ConjugatePrior, got "
                             f"{prior!r}")
        return ConjugatePrior()
    if isinstance(prior, dict):     # a model file stores the prior's fields
        unknown = set(prior) - set(PRIOR_FIELDS)
        if unknown:
            raise ValueError(f"prior: unknown field {sorted(unknown)[0]!r}; a prior has "
                             f"{', '.join(PRIOR_FIELDS)}")
        return ConjugatePrior(**prior)
    if not isinstance(prior, ConjugatePrior):
        raise TypeError(f"prior must be None, 'default' or a ConjugatePrior, got "
                        f"{type(prior).__name__}")
    return prior


def resolve_prior(prior, X, sample_weight, n_components, covariance_type):
    """The ResolvedPrior of ``prior`` (a ConjugatePrior) for a fit to X; None stays None.

    Defaults are mclust's (defaultPrior), with weighted moments of the observed entries."""
    if prior is None:
        return None
    k, ct = n_components, covariance_type
    if isinstance(X, Source):      # data read in blocks: its weights are its own
        d, sample_weight = X.n_features, None
        total_weight = X.total_weight
    else:
        d, total_weight = X.shape[1], (X.shape[0] if sample_weight is None
                                       else float(sample_weight.sum()))
    kappa = _real(prior.shrinkage, "shrinkage", 0.0, strict=False)
    dof = (float(d + 2) if prior.dof is None
           else _real(prior.dof, "dof", 0.0, strict=True))
    need_data = prior.mean is None or prior.scale is None
    if need_data:
        data_mean, data_cov, _ = _weighted_moments(X, sample_weight)
    mean = data_mean if prior.mean is None else _array(prior.mean, "mean", (d,))
    if prior.scale is None:
        fac = (1.0 / k) ** (2.0 / d)
        variances = np.diag(data_cov)
        if not (np.isfinite(variances).all() and (variances > 0).all()):
            raise ValueError("the default prior's scale needs a positive sample variance "
                             "in every column; give prior.scale")
        if ct in ("full", "tied"):
            cov = data_cov if total_weight > d and _positive_definite(data_cov) else np.diag(
                variances)
            scale = fac * cov
        elif ct == "diag":
            scale = np.full(d, fac * variances.mean())
        else:
            scale = np.asarray(fac * variances.mean())
    else:
        shape = {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[ct]
        given = prior.scale
        if ct in ("full", "tied") and np.ndim(given) == 0:
            given = _array(given, "scale", ()) * np.eye(d)    # s: s times the identity
        scale = _array(given, "scale", shape)
        if ct in ("full", "tied"):
            if not (np.allclose(scale, scale.T) and _positive_definite(scale)):
                raise ValueError("prior.scale must be a symmetric positive definite "
                                 f"({d}, {d}) matrix for covariance_type={ct!r}")
        elif not (scale > 0).all():
            raise ValueError("prior.scale must be positive")
    if ct in ("full", "tied") and dof <= d - 1:
        raise ValueError(f"prior.dof must be greater than n_features - 1 = {d - 1} for an "
                         f"inverse Wishart prior (covariance_type={ct!r}), got {dof:g}")
    conc = None
    if prior.weights_concentration is not None:
        conc = _array(prior.weights_concentration, "weights_concentration", (k,))
        if not (conc >= 1).all():
            raise ValueError("prior.weights_concentration must be >= 1 (a Dirichlet whose "
                             "mode is finite)")
    return ResolvedPrior(ct, kappa, mean, dof, scale, conc)
