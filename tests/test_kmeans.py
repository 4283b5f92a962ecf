import pickle
import warnings

import numpy as np
import pytest
from conftest import make_blobs, rel_err
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus

from fastem import KMeans, kmeans_plusplus


def grid_data(n=3000, d=4, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, d) + 4 * rng.randint(0, 3, size=(n, 1))


@pytest.mark.parametrize("max_iter", [1, 2, 5, 300])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lloyd_iterates_equal_scikit_learn(max_iter, dtype):
    X = grid_data().astype(dtype)
    init = X[np.random.RandomState(1).choice(len(X), 5, replace=False)]
    sk = SkKMeans(5, init=init, n_init=1, max_iter=max_iter, algorithm="lloyd").fit(X)
    fe = KMeans(5, init=init, max_iter=max_iter).fit(X)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert fe.n_iter_ == sk.n_iter_
    assert fe.cluster_centers_.dtype == sk.cluster_centers_.dtype
    assert rel_err(fe.cluster_centers_, sk.cluster_centers_) < tol
    np.testing.assert_array_equal(fe.labels_, sk.labels_)
    assert fe.inertia_ == pytest.approx(sk.inertia_, rel=tol)


def test_weighted_lloyd_equals_scikit_learn():
    X = grid_data(seed=3)
    w = np.random.RandomState(0).uniform(0, 3, size=len(X))
    init = X[:4]
    sk = SkKMeans(4, init=init, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    fe = KMeans(4, init=init).fit(X, sample_weight=w)
    assert fe.n_iter_ == sk.n_iter_
    assert rel_err(fe.cluster_centers_, sk.cluster_centers_) < 1e-10
    assert fe.inertia_ == pytest.approx(sk.inertia_, rel=1e-10)


def test_empty_cluster_is_relocated_like_scikit_learn():
    X = grid_data(n=500, d=2, seed=5)
    init = np.vstack([X[:3], [[1e3, 1e3]]])  # the last center attracts no row
    sk = SkKMeans(4, init=init, n_init=1, max_iter=1, algorithm="lloyd").fit(X)
    fe = KMeans(4, init=init, max_iter=1).fit(X)
    assert rel_err(fe.cluster_centers_, sk.cluster_centers_) < 1e-10
    full = KMeans(4, init=init).fit(X)
    assert len(np.unique(full.labels_)) == 4


def test_kmeans_plusplus_seeding():
    X = grid_data(seed=2)
    centers, indices = kmeans_plusplus(X, 6, random_state=0)
    np.testing.assert_array_equal(centers, X[indices])
    assert len(set(indices.tolist())) == 6
    # same greedy rule and random draws as scikit-learn: same potential on this data
    sk_centers, _ = sk_kmeans_plusplus(X, 6, random_state=0)
    pot = ((X[:, None] - centers[None]) ** 2).sum(-1).min(1).sum()
    sk_pot = ((X[:, None] - sk_centers[None]) ** 2).sum(-1).min(1).sum()
    assert pot == pytest.approx(sk_pot, rel=1e-12)
    # rows with zero weight are never chosen
    w = np.zeros(len(X))
    w[:50] = 1
    _, idx = kmeans_plusplus(X, 3, sample_weight=w, random_state=0)
    assert np.all(idx < 50)



def _sequential_block_sums(values, rows=256):
    """Each block's sum of values, added in order (as the kernels add them)."""
    sums = []
    for start in range(0, len(values), rows):
        total = 0.0
        for v in values[start:start + rows]:
            total += float(v)
        sums.append(total)
    return np.array(sums)


def _kept(n, T, width=8):
    from fastem._kernels import _kmeans

    blocks, panels = _kmeans.n_blocks(n), -(-T // 8)
    return (np.full((blocks, panels, 256, width), np.nan),
            np.full((blocks, panels, 256), -1, np.int32), np.full((blocks, panels), -1, np.int32))


@pytest.mark.parametrize("n", [1, 255, 256, 257, 3000])
def test_kpp_fold_and_blocked_weighted_search(n):
    """kpp_fold takes the minimum of closest and the chosen candidate's distances that
    kpp_gains listed, relabels the rows that came nearer, and gives each block's sum of
    w * closest in order; the search by blocks draws the rows the row-by-row search
    draws (targets away from the rounding of a boundary), never a row of zero weight or
    distance, and the last row past the total."""
    from fastem._kernels import _kmeans

    rng = np.random.RandomState(n)
    X = rng.randn(n, 5) * 2
    w = rng.uniform(0, 2, n)
    w[rng.uniform(size=n) < 0.2] = 0.0
    closest = rng.uniform(0, 30, n)
    candidates = np.ascontiguousarray(X[rng.choice(n, 3)] + 0.1)
    exact = ((X[None] - candidates[:, None]) ** 2).sum(-1)
    out = []
    for threads in (2, 1):
        kept, gains = _kept(n, 3, width=4 if threads == 2 else 8), np.zeros(3)
        _kmeans.kpp_gains(X, w, closest, candidates, gains, np.empty(0), threads, kept=kept)
        folded, labels = closest.copy(), np.zeros(n, dtype=np.int32)
        sums = _sequential_block_sums(w * closest)
        total = _kmeans.kpp_fold(kept, 1, w, folded, sums, threads, labels=labels,
                                 new_label=7)
        out.append((gains, folded, labels, sums, total))
    for a, b in zip(*out):                              # any thread count
        np.testing.assert_array_equal(a, b)
    gains, folded, labels, sums, total = out[0]
    np.testing.assert_allclose(gains, (w * np.maximum(closest - exact, 0)).sum(1),
                               rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(folded, np.minimum(closest, exact[1]), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(labels, np.where(folded < closest, 7, 0))
    np.testing.assert_array_equal(sums, _sequential_block_sums(w * folded))
    assert total == pytest.approx(float(np.sum(w * folded)), rel=1e-13)

    cum = np.cumsum(w * folded)
    targets = np.sort(np.concatenate([rng.uniform(0, total, 400), [0.0, total * 2]]))
    blocked = np.empty(len(targets), dtype=np.intp)
    serial = np.empty(len(targets), dtype=np.intp)
    _kmeans.weighted_search(w, folded, n, targets, blocked, sums)
    _kmeans.weighted_search(w, folded, n, targets, serial)
    clear = np.min(np.abs(targets[:, None] - cum[None]), axis=1) > 1e-9 * total
    np.testing.assert_array_equal(blocked[clear], serial[clear])
    assert blocked[-1] == n - 1
    inside = (targets > 0) & (targets < cum[-1])
    if np.any(inside):
        assert np.all(w[blocked[inside]] * folded[blocked[inside]] > 0)


def _blobs(n, d, k, dtype, offset=0.0, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-20, 20, (k, d))
    X = centers[rng.randint(0, k, n)] + rng.randn(n, d) * rng.uniform(0.05, 1.5, d)
    X[: n // 50] = X[n // 50: 2 * (n // 50)]            # duplicated rows
    return (X + offset).astype(dtype)


@pytest.mark.parametrize("dtype,offset,weighted", [(np.float32, 0.0, False),
                                                   (np.float64, 0.0, True),
                                                   (np.float32, 1e4, True),
                                                   (np.float64, 1e8, False)])
def test_kmeans_plusplus_skipping_rows_changes_nothing(dtype, offset, weighted):
    """The rows that the triangle inequality (with its rounding margin) leaves out of a
    pass would not have changed anything: on clustered data, where most rows are left
    out, the rows chosen are those of every row computed, for any thread count, also
    far from zero (shifted rows) and with duplicated rows."""
    from fastem.cluster._kmeans import _kmeans_plusplus

    X = _blobs(6000, 6, 40, dtype, offset)
    sw = np.random.RandomState(1).uniform(0.5, 2, len(X)) if weighted else None
    picks = [_kmeans_plusplus(X, 60, sw, np.random.RandomState(3), None, threads,
                              prune=prune)
             for prune, threads in ((True, 2), (False, 2), (True, 1))]
    np.testing.assert_array_equal(picks[0], picks[1])
    np.testing.assert_array_equal(picks[0], picks[2])
    assert len(set(picks[0].tolist())) == 60


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kpp_passes_skip_rows_exactly(dtype):
    """kpp_gains and kpp_update_closest with labels, gaps and slack compute only the rows
    a new center can come nearer to (most of them here) and give bit for bit the gains,
    listed distances, closest, labels and block sums of every row computed."""
    from fastem._kernels import _kmeans

    X = _blobs(4000, 5, 12, dtype)
    n = len(X)
    centers = np.ascontiguousarray(X[:12:2])
    closest = np.full(n, np.inf)
    labels = np.zeros(n, dtype=np.int32)
    sums, norms = np.empty(_kmeans.n_blocks(n)), np.empty(_kmeans.n_blocks(n))
    _kmeans.kpp_update_closest(X, np.empty(0), closest, centers[:1], np.empty(0), 2,
                               block_sums=sums, labels=labels, block_norms=norms)
    for j in range(1, len(centers)):
        _kmeans.kpp_update_closest(X, np.empty(0), closest, centers[j:j + 1], np.empty(0),
                                   2, block_sums=sums, labels=labels, new_label=j)
    candidates = np.ascontiguousarray(X[[7, 901, 2500]])
    gaps = np.empty((3, len(centers)))
    top = _kmeans.kpp_gaps(centers, candidates, gaps)
    top = max(top, float((centers.astype(np.float64) ** 2).sum(1).max()) * (1 + 1e-9))
    slack = np.empty_like(norms)
    _kmeans.kpp_slack(norms, top, X.shape[1], dtype == np.float32, slack)
    skipped = 4 * (closest + np.repeat(slack, 256)[:n]) <= gaps.min(0)[labels]
    assert skipped.mean() > 0.3
    results = []
    for pruned in (True, False):
        extra = dict(labels=labels, gaps=gaps.min(0), slack=slack) if pruned else {}
        kept, gains = _kept(n, 3), np.zeros(3)
        _kmeans.kpp_gains(X, np.empty(0), closest, candidates, gains, np.empty(0), 2,
                          kept=kept, **extra)
        listed = [(kept[1][b, 0, :c].copy(), kept[0][b, 0, :c].copy())
                  for b, c in enumerate(kept[2][:, 0])]
        near, lab, bs = closest.copy(), labels.copy(), sums.copy()
        extra = dict(labels=lab, gaps=gaps[2], slack=slack) if pruned else dict(labels=lab)
        _kmeans.kpp_update_closest(X, np.empty(0), near, candidates[2:], np.empty(0), 2,
                                   block_sums=bs, new_label=99, **extra)
        results.append((gains, listed, near, lab, bs))
    a, b = results
    np.testing.assert_array_equal(a[0], b[0])
    for (ra, da), (rb, db) in zip(a[1], b[1]):
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(da, db)
    for x, y in zip(a[2:], b[2:]):
        np.testing.assert_array_equal(x, y)
    assert (a[3] == 99).any()


def test_kpp_block_sums_are_checked():
    from fastem._kernels import _kmeans

    X = np.random.RandomState(0).randn(600, 3)
    closest = np.full(600, np.inf)
    good = np.empty(_kmeans.n_blocks(600))
    potential = _kmeans.kpp_update_closest(X, np.empty(0), closest, X[:1], np.empty(0), 2,
                                           block_sums=good)
    np.testing.assert_array_equal(good, _sequential_block_sums(closest))
    assert potential == pytest.approx(float(closest.sum()), rel=1e-13)
    out = np.empty(1, dtype=np.intp)
    for bad in (np.empty(2), np.empty(4)):
        with pytest.raises(ValueError, match="block_sums"):
            _kmeans.kpp_update_closest(X, np.empty(0), closest, X[:1], np.empty(0), 1,
                                       block_sums=bad)
        with pytest.raises(ValueError, match="block_sums"):
            _kmeans.kpp_fold(_kept(600, 1), 0, np.empty(0), closest.copy(), bad, 1)
        with pytest.raises(ValueError, match="block_sums"):
            _kmeans.weighted_search(np.empty(0), closest, 600, np.ones(1), out, bad)
    with pytest.raises(ValueError, match="sample_weight"):
        _kmeans.weighted_search(np.ones(599), closest, 600, np.ones(1), out, good)
    with pytest.raises(ValueError, match="block_sums needs closest"):
        _kmeans.weighted_search(np.empty(0), np.empty(0), 600, np.ones(1), out, good)

def test_default_fit_matches_scikit_learn_quality():
    X = make_blobs(n=3000, d=3, seed=8)
    for seed in range(3):
        sk = SkKMeans(3, random_state=seed).fit(X)
        fe = KMeans(3, random_state=seed).fit(X)
        assert fe.inertia_ <= sk.inertia_ * (1 + 1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bitwise_identical_for_any_thread_count(dtype):
    X = grid_data(n=50_000, d=5, seed=4).astype(dtype)
    fits = [KMeans(6, random_state=0, n_init=2, n_threads=t).fit(X) for t in (1, 2, 4)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.cluster_centers_, fits[0].cluster_centers_)
        np.testing.assert_array_equal(other.labels_, fits[0].labels_)
        assert other.inertia_ == fits[0].inertia_


@pytest.mark.parametrize("n_clusters,d", [(1, 3), (5, 1), (8, 8), (9, 4), (17, 50), (100, 7)])
def test_hand_vectorised_nearest_center_equals_generic(n_clusters, d):
    """The AVX-512 and AVX2 nearest-center searches give the generic kernel's labels, sums and inertia,
    including ties between equal centers in different lanes and panels (the first center
    wins, as numpy's argmin)."""
    from fastem._kernels import _kmeans

    rng = np.random.RandomState(n_clusters + d)
    X = rng.randn(1003, d)
    centers = X[rng.choice(len(X), n_clusters, replace=False)].copy()
    tied = min(1, n_clusters - 1)
    if n_clusters > 2:
        centers[-1] = centers[tied]  # an exact tie, decided by index
    X[:7] = centers[tied]  # rows exactly on the tied centers

    def run():
        labels = np.empty(len(X), dtype=np.intc)
        sums = np.zeros((n_clusters, d))
        weight = np.zeros(n_clusters)
        inertia = _kmeans.lloyd_pass(X, np.empty(0), centers, labels, sums, weight,
                                     np.empty(0), True, 2)
        return labels, sums, weight, inertia

    out = []
    for level in (2, 1, 0):   # AVX-512 (several panels) where the CPU has it, AVX2, generic
        previous = _kmeans.use_hand_vectorised(level)
        try:
            out.append(run())
        finally:
            _kmeans.use_hand_vectorised(previous)
    expected = ((X[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(out[-1][0], expected)
    for fast in out[:-1]:
        for a, b in zip(fast, out[-1]):
            np.testing.assert_array_equal(a, b)



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d,T,weighted,norms", [(1003, 32, 7, False, True),
                                                   (997, 8, 4, True, False),
                                                   (500, 3, 13, True, True),
                                                   (10, 50, 1, False, False),
                                                   (300, 1, 8, False, False)])
def test_hand_vectorised_kpp_gains_equal_generic(dtype, n, d, T, weighted, norms):
    """The k-means++ gains and listed distances of the hand-vectorised kernels are the
    generic kernel's bit for bit (partial tiles and panels, weights, norms given or
    computed, rows left out), and the gains are those of their definition."""
    from fastem._kernels import _kmeans

    rng = np.random.RandomState(n + d)
    X = (rng.randn(n, d) * 3 + 1).astype(dtype)
    w = rng.uniform(0, 2, n) if weighted else np.empty(0)
    closest = rng.uniform(0, 50 * d, n)
    candidates = np.ascontiguousarray(X[rng.choice(n, T)])
    xx = (X.astype(np.float64) ** 2).sum(1) if norms else np.empty(0)
    labels = rng.randint(0, 3, n).astype(np.int32)   # label 0's rows left out
    skip = dict(labels=labels, gaps=np.array([np.inf, 0.0, -1.0]),
                slack=np.zeros(_kmeans.n_blocks(n)))
    for extra in ({}, skip):
        out = []
        for hand in (2, 1, 0):     # AVX-512 (float32) where the CPU has it, AVX2, generic
            previous = _kmeans.use_hand_vectorised(hand)
            try:
                gains, kept = np.zeros(T), _kept(n, T)
                _kmeans.kpp_gains(X, w, closest, candidates, gains, xx, 2, kept=kept,
                                  **extra)
            finally:
                _kmeans.use_hand_vectorised(previous)
            out.append((gains, kept))
        for other in out[1:]:
            np.testing.assert_array_equal(out[0][0], other[0])
            for a, b in zip(out[0][1], other[1]):
                np.testing.assert_array_equal(a, b)
        exact = ((X.astype(np.float64)[None] - candidates.astype(np.float64)[:, None]) ** 2
                 ).sum(-1)
        counted = np.ones(n, bool) if not extra else labels != 0
        weights = w if weighted else np.ones(n)
        np.testing.assert_allclose(
            out[0][0], (weights * counted * np.maximum(closest - exact, 0)).sum(1),
            rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-3 * d)
        dist, rows, counts = out[0][1]
        for b in range(len(counts)):
            for p in range(counts.shape[1]):
                listed = rows[b, p, :counts[b, p]] + 256 * b
                t = slice(8 * p, min(T, 8 * p + 8))
                near = (exact[t] < closest - 1e-2 * d).any(0) & counted
                assert set(np.flatnonzero(near[256 * b: 256 * (b + 1)]) + 256 * b) <= set(
                    listed.tolist())
                np.testing.assert_allclose(dist[b, p, :counts[b, p], :t.stop - t.start],
                                           exact[t][:, listed].T, rtol=1e-4, atol=1e-3 * d)


def _float32_pass(X, centers, hand_vectorised, want_sums=True):
    """lloyd_pass on float32 data with the hand-vectorised kernels on or off: labels,
    distances, sums, weights and inertia."""
    from fastem._kernels import _kmeans

    n, d = X.shape
    k = len(centers)
    labels = np.full(n, -1, dtype=np.intc)
    dist = np.empty(n)
    sums = np.zeros((k, d))
    weight = np.zeros(k)
    previous = _kmeans.use_hand_vectorised(hand_vectorised)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            inertia = _kmeans.lloyd_pass(X, np.empty(0), centers, labels, sums, weight,
                                         dist, want_sums, 2)
    finally:
        _kmeans.use_hand_vectorised(previous)
    return labels, dist, sums, weight, inertia


@pytest.mark.parametrize("n,d,n_clusters", [
    (1, 1, 1), (7, 3, 2), (261, 8, 8), (1003, 5, 3), (1003, 9, 8), (517, 8, 9),
    (1003, 17, 16), (1003, 50, 17), (700, 32, 100), (301, 1, 23)])
@pytest.mark.parametrize("values", ["finite", "ties", "non-finite"])
def test_hand_vectorised_float32_nearest_center_equals_generic(n, d, n_clusters, values):
    """The AVX2 float32 search computes what the generic float32 one computes, operation
    for operation: the same labels and distances bit for bit (so the same sums and
    inertia), on ties between equal centers in different lanes and panels, on rows that
    lie on a center, and on rows and centers with NaN, infinity or squares that
    overflow float32; labels always in range. Shapes cover one and several panels, an
    odd number of panels, and d and n that are not multiples of 8 or of the row tile."""
    rng = np.random.RandomState(n + d + n_clusters)
    X = (rng.randn(n, d) * 3).astype(np.float32)
    centers = X[rng.randint(0, n, n_clusters)] + np.float32(0.25)
    if values == "ties" and n_clusters > 1:
        centers[-1] = centers[0]          # an exact tie, decided by index
        centers[n_clusters // 2] = centers[0]
        X[: min(n, 7)] = centers[0]       # rows exactly on the tied centers
    if values == "non-finite":
        rows = rng.randint(0, n, 6)
        X[rows, rng.randint(0, d, 6)] = [np.nan, np.inf, -np.inf, 3e38, -3e38, np.nan]
        centers[rng.randint(0, n_clusters), rng.randint(0, d)] = np.inf
    for want_sums in (True, False):
        fast = _float32_pass(X, centers, True, want_sums)
        generic = _float32_pass(X, centers, False, want_sums)
        for a, b in zip(fast, generic):
            np.testing.assert_array_equal(a, b)
        assert fast[0].min() >= 0 and fast[0].max() < n_clusters
    if values != "non-finite":
        # the labels are nearest centers, up to the float32 rounding of the expansion
        exact = ((X[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(-1)
        chosen = exact[np.arange(n), fast[0]]
        scale = (X.astype(np.float64) ** 2).sum(1) + (centers.astype(np.float64) ** 2).sum(1).max()
        assert np.all(chosen <= exact.min(1) + 1e-5 * scale)
        if values == "ties":
            on_center = exact[: min(n, 7)].argmin(1)      # numpy: the first index wins
            np.testing.assert_array_equal(fast[0][: min(n, 7)], on_center)


def test_integer_weights_equal_repeated_rows():
    X = grid_data(n=600, seed=6)
    counts = np.random.RandomState(1).randint(0, 4, size=len(X))
    init = X[counts > 0][:4]
    a = KMeans(4, init=init).fit(X, sample_weight=counts)
    b = KMeans(4, init=init).fit(np.repeat(X, counts, axis=0))
    assert rel_err(a.cluster_centers_, b.cluster_centers_) < 1e-12
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-12)
    assert a.n_iter_ == b.n_iter_


def test_methods():
    X = grid_data(seed=7)
    km = KMeans(3, random_state=0).fit(X)
    dist = km.transform(X)
    expected = np.sqrt(((X[:, None] - km.cluster_centers_[None]) ** 2).sum(-1))
    np.testing.assert_allclose(dist, expected, rtol=1e-12)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    np.testing.assert_array_equal(km.predict(X), dist.argmin(axis=1))
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-12)
    assert km.inertia_ == pytest.approx((dist.min(axis=1) ** 2).sum(), rel=1e-12)
    np.testing.assert_array_equal(KMeans(3, random_state=0).fit_predict(X), km.labels_)
    clone = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(clone.predict(X), km.labels_)


def test_random_init_uses_ten_restarts_by_default():
    X = grid_data(seed=9)
    starts = []
    KMeans(3, init="random", random_state=0, callback=lambda i: starts.append(i.init)).fit(X)
    assert sorted(set(starts)) == list(range(10))
    starts.clear()   # n_init="auto" is one init for k-means++ (and for an array, below)
    KMeans(3, random_state=0, callback=lambda i: starts.append(i.init)).fit(X)
    assert set(starts) == {0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # k-means reaching max_iter does not warn
        KMeans(3, max_iter=1, random_state=0).fit(X)


def test_negative_n_threads_counts_from_all_cores(tmp_path):
    """scikit-learn's n_jobs convention, for every estimator: -1 is every usable core,
    -2 all but one (at least one); 0 and values below -(usable cores) are errors."""
    from fastem import GaussianHMM, GaussianMixture
    from fastem._kernels._parallel import effective_n_threads, openmp_enabled, usable_cpus

    every = effective_n_threads(None)
    assert effective_n_threads(-1) == every
    assert effective_n_threads(-2) == (max(1, every - 1) if openmp_enabled() else 1)
    assert effective_n_threads(-usable_cpus()) == 1
    for bad in (0, -usable_cpus() - 1):
        with pytest.raises(ValueError, match=f"n_threads={bad}"):
            effective_n_threads(bad)
    with pytest.raises(TypeError, match="n_threads must be None or an integer"):
        effective_n_threads(True)
    X = grid_data(n=300, d=2, seed=10)
    reference = KMeans(3, random_state=0).fit(X)
    for model in (KMeans(3, random_state=0, n_threads=-1),
                  KMeans(3, random_state=0, n_threads=-2)):
        np.testing.assert_array_equal(model.fit(X).cluster_centers_,
                                      reference.cluster_centers_)
    import fastem

    assert fastem.load(model.save(tmp_path / "km.npz")).n_threads == -2   # files keep it
    GaussianMixture(2, random_state=0, max_iter=5, n_threads=-1).fit(X)
    GaussianHMM(2, random_state=0, n_iter=2, n_threads=-1).fit(X)
    centers, _ = kmeans_plusplus(X, 3, random_state=0, n_threads=-1)
    np.testing.assert_array_equal(centers, kmeans_plusplus(X, 3, random_state=0)[0])
    for make in (lambda: KMeans(3, n_threads=0).fit(X),
                 lambda: GaussianMixture(2, n_threads=0).fit(X),
                 lambda: GaussianHMM(2, n_threads=0).fit(X)):
        with pytest.raises(ValueError, match="n_threads=0"):
            make()


def test_algorithm_lloyd_is_accepted_and_elkan_refused():
    """scikit-learn 1.9 accepts exactly 'lloyd' and 'elkan' ('auto' and 'full' are gone);
    fastem takes 'lloyd' and refuses 'elkan' saying why."""
    sk_options = SkKMeans._parameter_constraints["algorithm"][0].options
    assert sk_options == {"lloyd", "elkan"}
    X = grid_data(n=300, d=2, seed=11)
    default = KMeans(3, random_state=0).fit(X)
    lloyd = KMeans(3, random_state=0, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(lloyd.cluster_centers_, default.cluster_centers_)
    with pytest.raises(ValueError, match="Lloyd's algorithm only.*use algorithm='lloyd'"):
        KMeans(3, algorithm="elkan").fit(X)
    for bad in ("auto", "full", "Lloyd", 1, None):
        with pytest.raises(ValueError, match="algorithm must be one of 'lloyd'"):
            KMeans(3, algorithm=bad).fit(X)


def test_copy_x_is_accepted_and_x_is_never_written(tmp_path):
    import fastem

    X = grid_data(n=300, d=2, seed=12) + 100.0   # far from zero: fits centre the rows
    original = X.copy()
    a = KMeans(3, random_state=0, copy_x=False).fit(X)
    np.testing.assert_array_equal(X, original)
    b = KMeans(3, random_state=0, copy_x=True).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    loaded = fastem.load(a.save(tmp_path / "km.npz"))
    assert loaded.copy_x is False and loaded.algorithm == "lloyd"
    with pytest.raises(TypeError, match="copy_x must be True or False"):
        KMeans(3, copy_x="no").fit(X)


def test_kmeans_plusplus_takes_and_checks_x_squared_norms():
    X = grid_data(n=300, d=3, seed=13)
    norms = (X**2).sum(axis=1)
    centers, indices = kmeans_plusplus(X, 4, random_state=0, x_squared_norms=norms)
    expected = kmeans_plusplus(X, 4, random_state=0)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_array_equal(centers, expected[0])
    with pytest.raises(ValueError, match="length of x_squared_norms 2 should be equal to the "
                                         "length of n_samples 300"):
        kmeans_plusplus(X, 4, x_squared_norms=norms[:2])
    with pytest.raises(ValueError, match=r"x_squared_norms must have shape \(300,\)"):
        kmeans_plusplus(X, 4, x_squared_norms=norms.reshape(-1, 1))
    bad = norms.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="x_squared_norms contains NaN"):
        kmeans_plusplus(X, 4, x_squared_norms=bad)


def test_init_of_the_wrong_shape_is_refused_with_scikit_learns_message():
    X = grid_data(n=300, d=3, seed=14)
    with pytest.raises(ValueError, match=r"The shape of the initial centers \(2, 3\) does not "
                                         r"match the number of clusters 4.*init must have"):
        KMeans(4, init=X[:2]).fit(X)
    with pytest.raises(ValueError, match=r"\(4, 2\) does not match the number of features "
                                         r"of the data 3"):
        KMeans(4, init=X[:4, :2]).fit(X)
    with pytest.raises(TypeError, match="does not take a callable init"):
        KMeans(4, init=lambda X, k, random_state: X[:k]).fit(X)


def test_fewer_distinct_clusters_than_n_clusters_warns_as_scikit_learn():
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    from fastem import ConvergenceWarning

    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 0]])   # three distinct points
    message = (r"Number of distinct clusters \(3\) found smaller than n_clusters \(4\)\. "
               r"Possibly due to duplicate points in X\.")
    with pytest.warns(ConvergenceWarning, match=message) as record:
        km = KMeans(4, random_state=0).fit(X)
    assert issubclass(record[0].category, SkConvergenceWarning)
    assert set(km.labels_.tolist()) == {0, 1, 2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(3, random_state=0).fit(X)


def test_explicit_init_with_several_inits_warns_and_runs_once():
    X = grid_data(n=300, d=2, seed=15)
    starts = []
    with pytest.warns(RuntimeWarning, match="Explicit initial center position passed: "
                                            "performing only one init in KMeans instead of "
                                            "n_init=10."):
        KMeans(3, init=X[:3], n_init=10, callback=lambda i: starts.append(i.init)).fit(X)
    assert set(starts) == {0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(3, init=X[:3]).fit(X)            # n_init="auto": one init
        KMeans(3, init=X[:3], n_init=1).fit(X)


RELOCATION_CASES = {
    # the empty cluster takes the farthest row; all four rows tie (argpartition decides)
    "tied-rows": (np.array([[0, 0], [0.5, 0], [0.5, 1], [1, 1]]),
                  np.array([[0.5, 0.5], [3, 3]]), None),
    # every row on its center: nothing to relocate, the empty center goes to the
    # heaviest cluster's center (and the next iteration converges strictly)
    "rows-on-centers": (np.array([[0.0, 0], [0, 0], [1, 1]]),
                        np.array([[0.0, 0], [1, 1], [5, 5]]), None),
    # the farthest row has weight zero: the cluster stays empty
    "zero-weight-row": (np.array([[0.0], [1], [2], [9]]), np.array([[1.0], [50]]),
                        np.array([1.0, 1, 1, 0])),
}


@pytest.mark.parametrize("case", RELOCATION_CASES)
def test_relocation_and_convergence_follow_scikit_learn(case):
    X, init, w = RELOCATION_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fewer distinct clusters than n_clusters
        sk = SkKMeans(len(init), init=init, n_init=1).fit(X, sample_weight=w)
        fe = KMeans(len(init), init=init, n_init=1).fit(X, sample_weight=w)
    np.testing.assert_array_equal(fe.labels_, sk.labels_)
    np.testing.assert_allclose(fe.cluster_centers_, sk.cluster_centers_, atol=1e-12)
    assert fe.n_iter_ == sk.n_iter_
    assert fe.inertia_ == pytest.approx(sk.inertia_, abs=1e-12)


def _verbose_lines(model, X, capsys):
    model.fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert lines
    return [[token.rstrip(".:") for token in line.split()] for line in lines]


@pytest.mark.parametrize("tol", [1e-2, 0.0])
def test_verbose_prints_scikit_learns_lines(tol, capsys):
    """The same lines as scikit-learn, numbers equal to rounding: 'Initialization
    complete', 'Iteration i, inertia ...' (i from 0) and how the run converged."""
    X = np.random.RandomState(0).normal(size=(2000, 4))
    init = X[:5]
    sk = _verbose_lines(SkKMeans(5, init=init, n_init=1, tol=tol, verbose=1), X, capsys)
    fe = _verbose_lines(KMeans(5, init=init, n_init=1, tol=tol, verbose=1), X, capsys)
    assert len(fe) == len(sk)
    for fe_line, sk_line in zip(fe, sk):
        assert len(fe_line) == len(sk_line), (fe_line, sk_line)
        for a, b in zip(fe_line, sk_line):
            try:
                assert float(a) == pytest.approx(float(b), rel=1e-6, abs=1e-12), (a, b)
            except ValueError:
                assert a == b, (fe_line, sk_line)
    assert fe[0] == ["Initialization", "complete"]
    assert fe[-1][4] == ("center" if tol else "strict")


def test_float32_fit_returns_float32_as_scikit_learn(tmp_path):
    import fastem

    X64 = grid_data(n=400, d=3, seed=16)
    X = X64.astype(np.float32)
    km = KMeans(3, random_state=0).fit(X)
    sk = SkKMeans(3, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == sk.cluster_centers_.dtype == np.float32
    for out, ref in ((km.transform(X), sk.transform(X)),
                     (KMeans(3, random_state=0).fit_transform(X),
                      SkKMeans(3, random_state=0).fit_transform(X))):
        assert out.dtype == ref.dtype == np.float32
        np.testing.assert_allclose(out, ref, rtol=1e-5)
    assert type(km.inertia_) is float and type(km.score(X)) is float
    assert km.labels_.dtype == np.int32
    # float32 distances only between float32 rows and float32 centers (scikit-learn's rule)
    assert km.transform(X64).dtype == np.float64
    assert KMeans(3, random_state=0).fit(X64).transform(X).dtype == np.float64
    np.testing.assert_allclose(km.transform(X64), km.transform(X), rtol=1e-5)
    # model files keep float32 centers
    loaded = fastem.load(km.save(tmp_path / "km32.npz"))
    assert loaded.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(loaded.transform(X), km.transform(X))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_input_is_computed_in_float64(dtype):
    X = np.array([[0, 0], [10, 10], [12, 9], [-1, 1], [2, 0], [8, 10]], dtype=dtype)
    km = KMeans(2, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == np.float64
    assert km.transform(X).dtype == np.float64
    assert sorted(np.bincount(km.labels_).tolist()) == [3, 3]
    init = KMeans(2, init=X[:2], n_init=1).fit(X)
    np.testing.assert_array_equal(init.labels_, [0, 1, 1, 0, 0, 1])


def test_get_feature_names_out_as_scikit_learn():
    from fastem import NotFittedError

    X = grid_data(n=300, d=3, seed=17)
    km = KMeans(4, random_state=0).fit(X)
    expected = SkKMeans(4, random_state=0).fit(X).get_feature_names_out()
    names = km.get_feature_names_out()
    assert names.dtype == object and names.tolist() == expected.tolist()
    assert names.tolist() == ["kmeans0", "kmeans1", "kmeans2", "kmeans3"]
    assert km.get_feature_names_out(["a", "b", "c"]).tolist() == names.tolist()
    with pytest.raises(ValueError, match="input_features should have length equal to "
                                         r"number of features \(3\), got 2"):
        km.get_feature_names_out(["a", "b"])
    with pytest.raises(NotFittedError):
        KMeans(4).get_feature_names_out()


def test_set_output_gives_pandas_dataframes_as_scikit_learn():
    pd = pytest.importorskip("pandas")
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils.estimator_checks import (
        check_global_output_transform_pandas,
        check_set_output_transform,
        check_set_output_transform_pandas,
    )

    for check in (check_set_output_transform, check_set_output_transform_pandas,
                  check_global_output_transform_pandas):
        check("KMeans", KMeans(3, random_state=0))
    X = grid_data(n=300, d=3, seed=18)
    df = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(300) * 2 + 7)
    km = KMeans(3, random_state=0)
    assert km.set_output(transform="pandas") is km
    out = km.fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == ["kmeans0", "kmeans1", "kmeans2"]
    assert out.index.equals(df.index)
    np.testing.assert_array_equal(out.to_numpy(), km.transform(X).to_numpy())
    assert km.transform(X).index.equals(pd.RangeIndex(300))     # array in: default index
    assert isinstance(clone(km).fit(X).transform(X), pd.DataFrame)  # clone keeps it
    assert isinstance(km.set_output(transform=None).transform(X), pd.DataFrame)
    assert isinstance(km.set_output(transform="default").transform(df), np.ndarray)
    pipe = make_pipeline(StandardScaler(), KMeans(3, random_state=0)).set_output(
        transform="pandas")
    assert isinstance(pipe.fit_transform(df), pd.DataFrame)
    for bad in ("polars", "numpy", 1):
        with pytest.raises(ValueError, match="transform must be one of 'default', 'pandas'"):
            KMeans(3).set_output(transform=bad)


@pytest.mark.parametrize("seed", range(6))
def test_restarts_pick_scikit_learns_run(seed):
    """Of restarts that end with the same partition (one may have stopped on tol with
    a slightly different inertia), scikit-learn keeps the first: so does fastem."""
    from sklearn.cluster import KMeans as SkKMeans

    X = np.random.RandomState(seed).randn(2000, 3) + np.repeat(np.eye(3) * 4, [700, 700, 600],
                                                                axis=0)
    ref = SkKMeans(5, n_init=10, random_state=seed).fit(X)
    ours = KMeans(5, n_init=10, random_state=seed).fit(X)
    assert ours.n_iter_ == ref.n_iter_
    assert np.array_equal(ours.labels_, ref.labels_)
    assert abs(ours.inertia_ - ref.inertia_) <= 1e-9 * ref.inertia_


def test_bad_callback_and_overflowing_data_fail_cleanly():
    X = np.random.RandomState(0).randn(100, 2)
    with pytest.raises(TypeError, match="callback must be callable"):
        KMeans(2, callback=3).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the ValueError, and no numpy warnings
        with pytest.raises(ValueError, match="overflow float64"):
            KMeans(2).fit(X * 1e160)


def test_partition_tests_work_in_chunks():
    from fastem.cluster import _kmeans as module

    rng = np.random.RandomState(0)
    labels = rng.randint(0, 5, 200_000).astype(np.intc)
    perm = np.array([3, 0, 4, 1, 2], dtype=np.intc)
    assert module._same_partition(labels, perm[labels], 5)
    assert module._same_partition(labels, np.zeros_like(labels), 5)   # a coarser one
    other = perm[labels]
    other[150_000] = (other[150_000] + 1) % 5            # one row moved, late in the data
    assert not module._same_partition(labels, other, 5)
    assert module._distinct_clusters(labels, 7) == 5
    labels[::2] = 6
    assert module._distinct_clusters(labels, 7) == 6
