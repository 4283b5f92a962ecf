"""Online EM: GaussianMixture.partial_fit (stepwise EM) and KMeans.partial_fit
(mini-batch k-means)."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans

from fastem import Chunks, GaussianMixture, KMeans, load
from fastem._engine import stepwise_rate
from fastem.mixture._gaussian import params_from_stats
from fastem.mixture._stats import GaussianStats


def _separated(n=100_000, d=4, k=4, seed=0):
    rs = np.random.RandomState(seed)
    centers = rs.normal(scale=6.0, size=(k, d))
    X = np.concatenate([rs.normal(size=(n // k, d)) @ rs.uniform(0.3, 1.0, size=(d, d)) + c
                        for c in centers])
    return X[rs.permutation(len(X))]


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_one_pass_in_one_percent_batches_reaches_the_batch_fit(covariance_type):
    X = _separated()
    batch = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
    online = GaussianMixture(4, covariance_type=covariance_type, random_state=0)
    for part in np.array_split(X, 100):
        online.partial_fit(part)
    assert online.n_steps_ == 100
    gap = batch.score(X) - online.score(X)
    assert abs(gap) < 1e-2, gap
    assert np.isclose(online.weights_.sum(), 1.0)


def test_step_sizes():
    assert stepwise_rate(0, 0.7, 10.0) == 1.0
    assert stepwise_rate(5, 0.7, 10.0) == pytest.approx(15.0 ** -0.7)
    gm = GaussianMixture(2, learning_decay=0.5)
    with pytest.raises(ValueError, match="learning_decay must be in"):
        gm.partial_fit(_separated(n=400))
    with pytest.raises(ValueError, match="learning_offset"):
        GaussianMixture(2, learning_offset=-1.0).partial_fit(_separated(n=400))


def test_a_step_blends_the_statistics():
    """Two steps by hand: the second M-step is that of (1 - eta) s1 + eta s2, the
    running and the batch statistics per unit weight."""
    X = _separated(n=4000, seed=1)
    a, b = X[:2000], X[2000:]
    gm = GaussianMixture(4, random_state=0, learning_decay=0.8, learning_offset=3.0)
    gm.partial_fit(a)
    params = gm._params()
    running = gm._online["stats"]
    gm.partial_fit(b)
    from fastem._sources import ArraySource, Block  # noqa: F401
    from fastem.mixture._stats import gaussian_e_step
    s2 = gaussian_e_step(Block(b), params)
    eta = (1 + 3.0) ** -0.8
    blend = (1 - eta) * running + (eta / 2000) * s2
    want = params_from_stats(4000 * blend.nk, 4000 * blend.s1, 4000 * blend.s2, blend.shift,
                             gm.reg_covar, "full")
    np.testing.assert_allclose(gm.means_, want.means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, want.covariances, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_statistics_move_between_centres_exactly(covariance_type):
    X = _separated(n=2000, d=3, k=3, seed=2)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    from fastem._sources import Block
    from fastem.mixture._stats import gaussian_e_step
    stats = gaussian_e_step(Block(X), gm._params())
    moved = stats.about(stats.shift + np.arange(9.0).reshape(3, 3))
    p1 = params_from_stats(stats.nk, stats.s1, stats.s2, stats.shift, 0.0, covariance_type)
    p2 = params_from_stats(moved.nk, moved.s1, moved.s2, moved.shift, 0.0, covariance_type)
    np.testing.assert_allclose(p1.means, p2.means, rtol=1e-12)
    np.testing.assert_allclose(p1.covariances, p2.covariances, rtol=1e-9)
    # the statistics a fitted model stands for give it back
    back = GaussianStats.of_params(gm._params(), 10.0, gm.reg_covar)
    p3 = params_from_stats(back.nk, back.s1, back.s2, back.shift, gm.reg_covar,
                           covariance_type)
    np.testing.assert_allclose(p3.covariances, gm.covariances_, rtol=1e-12)
    np.testing.assert_allclose(p3.means, gm.means_, rtol=1e-12)


def test_fit_and_partial_fit_compose():
    X = _separated(n=20_000, seed=3)
    gm = GaussianMixture(4, random_state=0).fit(X[:10_000])
    before = gm.means_.copy()
    gm.partial_fit(X[10_000:10_200])
    assert gm.n_steps_ == 2
    moved = np.abs(gm.means_ - before).max()
    assert 0 < moved < 0.5        # a small step from the fit, not a restart
    # warm_start continues from partial_fit's parameters
    online = GaussianMixture(4, random_state=0, warm_start=True)
    for part in np.array_split(X, 20):
        online.partial_fit(part)
    start = online.score(X)
    online.fit(X)
    assert online.lower_bounds_[0] == pytest.approx(start, rel=1e-12)
    assert not hasattr(online, "n_steps_")   # a fit starts the steps afresh
    ref = GaussianMixture(4, random_state=0).fit(X)
    assert abs(online.score(X) - ref.score(X)) < 1e-6
    # a saved model continues the same way after load
    gm2 = GaussianMixture(4, random_state=0).fit(X[:10_000])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm2.partial_fit(X[10_000:10_200])
    assert gm2.n_steps_ == 2


def test_partial_fit_after_load(tmp_path):
    X = _separated(n=5000, seed=4)
    gm = GaussianMixture(4, random_state=0)
    gm.partial_fit(X[:2500])
    gm.save(tmp_path / "gm.fastem")
    loaded = load(tmp_path / "gm.fastem")
    assert loaded.n_steps_ == 1
    loaded.partial_fit(X[2500:])
    gm.partial_fit(X[2500:])
    np.testing.assert_allclose(loaded.means_, gm.means_, rtol=1e-8)


def test_partial_fit_missing_weights_prior_float32_chunks():
    X = _separated(n=8000, seed=5)
    Xm = X.copy()
    Xm[np.random.RandomState(0).uniform(size=X.shape) < 0.1] = np.nan
    gm = GaussianMixture(4, random_state=0)
    ref = GaussianMixture(4, random_state=0).fit(Xm)
    gaps = []
    for _ in range(30):      # passes: with missing values the steps close in slowly
        for part in np.array_split(Xm, 8):
            gm.partial_fit(part)
        gaps.append(ref.score(Xm) - gm.score(Xm))
    assert gaps[-1] < 0.03 and gaps[-1] < gaps[0] / 5, gaps
    w = np.random.RandomState(1).uniform(0, 2, size=len(X))
    a = GaussianMixture(4, random_state=0).partial_fit(X, sample_weight=w)
    b = GaussianMixture(4, random_state=0).partial_fit(Chunks(X, chunk_size=1000),
                                                       sample_weight=w)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    p = GaussianMixture(4, random_state=0, prior="default")
    for part in np.array_split(X, 4):
        p.partial_fit(part)
    assert p.prior_.dof == 6.0 and np.isfinite(p.lower_bound_)
    g32 = GaussianMixture(4, random_state=0).partial_fit(X.astype(np.float32))
    assert g32.means_.dtype == np.float32
    with pytest.raises(ValueError, match="features"):
        g32.partial_fit(X[:, :3])
    with pytest.raises(ValueError, match="n_components"):
        g32.set_params(n_components=3).partial_fit(X)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(4).partial_fit(X[:3])
    small = X[:5].copy()
    g32.set_params(n_components=4).partial_fit(small)     # later batches may be small
    assert np.array_equal(small, X[:5])


def test_kmeans_partial_fit_equals_minibatch_kmeans():
    X = _separated(n=20_000, d=4, k=5, seed=6)
    init = X[:5] + 0.1
    ours = KMeans(5, init=init, n_init=1)
    theirs = MiniBatchKMeans(5, init=init, n_init=1, random_state=0)
    for part in np.array_split(X, 40):
        ours.partial_fit(part)
        theirs.partial_fit(part)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_steps_ == 40
    w = np.random.RandomState(2).uniform(0.5, 2, size=len(X))
    ours = KMeans(5, init=init, n_init=1)
    theirs = MiniBatchKMeans(5, init=init, n_init=1, random_state=0)
    for part, pw in zip(np.array_split(X, 10), np.array_split(w, 10)):
        ours.partial_fit(part, sample_weight=pw)
        theirs.partial_fit(part, sample_weight=pw)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=1e-12,
                               atol=1e-12)


def test_kmeans_partial_fit_reassigns_starved_centers_and_composes_with_fit():
    X = _separated(n=10_000, d=2, k=3, seed=7)
    init = np.vstack([X[:3], [[1e3, 1e3]]])      # the last center gets nothing
    km = KMeans(4, init=init, n_init=1, random_state=0)
    km.partial_fit(X[:1000])
    assert np.abs(km.cluster_centers_[3]).max() < 100     # moved onto the data
    full = KMeans(3, random_state=0).fit(X)
    centers = full.cluster_centers_.copy()
    full.partial_fit(X[:100])
    assert full.n_steps_ == 1
    assert 0 < np.abs(full.cluster_centers_ - centers).max() < 0.1
    again = KMeans(3, random_state=0)
    for part in np.array_split(X, 50):
        again.partial_fit(part)
    assert again.inertia_ > 0 and again.labels_.shape == (len(part),)
    assert -again.score(X) < 1.05 * (-full.score(X))
