"""Fits on data read in blocks (Chunks, memmaps, streams) against the in-memory fit."""

import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from fastem import Chunks, GaussianMixture, KMeans

TOL = 1e-10


def _mixture(n=3000, d=3, k=3, seed=0, far=0.0):
    rs = np.random.RandomState(seed)
    centers = rs.normal(scale=4.0, size=(k, d)) + far
    X = np.concatenate([rs.normal(size=(n // k, d)) @ rs.uniform(0.5, 1.5, size=(d, d))
                        + c for c in centers])
    return X[rs.permutation(len(X))]


def _close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(1.0, float(np.abs(b).max()))
    assert np.abs(a - b).max() <= tol * scale, np.abs(a - b).max()


def _same_gm(a, b, tol=TOL):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        _close(getattr(a, name), getattr(b, name), tol)
    assert a.n_iter_ == b.n_iter_
    assert abs(a.lower_bound_ - b.lower_bound_) <= tol * max(1.0, abs(b.lower_bound_))


def _blocks(X, rows, sw=None):
    def factory():
        for lo in range(0, len(X), rows):
            yield X[lo:lo + rows] if sw is None else (X[lo:lo + rows], sw[lo:lo + rows])
    return factory


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_gmm_chunks_and_streams_equal_in_memory(covariance_type, init_params):
    X = _mixture()
    kw = dict(n_components=3, covariance_type=covariance_type, init_params=init_params,
              random_state=0, tol=1e-8, max_iter=300)
    ref = GaussianMixture(**kw).fit(X)
    _same_gm(GaussianMixture(**kw).fit(Chunks(X, chunk_size=700)), ref)
    _same_gm(GaussianMixture(**kw).fit(Chunks(_blocks(X, 333))), ref)


def test_gmm_weighted_missing_float32_prior():
    X = _mixture(seed=1)
    sw = np.random.RandomState(2).uniform(0, 3, size=len(X))
    kw = dict(n_components=3, random_state=0, tol=1e-8, max_iter=300)
    _same_gm(GaussianMixture(**kw).fit(Chunks(X, chunk_size=500), sample_weight=sw),
             GaussianMixture(**kw).fit(X, sample_weight=sw))
    _same_gm(GaussianMixture(**kw).fit(Chunks(_blocks(X, 400, sw))),
             GaussianMixture(**kw).fit(X, sample_weight=sw))
    Xm = X.copy()
    Xm[np.random.RandomState(3).uniform(size=X.shape) < 0.15] = np.nan
    Xm[5] = np.nan        # a row with nothing observed
    _same_gm(GaussianMixture(**{**kw, "max_iter": 2000}).fit(Chunks(Xm, chunk_size=256)),
             GaussianMixture(**{**kw, "max_iter": 2000}).fit(Xm))
    # float32: a fixed number of iterations (its lower bound is noisy at tol's scale)
    X32 = X.astype(np.float32)
    fixed = dict(n_components=3, random_state=0, tol=0, max_iter=30)
    with pytest.warns(Warning, match="did not converge"):
        a = GaussianMixture(**fixed).fit(Chunks(X32, chunk_size=1000))
        b = GaussianMixture(**fixed).fit(X32)
    assert a.means_.dtype == np.float32
    _same_gm(a, b, 1e-5)
    _same_gm(GaussianMixture(prior="default", **kw).fit(Chunks(X, chunk_size=600)),
             GaussianMixture(prior="default", **kw).fit(X))


def test_gmm_squarem_and_warm_start_on_chunks():
    X = _mixture(seed=4)
    kw = dict(n_components=3, random_state=0, tol=1e-8, max_iter=300, accelerate="squarem")
    _same_gm(GaussianMixture(**kw).fit(Chunks(X, chunk_size=999)), GaussianMixture(**kw).fit(X))
    a = GaussianMixture(n_components=3, random_state=0, max_iter=2, warm_start=True)
    b = GaussianMixture(n_components=3, random_state=0, max_iter=2, warm_start=True)
    with pytest.warns(Warning):
        a.fit(X)
        b.fit(Chunks(X, chunk_size=800))
    a.set_params(max_iter=100).fit(X)
    b.set_params(max_iter=100).fit(Chunks(X, chunk_size=800))
    _same_gm(a, b)


def test_memmap_fit_equals_in_memory_and_leaves_the_file(tmp_path):
    X = _mixture(n=6000, d=4, k=4, seed=5)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    before = mm.copy()
    kw = dict(n_components=4, random_state=0, tol=1e-8, max_iter=300)
    _same_gm(GaussianMixture(**kw).fit(mm), GaussianMixture(**kw).fit(X))
    k1 = KMeans(4, random_state=0, n_init=2).fit(mm)
    k2 = KMeans(4, random_state=0, n_init=2).fit(X)
    _close(k1.cluster_centers_, k2.cluster_centers_)
    assert np.array_equal(k1.labels_, k2.labels_) and k1.n_iter_ == k2.n_iter_
    assert np.array_equal(mm, before)


def test_bitwise_for_any_thread_count():
    X = _mixture(n=20000, d=5, k=4, seed=6)
    fits = [GaussianMixture(4, random_state=0, n_threads=t).fit(Chunks(X, chunk_size=3000))
            for t in (1, 2)]
    for name in ("means_", "covariances_", "weights_"):
        assert np.array_equal(getattr(fits[0], name), getattr(fits[1], name))
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_
    kms = [KMeans(4, random_state=0, n_threads=t).fit(Chunks(X, chunk_size=3000))
           for t in (1, 2)]
    assert np.array_equal(kms[0].cluster_centers_, kms[1].cluster_centers_)
    assert kms[0].inertia_ == kms[1].inertia_


def test_more_rows_than_the_init_sample():
    """Above 100,000 rows the start comes from a sample; from given starts the chunked
    fit is still the in-memory one."""
    X = _mixture(n=120_000, d=2, k=3, seed=7)
    gm = GaussianMixture(3, random_state=0).fit(Chunks(X))
    ref = GaussianMixture(3, random_state=0).fit(X)
    assert abs(gm.score(X) - ref.score(X)) < 1e-6
    start = dict(weights_init=ref.weights_, means_init=ref.means_ + 0.1,
                 precisions_init=ref.precisions_)
    _same_gm(GaussianMixture(3, tol=1e-9, **start).fit(Chunks(X, chunk_size=30000)),
             GaussianMixture(3, tol=1e-9, **start).fit(X))
    km = KMeans(3, random_state=0).fit(Chunks(X, chunk_size=50000))
    assert km.labels_.shape == (len(X),)
    init = km.cluster_centers_ + 0.2
    a = KMeans(3, init=init).fit(Chunks(X, chunk_size=50000))
    b = KMeans(3, init=init).fit(X)
    _close(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.labels_, b.labels_)


def test_kmeans_chunks_relocate_empty_clusters_far_from_zero():
    X = _mixture(n=3000, d=3, k=3, seed=8, far=1e6)
    sw = np.random.RandomState(9).uniform(0.5, 2, size=len(X))
    init = np.vstack([X[:3], np.full((1, 3), 1e9)])     # a center that gets no rows
    for kw in (dict(sample_weight=None), dict(sample_weight=sw)):
        a = KMeans(4, init=init).fit(Chunks(X, chunk_size=1000), **kw)
        b = KMeans(4, init=init).fit(X, **kw)
        _close(a.cluster_centers_, b.cluster_centers_)
        assert abs(a.inertia_ - b.inertia_) <= 1e-9 * b.inertia_
    ref = KMeans(3, random_state=0, init="random", n_init=3).fit(X)
    got = KMeans(3, random_state=0, init="random", n_init=3).fit(Chunks(_blocks(X, 128)))
    _close(got.cluster_centers_, ref.cluster_centers_)


def test_bad_blocks_give_clear_errors():
    X = _mixture(n=1000)
    bad = X.copy()
    bad[700, 1] = np.inf
    with pytest.raises(ValueError, match=r"X\[500:999\] contains infinity"):
        GaussianMixture(2).fit(Chunks(bad, chunk_size=500))
    nan = X.copy()
    nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(Chunks(nan, chunk_size=500))
    with pytest.raises(ValueError, match="block 1 of X has 2 feature"):
        GaussianMixture(2).fit(Chunks(lambda: iter([X[:10], X[10:20, :2]])))
    calls = []

    def shrinking():
        calls.append(1)
        yield X[:500] if len(calls) == 1 else X[:400]
    with pytest.raises(ValueError, match="changed shape between passes"):
        GaussianMixture(2).fit(Chunks(shrinking))
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        GaussianMixture(2).fit(Chunks(X, chunk_size=0))
    with pytest.raises(ValueError, match="no blocks"):
        GaussianMixture(2).fit(Chunks(lambda: iter([])))
    with pytest.raises(TypeError, match="must return an iterable"):
        GaussianMixture(2).fit(Chunks(lambda: 3))
    with pytest.raises(ValueError, match="negative"):
        GaussianMixture(2).fit(Chunks(X, chunk_size=300), sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="given both"):
        GaussianMixture(2).fit(Chunks(X, sample_weight=np.ones(len(X))),
                               sample_weight=np.ones(len(X)))
    allnan = X.copy()
    allnan[:, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 of X is entirely missing"):
        GaussianMixture(2).fit(Chunks(allnan, chunk_size=400))


def test_memory_is_bounded_by_a_chunk(tmp_path):
    """numpy's allocations during a memmap fit (tracemalloc sees them) stay within a
    few chunks, and do not grow with the file."""
    peaks = []
    for n in (150_000, 300_000):   # both above the 100,000-row init sample
        X = _mixture(n=n, d=8, k=4, seed=10)
        path = tmp_path / f"x{n}.npy"
        np.save(path, X)
        del X
        data = np.load(path, mmap_mode="r")
        chunk = Chunks(data, chunk_size=4096)
        tracemalloc.start()
        GaussianMixture(4, random_state=0, max_iter=5, tol=0,
                        init_params="random_from_data").fit(chunk)
        KMeans(4, random_state=0, max_iter=5).fit(chunk)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # labels_ of KMeans (4 bytes a row) is the one n-sized result
    assert peaks[1] < peaks[0] + 4 * 150_000 + (1 << 20), peaks
    # and within the init sample (100,000 rows of 64 bytes) and a few chunks
    assert peaks[1] < 4 * 6_400_000, peaks


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA semantics are Linux's")
def test_memmap_fit_under_a_data_limit(tmp_path):
    """A fit of a file larger than the process may allocate (RLIMIT_DATA, which counts
    private memory but not the file's read-only mapping)."""
    n, d = 1_200_000, 16                       # 154 MB of float64
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    rs = np.random.RandomState(0)
    for lo in range(0, n, 100_000):
        block = rs.normal(size=(min(100_000, n - lo), d))
        block[:, 0] += 6 * (rs.uniform(size=len(block)) < 0.5)
        mm[lo:lo + len(block)] = block
    mm.flush()
    del mm
    script = textwrap.dedent(f"""
        import resource, numpy as np
        from fastem import GaussianMixture
        X = np.load({str(path)!r}, mmap_mode="r")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # the limit: what is mapped privately now plus 100 MB (the file is 154 MB)
        with open("/proc/self/status") as f:
            vmdata = [int(line.split()[1]) for line in f if line.startswith("VmData")][0]
        limit = vmdata * 1024 + (100 << 20)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        try:
            np.empty(n := {n * d}, dtype=np.float64).fill(0)
        except MemoryError:
            pass
        else:
            raise SystemExit("the limit does not hold a copy of the file")
        gm = GaussianMixture(2, covariance_type="diag", random_state=0, max_iter=3,
                             tol=0).fit(X)
        print("ok", gm.weights_.round(1))
    """)
    env = dict(os.environ, OMP_NUM_THREADS="2", MALLOC_ARENA_MAX="2")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")


def test_streams_with_weights_in_some_blocks():
    X = _mixture(n=1200, d=2, seed=11)
    w = np.ones(len(X))
    w[:600] = 3.0

    def mixed():
        yield X[:600], w[:600]
        yield X[600:]
    a = KMeans(3, random_state=0).fit(Chunks(mixed))
    b = KMeans(3, random_state=0).fit(X, sample_weight=w)
    _close(a.cluster_centers_, b.cluster_centers_)
    _same_gm(GaussianMixture(3, random_state=0).fit(Chunks(mixed)),
             GaussianMixture(3, random_state=0).fit(X, sample_weight=w))


def test_methods_other_than_fit_refuse_chunks():
    X = _mixture(n=300)
    gm = GaussianMixture(2, random_state=0).fit(Chunks(X, chunk_size=100))
    with pytest.raises(TypeError, match="X is Chunks"):
        gm.predict(Chunks(X))
    assert gm.predict(np.asarray(X)).shape == (len(X),)


class _Dataset:
    """Stands for an h5py or zarr dataset: a shape, a dtype, and row slices that are
    new arrays (not views of an ndarray)."""

    def __init__(self, X):
        self._X = X
        self.shape, self.dtype = X.shape, X.dtype
        self.reads = 0

    def __getitem__(self, index):
        self.reads += 1
        return np.array(self._X[index], dtype=">f8")     # big-endian, as files may be


def test_any_sliceable_dataset():
    X = _mixture(n=2000, seed=12)
    data = _Dataset(X)
    kw = dict(n_components=3, random_state=0, tol=1e-8, max_iter=300)
    got = GaussianMixture(**kw).fit(Chunks(data, chunk_size=512))
    _same_gm(got, GaussianMixture(**kw).fit(X))
    assert data.reads >= 4 * got.n_iter_        # read chunk by chunk, every pass
    km = KMeans(3, random_state=0).fit(Chunks(data, chunk_size=512))
    ref = KMeans(3, random_state=0).fit(X)
    assert np.array_equal(km.labels_, ref.labels_)
