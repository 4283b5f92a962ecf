import pickle
import warnings

import numpy as np
import pytest
from conftest import make_blobs, rel_err
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from fastem import ConvergenceWarning, GaussianMixture
from fastem.datasets import load_faithful

COV_TYPES = ["full", "tied", "diag", "spherical"]


def start_from(X, k, covariance_type, seed=1):
    """Initial parameters (weights, means, precisions) from a one-step scikit-learn fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = SkGaussianMixture(k, covariance_type=covariance_type, max_iter=1,
                              init_params="random_from_data", random_state=seed).fit(X)
    return dict(weights_init=g.weights_, means_init=g.means_, precisions_init=g.precisions_,
                covariance_type=covariance_type)


def fit_both(X, k, start, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkGaussianMixture(k, **start, **kw).fit(X)
        fe = GaussianMixture(k, **start, **kw).fit(X)
    return sk, fe


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_iterates_equal_scikit_learn(blobs, covariance_type):
    start = start_from(blobs, 3, covariance_type)
    sk, fe = fit_both(blobs, 3, start, max_iter=20, tol=0)
    assert fe.n_iter_ == sk.n_iter_ == 20
    assert len(fe.lower_bounds_) == 20
    assert rel_err(fe.lower_bounds_, sk.lower_bounds_) < 1e-8
    assert fe.lower_bound_ == fe.lower_bounds_[-1]
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        assert rel_err(getattr(fe, name), getattr(sk, name)) < 1e-8, name


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_every_iteration_equals_scikit_learn(covariance_type):
    X = make_blobs(n=300, d=2, seed=3)
    start = start_from(X, 3, covariance_type, seed=2)
    for max_iter in (1, 2, 7):
        sk, fe = fit_both(X, 3, start, max_iter=max_iter, tol=0)
        assert rel_err(fe.means_, sk.means_) < 1e-8
        assert rel_err(fe.covariances_, sk.covariances_) < 1e-8


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_inference_equals_scikit_learn(blobs, covariance_type):
    start = start_from(blobs, 3, covariance_type)
    sk, fe = fit_both(blobs, 3, start, max_iter=5, tol=0)
    X = make_blobs(n=200, seed=7)
    assert rel_err(fe.score_samples(X), sk.score_samples(X)) < 1e-10
    assert rel_err(fe.predict_proba(X), sk.predict_proba(X)) < 1e-10
    np.testing.assert_array_equal(fe.predict(X), sk.predict(X))
    assert fe.score(X) == pytest.approx(sk.score(X), rel=1e-12)
    assert fe.bic(X) == pytest.approx(sk.bic(X), rel=1e-12)
    assert fe.aic(X) == pytest.approx(sk.aic(X), rel=1e-12)
    np.testing.assert_array_equal(fe.fit_predict(blobs), sk.fit_predict(blobs))


def test_random_init_equals_scikit_learn(blobs):
    kw = dict(init_params="random", random_state=5, max_iter=30, tol=1e-6)
    sk, fe = fit_both(blobs, 3, {}, **kw)
    assert fe.n_iter_ == sk.n_iter_
    assert rel_err(fe.lower_bounds_, sk.lower_bounds_) < 1e-8
    assert rel_err(fe.means_, sk.means_) < 1e-8


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labelled_statistics_equal_one_hot_responsibilities(covariance_type, dtype):
    """The k-means initialisation's statistics from labels (rows grouped by label inside
    each block) equal those of the one-hot responsibilities through the general pass."""
    from fastem.mixture._gaussian import labelled_stats, responsibility_stats

    rng = np.random.RandomState(3)
    X = (rng.randn(3001, 5) * 2 + 10).astype(dtype)
    k = 6
    labels = rng.randint(0, k - 1, size=len(X)).astype(np.intc)  # label 5 is never used
    w = rng.uniform(0, 2, size=len(X))
    shift = rng.randn(k, 5).astype(dtype)
    resp = np.zeros((len(X), k))
    resp[np.arange(len(X)), labels] = 1.0
    for sw in (None, w):
        got = labelled_stats(X, sw, labels, shift, covariance_type, n_threads=2)
        want = responsibility_stats(X, sw, resp, shift, covariance_type, n_threads=2)
        for a, b in zip(got, want):
            # float32 sums within a block in float32, grouped differently
            np.testing.assert_allclose(a, b, rtol=1e-10 if dtype == np.float64 else 1e-5,
                                       atol=1e-8 if dtype == np.float64 else 1e-3)
    assert got[0][k - 1] == 0
    with pytest.raises(ValueError, match="labels"):
        labelled_stats(X, None, np.full(len(X), k, dtype=np.intc), shift, covariance_type,
                       n_threads=1)


def test_faithful_known_maximum_likelihood():
    X = load_faithful()
    gm = GaussianMixture(2, reg_covar=0, tol=1e-10, max_iter=1000, n_init=3,
                         random_state=0).fit(X)
    assert gm.score(X) * len(X) == pytest.approx(-1130.264, abs=1e-3)
    order = np.argsort(gm.weights_)
    np.testing.assert_allclose(gm.weights_[order], [0.3559, 0.6441], atol=1e-4)
    np.testing.assert_allclose(gm.means_[order], [[2.0364, 54.4785], [4.2897, 79.9681]],
                               atol=1e-4)
    assert gm.bic(X) == pytest.approx(2322.192, abs=1e-3)  # mclust reports -2322.192

    waiting = X[:, 1:]
    gw = GaussianMixture(2, reg_covar=0, tol=1e-12, max_iter=5000, n_init=3,
                         random_state=0).fit(waiting)
    assert gw.score(waiting) * len(X) == pytest.approx(-1034.002, abs=1e-3)
    order = np.argsort(gw.means_[:, 0])
    np.testing.assert_allclose(gw.means_[order, 0], [54.615, 80.091], atol=2e-3)
    np.testing.assert_allclose(np.sqrt(gw.covariances_[order, 0, 0]), [5.871, 5.868],
                               atol=2e-3)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_log_likelihood_never_decreases(covariance_type, init_params):
    X = make_blobs(n=500, d=3, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(4, covariance_type=covariance_type, init_params=init_params,
                             tol=0, max_iter=40, random_state=0).fit(X)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert gm.weights_.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(gm.weights_ > 0)
    if covariance_type in ("full", "tied"):
        stack = gm.covariances_ if covariance_type == "full" else gm.covariances_[None]
        assert all(np.linalg.eigvalsh(c).min() > 0 for c in stack)
    else:
        assert np.all(gm.covariances_ > 0)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_bitwise_identical_for_any_thread_count(covariance_type):
    X = make_blobs(n=40_000, d=4, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [
            GaussianMixture(3, covariance_type=covariance_type, max_iter=15, tol=0,
                            random_state=0, n_threads=t).fit(X)
            for t in (1, 2, 4)
        ]
    for other in fits[1:]:
        assert other.lower_bounds_ == fits[0].lower_bounds_
        for name in ["weights_", "means_", "covariances_"]:
            np.testing.assert_array_equal(getattr(other, name), getattr(fits[0], name))
    probas = [fits[0].set_params(n_threads=t).predict_proba(X) for t in (1, 2, 4)]
    np.testing.assert_array_equal(probas[0], probas[1])
    np.testing.assert_array_equal(probas[0], probas[2])


def _fit_with_kernels(hand_vectorised, X, **kw):
    from fastem._kernels import _gaussian

    weights = kw.pop("weights", None)
    previous = _gaussian.use_hand_vectorised(hand_vectorised)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(**kw).fit(X, sample_weight=weights)
        return gm, gm.score_samples(X), gm.predict_proba(X)
    finally:
        _gaussian.use_hand_vectorised(previous)


@pytest.mark.parametrize("n,d", [(1, 1), (7, 2), (1003, 2), (261, 3), (1003, 8), (517, 9),
                                 (300, 16), (1003, 17), (270, 12), (257, 50)])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hand_vectorised_kernels_equal_generic(n, d, covariance_type, dtype):
    """The hand-vectorised quadratic forms (the small-d ones too), moments, exponentials
    of the posteriors, conditional means of missing entries and block transpositions
    (AVX-512 at level 2, AVX2 at level 1, where the CPU has them) give the generic
    kernels' fit to rounding, for every covariance type:
    blocks whose last rows fill part of a vector, weights, rows with missing entries
    (whose completed block is never padded) and labelled statistics (the k-means
    initialisation)."""
    rng = np.random.RandomState(n + d)
    X = (rng.randn(n, d) + 3 * rng.randint(0, 3, size=(n, 1))).astype(dtype)
    k = min(3, n)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    cases = [dict(), dict(weights=rng.uniform(0, 2, size=n))]
    if d > 1 and n > 10:
        Xm = X.copy()
        Xm[rng.uniform(size=X.shape) < 0.2] = np.nan
        Xm[0, :] = X[0, :]
        cases.append(dict(missing=Xm))
    for case in cases:
        data = case.pop("missing", X)
        kw = dict(n_components=k, covariance_type=covariance_type, max_iter=4, tol=0,
                  random_state=0, reg_covar=1e-3, **case)
        generic = _fit_with_kernels(False, data, **dict(kw))
        for level in (1, 2):
            fast = _fit_with_kernels(level, data, **dict(kw))
            assert rel_err(fast[0].lower_bounds_, generic[0].lower_bounds_) < tol
            for name in ["weights_", "means_", "covariances_"]:
                assert rel_err(getattr(fast[0], name), getattr(generic[0], name)) < tol, name
            assert np.all(np.isfinite(fast[1]))
            assert rel_err(fast[1], generic[1]) < tol
            assert rel_err(fast[2], generic[2]) < tol


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5, 8, 9, 12, 16, 17, 50])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_hand_vectorised_moments_equal_generic(d, dtype, weighted):
    """Every moments kernel (AVX-512 by rows as stored, by tiles, AVX2, the small-d ones)
    gives the generic kernel's nk, s1 and s2 to rounding: responsibilities given, rows far
    from zero about shifts near them, a last block that fills part of a vector."""
    from fastem._kernels import _gaussian

    rng = np.random.RandomState(d)
    n, k = 1003, 3
    X = (1e3 + rng.randn(n, d) * rng.uniform(0.5, 2, size=d)).astype(dtype)
    resp = rng.dirichlet(np.ones(k), size=n)
    means = (X[:k] + rng.randn(k, d)).astype(dtype)
    prec = np.tile(np.eye(d, dtype=dtype), (k, 1, 1)).ravel()
    weights = rng.uniform(0, 2, size=n) if weighted else np.zeros(0)
    empty2, empty1 = np.zeros((0, 0)), np.zeros(0)
    stats = {}
    for level in (0, 1, 2):
        nk, s1 = np.zeros(k), np.zeros((k, d))
        s2 = np.zeros(_gaussian.stats_size(0, k, d))
        previous = _gaussian.use_hand_vectorised(level)
        try:
            _gaussian.gaussian_pass(X, weights, means, prec, np.zeros(k), 0, resp, empty2,
                                    empty1, empty2, nk, s1, s2, True, 2)
        finally:
            _gaussian.use_hand_vectorised(previous)
        stats[level] = (nk, s1, s2)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for level in (1, 2):
        for got, want in zip(stats[level], stats[0]):
            scale = np.abs(want).max()
            np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("n", [5, 256, 1003])
def test_hand_vectorised_posteriors_equal_generic_down_to_underflow(n):
    """The float64 posteriors' exponentials (AVX-512 at level 2, AVX2 at level 1, the
    generic loop at 0) agree bit for bit, for log-density gaps from 0 past the -708 where
    exp underflows, and for rows where a component is certain."""
    from fastem._kernels import _gaussian

    rng = np.random.RandomState(n)
    k, d = 5, 1
    X = np.ascontiguousarray(rng.uniform(-40, 40, size=(n, d)))
    means = np.linspace(-40, 40, k)[:, None].copy()
    prec = np.full(k, 1.0)   # unit precision: gaps up to 3200 / 2 in the exponent
    log_norm = rng.uniform(-3, 0, size=k)
    empty2, empty1 = np.zeros((0, 0)), np.zeros(0)
    resp = {}
    for level in (0, 1, 2):
        out, lse = np.zeros((n, k)), np.zeros(n)
        nk, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros(_gaussian.stats_size(0, k, d))
        previous = _gaussian.use_hand_vectorised(level)
        try:
            _gaussian.gaussian_pass(X, empty1, means, prec, log_norm, 0, empty2, out, lse,
                                    empty2, nk, s1, s2, True, 2)
        finally:
            _gaussian.use_hand_vectorised(previous)
        resp[level] = (out, lse)
    gaps = np.log(np.maximum(resp[0][0], 1e-320))
    assert gaps.min() < -708 and np.any((gaps > -700) & (gaps < -1))
    for level in (1, 2):
        np.testing.assert_array_equal(resp[level][0], resp[0][0])
        np.testing.assert_array_equal(resp[level][1], resp[0][1])


def test_hand_vectorised_level_is_checked():
    from fastem._kernels import _gaussian

    with pytest.raises(ValueError, match="level"):
        _gaussian.use_hand_vectorised(3)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X = make_blobs(n=400, d=3, seed=4)
    counts = np.random.RandomState(0).randint(0, 4, size=len(X))
    start = start_from(X, 3, covariance_type)
    kw = dict(max_iter=10, tol=0, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = GaussianMixture(3, **kw).fit(X, sample_weight=counts)
        repeated = GaussianMixture(3, **kw).fit(np.repeat(X, counts, axis=0))
    assert rel_err(weighted.lower_bounds_, repeated.lower_bounds_) < 1e-10
    for name in ["weights_", "means_", "covariances_"]:
        assert rel_err(getattr(weighted, name), getattr(repeated, name)) < 1e-10, name
    assert weighted.score(X, sample_weight=counts) == pytest.approx(
        repeated.score(np.repeat(X, counts, axis=0)), rel=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_agrees_with_float64(covariance_type):
    X = make_blobs(n=5000, d=4, seed=9)
    kw = dict(covariance_type=covariance_type, max_iter=30, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g64 = GaussianMixture(3, **kw).fit(X)
        g32 = GaussianMixture(3, **kw).fit(X.astype(np.float32))
    # as scikit-learn: float32 data gives float32 fitted arrays and outputs
    X32 = X.astype(np.float32)
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        assert getattr(g32, name).dtype == np.float32, name
        assert getattr(g64, name).dtype == np.float64, name
    assert g32.predict_proba(X32).dtype == g32.score_samples(X32).dtype == np.float32
    assert g32.predict_proba(X).dtype == np.float64    # the input's dtype, not the fit's
    assert_proba = g32.predict_proba(X32).sum(axis=1)
    assert np.allclose(assert_proba, 1, atol=1e-6)
    assert rel_err(g32.lower_bounds_, g64.lower_bounds_) < 1e-4
    for name in ["weights_", "means_", "covariances_"]:
        assert rel_err(getattr(g32, name), getattr(g64, name)) < 1e-4, name
    assert rel_err(g32.score_samples(X.astype(np.float32)), g64.score_samples(X)) < 1e-4


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_posteriors_far_rows_and_an_empty_component(covariance_type):
    """float32 responsibilities are computed in float32 relative to each row's largest
    log-density: rows far from every mean (log-densities of -1e5 and below, components
    far apart) and a first component of weight 0 (log-density -inf) match float64 to
    float32 rounding, with sample weights (some zero)."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(600, 3), rng.randn(600, 3) + 6,
                   rng.randn(5, 3) * 1e3 + 1e4])
    precisions = {"full": np.stack([np.eye(3)] * 3), "tied": np.eye(3),
                  "diag": np.ones((3, 3)), "spherical": np.ones(3)}
    kw = dict(covariance_type=covariance_type, weights_init=[0.0, 0.5, 0.5],
              means_init=[[0.0, 0, 0], [6, 6, 6], [3, 3, 3]],
              precisions_init=precisions[covariance_type], max_iter=2, tol=0,
              reg_covar=1e-3)
    w = rng.uniform(0, 2, size=len(X))
    w[:10] = 0
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g64 = GaussianMixture(3, **kw).fit(X, sample_weight=w)
        g32 = GaussianMixture(3, **kw).fit(X32, sample_weight=w)
    assert rel_err(g32.lower_bounds_, g64.lower_bounds_) < 1e-5
    for name in ["weights_", "means_", "covariances_"]:
        assert rel_err(getattr(g32, name), getattr(g64, name)) < 1e-4, name
    p32 = g32.predict_proba(X32)
    assert np.all(np.isfinite(p32))
    assert np.abs(p32 - g64.predict_proba(X)).max() < 1e-4
    s64 = g64.score_samples(X)
    assert s64.min() < -100        # the far rows
    assert np.max(np.abs(g32.score_samples(X32) - s64) / np.abs(s64)) < 1e-4


def test_singular_component_names_component_and_reg_covar():
    rng = np.random.RandomState(0)
    X = np.vstack([np.zeros((10, 2)), rng.randn(100, 2) + 10])
    start = dict(weights_init=[0.1, 0.9], means_init=[[0, 0], [10, 10]],
                 precisions_init=np.tile(np.eye(2), (2, 1, 1)))
    with pytest.raises(ValueError, match=r"component 0.*reg_covar"):
        GaussianMixture(2, reg_covar=0, **start).fit(X)
    with pytest.raises(ValueError, match=r"component 1.*reg_covar"):
        GaussianMixture(2, reg_covar=0, covariance_type="diag", weights_init=[0.9, 0.1],
                        means_init=[[10, 10], [0, 0]], precisions_init=np.ones((2, 2))).fit(X)
    GaussianMixture(2, **start).fit(X)  # the default reg_covar copes


def test_n_init_keeps_best_run(blobs):
    last = {}

    def record(info):
        last[info.init] = info.lower_bound

    best = GaussianMixture(4, init_params="random_from_data", n_init=6, random_state=0,
                           callback=record).fit(blobs)
    assert len(last) == 6 and len(set(last.values())) > 1
    assert best.lower_bound_ == max(last.values())
    assert best.lower_bounds_[-1] == best.lower_bound_
    first = GaussianMixture(4, init_params="random_from_data", random_state=0).fit(blobs)
    assert first.lower_bound_ == last[0]


def test_warm_start_continues(blobs):
    start = start_from(blobs, 3, "full")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        once = GaussianMixture(3, max_iter=10, tol=0, **start).fit(blobs)
        twice = GaussianMixture(3, max_iter=5, tol=0, warm_start=True, **start)
        twice.fit(blobs).fit(blobs)
    np.testing.assert_allclose(twice.means_, once.means_, rtol=1e-12)
    assert twice.n_iter_ == 5


def test_convergence_warning_and_flags(blobs):
    with pytest.warns(ConvergenceWarning):
        gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(blobs)
    assert not gm.converged_ and gm.n_iter_ == 2
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    assert gm.converged_ and abs(gm.lower_bounds_[-1] - gm.lower_bounds_[-2]) < gm.tol


def test_verbose_and_callback(blobs, capsys):
    seen = []
    GaussianMixture(3, verbose=2, random_state=0, callback=seen.append).fit(blobs)
    out = capsys.readouterr().out
    assert "Iteration" in out and "log-likelihood" in out and "change" in out
    assert [info.n_iter for info in seen] == list(range(1, len(seen) + 1))
    gm = GaussianMixture(3, tol=0, max_iter=50, random_state=0,
                         callback=lambda info: info.n_iter == 3).fit(blobs)
    assert gm.n_iter_ == 3 and not gm.converged_


def test_pickle_round_trip(blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    clone = pickle.loads(pickle.dumps(gm))
    np.testing.assert_array_equal(clone.predict_proba(blobs), gm.predict_proba(blobs))
    assert clone.get_params() == gm.get_params()


def test_sample(blobs):
    for covariance_type in COV_TYPES:
        gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(blobs)
        Xs, ys = gm.sample(20000)
        assert Xs.shape == (20000, 3) and ys.shape == (20000,)
        for j in range(3):
            np.testing.assert_allclose(Xs[ys == j].mean(axis=0), gm.means_[j], atol=0.1)
        assert np.bincount(ys, minlength=3) / 20000 == pytest.approx(gm.weights_, abs=0.02)


def test_params_api():
    gm = GaussianMixture(2, covariance_type="diag")
    assert gm.get_params()["covariance_type"] == "diag"
    assert gm.set_params(n_components=4) is gm and gm.n_components == 4
    with pytest.raises(ValueError, match="bogus"):
        gm.set_params(bogus=1)
    assert "n_components=4" in repr(gm)


def test_caller_arrays_are_not_modified(blobs):
    X = blobs.copy()
    w = np.ones(len(X))
    start = start_from(X, 3, "full")
    frozen = {k: np.array(v, copy=True) for k, v in start.items() if k != "covariance_type"}
    gm = GaussianMixture(3, **start).fit(X, sample_weight=w)
    gm.predict_proba(X)
    np.testing.assert_array_equal(X, blobs)
    np.testing.assert_array_equal(w, 1.0)
    for k, v in frozen.items():
        np.testing.assert_array_equal(start[k], v)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_fit_allocates_nothing_of_size_n_by_k_or_n_by_d(covariance_type):
    import tracemalloc

    X = make_blobs(n=100_000, d=4, seed=12)
    k = 8
    start = start_from(X[:2000], k, covariance_type)
    for init in (start, {}):  # from given parameters, and with the k-means initialisation
        gm = GaussianMixture(k, covariance_type=covariance_type, max_iter=3, tol=0,
                             random_state=0, **{kk: v for kk, v in init.items()
                                                if kk != "covariance_type"})
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # n x k float64 would be 6.4 MB and n x d 3.2 MB; the k-means++ distances to the
        # nearest center and that center (n-vectors of float64 and int32, 1.2 MB) are
        # allowed during initialisation only.
        limit = 0.05 if init else 0.4
        assert peak < limit * X.nbytes, (peak, X.nbytes)


def test_concurrent_fits_from_python_threads_equal_sequential_fits():
    """The kernels release the GIL; models fitted at the same time must not interfere."""
    from concurrent.futures import ThreadPoolExecutor

    from fastem import KMeans

    datasets = [make_blobs(n=20_000, d=3, seed=s) for s in range(6)]

    def work(X):
        gm = GaussianMixture(3, covariance_type="full", random_state=0, n_threads=2).fit(X)
        km = KMeans(3, random_state=0, n_threads=2).fit(X)
        return gm.means_, gm.predict_proba(X[:100]), km.cluster_centers_

    sequential = [work(X) for X in datasets]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(work, datasets * 2))
    for i, result in enumerate(concurrent):
        for got, expected in zip(result, sequential[i % len(datasets)]):
            np.testing.assert_array_equal(got, expected)
