"""Estimator state is all-or-nothing: a fit that raises or is interrupted leaves the
estimator exactly as it was (unfitted, or the previous fit's attributes bit for bit, or
the parameters the user set), for every estimator."""

import copy
from collections import deque

import numpy as np
import pytest
from conftest import make_blobs

import fastem
from fastem import NotFittedError
from fastem._kernels import _hmm

X = make_blobs(n=300, d=3, seed=4)
SYMBOLS = (np.arange(300) * 7 % 11 % 4).reshape(-1, 1)


def same(a, b):
    """Bitwise equality of estimator attributes (arrays: dtype, shape and bytes)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    if isinstance(a, (list, tuple, deque)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return (type(b) is dict and a.keys() == b.keys()
                and all(same(a[k], b[k]) for k in a))
    if hasattr(a, "__dict__") and not callable(a):
        return type(a) is type(b) and same(vars(a), vars(b))
    return type(a) is type(b) and (a is b or a == b)


def snapshot(estimator):
    return copy.deepcopy(vars(estimator))


def assert_unchanged(estimator, before):
    now = vars(estimator)
    assert now.keys() == before.keys(), set(now) ^ set(before)
    for name in before:
        assert same(now[name], before[name]), name


def interrupt_at(n_iter):
    """A callback that raises KeyboardInterrupt at iteration n_iter."""
    def callback(info):
        if info.n_iter == n_iter:
            raise KeyboardInterrupt
    return callback


class KernelInterrupter:
    """Once armed, the HMM kernel entry point raises KeyboardInterrupt on its 3rd call
    (as an interrupt inside the kernels would)."""

    def __init__(self, real):
        self.real = real
        self.calls = None

    def arm(self):
        self.calls = 0

    def __call__(self, *args):
        if self.calls is not None:
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
        return self.real(*args)


@pytest.fixture
def interrupt_kernel(monkeypatch):
    """A KernelInterrupter in place of the module attribute the HMM code calls."""
    interrupter = KernelInterrupter(_hmm.forward_backward)
    monkeypatch.setattr(_hmm, "forward_backward", interrupter)
    return interrupter


MODELS = {
    "GaussianMixture": (lambda **kw: fastem.GaussianMixture(3, random_state=0, **kw), X),
    "GaussianMixture-warm": (lambda **kw: fastem.GaussianMixture(
        3, random_state=0, warm_start=True, max_iter=5, tol=0, **kw), X),
    "KMeans": (lambda **kw: fastem.KMeans(3, random_state=0, **kw), X),
    "GaussianHMM": (lambda **kw: fastem.GaussianHMM(3, "full", n_iter=6, random_state=0,
                                                    **kw), X),
    "CategoricalHMM": (lambda **kw: fastem.CategoricalHMM(3, n_iter=6, random_state=0,
                                                          **kw), SYMBOLS),
}
HMMS = ("GaussianHMM", "CategoricalHMM")


def bad_data(name):
    """Data that the model's validation refuses, after a good fit."""
    if name == "CategoricalHMM":
        return np.r_[SYMBOLS, [[-1]]]
    return np.r_[X, [[np.inf, 0.0, 0.0]]]


@pytest.mark.parametrize("name", MODELS)
def test_failed_refit_keeps_the_previous_fit(name):
    make, data = MODELS[name]
    model = make().fit(data)
    before = snapshot(model)
    with pytest.raises(ValueError):
        model.fit(bad_data(name))
    assert_unchanged(model, before)
    if name in HMMS:
        with pytest.raises(ValueError, match="lengths"):
            model.fit(data, [len(data), 1])
        assert_unchanged(model, before)


@pytest.mark.parametrize("name", MODELS)
def test_interrupted_refit_keeps_the_previous_fit(name, interrupt_kernel):
    make, data = MODELS[name]
    model = make().fit(data)
    interrupt_kernel.arm()
    if name not in HMMS:
        model.set_params(callback=interrupt_at(3))
    before = snapshot(model)
    expected = model.predict(data)
    with pytest.raises(KeyboardInterrupt):
        model.fit(data)
    if name in HMMS:
        assert interrupt_kernel.calls == 3      # interrupted in the third iteration
    assert_unchanged(model, before)
    np.testing.assert_array_equal(model.predict(data), expected)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("failure", ["interrupt", "error"])
def test_failed_first_fit_leaves_the_model_unfitted(name, failure, interrupt_kernel,
                                                    tmp_path):
    make, data = MODELS[name]
    kwargs = {} if name in HMMS or failure == "error" else {"callback": interrupt_at(3)}
    model = make(**kwargs)
    interrupt_kernel.arm()
    before = snapshot(model)
    if failure == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            model.fit(data)
    else:
        with pytest.raises(ValueError):
            model.fit(bad_data(name))
    assert_unchanged(model, before)
    with pytest.raises(NotFittedError):
        model.predict(data)
    with pytest.raises(ValueError, match="not fitted"):
        model.save(tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


def user_set_hmm(name):
    """An HMM with every parameter set by the user (lists, as a user may write them)."""
    if name == "GaussianHMM":
        model = fastem.GaussianHMM(2, "diag", n_iter=6, init_params="")
        model.means_ = [[0.0, 0.0, 0.0], [3.0, 3.0, 3.0]]
        model.covars_ = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    else:
        model = fastem.CategoricalHMM(2, n_iter=6, init_params="")
        model.emissionprob_ = [[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]]
    model.startprob_ = [0.6, 0.4]
    model.transmat_ = [[0.9, 0.1], [0.2, 0.8]]
    return model


@pytest.mark.parametrize("name", HMMS)
def test_failed_fit_keeps_the_users_parameters(name, interrupt_kernel):
    data = MODELS[name][1]
    model = user_set_hmm(name)
    interrupt_kernel.arm()
    before = snapshot(model)
    with pytest.raises(KeyboardInterrupt):
        model.fit(data)
    assert_unchanged(model, before)          # not even converted to arrays
    assert isinstance(model.startprob_, list)
    # partly user-set: the parameters the fit would initialise are not written either
    model.set_params(init_params="st")
    interrupt_kernel.arm()
    before = snapshot(model)
    with pytest.raises(KeyboardInterrupt):
        model.fit(data)
    assert_unchanged(model, before)
    # and the user's values are what the fit starts from
    interrupt_kernel.calls = None
    reference = user_set_hmm(name).set_params(n_iter=1).fit(data)
    start = user_set_hmm(name).set_params(n_iter=0).fit(data)
    np.testing.assert_array_equal(start.startprob_, [0.6, 0.4])
    assert reference.monitor_.history[0] == start.score(data)


def test_failure_in_the_middle_of_a_fit_keeps_the_users_parameters():
    """The E-step finds the data impossible in the first iteration."""
    model = fastem.CategoricalHMM(2, init_params="", n_iter=3)
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    model.emissionprob_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    before = snapshot(model)
    with pytest.raises(ValueError, match="probability zero"):
        model.fit(np.array([[0], [1]]))
    assert_unchanged(model, before)
    assert model.n_features is None


def test_categorical_n_features_is_set_by_a_successful_fit_only():
    model = fastem.CategoricalHMM(2, n_iter=2, random_state=0)
    with pytest.raises(ValueError, match="lengths"):
        model.fit(SYMBOLS, [1, 2])
    assert model.n_features is None and not hasattr(model, "emissionprob_")
    model.fit(SYMBOLS)
    assert model.n_features == 4 and model.emissionprob_.shape == (2, 4)


# ------------------------------------------------------------------ warm start
@pytest.mark.parametrize("change", [{"covariance_type": "diag"},
                                    {"covariance_type": "tied"},
                                    {"n_components": 4}])
def test_warm_start_refuses_a_changed_model(change):
    """scikit-learn 1.9 fails with a broadcasting error when covariance_type changed
    and silently keeps the old number of components: fastem says what changed."""
    gm = fastem.GaussianMixture(3, warm_start=True, max_iter=5, tol=0,
                                random_state=0).fit(X)
    gm.set_params(**change)
    before = snapshot(gm)
    (param, value), = change.items()
    with pytest.raises(ValueError, match=f"warm_start=True.*{param}.* is now {value!r}"):
        gm.fit(X)
    assert_unchanged(gm, before)
    gm.set_params(warm_start=False).fit(X)          # fits afresh
    assert gm.means_.shape[0] == gm.n_components


def test_warm_start_checks_a_loaded_model_by_its_shapes(tmp_path):
    gm = fastem.GaussianMixture(3, warm_start=True, max_iter=5, tol=0,
                                random_state=0).fit(X)
    back = fastem.load(gm.save(tmp_path / "gm.npz"))
    back.set_params(covariance_type="spherical")
    with pytest.raises(ValueError, match=r"warm_start=True.*covariances_ have shape"):
        back.fit(X)
    back.set_params(covariance_type="full")
    np.testing.assert_array_equal(back.fit(X).means_, gm.fit(X).means_)
