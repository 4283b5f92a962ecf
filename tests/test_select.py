"""fastem.mixture.select and fastem.hmm.select: the grid, its criteria and its choice."""

import warnings

import numpy as np
import pytest

import fastem
from fastem import GaussianHMM, GaussianMixture
from fastem.datasets import load_faithful
from fastem.mixture import SelectionResult, select


def _entropy(p):
    return -np.sum(p * np.log(np.where(p > 0, p, 1)))


def _diag_data():
    rng = np.random.RandomState(0)
    means = np.array([[0, 0, 0, 0], [8, 0, 8, 0], [0, 8, 0, -8]], dtype=float)
    scales = np.array([[1, 2, 0.5, 1], [2, 0.5, 1, 1.5], [0.7, 1, 2, 0.5]])
    labels = rng.randint(3, size=3000)
    return means[labels] + scales[labels] * rng.randn(3000, 4)


def test_recovers_three_diagonal_components():
    result = select(_diag_data(), n_components=range(1, 6), random_state=0)
    assert isinstance(result, SelectionResult) and result.criterion == "bic"
    assert result.best_params_ == {"n_components": 3, "covariance_type": "diag"}
    assert result.bic.shape == (5, 4) and result.bic[2, 2] == np.nanmin(result.bic)
    assert isinstance(result.best_estimator_, GaussianMixture)
    assert result.best_estimator_.n_components == 3
    icl = select(_diag_data(), n_components=range(1, 6), criterion="icl", random_state=0)
    assert icl.best_params_ == {"n_components": 3, "covariance_type": "diag"}


def test_recovers_two_correlated_full_components():
    rng = np.random.RandomState(1)
    a = rng.multivariate_normal([0, 0, 0], [[1, .9, .5], [.9, 1, .3], [.5, .3, 1]], 800)
    b = rng.multivariate_normal([5, -4, 2], [[1, -.8, 0], [-.8, 1, 0], [0, 0, .5]], 600)
    result = select(np.vstack([a, b]), n_components=range(1, 5), random_state=0)
    assert result.best_params_ == {"n_components": 2, "covariance_type": "full"}


def test_each_cell_is_the_library_model_and_icl_is_bic_plus_twice_the_entropy():
    X = load_faithful()
    result = select(X, n_components=[1, 2, 3], covariance_types=("full", "spherical"),
                    random_state=0)
    assert [(r["n_components"], r["covariance_type"]) for r in result.rows] == [
        (1, "full"), (2, "full"), (3, "full"), (1, "spherical"), (2, "spherical"),
        (3, "spherical")]
    for i, k in enumerate([1, 2, 3]):
        for j, ct in enumerate(("full", "spherical")):
            gm = GaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
            assert result.bic[i, j] == gm.bic(X)
            assert result.aic[i, j] == gm.aic(X)
            np.testing.assert_allclose(result.log_likelihood[i, j], gm.score(X) * len(X),
                                       rtol=1e-12)
            assert result.n_parameters[i, j] == gm._n_parameters()
            np.testing.assert_allclose(
                result.icl[i, j], gm.bic(X) + 2 * _entropy(gm.predict_proba(X)), rtol=1e-12)
    assert (result.icl >= result.bic).all() and result.icl[0, 0] == result.bic[0, 0]
    row = result.rows[1]
    assert row["n_iter"] == result.best_estimator_.n_iter_ and row["converged"] is True
    assert row["error"] is None and row["degenerate"] is False


def test_a_degenerate_fit_is_flagged_and_never_chosen():
    rng = np.random.RandomState(0)
    far = np.repeat([[50.0, 50.0, 50.0]], 2, axis=0)     # 2 points < n_features + 1
    X = np.vstack([rng.randn(500, 3), far])
    result = select(X, n_components=[1, 2], covariance_types=("full",), reg_covar=1e-12,
                    random_state=0)
    degenerate = result.rows[1]
    assert degenerate["n_components"] == 2 and degenerate["degenerate"] is True
    assert degenerate["bic"] < result.rows[0]["bic"]       # the likelihood would win
    assert result.degenerate[:, 0].tolist() == [False, True]
    assert result.best_params_["n_components"] == 1
    with pytest.warns(UserWarning, match="every fit is degenerate"):
        only = select(X, n_components=[2], covariance_types=("full",), reg_covar=1e-12,
                      random_state=0)
    assert only.best_params_["n_components"] == 2


@pytest.mark.parametrize("random_state", [0, np.random.RandomState(3)])
def test_threaded_and_serial_grids_give_identical_tables(random_state):
    X = _diag_data()
    seed = random_state if isinstance(random_state, int) else np.random.RandomState(3)
    serial = select(X, n_components=range(1, 5), random_state=seed, n_jobs=1)
    seed = random_state if isinstance(random_state, int) else np.random.RandomState(3)
    threaded = select(X, n_components=range(1, 5), random_state=seed, n_jobs=2)
    assert serial.rows == threaded.rows
    np.testing.assert_array_equal(serial.bic, threaded.bic)
    np.testing.assert_array_equal(serial.icl, threaded.icl)
    np.testing.assert_array_equal(serial.best_estimator_.means_,
                                  threaded.best_estimator_.means_)


def test_failed_fits_are_recorded_with_their_error_and_nan():
    X = load_faithful()[:20]
    result = select(X, n_components=[1, 50], covariance_types=("diag",), random_state=0)
    failed = result.rows[1]
    assert failed["error"] and "50" in failed["error"] and failed["bic"] is None
    assert np.isnan(result.bic[1, 0]) and np.isnan(result.icl[1, 0])
    assert result.failed[:, 0].tolist() == [False, True]
    assert result.best_params_ == {"n_components": 1, "covariance_type": "diag"}
    with pytest.raises(ValueError, match="every fit failed"):
        select(X, n_components=[50], random_state=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"criterion": "aicc"}, "criterion must be one of"),
    ({"covariance_types": ("full", "round")}, "unknown covariance type 'round'"),
    ({"n_components": [0, 1]}, "positive integers"),
    ({"n_components": []}, "at least one"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        select(load_faithful(), **kwargs)


def test_to_frame_and_plot():
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    result = select(load_faithful(), n_components=[1, 2, 3], random_state=0)
    frame = result.to_frame()
    assert len(frame) == 12 and list(frame.columns)[:5] == [
        "n_components", "covariance_type", "log_likelihood", "n_parameters", "bic"]
    np.testing.assert_array_equal(frame["bic"].to_numpy().reshape(4, 3).T, result.bic)
    ax = Figure().subplots()
    assert result.plot(ax=ax) is ax
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["full"].get_ydata(), result.bic[:, 0])
    assert list(lines["best: K=2, full"].get_xdata()) == [2]
    assert "BIC" in ax.get_ylabel()
    ax = result.plot(ax=Figure().subplots(), criterion="icl")
    assert "ICL" in ax.get_ylabel()


def test_exported_names():
    assert fastem.SelectionResult is SelectionResult is fastem.hmm.SelectionResult
    assert "select" in fastem.mixture.__all__ and "select" in fastem.hmm.__all__


def _three_state_data():
    truth = GaussianHMM(n_components=3, random_state=0)
    truth.startprob_ = np.array([1.0, 0.0, 0.0])
    truth.transmat_ = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    truth.means_ = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    truth.covars_ = np.ones((3, 2))
    X, _ = truth.sample(1500)
    return X


def test_hmm_select_recovers_three_states():
    X = _three_state_data()
    lengths = [500, 500, 500]
    model = GaussianHMM(n_iter=50, random_state=0)
    result = fastem.hmm.select(X, lengths, n_components=range(1, 6), model=model, n_init=5)
    assert result.best_params_ == {"n_components": 3, "covariance_type": "diag"}
    assert result.bic.shape == (5, 1) and all(r["icl"] is None for r in result.rows)
    single = fastem.hmm.select(X, lengths, n_components=[3], model=model)
    one = GaussianHMM(n_components=3, n_iter=50, random_state=0).fit(X, lengths)
    assert single.bic[0, 0] == one.bic(X, lengths)
    assert single.aic[0, 0] == one.aic(X, lengths)
    assert single.bic[0, 0] >= result.bic[2, 0]          # more starts never do worse
    both = fastem.hmm.select(X, lengths, n_components=[2, 3, 4], model=model, n_init=3,
                             covariance_types=("diag", "spherical"), n_jobs=1)
    threaded = fastem.hmm.select(X, lengths, n_components=[2, 3, 4], model=model, n_init=3,
                                 covariance_types=("diag", "spherical"), n_jobs=2)
    assert both.rows == threaded.rows and both.bic.shape == (3, 2)
    assert both.best_params_["n_components"] == 3
    with pytest.raises(ValueError, match="ICL is not computed"):
        fastem.hmm.select(X, criterion="icl")


def test_hmm_select_categorical():
    truth = fastem.CategoricalHMM(n_components=2, random_state=0)
    truth.startprob_ = np.array([0.5, 0.5])
    truth.transmat_ = np.array([[0.95, 0.05], [0.05, 0.95]])
    truth.emissionprob_ = np.array([[0.7, 0.2, 0.1, 0.0], [0.0, 0.1, 0.2, 0.7]])
    X, _ = truth.sample(3000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        result = fastem.hmm.select(X, n_components=[1, 2, 3], n_init=5,
                                   model=fastem.CategoricalHMM(n_iter=500, tol=1e-6,
                                                               random_state=0))
    assert result.covariance_types == (None,)
    assert result.best_params_ == {"n_components": 2}
