"""Every bad input gets a clear error naming the argument; odd layouts give the same fit."""

import re
import sys
import textwrap

import numpy as np
import pytest
from conftest import make_blobs, rel_err, run_isolated

from fastem import GaussianMixture, KMeans, NotFittedError, kmeans_plusplus
from fastem._validation import check_array

X = make_blobs(n=200, d=3, seed=1)
ESTIMATORS = [lambda **kw: GaussianMixture(2, random_state=0, **kw),
              lambda **kw: KMeans(2, random_state=0, **kw)]


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.where(np.arange(600).reshape(200, 3) == 7, np.inf, X), ValueError, "infinity"),
        (np.where(np.arange(600).reshape(200, 3) == 7, -np.inf, X), ValueError, "infinity"),
        (X[:, 0], ValueError, "X must be a 2-D array.*Reshape your data"),
        (X.reshape(200, 3, 1), ValueError, "X must be a 2-D array.*3-D"),
        (np.empty((0, 3)), ValueError, r"X has 0 sample\(s\)"),
        (np.empty((10, 0)), ValueError, r"X has 0 feature\(s\)"),
        (X[:1], ValueError, "n_samples"),
        (X.astype(np.complex128), ValueError, "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), TypeError, "X must be numeric"),
        (np.array([[{}, 1], [2, 3], [4, 5]], dtype=object), TypeError, "X must be numeric"),
    ],
)
def test_bad_X(make, bad, error, match):
    with pytest.raises(error, match=match):
        make().fit(bad)


def test_huge_finite_values_are_not_mistaken_for_inf():
    big = np.full((10, 2), 1e308)  # their sum overflows, the values do not
    np.testing.assert_array_equal(check_array(big), big)
    with pytest.raises(ValueError, match="infinity"):
        check_array(np.r_[big, [[np.inf, 0]]])


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize(
    "weights, error, match",
    [
        (-np.ones(200), ValueError, "sample_weight contains negative"),
        (np.r_[np.ones(199), np.nan], ValueError, "sample_weight contains NaN"),
        (np.r_[np.ones(199), np.inf], ValueError, "sample_weight contains NaN or infinity"),
        (np.ones(199), ValueError, r"sample_weight must have shape \(200,\)"),
        (np.ones((200, 1)), ValueError, "sample_weight must have shape"),
        (np.zeros(200), ValueError, "sample_weight sums to zero"),
        (np.ones(200) * 1j, TypeError, "sample_weight has complex dtype"),
        (np.array(["a"] * 200), TypeError, "sample_weight must be numeric"),
    ],
)
def test_bad_sample_weight(make, weights, error, match):
    with pytest.raises(error, match=match):
        make().fit(X, sample_weight=weights)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_components=0), ValueError, "n_components must be >= 1"),
        (dict(n_components=2.5), TypeError, "n_components must be an integer"),
        (dict(covariance_type="ful"), ValueError, "covariance_type must be one of"),
        (dict(init_params="kmeans+"), ValueError, "init_params must be one of"),
        (dict(tol=-1.0), ValueError, "tol must be"),
        (dict(reg_covar=-1e-6), ValueError, "reg_covar must be"),
        (dict(max_iter=-1), ValueError, "max_iter must be"),
        (dict(n_init=0), ValueError, "n_init must be"),
        (dict(n_threads=0), ValueError, "n_threads=0 is invalid"),
        (dict(weights_init=[0.5, 0.5, 0.0]), ValueError,
         r"'weights' should have the shape of \(2,\), but got \(3,\) \(weights_init\)"),
        (dict(weights_init=[0.7, 0.7]), ValueError, "should be normalized.*weights_init"),
        (dict(weights_init=[1.5, -0.5]), ValueError,
         r"should be in the range \[0, 1\].*weights_init"),
        (dict(means_init=np.zeros((2, 2))), ValueError,
         r"should have the shape of \(2, 3\), but got \(2, 2\) \(means_init\)"),
        (dict(means_init=np.full((2, 3), np.nan)), ValueError, "means_init contains NaN"),
        (dict(precisions_init=np.ones((2, 3))), ValueError,
         r"'full precision' should have the shape of \(2, 3, 3\).*precisions_init"),
        (dict(precisions_init=np.tile(-np.eye(3), (2, 1, 1))), ValueError,
         "precisions_init.*component 0.*positive definite"),
        (dict(precisions_init=np.tile(np.triu(np.ones((3, 3))), (2, 1, 1))), ValueError,
         "precisions_init.*symmetric"),
        (dict(covariance_type="diag", precisions_init=-np.ones((2, 3))), ValueError,
         "positive.*precisions_init"),
        (dict(covariance_type="tied", precisions_init=np.zeros((3, 3))), ValueError,
         "precisions_init must be positive definite"),
        (dict(covariance_type="spherical", precisions_init=np.ones((3,))), ValueError,
         r"should have the shape of \(2,\).*precisions_init"),
        (dict(n_components=300), ValueError, "n_samples >= n_components"),
        (dict(callback=3), TypeError, "callback must be callable"),
    ],
)
def test_bad_gaussian_mixture_parameters(params, error, match):
    params = {"n_components": 2, **params}
    with pytest.raises(error, match=match):
        GaussianMixture(**params).fit(X)


def near_singular(seed):
    """A rank-2 3 x 3 matrix B B^T whose smallest eigenvalue is rounding noise."""
    B = np.random.RandomState(seed).randn(3, 2)
    return (B @ B.T + (B @ B.T).T) / 2


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_precisions_init_singular_to_working_precision_is_refused(seed):
    """eigvalsh finds these positive (the old test), but no usable Cholesky factor of
    them exists (seeds 1, 5: numpy's raw LinAlgError) or it is rounding noise (seed 0).
    One test decides positive definiteness everywhere: a clear ValueError."""
    assert np.linalg.eigvalsh(near_singular(seed))[0] > 0
    precisions = np.stack([near_singular(seed), np.eye(3)])
    with pytest.raises(ValueError, match=r"precisions_init \(component 0\) must be "
                                         "positive definite"):
        GaussianMixture(2, precisions_init=precisions).fit(X)
    with pytest.raises(ValueError, match="precisions_init must be positive definite"):
        GaussianMixture(2, covariance_type="tied",
                        precisions_init=near_singular(seed)).fit(X)


def test_a_fitted_models_precisions_are_accepted_as_precisions_init():
    """The other side of the test: a component collapsed onto a line, in data of
    variance 1e4, has covariance eigenvalues 1e-6 (reg_covar) and 2e4. Ill-conditioned
    but positive definite to working precision: refitting from it must work."""
    rng = np.random.RandomState(0)
    line = np.array([500.0, 500.0]) + rng.randn(100, 1) * 100
    data = np.vstack([rng.randn(300, 2) * 100, line])
    gm = GaussianMixture(2, random_state=0).fit(data)
    smallest = min(np.linalg.eigvalsh(c)[0] for c in gm.covariances_)
    assert smallest < 2e-6
    again = GaussianMixture(2, weights_init=gm.weights_, means_init=gm.means_,
                            precisions_init=gm.precisions_, max_iter=3).fit(data)
    assert np.isfinite(again.score(data))


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_threads=0), ValueError, "n_threads=0 is invalid"),
        (dict(n_threads=-10**6), ValueError, "n_threads=-1000000 would leave no thread"),
        (dict(n_threads=1.5), TypeError, "n_threads must be None or an integer"),
        (dict(n_local_trials=0), ValueError, "n_local_trials must be >= 1"),
        (dict(n_local_trials=-1), ValueError, "n_local_trials must be >= 1"),
        (dict(n_local_trials=2.0), TypeError, "n_local_trials must be an integer"),
    ],
)
def test_bad_kmeans_plusplus_parameters(params, error, match):
    with pytest.raises(error, match=match):
        kmeans_plusplus(X, 3, random_state=0, **params)
    centers, indices = kmeans_plusplus(X, 3, random_state=0, n_local_trials=1, n_threads=1)
    np.testing.assert_array_equal(centers, X[indices])


def test_big_endian_float32_is_computed_as_float32():
    native = X.astype(np.float32)
    swapped = X.astype(">f4")
    assert check_array(swapped).dtype == np.dtype(np.float32)
    np.testing.assert_array_equal(check_array(swapped), native)
    km, km_ref = KMeans(3, random_state=0).fit(swapped), KMeans(3, random_state=0).fit(native)
    assert km.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(km.cluster_centers_, km_ref.cluster_centers_)
    assert km.inertia_ == km_ref.inertia_
    np.testing.assert_array_equal(km.transform(swapped), km_ref.transform(native))
    gm = GaussianMixture(3, random_state=0).fit(swapped)
    gm_ref = GaussianMixture(3, random_state=0).fit(native)
    np.testing.assert_array_equal(gm.means_, gm_ref.means_)
    np.testing.assert_array_equal(gm.score_samples(swapped), gm_ref.score_samples(native))
    # float32 computations: not the float64 fit
    assert not np.array_equal(gm.means_, GaussianMixture(3, random_state=0).fit(X).means_)


def test_kmeans_inertia_is_never_silently_infinite():
    """float32 rows near 1e38: their squares overflow float32, so the fit is computed in
    float64 and gives the true (finite) inertia, in float32 centers."""
    rng = np.random.RandomState(0)
    big = (rng.rand(200, 2) * 1e37 + 1e38) * np.where(np.arange(200) < 100, -1, 1)[:, None]
    big32 = big.astype(np.float32)
    reference = KMeans(2, random_state=0).fit(big32.astype(np.float64))
    km = KMeans(2, random_state=0).fit(big32)
    assert np.isfinite(km.inertia_)
    assert rel_err(km.inertia_, reference.inertia_) < 1e-6
    assert km.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(km.labels_, reference.labels_)


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="needs RLIMIT_AS (Linux) to bound the subprocess's memory")
def test_sizes_are_checked_before_allocating():
    """Parameter arrays that cannot fit in memory are refused, naming n_components or
    n_features, before anything of that size is allocated. A subprocess with a 6 GiB
    address-space limit, so that a regression fails with MemoryError instead of
    exhausting the machine, and with physical memory reported as 16 GiB."""
    code = textwrap.dedent("""
        import resource, tracemalloc
        import numpy as np, fastem, fastem._validation
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        fastem._validation.physical_memory = lambda: 16 << 30
        X = np.random.RandomState(0).randn(50, 2)
        wide = np.random.RandomState(0).rand(4, 100_000)
        S = np.arange(50).reshape(-1, 1) % 3
        cases = [
            lambda: fastem.GaussianHMM(10**9).fit(X),
            lambda: fastem.CategoricalHMM(10**9).fit(S),
            lambda: fastem.CategoricalHMM(2).fit(np.array([[0], [10**9]])),
            lambda: fastem.GaussianHMM(3, "full").fit(wide),
            lambda: fastem.GaussianMixture(2).fit(wide),
        ]
        tracemalloc.start()
        for case in cases:
            tracemalloc.reset_peak()
            try:
                case()
                print("no error")
            except Exception as exc:
                print(type(exc).__name__, exc, "| peak", tracemalloc.get_traced_memory()[1])
        # far more symbols than samples is suspicious but legal, when it fits
        m = fastem.CategoricalHMM(2, n_iter=2, random_state=0).fit(np.array([[0], [10**5]]))
        print("n_features", m.n_features)
    """)
    run = run_isolated(code, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    expected = [
        r"n_components=1000000000 must be at most the number of samples \(50\)",
        r"n_components=1000000000 .*transmat_.*physical memory \(16 GiB\); reduce "
        "n_components",
        r"n_features=1000000001 .*emissionprob_.*physical memory \(16 GiB\); reduce "
        "n_components or n_features",
        r"n_features=100000 .*covars_: n_components x n_features x n_features",
        r"covariance_type='full' with n_components=2 and 100000 features .*physical memory",
    ]
    assert len(lines) == len(expected) + 1, run.stdout
    for line, pattern in zip(lines, expected):
        assert line.startswith("ValueError"), line
        assert re.search(pattern, line), line
        assert int(line.rsplit("| peak", 1)[1]) < 16 << 20, line     # nothing big
    assert lines[-1] == "n_features 100001"


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_clusters=0), ValueError, "n_clusters must be >= 1"),
        (dict(n_clusters=500), ValueError, "n_clusters=500"),
        (dict(init="kmeans"), ValueError, "init must be"),
        (dict(init=np.zeros((3, 3))), ValueError, r"init must have shape \(2, 3\)"),
        (dict(n_init=0), ValueError, "n_init must be"),
        (dict(max_iter=0), ValueError, "max_iter must be"),
        (dict(tol=-1.0), ValueError, "tol must be"),
    ],
)
def test_bad_kmeans_parameters(params, error, match):
    params = {"n_clusters": 2, **params}
    with pytest.raises(error, match=match):
        KMeans(**params).fit(X)


def test_nan_is_refused_where_missing_values_are_not_supported():
    holes = np.where(np.arange(600).reshape(200, 3) == 7, np.nan, X)
    with pytest.raises(ValueError, match="X contains NaN"):
        KMeans(2).fit(holes)
    km = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X contains NaN"):
        km.predict(holes)


@pytest.mark.parametrize("make", ESTIMATORS)
def test_predict_before_fit_and_feature_mismatch(make):
    est = make()
    for method in ("predict", "score"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(est, method)(X)
    est.fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but .* expecting 3 features"):
        est.predict(X[:, :2])


def _layouts(A):
    yield "int64", np.rint(A * 10).astype(np.int64)
    yield "fortran", np.asfortranarray(A)
    yield "strided", np.repeat(A, 2, axis=1)[:, ::2]
    readonly = A.copy()
    readonly.setflags(write=False)
    yield "readonly", readonly
    yield "big-endian", A.astype(">f8")
    yield "list", A.tolist()


@pytest.mark.parametrize("make", ESTIMATORS)
def test_layouts_give_the_same_answer(make):
    reference = {}
    for name, arr in _layouts(X):
        base = np.rint(X * 10) if name.startswith("int") else X
        expected = reference.setdefault(name[:3], make().fit(np.ascontiguousarray(base)))
        est = make().fit(arr)
        for attr in ("means_", "cluster_centers_"):
            if hasattr(est, attr):
                np.testing.assert_array_equal(getattr(est, attr), getattr(expected, attr))


def test_input_is_never_modified():
    for name, arr in _layouts(X):
        if name == "list":
            continue
        before = np.array(arr, copy=True)
        GaussianMixture(2, random_state=0).fit(arr).predict_proba(arr)
        KMeans(2, random_state=0).fit(arr).transform(arr)
        np.testing.assert_array_equal(arr, before)


def test_sample_weight_whose_sum_overflows_is_rejected():
    X = np.random.RandomState(0).standard_normal((20, 2))
    for est in (GaussianMixture(2), KMeans(2, n_init=1)):
        with pytest.raises(ValueError, match="sample_weight sums to infinity"):
            est.fit(X, sample_weight=np.full(20, 1e307))
