"""GaussianHMM and CategoricalHMM: hmmlearn's iterates, Viterbi paths and API; EM's
invariants; recovery; long sequences; thread determinism; bad input."""

import copy
import textwrap

import numpy as np
import pytest
from conftest import rel_err, run_isolated

import fastem
from fastem.hmm import ConvergenceMonitor
from fastem.hmm._gaussian_hmm import _check_covars

try:
    from hmmlearn import hmm as hmm_ref
except ImportError:   # hmmlearn has no wheels for Python 3.14 yet (see the test extra)
    hmm_ref = None
needs_hmmlearn = pytest.mark.skipif(hmm_ref is None, reason="hmmlearn is not installed")

K, D = 3, 2
STARTPROB = np.array([0.5, 0.3, 0.2])
TRANSMAT = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
MEANS = np.array([[0.0, 0.0], [3.0, 3.0], [-3.0, 2.0]])
COVARS = {
    "diag": np.array([[1.0, 0.5], [0.7, 1.2], [0.4, 0.4]]),
    "full": np.array([[[1.0, 0.3], [0.3, 0.6]], [[0.8, -0.2], [-0.2, 1.1]],
                      [[0.5, 0.0], [0.0, 0.5]]]),
    "spherical": np.array([1.0, 0.6, 0.9]),
    "tied": np.array([[1.0, 0.2], [0.2, 0.7]]),
}
LENGTHS = [400, 700, 300, 600]


def set_gaussian(model, covariance_type, means=MEANS):
    model.startprob_ = STARTPROB.copy()
    model.transmat_ = TRANSMAT.copy()
    model.means_ = means.copy()
    model.covars_ = COVARS[covariance_type].copy()
    return model


def gaussian_data(covariance_type="full", n=2000, seed=3):
    gen = set_gaussian(fastem.GaussianHMM(K, covariance_type=covariance_type), covariance_type)
    return gen.sample(n, random_state=seed)


def internal_covars(model, covariance_type):
    cv = np.asarray(model._covars_)
    return cv[:, 0] if covariance_type == "spherical" and cv.ndim == 2 else cv


# ------------------------------------------------------------------ equal to hmmlearn
@needs_hmmlearn
@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_gaussian_iterates_equal_hmmlearn(covariance_type):
    X, _ = gaussian_data(covariance_type)
    # start away from the truth so that the 10 iterations move every parameter
    start = MEANS + np.array([0.7, -0.5])
    kwargs = dict(covariance_type=covariance_type, n_iter=10, tol=-np.inf, init_params="",
                  means_prior=0.5, means_weight=0.1, covars_prior=0.02)
    ref = set_gaussian(hmm_ref.GaussianHMM(K, **kwargs), covariance_type, start)
    ours = set_gaussian(fastem.GaussianHMM(K, **kwargs), covariance_type, start)
    ref.fit(X, LENGTHS)
    ours.fit(X, LENGTHS)
    assert ours.monitor_.iter == 10
    assert rel_err(list(ours.monitor_.history), list(ref.monitor_.history)) < 1e-7
    assert rel_err(ours.startprob_, ref.startprob_) < 1e-7
    assert rel_err(ours.transmat_, ref.transmat_) < 1e-7
    assert rel_err(ours.means_, ref.means_) < 1e-7
    assert rel_err(internal_covars(ours, covariance_type),
                   internal_covars(ref, covariance_type)) < 1e-7
    if covariance_type != "spherical":   # hmmlearn's spherical covars_ has a wrong shape
        assert rel_err(ours.covars_, ref.covars_) < 1e-7
    assert rel_err(ours.score(X, LENGTHS), ref.score(X, LENGTHS)) < 1e-10
    _, post = ours.score_samples(X, LENGTHS)
    assert np.max(np.abs(post - ref.predict_proba(X, LENGTHS))) < 1e-9
    lp, path = ours.decode(X, LENGTHS)
    ref_lp, ref_path = ref.decode(X, LENGTHS)
    np.testing.assert_array_equal(path, ref_path)
    assert rel_err(lp, ref_lp) < 1e-10


@needs_hmmlearn
@pytest.mark.parametrize("seed", [0, 3, 4])
@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_gaussian_default_fit_equals_hmmlearn(covariance_type, seed):
    """Same seed: the same random start, k-means means and covariance start (spherical:
    the mean of every entry of the data's covariance, as hmmlearn), so the same iterates."""
    X, _ = gaussian_data(covariance_type)
    kwargs = dict(covariance_type=covariance_type, n_iter=8, random_state=seed)
    ref = hmm_ref.GaussianHMM(K, **kwargs).fit(X, LENGTHS)
    ours = fastem.GaussianHMM(K, **kwargs).fit(X, LENGTHS)
    assert rel_err(list(ours.monitor_.history), list(ref.monitor_.history)) < 1e-7
    assert rel_err(ours.startprob_, ref.startprob_) < 1e-7
    assert rel_err(ours.transmat_, ref.transmat_) < 1e-7
    assert rel_err(ours.means_, ref.means_) < 1e-7
    assert rel_err(internal_covars(ours, covariance_type),
                   internal_covars(ref, covariance_type)) < 1e-7
    assert ours.monitor_.converged == ref.monitor_.converged
    assert ours.monitor_.iter == ref.monitor_.iter


@needs_hmmlearn
@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_gaussian_initialisation_equals_hmmlearn(covariance_type):
    """n_iter=0 leaves the initial parameters: equal to hmmlearn's for the same seed."""
    X, _ = gaussian_data(covariance_type, n=600)
    X = X @ np.array([[1.0, -0.8], [0.3, 0.5]])     # correlated, unequal variances
    kwargs = dict(covariance_type=covariance_type, n_iter=0, random_state=4)
    ref = hmm_ref.GaussianHMM(K, **kwargs).fit(X)
    ours = fastem.GaussianHMM(K, **kwargs).fit(X)
    assert rel_err(internal_covars(ours, covariance_type),
                   internal_covars(ref, covariance_type)) < 1e-12
    assert rel_err(ours.means_, ref.means_) < 1e-12
    np.testing.assert_array_equal(ours.startprob_, ref.startprob_)
    np.testing.assert_array_equal(ours.transmat_, ref.transmat_)


def categorical_pair(n_iter=10, **kwargs):
    rng = np.random.RandomState(0)
    emission = rng.dirichlet(np.ones(5), size=K)
    models = []
    for cls in (hmm_ref.CategoricalHMM if hmm_ref else None, fastem.CategoricalHMM):
        if cls is None:
            models.append(None)
            continue
        m = cls(K, n_iter=n_iter, tol=-np.inf, init_params="", **kwargs)
        m.startprob_, m.transmat_, m.emissionprob_ = STARTPROB.copy(), TRANSMAT.copy(), emission
        models.append(m)
    return models


@needs_hmmlearn
def test_categorical_iterates_equal_hmmlearn():
    ref, ours = categorical_pair(emissionprob_prior=1.2, transmat_prior=1.1)
    X, _ = ours.sample(2000, random_state=5)
    start = np.random.RandomState(9).dirichlet(np.ones(5), size=K)
    ref.emissionprob_ = start
    ours.emissionprob_ = start
    ref.fit(X, LENGTHS)
    ours.fit(X, LENGTHS)
    assert rel_err(list(ours.monitor_.history), list(ref.monitor_.history)) < 1e-7
    assert rel_err(ours.emissionprob_, ref.emissionprob_) < 1e-7
    assert rel_err(ours.transmat_, ref.transmat_) < 1e-7
    assert rel_err(ours.startprob_, ref.startprob_) < 1e-7
    np.testing.assert_array_equal(ours.predict(X, LENGTHS), ref.predict(X, LENGTHS))
    assert rel_err(ours.decode(X, LENGTHS)[0], ref.decode(X, LENGTHS)[0]) < 1e-10


@needs_hmmlearn
def test_categorical_default_fit_equals_hmmlearn():
    _, gen = categorical_pair()
    X, _ = gen.sample(3000, random_state=1)
    ref = hmm_ref.CategoricalHMM(4, n_iter=6, random_state=11).fit(X, [1000, 2000])
    ours = fastem.CategoricalHMM(4, n_iter=6, random_state=11).fit(X, [1000, 2000])
    assert ours.n_features == ref.n_features == 5
    assert rel_err(list(ours.monitor_.history), list(ref.monitor_.history)) < 1e-7
    assert rel_err(ours.emissionprob_, ref.emissionprob_) < 1e-7


# ------------------------------------------------------------------ EM's invariants
@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_log_likelihood_never_decreases(covariance_type):
    X, _ = gaussian_data(covariance_type, n=3000, seed=8)
    m = fastem.GaussianHMM(4, covariance_type=covariance_type, n_iter=40, tol=-np.inf,
                           covars_prior=0.0, random_state=2).fit(X, [1000, 1000, 1000])
    hist = np.array(m.monitor_.history)
    assert hist.size == 40
    assert np.all(np.diff(hist) >= -1e-9 * np.abs(hist[1:]))
    assert np.allclose(m.transmat_.sum(axis=1), 1) and np.isclose(m.startprob_.sum(), 1)
    for cv in m.covars_:
        assert np.linalg.eigvalsh(cv)[0] > 0


def test_categorical_log_likelihood_never_decreases():
    _, gen = categorical_pair()
    X, _ = gen.sample(3000, random_state=4)
    m = fastem.CategoricalHMM(3, n_iter=30, tol=-np.inf, random_state=0).fit(X)
    assert np.all(np.diff(m.monitor_.history) >= -1e-9 * abs(m.monitor_.history[-1]))
    assert np.allclose(m.emissionprob_.sum(axis=1), 1)


def test_recovers_generating_parameters_on_a_long_sequence():
    gen = set_gaussian(fastem.GaussianHMM(K, covariance_type="full"), "full")
    X, states = gen.sample(100_000, random_state=0)
    # k-means means and the data's covariance; uniform start and transition probabilities
    m = fastem.GaussianHMM(K, covariance_type="full", n_iter=100, tol=1e-4, random_state=1,
                           init_params="mc")
    m.startprob_, m.transmat_ = np.full(K, 1 / K), np.full((K, K), 1 / K)
    m.fit(X)
    assert m.monitor_.converged
    order = np.argsort(m.means_[:, 0] * 10 + m.means_[:, 1])
    truth = np.argsort(MEANS[:, 0] * 10 + MEANS[:, 1])
    perm = np.empty(K, dtype=int)
    perm[truth] = order
    assert np.max(np.abs(m.means_[perm] - MEANS)) < 0.03
    assert np.max(np.abs(m.covars_[perm] - COVARS["full"])) < 0.03
    assert np.max(np.abs(m.transmat_[np.ix_(perm, perm)] - TRANSMAT)) < 0.01
    # decoding recovers the hidden states of well-separated emissions
    assert np.mean(perm[m.predict(X)] == states) > 0.97 or np.mean(
        np.argsort(perm)[m.predict(X)] == states) > 0.97


def test_million_step_sequence_does_not_underflow():
    """With identical transition rows the HMM is an i.i.d. mixture, whose likelihood is a
    plain log-sum-exp per step: the scaled forward pass must match it on 10^6 steps."""
    w = np.array([0.3, 0.7])
    m = fastem.GaussianHMM(2, covariance_type="diag", init_params="")
    m.startprob_, m.transmat_ = w, np.tile(w, (2, 1))
    m.means_, m.covars_ = np.array([[-1.0], [2.0]]), np.array([[0.5], [2.0]])
    X = np.random.RandomState(0).randn(1_000_000, 1) * 2
    var = np.array([0.5, 2.0])
    logp = (np.log(w) - 0.5 * np.log(2 * np.pi * var)
            - 0.5 * (X - m.means_[:, 0]) ** 2 / var)
    top = logp.max(axis=1)
    expected = float(np.sum(top + np.log(np.exp(logp - top[:, None]).sum(axis=1))))
    score = m.score(X)
    assert np.isfinite(score) and expected < -1e6
    assert rel_err(score, expected) < 1e-9
    post = m.predict_proba(X[:200_000])
    assert np.allclose(post.sum(axis=1), 1)


def test_bitwise_identical_for_any_thread_count():
    X, _ = gaussian_data("full", n=6000, seed=2)
    lengths = [1500, 500, 2000, 1000, 1000]
    fits = [fastem.GaussianHMM(K, covariance_type="full", n_iter=5, tol=-np.inf,
                               random_state=0, n_threads=t).fit(X, lengths)
            for t in (1, 2, 4)]
    for f in fits[1:]:
        assert list(f.monitor_.history) == list(fits[0].monitor_.history)
        np.testing.assert_array_equal(f.means_, fits[0].means_)
        np.testing.assert_array_equal(f.covars_, fits[0].covars_)
        np.testing.assert_array_equal(f.transmat_, fits[0].transmat_)
        np.testing.assert_array_equal(f.predict(X, lengths), fits[0].predict(X, lengths))


def test_unvisited_state_keeps_valid_parameters():
    """State 2 cannot be entered (start 0, no transitions into it): it gets no weight,
    and keeps normalised, positive-definite parameters."""
    X, _ = gaussian_data("full", n=2000, seed=6)
    for ct in ("full", "diag"):
        m = set_gaussian(fastem.GaussianHMM(K, covariance_type=ct, n_iter=5, init_params="",
                                            covars_prior=0.0), ct)
        m.startprob_ = np.array([0.5, 0.5, 0.0])
        m.transmat_ = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.3, 0.3, 0.4]])
        m.fit(X)
        np.testing.assert_array_equal(m.means_[2], MEANS[2])
        assert np.allclose(m.transmat_.sum(axis=1), 1) and m.startprob_[2] == 0
        assert np.all(np.isfinite(m.covars_))
        for cv in m.covars_:
            assert np.linalg.eigvalsh(cv)[0] > 0
    # a state that is entered but never left: its transition row is kept
    c = fastem.CategoricalHMM(2, n_iter=3, init_params="e", random_state=0)
    c.startprob_ = np.array([1.0, 0.0])
    c.transmat_ = np.array([[1.0, 0.0], [0.5, 0.5]])
    c.fit(np.array([[0], [1], [0], [1]]))
    np.testing.assert_array_equal(c.transmat_, [[1.0, 0.0], [0.5, 0.5]])


def test_collapsed_state_gets_min_covar_floor():
    """A state fitted to identical points has a singular scatter: without a prior the
    covariance is floored by min_covar instead of failing."""
    X = np.vstack([np.zeros((50, 2)), np.random.RandomState(0).randn(200, 2) + 5])
    m = fastem.GaussianHMM(2, covariance_type="full", covars_prior=0.0, min_covar=1e-3,
                           n_iter=5, random_state=0).fit(X)
    for cv in m.covars_:
        assert np.linalg.eigvalsh(cv)[0] > 0


# ------------------------------------------------------------------ API
def test_api_and_shapes():
    X, states = gaussian_data("diag", n=1000)
    assert X.shape == (1000, D) and states.shape == (1000,)
    m = fastem.GaussianHMM(K, n_iter=5, random_state=0)
    assert m.get_params()["n_components"] == K
    assert "n_components=3" in repr(m)
    assert m.fit(X, [500, 500]) is m
    assert m.n_features == D
    assert m.covars_.shape == (K, D, D) and m._covars_.shape == (K, D)
    assert isinstance(m.monitor_, ConvergenceMonitor)
    assert m.monitor_.iter == len(m.monitor_.history) <= 5
    lp, post = m.score_samples(X, [500, 500])
    assert post.shape == (1000, K) and np.allclose(post.sum(axis=1), 1)
    assert lp == pytest.approx(m.score(X, [500, 500]))
    np.testing.assert_array_equal(post, m.predict_proba(X, [500, 500]))
    vit = m.predict(X, [500, 500])
    assert vit.shape == (1000,) and vit.min() >= 0 and vit.max() < K
    lp_map, path_map = m.decode(X, [500, 500], algorithm="map")
    np.testing.assert_array_equal(path_map, post.argmax(axis=1))
    assert lp_map == pytest.approx(np.log(post.max(axis=1)).sum())
    assert m.decode(X, [500, 500])[0] <= lp
    assert m.bic(X) > m.aic(X) > -2 * m.score(X)
    stationary = m.get_stationary_distribution()
    assert np.allclose(stationary @ m.transmat_, stationary)
    S1, Z1 = m.sample(50, random_state=3)
    S2, Z2 = m.sample(50, random_state=3)
    np.testing.assert_array_equal(S1, S2)
    np.testing.assert_array_equal(Z1, Z2)
    assert m.sample(5, currstate=2)[1][0] == 2
    clone = copy.deepcopy(m).set_params(n_iter=2)
    assert clone.n_iter == 2 and m.n_iter == 5


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
@pytest.mark.parametrize("params", ["stmc", "st", ""])
def test_aic_bic_count_every_parameter_as_hmmlearn(covariance_type, params):
    """hmmlearn's aic and bic count the free scalars of all the parameters, those left
    out of ``params`` included (fastem counted only those in ``params``)."""
    X, _ = gaussian_data(covariance_type, n=300)
    m = set_gaussian(fastem.GaussianHMM(K, covariance_type, params=params), covariance_type)
    n_free = (K - 1) + K * (K - 1) + K * D + {"spherical": K, "diag": K * D,
                                              "full": K * D * (D + 1) // 2,
                                              "tied": D * (D + 1) // 2}[covariance_type]
    assert m.aic(X) == pytest.approx(-2 * m.score(X) + 2 * n_free, rel=1e-12)
    assert m.bic(X) == pytest.approx(-2 * m.score(X) + n_free * np.log(300), rel=1e-12)
    if hmm_ref is not None:
        ref = set_gaussian(hmm_ref.GaussianHMM(K, covariance_type, params=params),
                           covariance_type)
        ref.n_features = D
        assert m.aic(X) == pytest.approx(ref.aic(X), rel=1e-10)
        assert m.bic(X) == pytest.approx(ref.bic(X), rel=1e-10)


@pytest.mark.parametrize("params", ["ste", "e", ""])
def test_categorical_aic_bic_count_every_parameter_as_hmmlearn(params):
    ref, ours = categorical_pair(params=params)
    X, _ = ours.sample(400, random_state=0)
    n_free = (K - 1) + K * (K - 1) + K * (5 - 1)
    assert ours.bic(X) == pytest.approx(-2 * ours.score(X) + n_free * np.log(400), rel=1e-12)
    assert ours.aic(X) == pytest.approx(-2 * ours.score(X) + 2 * n_free, rel=1e-12)
    if ref is not None:
        ref.n_features = 5
        assert ours.aic(X) == pytest.approx(ref.aic(X), rel=1e-10)
        assert ours.bic(X) == pytest.approx(ref.bic(X), rel=1e-10)


class ThresholdMonitor(ConvergenceMonitor):
    """hmmlearn's documented example: converged once the log-likelihood reaches tol."""

    @property
    def converged(self):
        return self.iter == self.n_iter or self.history[-1] >= self.tol


def test_monitor_exists_before_fit_and_follows_the_settings():
    m = fastem.CategoricalHMM(2, n_iter=7, tol=0.5, verbose=True)
    assert isinstance(m.monitor_, ConvergenceMonitor)
    assert (m.monitor_.tol, m.monitor_.n_iter, m.monitor_.verbose) == (0.5, 7, True)
    assert m.monitor_.iter == 0 and not m.monitor_.history
    m.set_params(n_iter=3)
    m.tol = 2.0
    assert (m.monitor_.tol, m.monitor_.n_iter) == (2.0, 3)
    assert "monitor_" not in m.get_params() and "n_iter=3" in repr(m)


@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
def test_user_set_monitor_is_honoured(kind):
    """hmmlearn's fit reports to monitor_ and asks it whether it converged: a tol set on
    monitor_, or a ConvergenceMonitor subclass put in its place, decides when it stops."""
    def make():
        if kind == "gaussian":
            return set_gaussian(fastem.GaussianHMM(K, "full", init_params="", n_iter=30,
                                                   tol=-np.inf), "full",
                                MEANS + np.array([0.7, -0.5]))
        return categorical_pair(n_iter=30, emissionprob_prior=1.1)[1]

    X, _ = (gaussian_data("full", n=1000) if kind == "gaussian"
            else make().sample(1000, random_state=2))
    full = make().fit(X)
    history = np.array(full.monitor_.history)
    assert full.monitor_.iter == 30
    # a tol on the monitor: stops at the first gain below it
    gains = np.diff(history)
    tol = float(np.median(gains[:10]))
    m = make()
    m.monitor_.tol = tol
    m.fit(X)
    stop = int(np.flatnonzero(gains < tol)[0]) + 2
    assert m.monitor_.iter == stop and m.tol == -np.inf
    np.testing.assert_array_equal(m.monitor_.history, history[:stop])
    # a subclass: stops when the log-likelihood reaches a threshold
    threshold = float(history[5] + history[6]) / 2
    m = make()
    m.monitor_ = ThresholdMonitor(threshold, m.monitor_.n_iter, m.monitor_.verbose)
    m.fit(X)
    assert type(m.monitor_) is ThresholdMonitor and m.monitor_.converged
    np.testing.assert_array_equal(m.monitor_.history, history[:7])
    # n_iter bounds the loop whatever the monitor's n_iter
    m = make().set_params(n_iter=4)
    m.monitor_ = ThresholdMonitor(np.inf, 100, False)
    m.fit(X)
    assert m.monitor_.iter == 4 and not m.monitor_.converged


@needs_hmmlearn
def test_user_set_monitor_stops_where_hmmlearns_does():
    from hmmlearn.base import ConvergenceMonitor as RefMonitor

    class RefThreshold(RefMonitor):
        converged = ThresholdMonitor.converged

    X, _ = gaussian_data("diag", n=1000)
    start = MEANS + np.array([0.7, -0.5])
    models = []
    for cls, monitor in ((hmm_ref.GaussianHMM, RefThreshold),
                         (fastem.GaussianHMM, ThresholdMonitor)):
        m = set_gaussian(cls(K, init_params="", n_iter=50), "diag", start)
        m.monitor_ = monitor(-3110.0, 50, False)
        models.append(m.fit(X))
    ref, ours = models
    assert 2 < ref.monitor_.iter < 50
    assert ours.monitor_.iter == ref.monitor_.iter
    assert rel_err(list(ours.monitor_.history), list(ref.monitor_.history)) < 1e-7
    assert rel_err(ours.means_, ref.means_) < 1e-7


def test_failed_fit_leaves_the_users_monitor_alone():
    m = fastem.CategoricalHMM(2, n_iter=5, random_state=0).fit(np.array([[0], [1], [1]]))
    monitor = ThresholdMonitor(-1.0, 5, False)
    monitor.history.extend([-3.0, -2.0])
    m.monitor_ = monitor
    with pytest.raises(ValueError):
        m.fit(np.array([[0], [-1]]))
    assert m.monitor_ is monitor and list(monitor.history) == [-3.0, -2.0]
    m.fit(np.array([[0], [1], [1], [0]]))
    assert type(m.monitor_) is ThresholdMonitor and list(monitor.history) == [-3.0, -2.0]
    m.monitor_ = None       # no monitor: a fit makes one from tol, n_iter and verbose
    m.fit(np.array([[0], [1], [1], [0]]))
    assert type(m.monitor_) is ConvergenceMonitor and m.monitor_.n_iter == 5
    m.monitor_ = "strict"
    with pytest.raises(TypeError, match="monitor_ must be a ConvergenceMonitor"):
        m.fit(np.array([[0], [1]]))


@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
def test_verbose_prints_hmmlearns_table_to_stderr(kind, capsys):
    if kind == "gaussian":
        X, _ = gaussian_data("diag", n=800)
        pair = [set_gaussian(cls(K, init_params="", n_iter=6, tol=-np.inf, verbose=True),
                             "diag", MEANS + 0.5)
                for cls in ((hmm_ref.GaussianHMM if hmm_ref else None), fastem.GaussianHMM)
                if cls is not None]
        ours = pair[-1]
    else:
        pair = [m for m in categorical_pair(n_iter=6) if m is not None]
        ours = pair[-1]
        X, _ = ours.sample(800, random_state=0)
        for m in pair:
            m.verbose = True
            m.monitor_.verbose = True    # hmmlearn's monitor keeps the constructor's
    capsys.readouterr()
    ours.fit(X)
    out, err = capsys.readouterr()
    assert out == ""
    history = list(ours.monitor_.history)
    deltas = [np.nan] + list(np.diff(history))
    template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"
    assert err.splitlines() == [template.format(iter=i + 1, log_prob=h, delta=d)
                                for i, (h, d) in enumerate(zip(history, deltas))]
    if len(pair) == 2:
        pair[0].fit(X)
        ref_err = capsys.readouterr().err.splitlines()
        assert len(ref_err) == len(err.splitlines()) == 6
        for a, b in zip(err.splitlines(), ref_err):
            assert len(a) == len(b) and a.split()[0] == b.split()[0]
            assert np.allclose([float(v) for v in a.split()[1:]],
                               [float(v) for v in b.split()[1:]], rtol=1e-7, equal_nan=True)


def _hmm_log(caplog):
    return [r.getMessage() for r in caplog.records if r.name.startswith(("fastem", "hmmlearn"))]


def _overwritten(name, letter):
    return (f"Even though the {name!r} attribute is set, it will be overwritten during "
            f"initialization because 'init_params' contains {letter!r}")


def test_fit_logs_that_init_params_overwrite_set_parameters(caplog):
    """hmmlearn logs (logging, not warnings) a warning for each parameter that is set
    but will be initialised because its letter is in init_params."""
    X, _ = gaussian_data("full", n=300)
    caplog.set_level("WARNING")
    m = fastem.GaussianHMM(K, "full", n_iter=2, random_state=0)
    m.startprob_ = STARTPROB.copy()
    m.covars_ = COVARS["full"].copy()
    m.fit(X)
    assert _hmm_log(caplog) == [_overwritten("startprob_", "s"), _overwritten("covars_", "c")]
    assert {r.levelname for r in caplog.records} == {"WARNING"}
    assert {r.name for r in caplog.records} == {"fastem.hmm"}
    caplog.clear()
    m.fit(X)                      # refitting a fitted model overwrites everything
    assert _hmm_log(caplog) == [_overwritten(n, c) for n, c in
                                [("startprob_", "s"), ("transmat_", "t"), ("means_", "m"),
                                 ("covars_", "c")]]
    caplog.clear()
    m.set_params(init_params="mc").fit(X)     # 's' and 't' are kept: no warning for them
    assert _hmm_log(caplog) == [_overwritten("means_", "m"), _overwritten("covars_", "c")]
    caplog.clear()
    c = categorical_pair()[1].set_params(init_params="e", n_iter=1)
    S, _ = c.sample(100, random_state=0)
    caplog.clear()
    c.fit(S)
    assert _hmm_log(caplog) == [_overwritten("emissionprob_", "e")]
    if hmm_ref is not None:      # the same messages as hmmlearn's
        caplog.clear()
        r = hmm_ref.GaussianHMM(K, "full", n_iter=2, random_state=0)
        r.startprob_ = STARTPROB.copy()
        r.covars_ = COVARS["full"].copy()
        r.fit(X)
        assert _hmm_log(caplog) == [_overwritten("startprob_", "s"),
                                    _overwritten("covars_", "c")]


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_fit_logs_hmmlearns_degenerate_solution_warning(covariance_type, caplog):
    """Fewer data values than free scalars in the parameters of ``params``: hmmlearn
    logs that the solution will be degenerate (and fits anyway)."""
    caplog.set_level("WARNING")
    X = np.random.RandomState(0).randn(5, D)                  # 10 values
    n_cov = {"spherical": K, "diag": K * D, "full": K * D * (D + 1) // 2,
             "tied": D * (D + 1) // 2}[covariance_type]
    n_free = (K - 1) + K * (K - 1) + K * D + n_cov
    m = fastem.GaussianHMM(K, covariance_type, n_iter=3, random_state=0).fit(X)
    assert _hmm_log(caplog) == [f"Fitting a model with {n_free} free scalar parameters with "
                                "only 10 data points will result in a degenerate solution."]
    ours = _hmm_log(caplog)
    caplog.clear()
    m.set_params(params="st", init_params="").fit(X)     # 8 free scalars: enough data
    assert _hmm_log(caplog) == []
    if hmm_ref is not None:
        hmm_ref.GaussianHMM(K, covariance_type, n_iter=3, random_state=0).fit(X)
        assert _hmm_log(caplog) == ours
    caplog.clear()
    fastem.CategoricalHMM(K, n_iter=2, random_state=0).fit(np.array([[0], [1], [2], [1]]))
    # s 2 + t 6 + e 3 * 2 = 14 free scalars, 4 symbols
    assert _hmm_log(caplog) == ["Fitting a model with 14 free scalar parameters with only 4 "
                                "data points will result in a degenerate solution."]


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_too_little_data_still_gives_usable_parameters(covariance_type):
    """Degenerate fits (as few samples as states, repeated points, sequences of length
    one) leave finite parameters: stochastic rows, covariances that pass validation."""
    rng = np.random.RandomState(1)
    cases = [(rng.randn(3, 4), None), (np.repeat(rng.randn(2, 3), 3, axis=0), [1, 2, 3]),
             (np.vstack([np.zeros((4, 2)), np.ones((1, 2))]), [1] * 5)]
    for X, lengths in cases:
        for seed in range(5):
            m = fastem.GaussianHMM(3, covariance_type, n_iter=20, tol=-np.inf,
                                   covars_prior=0.0, random_state=seed).fit(X, lengths)
            assert np.all(np.isfinite(m.means_)) and np.all(np.isfinite(m._covars_))
            assert np.allclose(m.startprob_.sum(), 1) and np.all(m.startprob_ >= 0)
            assert np.allclose(m.transmat_.sum(axis=1), 1) and np.all(m.transmat_ >= 0)
            _check_covars(m._covars_, covariance_type, 3, X.shape[1])
            for cv in m.covars_:
                assert np.linalg.eigvalsh(cv)[0] > 0
            assert np.isfinite(m.score(X, lengths))
    c = fastem.CategoricalHMM(4, n_iter=20, tol=-np.inf, random_state=0).fit([[0], [0], [1]])
    assert np.allclose(c.emissionprob_.sum(axis=1), 1) and np.isfinite(c.score([[0], [1]]))


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical", "tied"])
def test_data_that_cannot_initialise_covars_is_reported(covariance_type):
    """The covariance of X initialises covars_: one sample, or a covariance that is
    singular to working precision, is a ValueError that says so (it blamed covars_)."""
    with pytest.raises(ValueError, match="X has 1 sample: covars_ is initialised from"):
        fastem.GaussianHMM(1, covariance_type).fit(np.ones((1, 2)))
    # spherical: features perfectly anti-correlated (the covariance's entries sum to 0);
    # the others: a constant feature
    X = np.repeat([[1.0, -1.0], [2.0, -2.0]] if covariance_type == "spherical"
                  else [[1.0, 5.0], [2.0, 5.0]], 3, axis=0)
    with pytest.raises(ValueError, match="covars_ is initialised from the covariance of X"):
        fastem.GaussianHMM(2, covariance_type, min_covar=0.0).fit(X)
    m = fastem.GaussianHMM(2, covariance_type, min_covar=0.0, init_params="stm")
    m.covars_ = {"diag": np.ones((2, 2)), "spherical": np.ones(2),
                 "full": np.tile(np.eye(2), (2, 1, 1)), "tied": np.eye(2)}[covariance_type]
    assert np.isfinite(m.fit(X).score(X))     # a user's covars_: fits


def test_init_and_check_are_hmmlearns_hooks(caplog):
    """_init sets the parameters a fit would start from (and logs what fit logs);
    _check validates the parameters without writing."""
    X, _ = gaussian_data("diag", n=400)
    m = fastem.GaussianHMM(K, "diag", n_iter=0, random_state=5)
    assert m._init(X) is None
    ref = fastem.GaussianHMM(K, "diag", n_iter=0, random_state=5).fit(X)
    for name in ("startprob_", "transmat_", "means_", "_covars_"):
        np.testing.assert_array_equal(getattr(m, name), getattr(ref, name))
    assert m.n_features == D and m._covars_.flags.writeable
    m._check()
    caplog.set_level("WARNING")
    m.set_params(init_params="st")._init(X)     # 's', 't' redrawn; means_ kept
    np.testing.assert_array_equal(m.means_, ref.means_)
    assert _hmm_log(caplog) == [_overwritten("startprob_", "s"), _overwritten("transmat_", "t")]
    before = copy.deepcopy(vars(m))
    m.transmat_ = np.ones((K, K))
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        m._check()
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        m.set_params(init_params="")._init(X)
    m.transmat_ = before["transmat_"]
    with pytest.raises(ValueError, match="X has 3 features"):
        m._init(np.ones((10, 3)))
    c = fastem.CategoricalHMM(2, random_state=0)
    c._init(np.array([[0], [3], [1]]))
    assert c.n_features == 4 and c.emissionprob_.shape == (2, 4)
    c.emissionprob_ = []
    with pytest.raises(ValueError, match="emissionprob_"):
        c._check()
    with pytest.raises(fastem.NotFittedError):
        fastem.CategoricalHMM(2)._check()


def test_sklearn_clone_and_params_letters():
    from sklearn.base import clone

    X, _ = gaussian_data("diag", n=800)
    m = fastem.GaussianHMM(K, n_iter=5, params="st", init_params="st", random_state=0)
    set_gaussian(m, "diag")
    m.fit(X)
    np.testing.assert_array_equal(m.means_, MEANS)     # 'm' and 'c' not in params
    np.testing.assert_array_equal(m._covars_, COVARS["diag"])
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "startprob_")


def test_sampling_frequencies():
    _, gen = categorical_pair()
    X, Z = gen.sample(200_000, random_state=0)
    assert X.shape == (200_000, 1) and X.dtype.kind == "i"
    for k in range(K):
        freq = np.bincount(X[Z == k, 0], minlength=5) / np.sum(Z == k)
        assert np.max(np.abs(freq - gen.emissionprob_[k])) < 0.01
    trans = np.zeros((K, K))
    np.add.at(trans, (Z[:-1], Z[1:]), 1)
    assert np.max(np.abs(trans / trans.sum(axis=1, keepdims=True) - TRANSMAT)) < 0.01


def test_inputs_are_not_modified():
    X, _ = gaussian_data("full", n=600)
    X_before = X.copy()
    lengths = np.array([300, 300])
    m = fastem.GaussianHMM(K, n_iter=3, random_state=0)
    m.fit(X, lengths)
    m.score_samples(X, lengths)
    m.decode(X, lengths)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(lengths, [300, 300])


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("lengths, message", [
    ([300, 300], "lengths sum to 600, but X has 500 samples"),
    ([600, -100], r"lengths must be positive: lengths\[1\] = -100"),
    ([500, 0], r"lengths must be positive: lengths\[1\] = 0"),
    ([[250, 250]], "1-D"),
    ([250.5, 249.5], "integers"),
])
def test_bad_lengths(lengths, message):
    X, _ = gaussian_data("diag", n=500)
    with pytest.raises((ValueError, TypeError), match=message):
        fastem.GaussianHMM(K, n_iter=2).fit(X, lengths)
    with pytest.raises((ValueError, TypeError), match=message):
        set_gaussian(fastem.GaussianHMM(K), "diag").score(X, lengths)


def test_lengths_whose_int64_sum_wraps_around_are_refused():
    """Lengths that "sum" to n only modulo 2**64 are refused by every method of both
    models, before a kernel reads X. Run in a subprocess: a regression segfaults."""
    code = textwrap.dedent("""
        import numpy as np, fastem
        n = 40
        data = {"GaussianHMM": np.random.RandomState(0).randn(n, 2),
                "CategoricalHMM": np.arange(n).reshape(-1, 1) % 3}
        wrapping = {"int": [2**62, 2**62, 2**62, 2**62 + n],
                    "uint64": np.array([2**63, 2**63 + n], dtype=np.uint64),
                    "one huge": [2**63 - 1],
                    "python ints": [2**64, n]}
        for cls, X in data.items():
            fitted = getattr(fastem, cls)(2, n_iter=2, random_state=0).fit(X)
            ok = np.array([n // 2, n - n // 2], dtype=np.uint64)   # uint64 that is fine
            assert fitted.score(X, ok) == fitted.score(X, [n // 2, n - n // 2])
            for name, lengths in wrapping.items():
                for method in ("fit", "score", "decode", "predict_proba"):
                    model = (getattr(fastem, cls)(2, n_iter=2, random_state=0)
                             if method == "fit" else fitted)
                    try:
                        getattr(model, method)(X, lengths)
                        print(cls, name, method, "no error")
                    except ValueError as exc:
                        print(cls, name, method, "ValueError", exc)
    """)
    run = run_isolated(code, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2 * 4 * 4
    for line in lines:
        assert "ValueError lengths must be at most the 40 samples of X" in line, line


# hmmlearn's test_fit_zero_variance (issue #2 on its GitHub): a constant feature
ZERO_VARIANCE_X = np.array([
    [7.15000000e+02, 5.85000000e+02, 0.00000000e+00, 0.00000000e+00],
    [7.15000000e+02, 5.20000000e+02, 1.04705811e+00, -6.03696289e+01],
    [7.15000000e+02, 4.55000000e+02, 7.20886230e-01, -5.27055664e+01],
    [7.15000000e+02, 3.90000000e+02, -4.57946777e-01, -7.80605469e+01],
    [7.15000000e+02, 3.25000000e+02, -6.43127441e+00, -5.59954834e+01],
    [7.15000000e+02, 2.60000000e+02, -2.90063477e+00, -7.80220947e+01],
    [7.15000000e+02, 1.95000000e+02, 8.45532227e+00, -7.03294373e+01],
    [7.15000000e+02, 1.30000000e+02, 4.09387207e+00, -5.83621216e+01],
    [7.15000000e+02, 6.50000000e+01, -1.21667480e+00, -4.48131409e+01],
])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fit_on_degenerate_data_always_gives_a_usable_model(covariance_type, tmp_path):
    """The M-step's safeguard and the validation of covars_ are one test: whatever a fit
    returns passes validation (fastem's, and hmmlearn's when installed), so scoring,
    decoding, sampling, refitting from it and a save/load round trip all work."""
    X = ZERO_VARIANCE_X
    for seed in range(30):
        m = fastem.GaussianHMM(3, covariance_type, random_state=seed).fit(X)
        _check_covars(m._covars_, covariance_type, 3, X.shape[1])
        if covariance_type in ("full", "tied"):
            stack = m._covars_ if covariance_type == "full" else m._covars_[None]
            np.testing.assert_array_equal(stack, np.swapaxes(stack, 1, 2))
        if hmm_ref is not None:
            ref = hmm_ref.GaussianHMM(3, covariance_type, init_params="")
            ref.startprob_, ref.transmat_, ref.means_ = m.startprob_, m.transmat_, m.means_
            ref._covars_, ref.n_features = m._covars_.copy(), X.shape[1]
            ref._check()
        assert np.isfinite(m.score(X))
        assert m.predict(X).shape == (9,) and m.decode(X, algorithm="map")[1].shape == (9,)
        assert np.all(np.isfinite(m.sample(20, random_state=0)[0]))
        again = copy.deepcopy(m).set_params(init_params="", n_iter=3).fit(X)
        assert np.isfinite(again.score(X))
        if seed % 10 == 0:
            back = fastem.load(m.save(tmp_path / "m.npz"))
            assert back.score(X) == m.score(X)


def test_bad_gaussian_input():
    X, _ = gaussian_data("diag", n=500)
    bad = X.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fastem.GaussianHMM(K).fit(bad)
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match="X"):
        fastem.GaussianHMM(K).fit(bad)
    m = set_gaussian(fastem.GaussianHMM(K, init_params=""), "diag")
    m.transmat_ = np.array([[0.5, 0.4, 0.0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        m.fit(X)
    m = set_gaussian(fastem.GaussianHMM(K, init_params=""), "diag")
    m.startprob_ = np.array([0.5, 0.6, -0.1])
    with pytest.raises(ValueError, match="startprob_"):
        m.fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianHMM is expecting 2"):
        set_gaussian(fastem.GaussianHMM(K), "diag").score(np.ones((5, 3)))
    with pytest.raises(ValueError, match="covars_ must be positive"):
        fastem.GaussianHMM(K).covars_ = -np.ones((K, D))
    m = fastem.GaussianHMM(K, covariance_type="full")
    with pytest.raises(ValueError, match=r"covars_ \(state 0\) must be positive definite"):
        m.covars_ = np.tile([[1.0, 2.0], [2.0, 1.0]], (K, 1, 1))
    with pytest.raises(ValueError, match="covariance_type"):
        fastem.GaussianHMM(K, covariance_type="round").fit(X)
    with pytest.raises(ValueError, match="algorithm"):
        set_gaussian(fastem.GaussianHMM(K), "diag").decode(X, algorithm="best")
    with pytest.raises(fastem.NotFittedError):
        fastem.GaussianHMM(K).score(X)
    with pytest.raises(ValueError, match="n_components"):
        fastem.GaussianHMM(0).fit(X)


@pytest.mark.parametrize("method", ["fit", "score", "score_samples", "predict",
                                    "predict_proba", "decode", "aic", "bic", "sample",
                                    "covars_", "set covars_", "save", "_init", "_check"])
def test_misspelled_covariance_type_raises_value_error_everywhere(method, tmp_path):
    """hmmlearn raises ValueError for an unknown covariance_type when covars_ is set and
    when the model is used (not in the constructor); fastem raised KeyError in places."""
    X, _ = gaussian_data("diag", n=50)
    m = set_gaussian(fastem.GaussianHMM(K, init_params=""), "diag")
    m.set_params(covariance_type="badcovariance_type")
    calls = {"covars_": lambda: m.covars_,
             "set covars_": lambda: setattr(m, "covars_", COVARS["diag"]),
             "sample": lambda: m.sample(5),
             "save": lambda: m.save(tmp_path / "m.npz"),
             "_check": lambda: m._check()}
    call = calls.get(method, lambda: getattr(m, method)(X))
    with pytest.raises(ValueError, match="covariance_type"):
        call()


@pytest.mark.parametrize("shape", [(K,), (K, 1), (K, 1, 1), (K, 1, 1, 1)])
def test_spherical_covars_accept_hmmlearns_shapes(shape):
    """hmmlearn's spherical covars_ is any array of n_components values (its
    issue 385 sets (K, 1, 1, 1)); every such shape gives the same model."""
    m = set_gaussian(fastem.GaussianHMM(K, "spherical", init_params=""), "spherical")
    X, _ = m.sample(200, random_state=0)
    expected = m.score(X)
    m.covars_ = COVARS["spherical"].reshape(shape)
    assert m._covars_.shape == (K,)
    np.testing.assert_array_equal(m._covars_, COVARS["spherical"])
    assert m.covars_.shape == (K, D, D)
    assert m.score(X) == expected
    assert m.sample(10, random_state=0)[0].shape == (10, D)
    with pytest.raises(ValueError, match=r"'spherical' covars_ must have shape \(3,\)"):
        m.covars_ = np.ones((K + 1,) + shape[1:])
    with pytest.raises(ValueError, match="'spherical' covars_ must be positive"):
        m.covars_ = -COVARS["spherical"].reshape(shape)


def test_bad_categorical_input():
    with pytest.raises(ValueError, match="symbol 5, but the model emits symbols 0 .. 4"):
        fastem.CategoricalHMM(2, n_features=5).fit(np.array([[0], [5], [1]]))
    with pytest.raises(ValueError, match="symbol -1; symbols must be >= 0"):
        fastem.CategoricalHMM(2).fit(np.array([[0], [-1], [1]]))
    with pytest.raises(ValueError, match="integer symbols"):
        fastem.CategoricalHMM(2).fit(np.array([[0.0], [1.5]]))
    with pytest.raises(ValueError, match=r"shape \(n_samples, 1\)"):
        fastem.CategoricalHMM(2).fit(np.array([0, 1, 1]))
    _, m = categorical_pair()
    with pytest.raises(ValueError, match="symbol 7"):
        m.score(np.array([[0], [7]]))
    m.emissionprob_ = np.full((K, 5), 0.3)
    with pytest.raises(ValueError, match="emissionprob_ rows must sum to 1"):
        m.fit(np.array([[0], [1], [2]]))


def test_impossible_data_is_reported():
    m = fastem.CategoricalHMM(2, init_params="", n_iter=3)
    m.startprob_ = np.array([1.0, 0.0])
    m.transmat_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    m.emissionprob_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert m.score(np.array([[0], [1]])) == -np.inf
    with pytest.raises(ValueError, match="probability zero"):
        m.fit(np.array([[0], [1]]))


def test_save_and_load(tmp_path):
    X, _ = gaussian_data("full", n=600)
    m = fastem.GaussianHMM(K, covariance_type="full", n_iter=4, random_state=0).fit(X)
    back = fastem.load(m.save(tmp_path / "g.npz"))
    assert type(back) is fastem.GaussianHMM and back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.covars_, m.covars_)
    assert back.score(X) == m.score(X)
    assert list(back.monitor_.history) == list(m.monitor_.history)
    _, gen = categorical_pair()
    S, _ = gen.sample(500, random_state=0)
    c = fastem.CategoricalHMM(2, n_iter=3, random_state=0).fit(S)
    back = fastem.load(c.save(tmp_path / "c.npz"))
    np.testing.assert_array_equal(back.predict(S), c.predict(S))
    with pytest.raises(ValueError, match="not fitted"):
        fastem.GaussianHMM(K).save(tmp_path / "x.npz")
