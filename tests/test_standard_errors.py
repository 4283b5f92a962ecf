"""GaussianMixture.parameter_covariance and standard_errors: the observed information is
minus the Hessian of the log-likelihood, the empirical one the sum of the per-row score
outer products, both in the documented parameterisation."""

import warnings

import numpy as np
import pytest

from fastem import (
    ConvergenceWarning,
    GaussianMixture,
    NotFittedError,
    SingularInformationWarning,
    StandardErrors,
)
from fastem.datasets import load_faithful
from fastem.mixture import ConjugatePrior, _information
from fastem.mixture._gaussian import GaussianParams, precision_cholesky_from_covariances
from fastem.mixture._information import information_blocks, information_matrix
from fastem.mixture._prior import resolve_prior

TYPES = ("full", "tied", "diag", "spherical")


# -- the log-likelihood in the documented parameterisation, directly ---------------------
def packed(gm):
    """theta: the first K-1 weights, the means, the distinct covariance entries."""
    d = gm.means_.shape[1]
    cov = np.asarray(gm.covariances_, dtype=np.float64)
    if gm.covariance_type in ("full", "tied"):
        cov = cov[..., np.triu_indices(d)[0], np.triu_indices(d)[1]]
    return np.r_[gm.weights_[:-1], gm.means_.ravel(), cov.ravel()].astype(np.float64)


def unpacked(theta, ct, k, d):
    weights = np.r_[theta[:k - 1], 1.0 - theta[:k - 1].sum()]
    means = theta[k - 1:k - 1 + k * d].reshape(k, d)
    rest = theta[k - 1 + k * d:]
    if ct in ("full", "tied"):
        rows, cols = np.triu_indices(d)
        mats = np.zeros((len(rest) // len(rows), d, d))
        mats[:, rows, cols] = rest.reshape(len(mats), -1)
        mats[:, cols, rows] = rest.reshape(len(mats), -1)
        covs = mats if ct == "full" else np.repeat(mats, k, axis=0)
    elif ct == "diag":
        covs = np.stack([np.diag(v) for v in rest.reshape(k, d)])
    else:
        covs = np.stack([s * np.eye(d) for s in rest])
    return weights, means, covs


def per_row_loglik(theta, X, ct, k):
    """log p(x_i) of each row: the marginal density of its observed entries."""
    weights, means, covs = unpacked(theta, ct, k, X.shape[1])
    seen = ~np.isnan(X)
    out = np.zeros(len(X))
    for pattern in np.unique(seen, axis=0):
        rows = np.flatnonzero((seen == pattern).all(axis=1))
        if not pattern.any():
            continue
        x = X[rows][:, pattern]
        logp = np.empty((len(rows), k))
        for j in range(k):
            lower = np.linalg.cholesky(covs[j][np.ix_(pattern, pattern)])
            y = np.linalg.solve(lower, (x - means[j][pattern]).T)
            logp[:, j] = (np.log(weights[j]) - np.log(np.diag(lower)).sum()
                          - 0.5 * pattern.sum() * np.log(2 * np.pi) - 0.5 * (y * y).sum(0))
        top = logp.max(axis=1)
        out[rows] = top + np.log(np.exp(logp - top[:, None]).sum(axis=1))
    return out


def steps(gm, X):
    """Finite-difference steps: 1e-4 of each parameter's natural scale."""
    k, d = gm.means_.shape
    sd = np.sqrt(np.nanvar(X, axis=0))
    ct = gm.covariance_type
    if ct in ("full", "tied"):
        rows, cols = np.triu_indices(d)
        cov = np.tile(sd[rows] * sd[cols], k if ct == "full" else 1)
    elif ct == "diag":
        cov = np.tile(sd ** 2, k)
    else:
        cov = np.full(k, np.mean(sd ** 2))
    return 1e-4 * np.r_[np.ones(k - 1), np.tile(sd, k), cov]


def hessian(f, theta, h):
    """Central second differences of f at theta with steps h."""
    n = len(theta)
    out = np.empty((n, n))
    f0 = f(theta)
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        out[i, i] = (f(theta + ei) - 2 * f0 + f(theta - ei)) / h[i] ** 2
        for j in range(i + 1, n):
            ej = np.zeros(n)
            ej[j] = h[j]
            out[i, j] = out[j, i] = (f(theta + ei + ej) - f(theta + ei - ej)
                                     - f(theta - ei + ej) + f(theta - ei - ej)) / (
                4 * h[i] * h[j])
    return out


def scores(theta, X, ct, k, h):
    """Per-row gradients of log p(x_i), by central differences: (n, P)."""
    out = np.empty((len(X), len(theta)))
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = h[i]
        out[:, i] = (per_row_loglik(theta + e, X, ct, k)
                     - per_row_loglik(theta - e, X, ct, k)) / (2 * h[i])
    return out


def scaled_difference(a, b):
    """max |D (a - b) D| with D = diag(b)^-1/2: entrywise relative to the diagonal."""
    scale = 1.0 / np.sqrt(np.abs(np.diag(b)))
    return np.abs(scale[:, None] * (a - b) * scale[None, :]).max()


def overlapping(n=200, d=2, seed=0, missing=0.0):
    """Two clusters that share many rows, so that the pair terms matter."""
    rng = np.random.RandomState(seed)
    half = n // 2
    mix = np.triu(np.full((d, d), 0.4))
    X = np.r_[rng.standard_normal((half, d)) @ mix + rng.standard_normal((half, d)),
              rng.standard_normal((n - half, d)) * 1.3 + 1.5]
    if missing:
        X[rng.uniform(size=X.shape) < missing] = np.nan
    return X


def fitted(X, ct, k=2, sample_weight=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(k, covariance_type=ct, random_state=0, **kw).fit(
            X, sample_weight=sample_weight)


# -- the observed information -----------------------------------------------------------
@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("case", ["plain", "weighted", "missing"])
def test_observed_information_is_minus_the_hessian(ct, case):
    rng = np.random.RandomState(1)
    if case == "missing":
        X = overlapping(d=3, missing=0.15)
    else:
        X = overlapping()
    sw = rng.uniform(0.2, 3.0, len(X)) if case == "weighted" else None
    # converged, and (weighted) a fit stopped after 3 iterations, off the stationary point
    gm = fitted(X, ct, sample_weight=sw, max_iter=3 if case == "weighted" else 100)
    k = gm.n_components
    theta = packed(gm)
    info = information_matrix(gm, X, "observed", sw)
    v = np.ones(len(X)) if sw is None else sw
    numeric = -hessian(lambda t: v @ per_row_loglik(t, X, ct, k), theta, steps(gm, X))
    assert info.shape == (gm._n_parameters(),) * 2
    np.testing.assert_array_equal(info, info.T)
    assert scaled_difference(info, numeric) < 1e-5


@pytest.mark.parametrize("ct", TYPES)
def test_empirical_information_is_the_sum_of_score_outer_products(ct):
    X = overlapping(d=3, missing=0.1, seed=2)
    sw = np.random.RandomState(3).uniform(0.2, 3.0, len(X))
    gm = fitted(X, ct, sample_weight=sw)
    s = scores(packed(gm), X, ct, gm.n_components, steps(gm, X))
    expected = s.T @ (sw[:, None] * s)
    assert scaled_difference(information_matrix(gm, X, "empirical", sw), expected) < 1e-6


@pytest.mark.parametrize("ct", TYPES)
def test_covariance_is_the_inverse_information(ct):
    # three components, two of which share rows: a block of two and one alone
    rng = np.random.RandomState(4)
    X = np.r_[overlapping(300, seed=5), rng.standard_normal((150, 2)) * 0.5 + [12, -9]]
    gm = fitted(X, ct, k=3, tol=1e-8, max_iter=1000)
    for method in ("observed", "empirical"):
        info = information_matrix(gm, X, method)
        cov = gm.parameter_covariance(X, method=method)
        np.testing.assert_allclose(cov, cov.T, rtol=0, atol=1e-12 * np.abs(cov).max())
        np.testing.assert_allclose(cov @ info, np.eye(len(info)), atol=1e-8)


@pytest.mark.parametrize("ct", TYPES)
def test_chunks_and_batches_do_not_change_the_result(ct, monkeypatch):
    X = overlapping(400, d=3, missing=0.1, seed=6)
    sw = np.random.RandomState(7).uniform(0.5, 2.0, len(X))
    gm = fitted(X, ct, k=3)
    whole = {m: information_matrix(gm, X, m, sw) for m in ("observed", "empirical")}
    monkeypatch.setattr(_information, "_CHUNK_CELLS", 1)       # 256-row chunks
    monkeypatch.setattr(_information, "_FEATURE_CELLS", 1)     # 256-row batches
    monkeypatch.setattr(_information, "_QUEUED_ROWS", 100)     # scores before the end
    for method, info in whole.items():
        np.testing.assert_allclose(information_matrix(gm, X, method, sw), info,
                                   rtol=1e-10, atol=1e-10 * np.abs(info).max())


def test_float32_data_gives_the_float64_result():
    X = overlapping(seed=8)
    gm = fitted(X, "full", tol=1e-8, max_iter=1000)
    se64 = gm.standard_errors(X)
    se32 = gm.standard_errors(X.astype(np.float32))
    for a, b in zip(se32, se64):
        np.testing.assert_allclose(a, b, rtol=1e-4)


def test_one_component_has_no_weights():
    X = overlapping(seed=9)
    gm = fitted(X, "full", k=1)
    cov = gm.parameter_covariance(X)
    assert cov.shape == (5, 5)
    se = gm.standard_errors(X)
    assert se.weights.tolist() == [0.0]
    # the mean's covariance is Sigma / n for one Gaussian
    np.testing.assert_allclose(cov[:2, :2], gm.covariances_[0] / len(X), rtol=1e-10)


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("method", ["observed", "empirical"])
def test_a_map_fit_adds_the_curvature_of_the_log_prior(ct, method):
    X = overlapping(seed=15)
    prior = ConjugatePrior(shrinkage=0.5, weights_concentration=[2.0, 3.0])
    gm = fitted(X, ct, prior=prior, tol=1e-8, max_iter=1000)
    k, d = gm.means_.shape
    resolved = resolve_prior(gm.prior_, X, None, k, ct)

    def log_prior(theta):
        weights, means, covs = unpacked(theta, ct, k, d)
        cov = {"full": covs, "tied": covs[0], "diag": np.diagonal(covs, axis1=1, axis2=2),
               "spherical": covs[:, 0, 0]}[ct]
        return resolved.log_density(GaussianParams(
            weights, means, cov, precision_cholesky_from_covariances(cov, ct), ct))

    numeric = -hessian(log_prior, packed(gm), steps(gm, X))
    posterior = information_matrix(gm, X, method)
    likelihood = information_blocks(gm._params(), X, None, method, missing=False,
                                    n_threads=1).dense()
    difference = posterior - likelihood
    assert np.abs(difference - numeric).max() < 1e-6 * np.abs(numeric).max()
    assert np.isfinite(gm.standard_errors(X, method=method).covariances).all()


# -- large samples: the two estimates agree --------------------------------------------
COVARIANCES = {
    "full": ([[1.0, 0.5], [0.5, 1.0]], [[0.6, -0.2], [-0.2, 1.5]]),
    "tied": ([[1.0, 0.5], [0.5, 1.0]], [[1.0, 0.5], [0.5, 1.0]]),
    "diag": (np.diag([1.0, 0.5]), np.diag([0.6, 1.5])),
    "spherical": (np.eye(2), 0.6 * np.eye(2)),
}


@pytest.mark.parametrize("ct", TYPES)
def test_empirical_and_observed_agree_for_a_large_sample_from_the_model(ct):
    rng = np.random.RandomState(10)
    n = 20_000
    first = rng.uniform(size=n) < 0.4
    X = np.where(first[:, None], rng.multivariate_normal([0, 0], COVARIANCES[ct][0], n),
                 rng.multivariate_normal([6, 2], COVARIANCES[ct][1], n))
    gm = fitted(X, ct, tol=1e-8, max_iter=500)
    observed = gm.standard_errors(X)
    empirical = gm.standard_errors(X, method="empirical")
    for a, b in zip(empirical, observed):
        np.testing.assert_allclose(a, b, rtol=0.1)


# -- the result --------------------------------------------------------------------------
@pytest.mark.parametrize("ct", TYPES)
def test_standard_errors_are_the_diagonal_shaped_like_the_fitted_arrays(ct):
    rng = np.random.RandomState(4)
    X = np.r_[overlapping(300, seed=5), rng.standard_normal((150, 2)) * 0.5 + [12, -9]]
    gm = fitted(X, ct, k=3, tol=1e-8, max_iter=1000)
    se = gm.standard_errors(X)
    assert isinstance(se, StandardErrors)
    assert se.weights.shape == gm.weights_.shape
    assert se.means.shape == gm.means_.shape
    assert se.covariances.shape == gm.covariances_.shape
    cov = gm.parameter_covariance(X)
    k, d = gm.means_.shape
    flat = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(se.weights[:-1], flat[:k - 1], rtol=1e-10)
    # the last weight is 1 minus the others: the delta method
    np.testing.assert_allclose(se.weights[-1], np.sqrt(cov[:k - 1, :k - 1].sum()), rtol=1e-10)
    np.testing.assert_allclose(se.means.ravel(), flat[k - 1:k - 1 + k * d], rtol=1e-10)
    if ct in ("full", "tied"):
        rows, cols = np.triu_indices(d)
        np.testing.assert_array_equal(se.covariances, np.swapaxes(se.covariances, -1, -2))
        np.testing.assert_allclose(se.covariances[..., rows, cols].ravel(),
                                   flat[k - 1 + k * d:], rtol=1e-10)
    else:
        np.testing.assert_allclose(se.covariances.ravel(), flat[k - 1 + k * d:], rtol=1e-10)
    weights, means, covariances = se
    assert weights is se.weights and means is se.means and covariances is se.covariances


def test_frequency_weights_count_rows():
    X = load_faithful()
    gm = fitted(X, "full")
    doubled = gm.standard_errors(X, sample_weight=2.0)
    repeated = gm.standard_errors(np.vstack([X, X]))
    for a, b, c in zip(doubled, repeated, gm.standard_errors(X)):
        np.testing.assert_allclose(a, b, rtol=1e-8)
        np.testing.assert_allclose(a, c / np.sqrt(2), rtol=1e-8)


# -- singular cases ----------------------------------------------------------------------
def _warned(call):
    with pytest.warns(SingularInformationWarning) as record:
        result = call()
    return result, str(record[0].message)


@pytest.mark.parametrize("method", ["observed", "empirical"])
def test_duplicated_column_warns_and_gives_nan(method):
    X = load_faithful()
    X = np.hstack([X, X[:, :1]])
    gm = fitted(X, "full")
    se, message = _warned(lambda: gm.standard_errors(X, method=method))
    assert f"The {method} information matrix is" in message
    assert all(np.isnan(a).all() for a in se)
    cov, _ = _warned(lambda: gm.parameter_covariance(X, method=method))
    assert cov.shape == (1 + 2 * 3 + 2 * 6,) * 2 and np.isnan(cov).all()


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_component_with_one_point_warns_and_gives_nan(ct):
    rng = np.random.RandomState(11)
    X = np.r_[rng.standard_normal((300, 2)), [[20.0, 20.0]]]
    gm = fitted(X, ct, means_init=[[0, 0], [20, 20]])
    se, message = _warned(lambda: gm.standard_errors(X))
    assert "not positive definite" in message and "[1" in message
    assert np.isnan(se.means).all()


def test_identical_components_carry_no_information_about_the_weights():
    X = np.random.RandomState(12).standard_normal((300, 2))
    gm = fitted(X, "full", weights_init=[0.5, 0.5], means_init=np.zeros((2, 2)),
                precisions_init=np.stack([np.eye(2)] * 2), max_iter=0)
    for method in ("observed", "empirical"):
        se, message = _warned(lambda method=method: gm.standard_errors(X, method=method))
        assert "weights_[0]" in message
        assert np.isnan(se.weights).all()


def test_near_singular_is_judged_by_the_variance_inflation(monkeypatch):
    X = load_faithful()
    gm = fitted(X, "full")
    monkeypatch.setattr(_information, "VARIANCE_INFLATION_LIMIT", 1.5)
    se, message = _warned(lambda: gm.standard_errors(X))
    assert "near singular" in message and "inflated by" in message
    assert np.isnan(se.covariances).all()


# -- validation --------------------------------------------------------------------------
def test_invalid_arguments_raise_clear_errors():
    X = load_faithful()
    with pytest.raises(NotFittedError):
        GaussianMixture(2).standard_errors(X)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).parameter_covariance(X)
    gm = fitted(X, "full")
    for call in (gm.standard_errors, gm.parameter_covariance):
        with pytest.raises(ValueError, match="method must be one of 'observed', 'empirical'"):
            call(X, method="hessian")
        with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is "
                                             "expecting 2 features"):
            call(np.hstack([X, X[:, :1]]))
        with pytest.raises(ValueError, match="sample_weight"):
            call(X, sample_weight=np.ones(3))
        with pytest.raises(ValueError, match="sample_weight"):
            call(X, sample_weight=-np.ones(len(X)))


def test_inputs_are_not_modified():
    X = overlapping(d=3, missing=0.1, seed=13).astype(np.float32)
    sw = np.random.RandomState(14).uniform(0.5, 2.0, len(X))
    gm = fitted(X, "full")
    X_before, sw_before = X.copy(), sw.copy()
    attributes = {name: getattr(gm, name).copy() for name in
                  ("weights_", "means_", "covariances_", "precisions_cholesky_")}
    for method in ("observed", "empirical"):
        gm.standard_errors(X, method=method, sample_weight=sw)
        gm.parameter_covariance(X, method=method, sample_weight=sw)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(sw, sw_before)
    for name, value in attributes.items():
        np.testing.assert_array_equal(getattr(gm, name), value)
