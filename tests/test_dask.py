"""Fits on dask arrays (fastem.dask): the E-step on the workers of a local cluster of two
processes equals the fit in memory, bitwise the same for one worker or two."""

import os
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from conftest import make_blobs  # noqa: E402

from fastem import GaussianMixture, KMeans  # noqa: E402
from fastem._sources import INIT_SAMPLE_ROWS, Chunks  # noqa: E402
from fastem.dask import DaskSource  # noqa: E402

RTOL = 1e-10


@pytest.fixture(scope="module")
def client():
    # distributed's nanny sets OMP_NUM_THREADS and the like to 1 in this process's
    # environment to start its workers, and leaves them; later tests' subprocesses
    # must not inherit them
    environ = dict(os.environ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # e.g. a port already in use
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    client = distributed.Client(cluster)
    os.environ.clear()
    os.environ.update(environ)
    yield client
    client.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)


@pytest.fixture(scope="module")
def X():
    return make_blobs(n=3000, d=3, seed=1)


def fit(model, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # tol=0: ConvergenceWarning
        return model.fit(X, **kwargs)


def gmm(ct="full", **kwargs):
    return GaussianMixture(n_components=3, covariance_type=ct, random_state=0, tol=0,
                           max_iter=15, **kwargs)


def assert_same_mixture(a, b, rtol=RTOL, exact=False):
    names = ("weights_", "means_", "covariances_", "precisions_cholesky_")
    if exact:
        for name in names:
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert a.lower_bounds_ == b.lower_bounds_
        return
    assert a.n_iter_ == b.n_iter_
    for name in names:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol,
                                   atol=rtol, err_msg=name)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


def block_tasks(stream):
    return [t for t in stream.data if str(t["key"]).startswith("_block_stats")]


@pytest.mark.parametrize("ct", ["full", "diag", "tied", "spherical"])
def test_gaussian_mixture_equals_the_fit_in_memory(client, X, ct):
    dX = client.persist(da.from_array(X, chunks=(700, 2)))   # columns in two chunks
    with distributed.get_task_stream(client) as stream:
        on_dask = fit(gmm(ct), dX)
    assert_same_mixture(on_dask, fit(gmm(ct), X))
    assert on_dask.means_.dtype == np.float64
    # the E-steps ran on the workers: one task per block (5) per pass over the data
    tasks = block_tasks(stream)
    assert tasks and len(tasks) % 5 == 0
    assert {t["worker"] for t in tasks} <= set(client.scheduler_info()["workers"])


def test_weighted_mixture(client, X):
    w = np.random.RandomState(0).uniform(0, 3, size=len(X))
    dX = da.from_array(X, chunks=(1000, 3))
    in_memory = fit(gmm("full"), X, sample_weight=w)
    # weights chunked unlike X (rechunked to match), or a NumPy array
    assert_same_mixture(fit(gmm("full"), dX, sample_weight=da.from_array(w, chunks=700)),
                        in_memory)
    assert_same_mixture(fit(gmm("full"), dX, sample_weight=w), in_memory)
    # a float weighs every row alike: the unweighted fit
    assert_same_mixture(fit(gmm("diag"), dX, sample_weight=2.0), fit(gmm("diag"), X))


def test_missing_values(client, X):
    X = X.copy()
    rng = np.random.RandomState(2)
    X[rng.rand(*X.shape) < 0.1] = np.nan
    X[5] = np.nan                          # a row with nothing observed
    dX = da.from_array(X, chunks=(800, 3))
    for ct in ("full", "diag"):
        assert_same_mixture(fit(gmm(ct), dX), fit(gmm(ct), X))


def test_float32(client, X):
    X32 = X.astype(np.float32)
    on_dask = fit(gmm("full"), da.from_array(X32, chunks=(600, 3)))
    in_memory = fit(gmm("full"), X32)
    assert on_dask.means_.dtype == np.float32
    assert on_dask.lower_bounds_[0] == pytest.approx(in_memory.lower_bounds_[0], rel=RTOL)
    # the kernels read the parameters in float32: a difference of rounding in the sums
    # (by blocks) can move a parameter by one float32 ulp, and the fit by as much
    assert_same_mixture(on_dask, in_memory, rtol=1e-6)


def test_kmeans_equals_the_fit_in_memory(client, X):
    dX = client.persist(da.from_array(X + 100.0, chunks=(700, 3)))   # centred: far from 0
    for kwargs in ({"random_state": 0, "n_init": 2},
                   {"init": X[:4] + 100.0, "n_init": 1}):
        on_dask = fit(KMeans(n_clusters=4, **kwargs), dX)
        in_memory = fit(KMeans(n_clusters=4, **kwargs), X + 100.0)
        assert on_dask.n_iter_ == in_memory.n_iter_
        assert np.array_equal(on_dask.labels_, in_memory.labels_)
        np.testing.assert_allclose(on_dask.cluster_centers_, in_memory.cluster_centers_,
                                   rtol=RTOL)
        np.testing.assert_allclose(on_dask.inertia_, in_memory.inertia_, rtol=RTOL)
    w = np.random.RandomState(3).uniform(0, 2, size=len(X))
    on_dask = fit(KMeans(n_clusters=3, random_state=1), dX,
                  sample_weight=da.from_array(w, chunks=500))
    in_memory = fit(KMeans(n_clusters=3, random_state=1), X + 100.0, sample_weight=w)
    np.testing.assert_allclose(on_dask.cluster_centers_, in_memory.cluster_centers_,
                               rtol=RTOL)


def test_one_worker_and_two_give_bitwise_the_same_fit(client, X):
    """Two worker processes, and the client alone (the synchronous scheduler, its
    kernels on every core): the same bits."""
    dX = da.from_array(X, chunks=(300, 3))
    w = da.from_array(np.random.RandomState(4).uniform(0.5, 2, size=len(X)), chunks=300)
    two = fit(gmm("full"), dX, sample_weight=w)
    kmeans_two = fit(KMeans(n_clusters=3, random_state=0), dX)
    with dask.config.set(scheduler="synchronous"):
        one = fit(gmm("full"), dX, sample_weight=w)
        kmeans_one = fit(KMeans(n_clusters=3, random_state=0), dX)
    assert_same_mixture(one, two, exact=True)
    assert np.array_equal(kmeans_one.cluster_centers_, kmeans_two.cluster_centers_)
    assert kmeans_one.inertia_ == kmeans_two.inertia_
    # the sums are by blocks: another chunking is another rounding, not another fit
    other = fit(gmm("full"), dX.rechunk((1000, 3)), sample_weight=w)
    assert_same_mixture(other, two)


def test_more_rows_than_the_initialisation_sample(client):
    """More than INIT_SAMPLE_ROWS rows: initialised on a sample drawn as every source
    draws it (the same fit as Chunks of the same rows)."""
    rng = np.random.RandomState(5)
    n = INIT_SAMPLE_ROWS + 20_000
    X = np.where(rng.rand(n, 1) < 0.4, 0.0, 4.0) + rng.randn(n, 2)
    dX = client.persist(da.from_array(X, chunks=(30_000, 2)))
    model = dict(n_components=2, random_state=0, max_iter=5, tol=0)
    on_dask = fit(GaussianMixture(**model), dX)
    chunked = fit(GaussianMixture(**model), Chunks(X, chunk_size=30_000))
    assert_same_mixture(on_dask, chunked)
    on_dask = fit(KMeans(n_clusters=2, random_state=0, n_init=1), dX)
    chunked = fit(KMeans(n_clusters=2, random_state=0, n_init=1), Chunks(X, chunk_size=30_000))
    np.testing.assert_allclose(on_dask.cluster_centers_, chunked.cluster_centers_, rtol=RTOL)


def test_the_callers_array_is_left_unchanged(client, X):
    dX = da.from_array(X.copy(), chunks=(500, 1))
    name, chunks = dX.name, dX.chunks
    fit(gmm("diag"), dX)
    fit(KMeans(n_clusters=3, random_state=0, n_init=1), dX)
    assert dX.name == name and dX.chunks == chunks
    assert np.array_equal(dX.compute(), X)


def test_bad_input(client, X):
    bad = X.copy()
    bad[1234, 1] = np.inf
    with pytest.raises(ValueError, match=r"X\[1000:1500\] contains infinity"):
        GaussianMixture(n_components=2).fit(da.from_array(bad, chunks=(500, 3)))
    nan = X.copy()
    nan[10, 0] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        KMeans(n_clusters=2).fit(da.from_array(nan, chunks=(500, 3)))
    dX = da.from_array(X, chunks=(500, 3))
    for w in (np.ones(len(X) - 1), da.ones(len(X) + 1, chunks=500)):
        with pytest.raises(ValueError, match=r"sample_weight must have shape \(3000,\)"):
            GaussianMixture(n_components=2).fit(dX, sample_weight=w)
    negative = -np.ones(len(X))
    with pytest.raises(ValueError, match="negative"):
        KMeans(n_clusters=2).fit(dX, sample_weight=da.from_array(negative, chunks=700))
    with pytest.raises(ValueError, match="sums to zero"):
        GaussianMixture(n_components=2).fit(dX, sample_weight=da.zeros(len(X), chunks=700))
    with pytest.raises(ValueError, match="2-D"):
        GaussianMixture(n_components=2).fit(dX[:, 0])
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        GaussianMixture(n_components=2).fit(dX[dX[:, 0] > 0])


def test_empty_chunks_are_skipped(client, X):
    dX = da.from_array(X, chunks=((500, 500, 0, 1000, 1000), (3,)))
    assert 0 in dX.chunks[0]
    assert_same_mixture(fit(gmm("tied"), dX), fit(gmm("tied"), X))


def test_the_docstring():
    numpydoc = pytest.importorskip("numpydoc.validate")
    errors = [code for code, _ in numpydoc.validate("fastem.dask.DaskSource")["errors"]
              if code not in {"ES01", "GL01", "SA04"}]
    assert errors == []
    import doctest

    import fastem.dask

    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(fastem.dask.DaskSource, "DaskSource", globs={}):
        runner.run(test)
    assert runner.summarize(verbose=False).attempted > 0
    assert runner.summarize(verbose=False).failed == 0


def test_a_source_is_validated_once(client, X):
    source = DaskSource(da.from_array(X, chunks=(1000, 3)), allow_nan=False)
    assert (source.n_samples, source.n_features, source.dtype) == (3000, 3, np.float64)
    assert source.total_weight == 3000 and source.observed_rows == 3000
    assert [b.start for b in source.blocks()] == [0, 1000, 2000]


def test_the_tasks_sums_are_one_pairwise_tree(monkeypatch):
    """Statistics summed FAN_IN at a time in a task are summed as by one pairwise tree
    over all the blocks (so the fan-in changes no bit), and that is not the sum in order."""
    import fastem.dask as fd

    rng = np.random.RandomState(6)
    # 37 blocks' statistics, each 1000 numbers of wide range: each number's rounding
    # tells the order of its additions
    values = list(rng.standard_normal((37, 1000)) * 10.0 ** rng.randint(0, 16, (37, 1000)))
    parts = [dask.delayed(v) for v in values]
    with dask.config.set(scheduler="synchronous"):
        by_tasks = dask.compute(fd._tree_sum(parts))[0]
        monkeypatch.setattr(fd, "FAN_IN", 2)
        pairwise = dask.compute(fd._tree_sum(parts))[0]
    assert np.array_equal(by_tasks, pairwise)
    assert np.array_equal(pairwise, fd._pairwise_sum(*values))
    assert not np.array_equal(pairwise, np.add.reduce(values))     # not the sum in order


def _sequences(seed=2, n_seq=12):
    rs = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0], [3.0, 1.0], [0.0, 4.0]])
    trans = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    seqs = []
    for _ in range(n_seq):
        state, rows = 0, []
        for _ in range(rs.randint(50, 120)):
            rows.append(means[state] + rs.normal(size=2))
            state = rs.choice(3, p=trans[state])
        seqs.append(np.array(rows))
    return seqs


@pytest.mark.parametrize("ct", ["full", "diag"])
def test_gaussian_hmm_on_a_bag_equals_the_fit_in_memory(client, ct):
    from fastem import GaussianHMM
    db = pytest.importorskip("dask.bag")
    seqs = _sequences()
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    # sequences alone and an (X, lengths) pair, in 3 partitions
    items = seqs[:5] + [(np.concatenate(seqs[5:9]), lengths[5:9])] + seqs[9:]
    bag = db.from_sequence(items, npartitions=3).persist()
    got = GaussianHMM(3, covariance_type=ct, random_state=0, n_iter=30, tol=1e-8).fit(bag)
    ref = GaussianHMM(3, covariance_type=ct, random_state=0, n_iter=30, tol=1e-8).fit(
        X, lengths)
    assert got.monitor_.iter == ref.monitor_.iter
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=RTOL,
                                   atol=1e-12)
    np.testing.assert_allclose(got.monitor_.history, ref.monitor_.history, rtol=RTOL)
    with dask.config.set(scheduler="synchronous"):   # the client alone
        one = GaussianHMM(3, covariance_type=ct, random_state=0, n_iter=30,
                          tol=1e-8).fit(db.from_sequence(items, npartitions=3))
    assert np.array_equal(one.means_, got.means_)
    assert np.array_equal(one.transmat_, got.transmat_)


def test_categorical_hmm_on_a_bag_and_bad_bags(client):
    from fastem import CategoricalHMM, GaussianHMM
    db = pytest.importorskip("dask.bag")
    rs = np.random.RandomState(3)
    S = rs.randint(0, 4, size=(900, 1))
    bag = db.from_sequence([(S[:500], [200, 300]), S[500:700], S[700:]], npartitions=2)
    got = CategoricalHMM(3, random_state=0, n_iter=20).fit(bag)
    ref = CategoricalHMM(3, random_state=0, n_iter=20).fit(S, [200, 300, 200, 200])
    np.testing.assert_allclose(got.emissionprob_, ref.emissionprob_, rtol=RTOL)
    np.testing.assert_allclose(got.transmat_, ref.transmat_, rtol=RTOL)
    seqs = _sequences(n_seq=3)
    with pytest.raises(ValueError, match="lengths is for an array"):
        GaussianHMM(2).fit(db.from_sequence(seqs), lengths=[10])
    with pytest.raises(ValueError, match="different numbers of features"):
        GaussianHMM(2).fit(db.from_sequence([seqs[0], seqs[1][:, :1]], npartitions=2))
    with pytest.raises(ValueError, match="is empty"):
        GaussianHMM(2).fit(db.from_sequence([seqs[0], seqs[1][:0]], npartitions=1))
    bad = S[:100].copy()
    bad[5] = 9
    with pytest.raises(ValueError):
        CategoricalHMM(3, n_features=4).fit(db.from_sequence([bad], npartitions=1))
