"""MAP estimation of Gaussian mixtures with the conjugate prior (mclust's priorControl)."""

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from fastem import ConvergenceWarning, GaussianMixture
from fastem.datasets import load_faithful
from fastem.mixture import ConjugatePrior, select
from fastem.mixture._prior import resolve_prior

DATA = Path(__file__).parent / "data"
COV_TYPES = ["full", "tied", "diag", "spherical"]
MCLUST = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}


def mixture_data(n=400, seed=0):
    rs = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -1.0], [1.0, 6.0, 2.0]])
    rows = [rs.randn(m, 3) @ (0.5 + rs.rand(3, 3)) + c
            for c, m in zip(centers, (n // 2, n // 3, n - n // 2 - n // 3))]
    return rs.permutation(np.vstack(rows))


def fit_quietly(gm, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X, **kw)


# -- independent formulas -------------------------------------------------------------
def posterior_mode(X, resp, w, prior, ct):
    """The closed-form MAP M-step written from Fraley & Raftery (2007), Table 2, for
    responsibilities resp of rows X with weights w."""
    n, d = X.shape
    k = resp.shape[1]
    r = resp * w[:, None]
    nk = r.sum(0)
    xbar = (r.T @ X) / nk[:, None]
    kappa, mu0, nu, lam = prior.shrinkage, prior.mean, prior.dof, prior.scale
    means = (nk[:, None] * xbar + kappa * mu0) / (nk + kappa)[:, None]
    scat = [(r[:, j, None] * (X - xbar[j])).T @ (X - xbar[j]) for j in range(k)]
    shrink = [kappa * nk[j] / (nk[j] + kappa) * np.outer(xbar[j] - mu0, xbar[j] - mu0)
              for j in range(k)]
    if ct == "full":
        cov = np.stack([(lam + shrink[j] + scat[j]) / (nu + nk[j] + d + 2)
                        for j in range(k)])
    elif ct == "tied":
        cov = (lam + sum(shrink) + sum(scat)) / (nu + n * w.mean() + d + k + 1)
    elif ct == "diag":
        cov = np.stack([(lam + np.diag(shrink[j]) + np.diag(scat[j])) / (nu + nk[j] + 3)
                        for j in range(k)])
    else:
        cov = np.array([(lam + np.trace(shrink[j]) + np.trace(scat[j]))
                        / (nu + (nk[j] + 1) * d + 2) for j in range(k)])
    if prior.weights_concentration is None:
        weights = nk / nk.sum()
    else:
        a = np.asarray(prior.weights_concentration, dtype=float)
        weights = (nk + a - 1) / (nk.sum() + a.sum() - k)
    return weights, means, cov


def log_prior_scipy(gm):
    """log p(theta) from scipy.stats' densities."""
    stats = pytest.importorskip("scipy.stats")
    p, ct = gm.prior_, gm.covariance_type
    total = 0.0
    cov = gm.covariances_
    for j in range(gm.n_components):
        if ct in ("full", "tied"):
            c = cov[j] if ct == "full" else cov
            total += stats.multivariate_normal(p.mean, c / p.shrinkage).logpdf(gm.means_[j])
            if ct == "full" or j == 0:
                total += stats.invwishart(df=p.dof, scale=p.scale).logpdf(c)
        else:
            v = cov[j] * np.ones(len(p.mean))
            total += stats.norm(p.mean, np.sqrt(v / p.shrinkage)).logpdf(gm.means_[j]).sum()
            scale = np.broadcast_to(p.scale, v.shape) if ct == "diag" else p.scale
            ig = stats.invgamma(p.dof / 2, scale=np.asarray(scale) / 2)
            total += ig.logpdf(cov[j]).sum() if ct == "diag" else ig.logpdf(cov[j])
    if p.weights_concentration is not None:
        total += stats.dirichlet(p.weights_concentration).logpdf(gm.weights_)
    return total


# -- the M-step and the objective --------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_fixed_point_is_the_closed_form_posterior_mode(covariance_type, weighted):
    X = mixture_data()
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(X)) if weighted else np.ones(len(X))
    prior = ConjugatePrior(shrinkage=0.5, weights_concentration=[2.0, 3.0, 1.5])
    gm = fit_quietly(GaussianMixture(3, covariance_type=covariance_type, prior=prior,
                                     reg_covar=0, tol=0, max_iter=500, random_state=0),
                     X, sample_weight=w if weighted else None)
    weights, means, cov = posterior_mode(X, gm.predict_proba(X), w, gm.prior_,
                                         covariance_type)
    np.testing.assert_allclose(gm.weights_, weights, rtol=1e-10)
    np.testing.assert_allclose(gm.means_, means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, cov, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_lower_bound_is_the_log_posterior(covariance_type):
    X = mixture_data()
    prior = ConjugatePrior(shrinkage=0.3, weights_concentration=2.0)
    gm = fit_quietly(GaussianMixture(3, covariance_type=covariance_type, prior=prior,
                                     reg_covar=0, tol=0, max_iter=300, random_state=0), X)
    # at the fixed point the last E-step's parameters are the fitted ones
    loglik = gm.score(X) * len(X)
    assert gm.lower_bound_ * len(X) == pytest.approx(loglik + log_prior_scipy(gm),
                                                     rel=1e-10)
    assert gm.score(X) == pytest.approx(gm.score_samples(X).mean(), rel=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("case", ["plain", "weighted", "missing"])
def test_log_posterior_never_decreases(covariance_type, case):
    X = mixture_data(seed=2)
    sw = None
    if case == "weighted":
        sw = np.random.RandomState(3).uniform(0.1, 3.0, len(X))
    if case == "missing":
        X = X.copy()
        X[np.random.RandomState(4).rand(*X.shape) < 0.15] = np.nan
    for init in ("kmeans", "random"):
        gm = fit_quietly(GaussianMixture(5, covariance_type=covariance_type, prior="default",
                                         init_params=init, reg_covar=0, tol=0, max_iter=60,
                                         random_state=0), X, sample_weight=sw)
        bounds = np.array(gm.lower_bounds_)
        assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
        assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_missing_values_fit_is_a_stationary_point_of_the_log_posterior(covariance_type):
    """With missing values, the MAP fit maximizes the observed-data log-likelihood plus
    the log prior: perturbing any mean or weight lowers it, to second order."""
    X = mixture_data(n=300, seed=5)
    X[np.random.RandomState(6).rand(*X.shape) < 0.2] = np.nan
    gm = fit_quietly(GaussianMixture(3, covariance_type=covariance_type, prior="default",
                                     reg_covar=0, tol=0, max_iter=2000, random_state=0), X)
    prior = resolve_prior(gm.prior_, X, None, 3, covariance_type)

    def objective(means, weights):
        trial = GaussianMixture(3, covariance_type=covariance_type)
        for name in ("covariances_", "precisions_", "precisions_cholesky_",
                     "n_features_in_"):
            setattr(trial, name, getattr(gm, name))
        trial.means_, trial.weights_ = means, weights
        return trial.score(X) * len(X) + prior.log_density(trial._params())

    h = 1e-5
    for j in range(3):
        for a in range(3):
            up, down = gm.means_.copy(), gm.means_.copy()
            up[j, a] += h
            down[j, a] -= h
            grad = (objective(up, gm.weights_) - objective(down, gm.weights_)) / (2 * h)
            assert abs(grad) < 1e-4
        # along the simplex: move weight from component j to the next one
        e = np.zeros(3)
        e[j], e[(j + 1) % 3] = h, -h
        grad = (objective(gm.means_, gm.weights_ + e)
                - objective(gm.means_, gm.weights_ - e)) / (2 * h)
        assert abs(grad) < 1e-3


def test_map_tends_to_ml_as_the_data_grow():
    """Sample weights scaled by c: the prior's relative weight is 1/c, and so is the
    distance from the MAP estimates to the ML ones (same start, same data)."""
    X = mixture_data(seed=7)
    ml = fit_quietly(GaussianMixture(3, reg_covar=0, tol=0, max_iter=400, random_state=0), X)
    start = {"weights_init": ml.weights_, "means_init": ml.means_,
             "precisions_init": ml.precisions_}
    prior = ConjugatePrior(shrinkage=1.0, mean=np.zeros(3), scale=np.eye(3), dof=5.0)
    gaps = []
    for c in (10.0, 100.0, 1000.0):
        gm = fit_quietly(GaussianMixture(3, prior=prior, reg_covar=0, tol=0, max_iter=400,
                                         **start), X, sample_weight=np.full(len(X), c))
        gaps.append(max(np.abs(gm.means_ - ml.means_).max(),
                        np.abs(gm.covariances_ - ml.covariances_).max(),
                        np.abs(gm.weights_ - ml.weights_).max()))
    assert gaps[0] > 1e-3
    assert 7 < gaps[0] / gaps[1] < 13 and 7 < gaps[1] / gaps[2] < 13


def test_flat_weights_prior_is_ml_weights():
    X = mixture_data()
    a = fit_quietly(GaussianMixture(3, prior=ConjugatePrior(), random_state=0), X)
    b = fit_quietly(GaussianMixture(3, prior=ConjugatePrior(weights_concentration=1),
                                    random_state=0), X)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-12)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)


# -- mclust ------------------------------------------------------------------------------
def _mclust_params(p, ct):
    s = np.array(p["sigma"])
    cov = {"full": s, "tied": s[0], "diag": np.stack([np.diag(a) for a in s]),
           "spherical": s[:, 0, 0]}[ct]
    return np.array(p["pro"]), np.array(p["mean"]), cov


def _start(p, ct):
    weights, means, cov = _mclust_params(p, ct)
    precisions = np.linalg.inv(cov) if ct in ("full", "tied") else 1 / cov
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


MCLUST_X = np.loadtxt(DATA / "mclust_map_data.csv", delimiter=",")
MCLUST_REF = json.loads((DATA / "mclust_map.json").read_text())


@pytest.mark.parametrize("model", MCLUST)
def test_iterates_equal_mclust(model):
    """From mclust's start (the MAP M-step of a given partition), five EM iterations
    give mclust's em() iterates; to convergence, its MAP estimates."""
    ct, ref = MCLUST[model], MCLUST_REF[model]
    start = _start(ref["start"], ct)
    five = fit_quietly(GaussianMixture(3, covariance_type=ct, prior="default", reg_covar=0,
                                       tol=0, max_iter=5, **start), MCLUST_X)
    for got, want in zip((five.weights_, five.means_, five.covariances_),
                         _mclust_params(ref["em5"], ct)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    assert five.score(MCLUST_X) * len(MCLUST_X) == pytest.approx(ref["em5_loglik"],
                                                                 rel=1e-13)
    full = fit_quietly(GaussianMixture(3, covariance_type=ct, prior="default", reg_covar=0,
                                       tol=1e-14, max_iter=10000, **start), MCLUST_X)
    for got, want in zip((full.weights_, full.means_, full.covariances_),
                         _mclust_params(ref["em"], ct)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("model", MCLUST)
def test_default_fit_reaches_mclusts_map_estimate(model):
    """Mclust(X, G = 3, modelNames, prior = priorControl()) and fastem's own fit (its
    k-means start, not mclust's hierarchical one) reach the same posterior mode."""
    ct, ref = MCLUST[model], MCLUST_REF[model]
    gm = fit_quietly(GaussianMixture(3, covariance_type=ct, prior="default", reg_covar=0,
                                     tol=1e-10, max_iter=5000, n_init=3, random_state=0),
                     MCLUST_X)
    weights, means, cov = _mclust_params(ref["mclust"], ct)
    order = [int(np.argmin(((gm.means_ - m) ** 2).sum(1))) for m in means]
    assert sorted(order) == [0, 1, 2]
    # Mclust stops at its default tolerance (1e-5 relative): compare loosely
    np.testing.assert_allclose(gm.weights_[order], weights, atol=1e-3)
    np.testing.assert_allclose(gm.means_[order], means, atol=1e-2)
    np.testing.assert_allclose(gm.covariances_[order] if ct != "tied" else gm.covariances_,
                               cov, rtol=1e-2, atol=1e-3)
    assert gm.score(MCLUST_X) * len(MCLUST_X) == pytest.approx(ref["mclust_loglik"],
                                                               abs=1e-2)
    assert -gm.bic(MCLUST_X) == pytest.approx(ref["mclust_bic"], abs=2e-2)


def _have_mclust():
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(mclust); library(jsonlite)"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _have_mclust(), reason="R with mclust and jsonlite is not installed")
def test_stored_mclust_reference_is_what_mclust_gives():
    run = subprocess.run(["Rscript", str(DATA / "mclust_map.R"), str(DATA)],
                         capture_output=True, text=True, check=True)
    live = json.loads(run.stdout)
    for model in MCLUST:
        for key in ("start", "em5", "em", "mclust"):
            for field in ("pro", "mean", "sigma"):
                np.testing.assert_allclose(np.array(live[model][key][field]),
                                           np.array(MCLUST_REF[model][key][field]),
                                           rtol=1e-12, atol=1e-14)


# -- the prior's values -------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_default_values_are_mclusts(covariance_type):
    X = load_faithful()
    gm = GaussianMixture(3, covariance_type=covariance_type, prior="default",
                         random_state=0).fit(X)
    p = gm.prior_
    assert p.shrinkage == 0.01 and p.dof == 4.0 and p.weights_concentration is None
    np.testing.assert_allclose(p.mean, X.mean(axis=0), rtol=1e-14)
    var = np.cov(X.T) / 3 ** (2 / 2)
    want = {"full": var, "tied": var, "diag": np.full(2, np.trace(var) / 2),
            "spherical": np.trace(var) / 2}[covariance_type]
    np.testing.assert_allclose(p.scale, want, rtol=1e-12)
    assert gm.prior == "default"       # the parameter is left as given


def test_weighted_and_missing_defaults():
    X = load_faithful()
    w = np.where(X[:, 0] > 3, 2.0, 1.0)
    p = resolve_prior(ConjugatePrior(), X, w, 2, "full")
    repeated = np.repeat(X, w.astype(int), axis=0)
    np.testing.assert_allclose(p.mean, repeated.mean(0), rtol=1e-13)
    np.testing.assert_allclose(p.scale, np.cov(repeated.T) / 2, rtol=1e-12)
    Xm = X.copy()
    Xm[::3, 1] = np.nan
    p = resolve_prior(ConjugatePrior(), Xm, None, 2, "diag")
    seen = Xm[~np.isnan(Xm[:, 1])]
    np.testing.assert_allclose(p.mean, [X[:, 0].mean(), seen[:, 1].mean()], rtol=1e-13)
    want = (X[:, 0].var(ddof=1) + seen[:, 1].var(ddof=1)) / 2 / 2
    np.testing.assert_allclose(p.scale, want, rtol=1e-12)


def test_given_values_are_used():
    X = mixture_data()
    prior = ConjugatePrior(shrinkage=2.0, mean=[1.0, 2.0, 3.0], dof=7.5,
                           scale=2 * np.eye(3), weights_concentration=[2, 2, 2])
    gm = fit_quietly(GaussianMixture(3, prior=prior, random_state=0), X)
    np.testing.assert_array_equal(gm.prior_.mean, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gm.prior_.scale, 2 * np.eye(3))
    assert gm.prior_.dof == 7.5 and gm.prior_.shrinkage == 2.0
    assert gm.prior is prior


@pytest.mark.parametrize("prior, error, match", [
    ("mclust", ValueError, "prior must be None, 'default' or a ConjugatePrior"),
    (0.01, TypeError, "prior must be None"),
    (ConjugatePrior(shrinkage=-1), ValueError, "prior.shrinkage"),
    (ConjugatePrior(shrinkage="a"), TypeError, "prior.shrinkage"),
    (ConjugatePrior(dof=0), ValueError, "prior.dof"),
    (ConjugatePrior(dof=0.5), ValueError, "greater than n_features - 1"),
    (ConjugatePrior(mean=[1.0]), ValueError, "prior.mean must have shape"),
    (ConjugatePrior(mean=[1.0, np.nan]), ValueError, "prior.mean contains NaN"),
    (ConjugatePrior(scale=np.eye(3)), ValueError, "prior.scale must have shape"),
    (ConjugatePrior(scale=[[1.0, 2.0], [2.0, 1.0]]), ValueError, "positive definite"),
    (ConjugatePrior(weights_concentration=0.5), ValueError, "weights_concentration"),
    (ConjugatePrior(weights_concentration=[2, 2, 2]), ValueError, "must have shape"),
])
def test_bad_priors_are_refused(prior, error, match):
    X = load_faithful()
    with pytest.raises(error, match=match):
        GaussianMixture(2, prior=prior).fit(X)


def test_default_scale_needs_variance():
    X = np.column_stack([np.arange(10.0), np.ones(10)])
    with pytest.raises(ValueError, match="give prior.scale"):
        GaussianMixture(2, prior="default").fit(X)
    GaussianMixture(2, prior=ConjugatePrior(scale=np.eye(2)), reg_covar=1e-6).fit(X)


def test_prior_keeps_a_collapsing_component_regular():
    """A component on two identical points: ML with reg_covar=0 fails, MAP does not."""
    rs = np.random.RandomState(0)
    X = np.vstack([rs.randn(50, 2), [[8.0, 8.0], [8.0, 8.0]]])
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        fit_quietly(GaussianMixture(2, reg_covar=0, random_state=0), X)
    gm = fit_quietly(GaussianMixture(2, reg_covar=0, prior="default", random_state=0), X)
    assert np.all(np.linalg.eigvalsh(gm.covariances_) > 0)


def test_float32_and_warm_start():
    X = mixture_data().astype(np.float32)
    gm = GaussianMixture(3, prior="default", random_state=0).fit(X)
    assert gm.means_.dtype == np.float32
    gm64 = GaussianMixture(3, prior="default", random_state=0).fit(X.astype(np.float64))
    np.testing.assert_allclose(gm.means_, gm64.means_, rtol=1e-4, atol=1e-4)
    warm = GaussianMixture(3, prior="default", warm_start=True, tol=0, max_iter=1,
                           random_state=0)
    warm.fit(X)
    first = warm.lower_bound_
    fit_quietly(warm, X)
    assert warm.lower_bound_ >= first - 1e-6


def test_select_with_prior():
    X = load_faithful()
    result = select(X, n_components=range(1, 4), covariance_types=("full", "diag"),
                    prior="default", random_state=0)
    assert result.best_estimator_.prior == "default"
    best = result.best_params_
    again = GaussianMixture(best["n_components"], covariance_type=best["covariance_type"],
                            prior="default", random_state=0).fit(X)
    np.testing.assert_allclose(result.best_estimator_.means_, again.means_)
    ml = select(X, n_components=range(1, 4), covariance_types=("full", "diag"),
                random_state=0)
    assert not np.allclose(ml.bic, result.bic)
    row = result.rows[result.best_index_]
    assert row["bic"] == pytest.approx(again.bic(X), rel=1e-12)
