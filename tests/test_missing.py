"""Gaussian mixtures with missing values (NaN): exact EM for the observed-data likelihood."""

import warnings

import numpy as np
import pytest
from conftest import make_blobs, rel_err

from fastem import ConvergenceWarning, GaussianMixture
from fastem.datasets import load_faithful
from fastem.mixture._gaussian import GaussianParams, e_pass
from fastem.mixture._missing import (
    MissingPatterns,
    PatternColumns,
    PatternParameters,
    missing_e_pass,
)

COV_TYPES = ["full", "tied", "diag", "spherical"]


def knock_out(X, fraction, seed=0):
    """Remove entries completely at random, keeping at least one per row."""
    rng = np.random.RandomState(seed)
    holes = rng.uniform(size=X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    out = X.astype(np.float64, copy=True)
    out[holes] = np.nan
    return out


def _logsumexp(a):
    m = a.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]


def reference_em(X, weights, means, covs, reg_covar, covariance_type, n_iter):
    """Plain-numpy EM for incomplete data (Ghahramani & Jordan), one row at a time."""
    n, d = X.shape
    k = len(weights)
    missing = np.isnan(X)
    bounds = []
    for _ in range(n_iter):
        full = [np.diag(c) if covariance_type == "diag" else c for c in covs]
        logp = np.empty((n, k))
        xhat = np.empty((k, n, d))
        ccov = np.zeros((k, n, d, d))
        for i in range(n):
            o, m = ~missing[i], missing[i]
            for j in range(k):
                s = full[j]
                s_oo = s[np.ix_(o, o)]
                diff = X[i, o] - means[j, o]
                sol = np.linalg.solve(s_oo, diff)
                logp[i, j] = np.log(weights[j]) - 0.5 * (
                    o.sum() * np.log(2 * np.pi) + np.linalg.slogdet(s_oo)[1] + diff @ sol)
                xhat[j, i] = X[i]
                xhat[j, i, m] = means[j, m] + s[np.ix_(m, o)] @ sol
                ccov[j, i][np.ix_(m, m)] = s[np.ix_(m, m)] - s[np.ix_(m, o)] @ np.linalg.solve(
                    s_oo, s[np.ix_(o, m)])
        lse = _logsumexp(logp)
        bounds.append(lse.mean())
        r = np.exp(logp - lse[:, None])
        nk = r.sum(axis=0)
        weights = nk / n
        means = np.einsum("ik,kid->kd", r, xhat) / nk[:, None]
        new = []
        for j in range(k):
            dev = xhat[j] - means[j]
            c = (np.einsum("i,id,ie->de", r[:, j], dev, dev)
                 + np.einsum("i,ide->de", r[:, j], ccov[j])) / nk[j]
            c += reg_covar * np.eye(d)
            new.append(np.diag(c) if covariance_type == "diag" else c)
        covs = np.array(new)
    return bounds, weights, means, covs


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_iterates_equal_a_plain_numpy_reference(covariance_type):
    X = knock_out(make_blobs(n=240, d=3, seed=5), 0.25, seed=1)
    rng = np.random.RandomState(0)
    weights = np.array([0.3, 0.3, 0.4])
    means = X[rng.choice(len(X), 3, replace=False)]
    means = np.where(np.isnan(means), 0.5, means)
    covs = (np.array([np.eye(3) * s for s in (1.0, 2.0, 3.0)]) if covariance_type == "full"
            else np.array([np.ones(3) * s for s in (1.0, 2.0, 3.0)]))
    bounds, w_ref, mu_ref, cov_ref = reference_em(X, weights, means, covs, 1e-6,
                                                  covariance_type, 20)
    precisions = np.linalg.inv(covs) if covariance_type == "full" else 1 / covs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, weights_init=weights,
                             means_init=means, precisions_init=precisions, max_iter=20,
                             tol=0).fit(X)
    assert rel_err(gm.lower_bounds_, bounds) < 1e-8
    assert rel_err(gm.weights_, w_ref) < 1e-8
    assert rel_err(gm.means_, mu_ref) < 1e-8
    assert rel_err(gm.covariances_, cov_ref) < 1e-8


def test_one_component_fixed_point_is_the_classical_mle():
    """Monotone pattern (x1 always seen, x2 sometimes): Anderson's closed-form MLE."""
    rng = np.random.RandomState(3)
    n = 400
    x1 = rng.randn(n) * 2 + 1
    x2 = 0.8 * x1 + rng.randn(n) + 3
    X = np.c_[x1, x2]
    seen = rng.uniform(size=n) < 0.6
    X[~seen, 1] = np.nan
    mu1 = x1.mean()
    s11 = ((x1 - mu1) ** 2).mean()
    c1, c2 = x1[seen], x2[seen]
    beta = np.cov(c1, c2, bias=True)[0, 1] / c1.var()
    resid = ((c2 - c2.mean() - beta * (c1 - c1.mean())) ** 2).mean()
    mu2 = c2.mean() + beta * (mu1 - c1.mean())
    expected_cov = np.array([[s11, beta * s11], [beta * s11, resid + beta**2 * s11]])
    gm = GaussianMixture(1, reg_covar=0, tol=1e-14, max_iter=5000).fit(X)
    np.testing.assert_allclose(gm.means_[0], [mu1, mu2], rtol=1e-8)
    np.testing.assert_allclose(gm.covariances_[0], expected_cov, rtol=1e-7)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_missing_kernel_equals_complete_kernel_on_complete_rows(covariance_type):
    X = make_blobs(n=700, d=4, seed=6)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    params = GaussianParams(gm.weights_, gm.means_, gm.covariances_,
                            gm.precisions_cholesky_, covariance_type)
    complete = e_pass(X, None, params, n_threads=2, want_stats=True)
    pattern = missing_e_pass(X, None, params, MissingPatterns(X), n_threads=2,
                             want_stats=True)
    for a, b in zip(complete, pattern):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_log_likelihood_never_decreases_with_missing_values(covariance_type):
    X = knock_out(make_blobs(n=600, d=4, seed=7), 0.2)
    w = np.random.RandomState(2).uniform(0.5, 2, size=len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, covariance_type=covariance_type, tol=0, max_iter=40,
                             random_state=0).fit(X, sample_weight=w)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert gm.weights_.sum() == pytest.approx(1.0)
    assert gm.score(X, sample_weight=w) == pytest.approx(bounds[-1], abs=1e-3)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_weights_threads_and_float32_with_missing_values(covariance_type):
    X = knock_out(make_blobs(n=3000, d=4, seed=8), 0.2)
    counts = np.random.RandomState(3).randint(0, 3, size=len(X))
    kw = dict(covariance_type=covariance_type, max_iter=8, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = GaussianMixture(3, **kw).fit(X)
        init = dict(weights_init=start.weights_, means_init=start.means_,
                    precisions_init=start.precisions_, covariance_type=covariance_type,
                    max_iter=8, tol=0)
        weighted = GaussianMixture(3, **init).fit(X, sample_weight=counts)
        repeated = GaussianMixture(3, **init).fit(np.repeat(X, counts, axis=0))
        fits = [GaussianMixture(3, n_threads=t, **init).fit(X) for t in (1, 2, 4)]
        single = GaussianMixture(3, **init).fit(X.astype(np.float32))
    assert rel_err(weighted.means_, repeated.means_) < 1e-10
    assert rel_err(weighted.covariances_, repeated.covariances_) < 1e-10
    for other in fits[1:]:
        np.testing.assert_array_equal(other.means_, fits[0].means_)
        assert other.lower_bounds_ == fits[0].lower_bounds_
    assert rel_err(single.means_, fits[0].means_) < 1e-4
    assert rel_err(single.covariances_, fits[0].covariances_) < 1e-4


def _random_params(covariance_type, k, d, seed):
    rng = np.random.RandomState(seed)
    a = rng.normal(size=(k, d, d))
    full = a @ np.swapaxes(a, 1, 2) / d + 0.5 * np.eye(d)
    cov = {"full": full, "tied": full[0], "diag": rng.uniform(0.5, 2, size=(k, d)),
           "spherical": rng.uniform(0.5, 2, size=k)}[covariance_type]
    weights = rng.dirichlet(np.ones(k))
    return GaussianParams(weights, rng.normal(size=(k, d)), cov, None, covariance_type)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_pattern_parameters_equal_plain_numpy_for_any_thread_count(covariance_type):
    d, k = 10, 4
    params = _random_params(covariance_type, k, d, seed=1)
    # every pattern, from nothing missing to everything missing: enough work for threads
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(bool)
    columns = PatternColumns(masks)
    runs = [PatternParameters(params, columns, np.float64, n_threads=t) for t in (1, 2, 4)]
    for other in runs[1:]:
        for name in ("factor", "bmat", "cond", "log_norm"):
            np.testing.assert_array_equal(getattr(other, name), getattr(runs[0], name))
    pp = runs[0]
    dense = covariance_type in ("full", "tied")
    cov = params.covariances
    if covariance_type == "tied":
        cov = np.repeat(cov[None], k, axis=0)
    elif covariance_type == "diag":
        cov = cov[:, :, None] * np.eye(d)
    elif covariance_type == "spherical":
        cov = cov[:, None, None] * np.eye(d)
    for p in range(0, 2**d, 37):
        o, m = columns.observed(p), columns.missing(p)
        for j in range(k):
            s_oo, s_mo = cov[j][np.ix_(o, o)], cov[j][np.ix_(m, o)]
            log_det = -0.5 * np.linalg.slogdet(s_oo)[1]
            expected = np.log(params.weights[j]) + log_det - 0.5 * len(o) * np.log(2 * np.pi)
            assert pp.log_norm[p, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)
            b = s_mo @ np.linalg.inv(s_oo) if len(o) else np.zeros((len(m), 0))
            c = cov[j][np.ix_(m, m)] - b @ s_mo.T
            if dense:
                np.testing.assert_allclose(pp.regression(p)[j], b, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(pp.conditional_covariance(p)[j], c, rtol=1e-12,
                                           atol=1e-12)
                factor = pp.factor[pp.factor_start[p]:pp.factor_start[p + 1]].reshape(
                    k, len(o), len(o))[j]
                np.testing.assert_array_equal(factor, np.triu(factor))
                np.testing.assert_allclose(factor @ factor.T, np.linalg.inv(s_oo),
                                           rtol=1e-12, atol=1e-12)
            else:
                assert pp.regression(p) is None
                np.testing.assert_allclose(pp.conditional_covariance(p)[j], np.diag(c),
                                           rtol=1e-15)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_covariance_not_positive_definite_on_the_observed_columns(covariance_type):
    params = _random_params(covariance_type, 2, 3, seed=2)
    bad = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 2.0, 1.0]])
    if covariance_type == "full":
        params.covariances[1] = bad
    else:
        params.covariances = bad
    X = np.random.RandomState(0).normal(size=(20, 3))
    X[:, 0] = np.nan
    where = "component 1" if covariance_type == "full" else "the tied covariance"
    with pytest.raises(ValueError, match=rf"{where}, restricted to the observed columns "
                       r"\[1, 2\] of some rows, is not positive definite"):
        missing_e_pass(X, None, params, MissingPatterns(X, for_fit=False), n_threads=1,
                       want_stats=True)


def test_rows_with_nothing_observed():
    X = knock_out(make_blobs(n=400, d=3, seed=9), 0.2)
    empty = np.full((5, 3), np.nan)
    kw = dict(max_iter=10, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, **kw).fit(X)
        init = dict(weights_init=gm.weights_, means_init=gm.means_,
                    precisions_init=gm.precisions_, max_iter=10, tol=0)
        a = GaussianMixture(3, **init).fit(X)
        b = GaussianMixture(3, **init).fit(np.vstack([X, empty]))
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-12)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(gm.predict_proba(empty), np.tile(gm.weights_, (5, 1)))
    np.testing.assert_array_equal(gm.score_samples(empty), 0.0)
    np.testing.assert_allclose(gm.impute(empty), np.tile(gm.weights_ @ gm.means_, (5, 1)))


def test_inference_uses_the_observed_entries():
    X = make_blobs(n=500, d=3, seed=10)
    gm = GaussianMixture(3, random_state=0).fit(X)
    holes = X[:50].copy()
    holes[:, 2] = np.nan
    # the same mixture restricted to the two observed features
    from fastem.mixture._gaussian import precision_cholesky_from_covariances

    marginal = GaussianMixture(3)
    marginal.weights_, marginal.means_ = gm.weights_, gm.means_[:, :2]
    marginal.covariances_ = gm.covariances_[:, :2, :2]
    marginal.precisions_cholesky_ = precision_cholesky_from_covariances(
        marginal.covariances_, "full")
    marginal.n_features_in_ = 2
    np.testing.assert_allclose(gm.score_samples(holes), marginal.score_samples(X[:50, :2]),
                               rtol=1e-10)
    np.testing.assert_allclose(gm.predict_proba(holes), marginal.predict_proba(X[:50, :2]),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(gm.predict(holes), marginal.predict(X[:50, :2]))
    assert np.isfinite(gm.bic(holes)) and np.isfinite(gm.aic(holes))


def _rmse(a, b, mask):
    return np.sqrt(np.mean((a[mask] - b[mask]) ** 2))


def test_imputation_beats_column_means_on_a_known_mixture():
    rng = np.random.RandomState(0)
    k, d, n = 3, 4, 3000
    centers = rng.uniform(-6, 6, size=(k, d))
    labels = rng.randint(0, k, size=n)
    chol = [np.tril(rng.randn(d, d)) * 0.7 + np.eye(d) for _ in range(k)]
    truth = np.array([centers[z] + chol[z] @ rng.randn(d) for z in labels])
    X = knock_out(truth, 0.2, seed=4)
    mask = np.isnan(X)
    gm = GaussianMixture(k, n_init=3, random_state=0).fit(X)
    filled = gm.impute(X)
    column_mean = np.where(mask, np.nanmean(X, axis=0), X)
    assert _rmse(filled, truth, mask) < 0.6 * _rmse(column_mean, truth, mask)
    np.testing.assert_array_equal(filled[~mask], X[~mask])  # bit for bit
    assert not np.isnan(filled).any()
    # multiple imputation: draws scatter around the conditional mean
    draws = np.array([gm.impute(X, method="sample", random_state=s) for s in range(20)])
    np.testing.assert_array_equal(draws[:, ~mask], np.broadcast_to(X[~mask], (20, (~mask).sum())))
    assert np.abs(draws.mean(axis=0)[mask] - filled[mask]).mean() < 0.5
    assert draws.std(axis=0)[mask].mean() > 0.1


def test_imputation_on_old_faithful():
    X = load_faithful()
    holes = knock_out(X, 0.15, seed=2)
    mask = np.isnan(holes)
    gm = GaussianMixture(2, n_init=3, random_state=0).fit(holes)
    filled = gm.impute(holes)
    column_mean = np.where(mask, np.nanmean(holes, axis=0), holes)
    for j in range(2):
        col = mask[:, j]
        assert _rmse(filled[:, j:j + 1], X[:, j:j + 1], col[:, None]) < 0.7 * _rmse(
            column_mean[:, j:j + 1], X[:, j:j + 1], col[:, None])


def test_missing_value_errors():
    X = knock_out(make_blobs(n=200, d=3, seed=1), 0.1)
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match="column 1 of X is entirely missing"):
        GaussianMixture(2).fit(X)
    Y = make_blobs(n=200, d=3, seed=1)
    Y[3, 0] = np.inf
    Y[4, 1] = np.nan
    with pytest.raises(ValueError, match="infinity"):
        GaussianMixture(2).fit(Y)
    with pytest.raises(ValueError, match="method must be one of"):
        GaussianMixture(2).fit(make_blobs(n=50, seed=2)).impute(X, method="median")


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_initialisation_copes_with_missing_values(init_params):
    X = knock_out(make_blobs(n=500, d=3, seed=12), 0.3)
    gm = GaussianMixture(3, init_params=init_params, random_state=0).fit(X)
    assert gm.converged_ and np.isfinite(gm.lower_bound_)
    # almost no complete rows: the mean-filled initialisation is used
    Y = knock_out(np.hstack([make_blobs(n=500, d=3, seed=13)] * 3), 0.6)
    assert (~np.isnan(Y)).all(axis=1).sum() < 30
    gm = GaussianMixture(2, init_params=init_params, random_state=0).fit(Y)
    assert np.isfinite(gm.lower_bound_)
