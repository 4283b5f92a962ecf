"""SQUAREM acceleration in the shared EM driver."""

import warnings

import numpy as np
import pytest

from fastem import ConvergenceWarning, GaussianMixture
from fastem._engine import _Squarem, run_em
from fastem.datasets import load_faithful
from fastem.mixture._gaussian import (
    GaussianParams,
    pack_unconstrained,
    precision_cholesky_from_covariances,
    unpack_unconstrained,
)

COV_TYPES = ["full", "tied", "diag", "spherical"]


def overlapping(n=1500, d=3, k=4, seed=0):
    """Overlapping components: plain EM converges slowly."""
    rs = np.random.RandomState(seed)
    centers = rs.randn(k, d) * 1.2
    labels = rs.randint(k, size=n)
    return centers[labels] + rs.randn(n, d)


def fit(X, accelerate, **kw):
    params = dict(tol=1e-11, max_iter=20000, reg_covar=0, random_state=0) | kw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(accelerate=accelerate, **params).fit(X)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("case", ["plain", "missing", "prior", "weighted"])
def test_same_optimum_in_fewer_e_steps_and_monotone(covariance_type, case):
    X = overlapping()
    sw, kw = None, {}
    if case == "missing":
        X[np.random.RandomState(1).rand(*X.shape) < 0.1] = np.nan
    if case == "prior":
        kw["prior"] = "default"
    if case == "weighted":
        sw = np.random.RandomState(2).uniform(0.2, 2.0, len(X))
    kw["covariance_type"] = covariance_type
    plain = fit(X, None, n_components=4, **kw) if sw is None else GaussianMixture(
        4, tol=1e-11, max_iter=20000, reg_covar=0, random_state=0, **kw).fit(
            X, sample_weight=sw)
    fast = GaussianMixture(4, tol=1e-11, max_iter=20000, reg_covar=0, random_state=0,
                           accelerate="squarem", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fast.fit(X, sample_weight=sw)
    assert fast.converged_
    # the same optimum (plain EM, slower, stops a little short of it)
    assert fast.lower_bound_ == pytest.approx(plain.lower_bound_, rel=1e-7)
    assert fast.lower_bound_ > plain.lower_bound_ - 1e-10
    assert fast.n_iter_ < plain.n_iter_
    bounds = np.array(fast.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert fast.n_iter_ > len(bounds) or fast.n_iter_ <= 2     # cycles of 2 or 3 E-steps
    assert fast.weights_.sum() == pytest.approx(1.0, abs=1e-12)


def test_slow_case_needs_several_times_fewer_e_steps():
    X = load_faithful()
    plain = fit(X, None, n_components=4, covariance_type="diag", tol=1e-9)
    fast = fit(X, "squarem", n_components=4, covariance_type="diag", tol=1e-9)
    assert plain.n_iter_ > 3 * fast.n_iter_
    assert fast.score(X) == pytest.approx(plain.score(X), rel=1e-8)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_every_vector_is_valid_parameters(covariance_type):
    rs = np.random.RandomState(0)
    k, d = 3, 4
    X = overlapping(d=d, k=k)
    gm = GaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(X)
    params = gm._params()
    vec = pack_unconstrained(params)
    back = unpack_unconstrained(vec, params)
    np.testing.assert_allclose(back.weights, params.weights, rtol=1e-12)
    np.testing.assert_allclose(back.means, params.means, rtol=1e-12)
    np.testing.assert_allclose(back.covariances, params.covariances, rtol=1e-10)
    np.testing.assert_allclose(back.precisions_cholesky, params.precisions_cholesky,
                               rtol=1e-9)
    n_free = k - 1      # the weights' coordinates come first
    for trial in range(40):
        step = rs.randn(vec.size) * 3
        if trial % 2:
            step[:n_free] = 0.0
        try:
            other = unpack_unconstrained(vec + step, params)
        except FloatingPointError:    # a weight shrunk more than 100-fold: refused
            assert trial % 2 == 0
            continue
        assert other.weights.sum() == pytest.approx(1.0) and (other.weights > 0).all()
        stack = other.covariances if covariance_type == "full" else (
            other.covariances[None] if covariance_type == "tied" else None)
        if stack is None:
            assert (other.covariances > 0).all()
        else:
            assert all(np.linalg.eigvalsh(c).min() > 0 for c in stack)


def test_max_iter_counts_e_steps():
    X = load_faithful()
    for max_iter in range(1, 8):
        gm = fit(X, "squarem", n_components=4, covariance_type="diag", tol=0,
                 max_iter=max_iter)
        assert gm.n_iter_ == max_iter and not gm.converged_
    seen = []
    gm = fit(X, "squarem", n_components=4, covariance_type="diag", callback=seen.append)
    assert [info.n_iter for info in seen][-1] == gm.n_iter_
    assert [info.lower_bound for info in seen] == gm.lower_bounds_
    assert np.all(np.diff([info.n_iter for info in seen]) >= 2)


def test_bad_accelerate_is_refused():
    with pytest.raises(ValueError, match="accelerate must be one of 'squarem'"):
        GaussianMixture(2, accelerate="aitken").fit(load_faithful())


# -- the driver, on toy problems ---------------------------------------------------------
class Linear:
    """A linear fixed-point map x -> A x + b (EM near its optimum), objective -|x - x*|^2
    evaluated at the point the step starts from."""

    def __init__(self, rate=0.95, bad_unpack=False):
        self.A = np.diag([rate, 0.5, 0.2])
        self.b = np.ones(3)
        self.star = np.linalg.solve(np.eye(3) - self.A, self.b)
        self.bad_unpack = bad_unpack
        self.passes = 0

    def initialize(self, rs):
        return np.zeros(3)

    def step(self, x):
        self.passes += 1
        return self.A @ x + self.b, -float(np.sum((x - self.star) ** 2))

    def pack(self, x):
        return x

    def unpack(self, v, like):
        if self.bad_unpack:
            raise FloatingPointError("not valid")
        return v


def test_squarem_converges_faster_on_a_slow_linear_map():
    slow = Linear()
    plain = run_em(slow, n_init=1, max_iter=10000, tol=1e-14, random_state=None)
    fast_problem = Linear()
    fast = run_em(fast_problem, n_init=1, max_iter=10000, tol=1e-14, random_state=None,
                  accelerate="squarem")
    assert plain.converged and fast.converged
    np.testing.assert_allclose(fast.params, slow.star, rtol=1e-6)
    assert fast_problem.passes * 5 < slow.passes
    assert fast.n_iter == fast_problem.passes


def test_invalid_extrapolation_falls_back_to_plain_em():
    problem = Linear(bad_unpack=True)
    result = run_em(problem, n_init=1, max_iter=400, tol=1e-14, random_state=None,
                    accelerate="squarem", warn=False)
    plain = run_em(Linear(), n_init=1, max_iter=400, tol=1e-14, random_state=None,
                   warn=False)
    np.testing.assert_allclose(result.params, plain.params, rtol=1e-6)
    assert np.all(np.diff(result.lower_bounds) >= 0)


def test_rejected_extrapolation_shrinks_the_step():
    class Worse(Linear):
        def unpack(self, v, like):       # always lands far away: rejected
            return v + 100.0

    problem = Worse()
    squarem = _Squarem(problem)
    x = problem.initialize(None)
    for _ in range(6):
        x, objective, used = squarem.cycle(x, 100)
    assert squarem.step_max <= 4.0
    assert objective <= -float(np.sum((x - problem.star) ** 2)) + 1e-12


def test_gaussian_params_of_unpack_are_consistent():
    params = GaussianParams(np.array([0.3, 0.7]), np.zeros((2, 2)),
                            np.array([[[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 3.0]]]),
                            None, "full")
    params.precisions_cholesky = precision_cholesky_from_covariances(params.covariances,
                                                                     "full")
    back = unpack_unconstrained(pack_unconstrained(params), params)
    prec = back.precisions_cholesky @ np.swapaxes(back.precisions_cholesky, 1, 2)
    np.testing.assert_allclose(prec @ back.covariances, np.tile(np.eye(2), (2, 1, 1)),
                               atol=1e-12)


# -- hidden Markov models -------------------------------------------------------------------
def slow_hmm_data(T=3000, seed=0):
    rs = np.random.RandomState(seed)
    trans = np.full((3, 3), 0.05) + np.eye(3) * 0.85
    means = np.array([[0.0, 0.0], [1.0, 0.5], [0.5, 1.2]])
    states = [0]
    for _ in range(T - 1):
        states.append(rs.choice(3, p=trans[states[-1]]))
    return means[states] + rs.randn(T, 2) * 0.8


def test_gaussian_hmm_squarem_same_optimum_in_half_the_e_steps():
    from fastem import GaussianHMM

    X = slow_hmm_data()
    plain = GaussianHMM(3, n_iter=5000, tol=1e-6, random_state=0).fit(X)
    fast = GaussianHMM(3, n_iter=5000, tol=1e-6, random_state=0, accelerate="squarem").fit(X)
    assert plain.monitor_.iter > 1000           # a slowly converging case
    assert fast.monitor_.iter * 1.8 < plain.monitor_.iter      # E-steps
    assert fast.score(X) == pytest.approx(plain.score(X), rel=1e-6)
    history = np.array(fast.monitor_.history)
    assert np.all(np.diff(history) >= 0) and len(history) < fast.monitor_.iter
    np.testing.assert_allclose(fast.transmat_.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_gaussian_hmm_squarem_keeps_zeros_and_constraints(covariance_type):
    from fastem import GaussianHMM

    X = slow_hmm_data(T=600, seed=1)
    model = GaussianHMM(3, covariance_type=covariance_type, n_iter=300, tol=1e-8,
                        random_state=0, accelerate="squarem", init_params="mc")
    model.startprob_ = np.array([0.5, 0.5, 0.0])
    model.transmat_ = np.array([[0.8, 0.2, 0.0], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]])
    model.fit(X)
    assert model.startprob_[2] == 0 and model.transmat_[0, 2] == 0
    assert model.transmat_[2, 0] == 0
    assert np.all(np.linalg.eigvalsh(model.covars_) > 0)
    history = np.array(model.monitor_.history)    # min_covar: EM up to rounding
    assert np.all(np.diff(history) >= -1e-11 * np.abs(history[1:]))


def test_categorical_hmm_squarem():
    from fastem import CategoricalHMM

    X = slow_hmm_data(T=2000, seed=2)
    symbols = (X[:, :1] > 0.5).astype(int) + (X[:, 1:] > 0.5).astype(int)
    plain = CategoricalHMM(3, n_iter=5000, tol=1e-7, random_state=0).fit(symbols)
    fast = CategoricalHMM(3, n_iter=5000, tol=1e-7, random_state=0,
                          accelerate="squarem").fit(symbols)
    assert fast.monitor_.iter < plain.monitor_.iter
    assert fast.score(symbols) >= plain.score(symbols) - 1e-6 * abs(plain.score(symbols))
    np.testing.assert_allclose(fast.emissionprob_.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.diff(fast.monitor_.history) >= 0)
    with pytest.raises(ValueError, match="accelerate"):
        CategoricalHMM(2, accelerate="yes").fit(symbols)
