"""The kernels' safety model: labels in range whatever the values, no cancellation far
from zero, overflow rejected or handled, interrupts, fork, and thread limits."""

import multiprocessing
import sys
import textwrap
import warnings

import numpy as np
import pytest
from conftest import run_isolated

from fastem import GaussianHMM, GaussianMixture, KMeans, kmeans_plusplus
from fastem._kernels import _kmeans, _parallel
from fastem.exceptions import ConvergenceWarning


def separated(n=3000, d=3, k=4, seed=0):
    """Well-separated clusters: centers 30 apart or more, unit variance."""
    rng = np.random.RandomState(seed)
    centers = 30.0 * rng.permutation(np.eye(max(k, d))[:k, :d] * np.arange(1, k + 1)[:, None]
                                     if k <= d else np.arange(k)[:, None] * np.ones(d))
    labels = rng.randint(k, size=n)
    return centers[labels] + rng.standard_normal((n, d)), labels


@pytest.mark.parametrize("dtype,offset", [(np.float64, 1e9), (np.float32, 1e4)])
def test_kmeans_far_from_zero_equals_kmeans_at_zero(dtype, offset):
    X, _ = separated()
    at_zero = KMeans(4, random_state=0).fit(X.astype(dtype))
    far = KMeans(4, random_state=0).fit((X + offset).astype(dtype))
    np.testing.assert_array_equal(far.labels_, at_zero.labels_)
    np.testing.assert_allclose(far.cluster_centers_.astype(np.float64),
                               at_zero.cluster_centers_.astype(np.float64) + offset,
                               rtol=1e-6)
    np.testing.assert_array_equal(far.predict((X + offset).astype(dtype)), at_zero.labels_)
    assert far.n_iter_ == at_zero.n_iter_


def test_kmeans_plusplus_far_from_zero_picks_the_same_rows():
    X, _ = separated(n=2000, d=4, k=6, seed=3)
    _, at_zero = kmeans_plusplus(X, 6, random_state=1)
    _, far = kmeans_plusplus(X + 1e10, 6, random_state=1)
    np.testing.assert_array_equal(far, at_zero)


def test_mixture_and_hmm_initialisation_far_from_zero():
    X, _ = separated(n=2000, d=2, k=3, seed=5)
    offset = 1e12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm0 = GaussianMixture(3, random_state=0).fit(X)
        gm1 = GaussianMixture(3, random_state=0).fit(X + offset)
    np.testing.assert_allclose(gm1.means_ - offset, gm0.means_, atol=1e-2)
    np.testing.assert_allclose(gm1.covariances_, gm0.covariances_, rtol=1e-2, atol=1e-3)
    hmm0 = GaussianHMM(3, n_iter=0, random_state=0).fit(X)   # initialisation only
    hmm1 = GaussianHMM(3, n_iter=0, random_state=0).fit(X + offset)
    np.testing.assert_allclose(hmm1.means_ - offset, hmm0.means_, atol=1e-2)


@pytest.mark.parametrize("hand_vectorised", [True, False])
@pytest.mark.parametrize("n_clusters", [3, 8, 11])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nearest_center_labels_stay_in_range_when_distances_overflow(hand_vectorised,
                                                                     n_clusters, dtype):
    rng = np.random.RandomState(0)
    big = 1e200 if dtype == np.float64 else 1e30
    X = (rng.standard_normal((700, 3)) * big).astype(dtype)
    centers = (rng.standard_normal((n_clusters, 3)) * big).astype(dtype)
    labels = np.full(700, -1, dtype=np.intc)
    sums = np.zeros((n_clusters, 3))
    weight = np.zeros(n_clusters)
    previous = _kmeans.use_hand_vectorised(hand_vectorised)
    try:
        for want_sums in (True, False):
            inertia = _kmeans.lloyd_pass(X, np.empty(0), centers, labels, sums, weight,
                                         np.empty(0), want_sums, 2)
            assert labels.min() >= 0 and labels.max() < n_clusters
            assert np.isnan(inertia)   # the overflow is reported, not hidden
    finally:
        _kmeans.use_hand_vectorised(previous)


@pytest.mark.parametrize("make", [
    lambda: KMeans(3, n_init=1, random_state=0),
    lambda: GaussianMixture(3, random_state=0),
    lambda: GaussianHMM(3, random_state=0),
])
def test_data_whose_squares_overflow_is_rejected(make):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((500, 3)) * 1e155
    with pytest.raises(ValueError, match="overflow float64"):
        make().fit(X)
    with pytest.raises(ValueError, match="overflow float64"):
        kmeans_plusplus(X, 3, random_state=0)


def test_weights_that_overflow_the_inertia_are_rejected():
    X, _ = separated(n=200)
    with pytest.raises(ValueError, match="sample_weight"):
        KMeans(3, random_state=0).fit(X, sample_weight=np.full(200, 1e305))


def test_float32_near_its_largest_value_is_computed_in_float64():
    rng = np.random.RandomState(0)
    X = (rng.uniform(0, 3e38, size=(600, 2))).astype(np.float32)
    km = KMeans(3, random_state=0).fit(X)
    assert np.isfinite(km.inertia_) and km.inertia_ > 0
    assert km.cluster_centers_.dtype == np.float32
    assert np.all(np.isfinite(km.cluster_centers_))
    reference = KMeans(3, random_state=0).fit(X.astype(np.float64))
    np.testing.assert_array_equal(km.labels_, reference.labels_)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert np.isclose(-km.score(X), km.inertia_, rtol=1e-6)


def test_predict_with_centers_whose_distances_overflow_raises():
    km = KMeans(2, random_state=0).fit(np.array([[0.0], [1.0], [10.0], [11.0]]))
    km.cluster_centers_ = np.array([[-1e300], [1e300]])
    with pytest.raises(ValueError, match="overflow"):
        km.predict(np.array([[0.5], [1e300]]))


def test_threadpool_limits_makes_fastem_use_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    assert _parallel.openmp_enabled()
    with threadpoolctl.threadpool_limits(1):
        assert _parallel.effective_n_threads(None) == 1
    code = textwrap.dedent("""
        import numpy as np, threadpoolctl
        from fastem import GaussianMixture
        from fastem._kernels import _parallel
        _parallel.serial_work(0)
        X = np.random.RandomState(0).standard_normal((5000, 3))
        with threadpoolctl.threadpool_limits(1):
            GaussianMixture(2, max_iter=3, random_state=0).fit(X)
        print("limited", _parallel.threads_started())
        GaussianMixture(2, max_iter=3, random_state=0).fit(X)
        print("default", _parallel.threads_started())
    """)
    out = run_isolated(code)
    assert out.returncode == 0, out.stderr
    assert "limited False" in out.stdout
    assert ("default True" in out.stdout) == (_parallel.usable_cpus() > 1)


def test_small_fits_run_serially():
    code = textwrap.dedent("""
        from fastem import GaussianMixture, KMeans
        from fastem._kernels import _parallel
        from fastem.datasets import load_faithful
        X = load_faithful()
        for ct in ("full", "tied", "diag", "spherical"):
            GaussianMixture(3, covariance_type=ct, n_init=2, random_state=0).fit(X).bic(X)
        KMeans(3, random_state=0).fit(X).predict(X)
        print("threads", _parallel.threads_started())
    """)
    out = run_isolated(code)
    assert out.returncode == 0, out.stderr
    assert "threads False" in out.stdout


def test_n_threads_beyond_any_machine_is_capped():
    assert 1 <= _parallel.effective_n_threads(2**40) <= max(64, _parallel.usable_cpus())
    X, _ = separated(n=300)
    KMeans(3, random_state=0, n_threads=2**40).fit(X)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="no fork() on this platform")
def test_forked_child_runs_serially_and_does_not_hang():
    code = textwrap.dedent("""
        import multiprocessing as mp, warnings
        import numpy as np
        from fastem import GaussianMixture
        from fastem._kernels import _parallel
        _parallel.serial_work(0)
        X = np.random.RandomState(0).standard_normal((20000, 4))
        fit = lambda: GaussianMixture(3, max_iter=5, tol=0, random_state=0).fit(X).means_

        def child(queue):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                means = fit()
            queue.put((means, [str(w.message) for w in caught]))

        parent = fit()
        assert _parallel.threads_started()
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        p = ctx.Process(target=child, args=(queue,))
        p.start()
        means, messages = queue.get(timeout=60)
        p.join(60)
        assert p.exitcode == 0, p.exitcode
        assert np.array_equal(means, parent)       # serial gives the same bits
        assert any("forked" in m for m in messages), messages
        print("ok")
    """)
    out = run_isolated(code, timeout=90)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


# os.kill(pid, SIGINT) terminates the process on Windows instead of signalling it
posix_signals = pytest.mark.skipif(sys.platform == "win32",
                                   reason="SIGINT cannot be sent to oneself on Windows")

INTERRUPTED_FIT = """
import os, signal, sys, threading, time
import numpy as np
from fastem import GaussianMixture
X = np.random.RandomState(0).standard_normal((200_000, 8))
gm = GaussianMixture(4, covariance_type="full", max_iter=10_000, tol=0, random_state=0,
                     init_params="random")
{setup}
def interrupt():
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=interrupt, daemon=True).start()
{fit}
"""


@posix_signals
def test_ctrl_c_interrupts_a_fit_and_leaves_the_estimator_unfitted():
    code = INTERRUPTED_FIT.format(setup="", fit=textwrap.dedent("""
        try:
            gm.fit(X)
        except KeyboardInterrupt:
            print("interrupted", hasattr(gm, "means_"))
    """))
    out = run_isolated(code)
    assert out.returncode == 0, out.stderr
    assert "interrupted False" in out.stdout


@posix_signals
def test_a_sigint_handler_that_does_not_raise_gives_the_uninterrupted_result():
    """The interrupted pass is run again, so the result is the same bits."""
    # enough iterations that the fit is still running when the signal comes, 0.5 s in
    # (40 took 0.26 s on a quiet machine, and then the signal came after the fit)
    setup = textwrap.dedent("""
        seen = []
        signal.signal(signal.SIGINT, lambda *args: seen.append(1))
        gm.set_params(max_iter=300)
    """)
    fit = textwrap.dedent("""
        gm.fit(X)
        reference = GaussianMixture(4, covariance_type="full", max_iter=300, tol=0,
                                    random_state=0, init_params="random").fit(X)
        print("handled", len(seen), np.array_equal(gm.means_, reference.means_),
              gm.lower_bounds_ == reference.lower_bounds_)
    """)
    out = run_isolated(INTERRUPTED_FIT.format(setup=setup, fit=fit))
    assert out.returncode == 0, out.stderr
    assert "handled 1 True True" in out.stdout


@posix_signals
def test_ctrl_c_stops_a_kernel_pass_between_blocks():
    """A SIGINT sent once the pass has written its first labels stops it there: the last
    rows are never labelled (an uninterruptible pass would label them all first)."""
    code = textwrap.dedent("""
        import os, signal, threading
        import numpy as np
        from fastem._kernels import _kmeans
        rng = np.random.RandomState(0)
        X = rng.standard_normal((2_000_000, 4))
        centers = np.ascontiguousarray(X[:64])
        labels = np.full(len(X), -1, dtype=np.intc)

        def interrupt_once_started():
            while labels[0] == -1:
                pass
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_once_started, daemon=True).start()
        try:
            _kmeans.lloyd_pass(X, np.empty(0), centers, labels, np.empty((0, 0)),
                               np.empty(0), np.empty(0), False, 2)
            print("not interrupted")
        except KeyboardInterrupt:
            print("interrupted; last row labelled:", labels[-1] != -1,
                  "; rows labelled:", int((labels != -1).sum()))
    """)
    out = run_isolated(code)
    assert out.returncode == 0, out.stderr
    assert "interrupted; last row labelled: False" in out.stdout, out.stdout
