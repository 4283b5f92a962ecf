"""fastem.bootstrap: shapes for every estimator and kind, label matching, determinism
across n_jobs, standard errors against their textbook values, and the errors."""

import itertools
import warnings

import numpy as np
import pytest

import fastem
from fastem import (
    BootstrapResult,
    CategoricalHMM,
    GaussianHMM,
    GaussianMixture,
    KMeans,
    NotFittedError,
    _bootstrap,
    bootstrap,
)
from fastem._assignment import linear_assignment

SIGMA = 1.0


def _two_blobs(n=2000, seed=0):
    """A well-separated 2-component 2-d mixture, weights 0.3 / 0.7, unit covariances."""
    rng = np.random.RandomState(seed)
    labels = (rng.uniform(size=n) < 0.7).astype(int)
    centers = np.array([[0.0, 0.0], [8.0, 3.0]])
    return centers[labels] + SIGMA * rng.standard_normal((n, 2)), labels


@pytest.fixture(scope="module")
def small():
    X, _ = _two_blobs(300, seed=1)
    return X


@pytest.fixture(scope="module")
def sequences():
    truth = GaussianHMM(n_components=2, random_state=0)
    truth.startprob_ = np.array([0.5, 0.5])
    truth.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    truth.means_ = np.array([[0.0, 0.0], [5.0, 2.0]])
    truth.covars_ = np.array([[1.0, 1.0], [0.5, 0.5]])
    lengths = [60, 80, 70, 90]
    X = np.concatenate([truth.sample(m, random_state=i)[0] for i, m in enumerate(lengths)])
    return X, lengths


@pytest.fixture(scope="module")
def symbols():
    truth = CategoricalHMM(n_components=2, random_state=0)
    truth.startprob_ = np.array([0.6, 0.4])
    truth.transmat_ = np.array([[0.85, 0.15], [0.1, 0.9]])
    truth.emissionprob_ = np.array([[0.7, 0.2, 0.1], [0.05, 0.25, 0.7]])
    lengths = [100, 120, 80]
    X = np.concatenate([truth.sample(m, random_state=i)[0] for i, m in enumerate(lengths)])
    return X, lengths


def _fitted(name, small, sequences, symbols):
    if name == "gmm":
        return GaussianMixture(2, random_state=0).fit(small), small, None
    if name == "gmm-tied":
        return GaussianMixture(2, covariance_type="tied", random_state=0).fit(small), small, None
    if name == "kmeans":
        return KMeans(2, random_state=0).fit(small), small, None
    if name == "ghmm":
        X, lengths = sequences
        return GaussianHMM(2, n_iter=50, random_state=0).fit(X, lengths), X, lengths
    X, lengths = symbols
    return CategoricalHMM(2, n_iter=50, random_state=0).fit(X, lengths), X, lengths


SHAPES = {
    "gmm": {"weights_": (2,), "means_": (2, 2), "covariances_": (2, 2, 2)},
    "gmm-tied": {"weights_": (2,), "means_": (2, 2), "covariances_": (2, 2)},
    "kmeans": {"cluster_centers_": (2, 2)},
    "ghmm": {"startprob_": (2,), "transmat_": (2, 2), "means_": (2, 2),
             "covars_": (2, 2, 2)},
    "cat": {"startprob_": (2,), "transmat_": (2, 2), "emissionprob_": (2, 3)},
}
EVERY_KIND = ("nonparametric", "parametric", "weighted")
ALLOWED = {"gmm": EVERY_KIND, "gmm-tied": EVERY_KIND, "kmeans": ("nonparametric", "weighted"),
           "ghmm": ("nonparametric", "parametric"), "cat": ("nonparametric", "parametric")}
CASES = [(name, kind) for name, kinds in ALLOWED.items() for kind in kinds]


# ----------------------------------------------------------------------- the solver
@pytest.mark.parametrize("k", range(1, 7))
def test_assignment_is_the_brute_force_optimum(k):
    rng = np.random.RandomState(k)
    for trial in range(30):
        cost = (rng.randint(0, 3, size=(k, k)).astype(float) if trial % 3 == 0
                else rng.standard_normal((k, k)) * 10 ** rng.uniform(-3, 3))
        columns = linear_assignment(cost)
        assert sorted(columns.tolist()) == list(range(k))
        best = min(cost[np.arange(k), list(p)].sum() for p in itertools.permutations(range(k)))
        assert cost[np.arange(k), columns].sum() == pytest.approx(best, rel=1e-12, abs=1e-12)


def test_assignment_finds_a_hidden_permutation_and_checks_its_input():
    rng = np.random.RandomState(0)
    points = rng.standard_normal((8, 3))
    order = rng.permutation(8)
    cost = ((points[:, None] - points[order][None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(order[linear_assignment(cost)], np.arange(8))
    assert linear_assignment(np.ones((2, 4))).tolist() in ([0, 1], [1, 0], [0, 2], [2, 3])
    for bad in (np.ones((3, 2)), np.ones(3), np.array([[0.0, np.nan], [1.0, 0.0]])):
        with pytest.raises(ValueError):
            linear_assignment(bad)


# ----------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name, kind", CASES)
def test_every_estimator_and_kind_gives_shaped_arrays(name, kind, small, sequences, symbols):
    estimator, X, lengths = _fitted(name, small, sequences, symbols)
    before = {k: np.array(v) for k, v in vars(estimator).items() if k.endswith("_")
              and isinstance(v, np.ndarray)}
    X_before = X.copy()
    result = bootstrap(estimator, X, lengths=lengths, n_boot=6, kind=kind, random_state=0,
                       n_jobs=1)
    assert isinstance(result, BootstrapResult)
    assert (result.kind, result.n_boot, result.confidence) == (kind, 6, 0.95)
    assert result.n_failed == 0 and result.errors == ()
    assert list(result.estimates) == list(SHAPES[name])
    for param, shape in SHAPES[name].items():
        assert result.estimates[param].shape == shape
        assert result.replicates[param].shape == (6, *shape)
        for field in (result.standard_errors, result.lower, result.upper):
            assert field[param].shape == shape and field[param].dtype == np.float64
        assert np.all(result.lower[param] <= result.upper[param])
        assert np.all(result.standard_errors[param] >= 0)
        np.testing.assert_array_equal(result.estimates[param],
                                      np.asarray(getattr(estimator, param), dtype=float))
        assert not result.replicates[param].flags.writeable
    # neither the estimator nor the data changed
    np.testing.assert_array_equal(X, X_before)
    for attr, value in before.items():
        np.testing.assert_array_equal(getattr(estimator, attr), value)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_every_covariance_type_and_float32(covariance_type, small, sequences):
    X32 = small.astype(np.float32)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X32)
    result = bootstrap(gm, X32, n_boot=3, random_state=0)
    assert result.replicates["covariances_"].shape == (3, *gm.covariances_.shape)
    assert result.n_failed == 0
    X, lengths = sequences
    hmm = GaussianHMM(2, covariance_type=covariance_type, n_iter=20, random_state=0)
    hmm.fit(X, lengths)
    result = bootstrap(hmm, X, lengths=lengths, n_boot=3, random_state=0)
    assert result.replicates["covars_"].shape == (3, 2, 2, 2) and result.n_failed == 0
    np.testing.assert_array_equal(result.estimates["covars_"], hmm.covars_)


def test_probabilities_stay_probabilities(sequences, symbols):
    X, lengths = symbols
    model = CategoricalHMM(2, n_iter=50, random_state=0).fit(X, lengths)
    result = bootstrap(model, X, lengths=lengths, n_boot=8, random_state=1)
    np.testing.assert_allclose(result.replicates["transmat_"].sum(axis=2), 1)
    np.testing.assert_allclose(result.replicates["emissionprob_"].sum(axis=2), 1)
    X, lengths = sequences
    model = GaussianHMM(2, n_iter=50, random_state=0).fit(X, lengths)
    result = bootstrap(model, X, lengths=lengths, n_boot=8, random_state=1)
    np.testing.assert_allclose(result.replicates["startprob_"].sum(axis=1), 1)


def test_missing_values_and_weights_are_resampled(small):
    X = small.copy()
    X[::7, 1] = np.nan
    gm = GaussianMixture(2, random_state=0).fit(X)
    result = bootstrap(gm, X, n_boot=8, random_state=0)
    assert result.n_failed == 0 and np.all(np.isfinite(result.replicates["means_"]))
    weights = np.random.RandomState(0).uniform(0.5, 2, size=len(small))
    for kind in ("nonparametric", "weighted"):
        gm = GaussianMixture(2, random_state=0).fit(small, sample_weight=weights)
        result = bootstrap(gm, small, sample_weight=weights, n_boot=8, kind=kind,
                           random_state=0)
        assert result.n_failed == 0
        km = KMeans(2, random_state=0).fit(small, sample_weight=weights)
        assert bootstrap(km, small, sample_weight=weights, n_boot=4, kind=kind,
                         random_state=0).n_failed == 0


def test_a_map_fit_is_refitted_with_its_prior(small, monkeypatch):
    gm = GaussianMixture(2, prior="default", random_state=0).fit(small)
    priors = []
    fit = GaussianMixture.fit

    def recording(self, X, y=None, sample_weight=None):
        priors.append(self.prior)
        return fit(self, X, y, sample_weight)

    monkeypatch.setattr(GaussianMixture, "fit", recording)
    result = bootstrap(gm, small, n_boot=3, random_state=0)
    assert priors == ["default"] * 3 and result.n_failed == 0


# ----------------------------------------------------------------------- label matching
def test_replicates_that_come_out_permuted_are_put_back(small, monkeypatch):
    gm = GaussianMixture(2, random_state=0).fit(small)
    plain = bootstrap(gm, small, n_boot=8, random_state=3, n_jobs=1)
    assert plain.n_relabelled == 0
    refit = _bootstrap._MixtureModel.refit
    calls = []

    def swapped(self, X, lengths, sample_weight, seed):
        params, converged = refit(self, X, lengths, sample_weight, seed)
        calls.append(seed)
        return {name: value[::-1] for name, value in params.items()}, converged

    monkeypatch.setattr(_bootstrap._MixtureModel, "refit", swapped)
    result = bootstrap(gm, small, n_boot=8, random_state=3, n_jobs=1)
    assert len(calls) == 8 and result.n_relabelled == 8
    for name in plain.replicates:
        np.testing.assert_array_equal(result.replicates[name], plain.replicates[name])


def test_hmm_states_are_permuted_consistently(sequences, monkeypatch):
    X, lengths = sequences
    model = GaussianHMM(2, n_iter=50, random_state=0).fit(X, lengths)
    plain = bootstrap(model, X, lengths=lengths, n_boot=6, random_state=0, n_jobs=1)
    refit = _bootstrap._GaussianHMMModel.refit

    def swapped(self, X, lengths, sample_weight, seed):
        params, converged = refit(self, X, lengths, sample_weight, seed)
        order = [1, 0]
        return {"startprob_": params["startprob_"][order],
                "transmat_": params["transmat_"][order][:, order],
                "means_": params["means_"][order], "covars_": params["covars_"][order]
                }, converged

    monkeypatch.setattr(_bootstrap._GaussianHMMModel, "refit", swapped)
    result = bootstrap(model, X, lengths=lengths, n_boot=6, random_state=0, n_jobs=1)
    assert result.n_relabelled == 6
    for name in plain.replicates:
        np.testing.assert_array_equal(result.replicates[name], plain.replicates[name])


def test_categorical_states_are_matched_on_emissions(symbols, monkeypatch):
    X, lengths = symbols
    model = CategoricalHMM(2, n_iter=50, random_state=0).fit(X, lengths)
    plain = bootstrap(model, X, lengths=lengths, n_boot=5, random_state=0, n_jobs=1)
    refit = _bootstrap._CategoricalHMMModel.refit

    def swapped(self, X, lengths, sample_weight, seed):
        params, converged = refit(self, X, lengths, sample_weight, seed)
        return {"startprob_": params["startprob_"][::-1],
                "transmat_": params["transmat_"][::-1, ::-1],
                "emissionprob_": params["emissionprob_"][::-1]}, converged

    monkeypatch.setattr(_bootstrap._CategoricalHMMModel, "refit", swapped)
    result = bootstrap(model, X, lengths=lengths, n_boot=5, random_state=0, n_jobs=1)
    assert result.n_relabelled == 5
    for name in plain.replicates:
        np.testing.assert_array_equal(result.replicates[name], plain.replicates[name])


# ----------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name, kind", [("gmm", "nonparametric"), ("gmm", "parametric"),
                                        ("kmeans", "weighted"), ("ghmm", "nonparametric"),
                                        ("cat", "parametric")])
def test_the_same_for_any_n_jobs(name, kind, small, sequences, symbols):
    estimator, X, lengths = _fitted(name, small, sequences, symbols)
    runs = [bootstrap(estimator, X, lengths=lengths, n_boot=6, kind=kind, random_state=7,
                      n_jobs=n_jobs) for n_jobs in (1, 2, None)]
    for param in runs[0].replicates:
        for run in runs[1:]:
            np.testing.assert_array_equal(runs[0].replicates[param], run.replicates[param])
            np.testing.assert_array_equal(runs[0].lower[param], run.lower[param])
    other = bootstrap(estimator, X, lengths=lengths, n_boot=6, kind=kind, random_state=8)
    param = next(iter(other.replicates))
    assert not np.array_equal(other.replicates[param], runs[0].replicates[param])


def test_small_data_runs_serially_unless_told():
    from fastem._kernels._parallel import effective_n_threads

    assert _bootstrap._n_workers(None, 200, 2000 * 2) == 1
    assert _bootstrap._n_workers(None, 200, 10**6) == effective_n_threads(None)
    assert _bootstrap._n_workers(2, 200, 10) == min(2, effective_n_threads(2))
    assert _bootstrap._n_workers(64, 3, 10**6) == 3


def test_a_randomstate_seeds_it_too(small):
    gm = GaussianMixture(2, random_state=0).fit(small)
    a = bootstrap(gm, small, n_boot=4, random_state=np.random.RandomState(5))
    b = bootstrap(gm, small, n_boot=4, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(a.replicates["means_"], b.replicates["means_"])


# ----------------------------------------------------------------------- statistics
@pytest.fixture(scope="module")
def blobs():
    return _two_blobs()


@pytest.mark.parametrize("kind", ["nonparametric", "parametric", "weighted"])
def test_mixture_mean_standard_errors_are_sigma_over_root_n(blobs, kind):
    X, labels = blobs
    gm = GaussianMixture(2, random_state=0).fit(X)
    result = bootstrap(gm, X, n_boot=200, kind=kind, random_state=0)
    counts = np.bincount(gm.predict(X), minlength=2)
    textbook = SIGMA / np.sqrt(counts)[:, None] * np.ones((1, 2))
    ratio = result.standard_errors["means_"] / textbook
    assert np.all(np.abs(ratio - 1) < 0.18), ratio
    # the weight of a component: sqrt(w (1 - w) / n)
    w = gm.weights_
    ratio = result.standard_errors["weights_"] / np.sqrt(w * (1 - w) / len(X))
    assert np.all(np.abs(ratio - 1) < 0.18), ratio
    assert result.n_failed == 0 and result.n_relabelled == 0


def test_kmeans_center_standard_errors_are_sigma_over_root_n(blobs):
    X, _ = blobs
    km = KMeans(2, random_state=0).fit(X)
    result = bootstrap(km, X, n_boot=200, random_state=0)
    counts = np.bincount(km.labels_, minlength=2)
    ratio = result.standard_errors["cluster_centers_"] / (SIGMA / np.sqrt(counts)[:, None])
    assert np.all(np.abs(ratio - 1) < 0.18), ratio


def test_intervals_widen_with_confidence(small):
    gm = GaussianMixture(2, random_state=0).fit(small)
    narrow = bootstrap(gm, small, n_boot=30, confidence=0.5, random_state=0)
    wide = bootstrap(gm, small, n_boot=30, confidence=0.99, random_state=0)
    assert np.all(wide.upper["means_"] - wide.lower["means_"]
                  >= narrow.upper["means_"] - narrow.lower["means_"])
    reps = wide.replicates["means_"]
    np.testing.assert_allclose(wide.lower["means_"], np.quantile(reps, 0.005, axis=0))
    np.testing.assert_allclose(wide.standard_errors["means_"], reps.std(axis=0, ddof=1))


# ----------------------------------------------------------------------- failures
def test_convergence_is_counted_not_warned(small, sequences):
    gm = GaussianMixture(2, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(small)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = bootstrap(gm, small, n_boot=5, random_state=0)
    assert result.n_not_converged == 5
    gm = GaussianMixture(2, random_state=0).fit(small)
    assert bootstrap(gm, small, n_boot=5, random_state=0).n_not_converged == 0
    X, lengths = sequences
    hmm = GaussianHMM(2, n_iter=1, random_state=0).fit(X, lengths)
    assert bootstrap(hmm, X, lengths=lengths, n_boot=4, random_state=0).n_not_converged == 4


def test_failed_replicates_are_left_out_and_counted(small, monkeypatch):
    gm = GaussianMixture(2, random_state=0).fit(small)
    refit = _bootstrap._MixtureModel.refit

    def sometimes(self, X, lengths, sample_weight, seed):
        if seed % 3 == 0:
            raise ValueError("the covariance of component 1 is not positive definite")
        return refit(self, X, lengths, sample_weight, seed)

    monkeypatch.setattr(_bootstrap._MixtureModel, "refit", sometimes)
    result = bootstrap(gm, small, n_boot=30, random_state=0, n_jobs=2)
    assert 0 < result.n_failed < 30 and len(result.errors) == result.n_failed
    assert result.replicates["means_"].shape == (30 - result.n_failed, 2, 2)
    assert "positive definite" in result.errors[0] and result.errors[0].startswith("replicate")

    def always(self, X, lengths, sample_weight, seed):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(_bootstrap._MixtureModel, "refit", always)
    with pytest.raises(ValueError, match="every one of the 4 bootstrap replicates failed.*"
                                         "singular matrix"):
        bootstrap(gm, small, n_boot=4, random_state=0)


# ----------------------------------------------------------------------- errors
def test_errors(small, sequences, symbols):
    gm = GaussianMixture(2, random_state=0).fit(small)
    with pytest.raises(NotFittedError, match="'estimator'.*not fitted|'estimator'"):
        bootstrap(GaussianMixture(2), small)
    with pytest.raises(NotFittedError, match="estimator"):
        bootstrap(GaussianHMM(2), small)
    with pytest.raises(TypeError, match="estimator must be"):
        bootstrap(object(), small)
    km = KMeans(2, random_state=0).fit(small)
    with pytest.raises(ValueError, match="parametric.*KMeans has no generative model"):
        bootstrap(km, small, kind="parametric")
    X, lengths = sequences
    hmm = GaussianHMM(2, random_state=0).fit(X, lengths)
    with pytest.raises(ValueError, match="weighted.*takes no sample_weight"):
        bootstrap(hmm, X, lengths=lengths, kind="weighted")
    with pytest.raises(ValueError, match="takes no sample_weight"):
        bootstrap(hmm, X, lengths=lengths, sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="lengths sum to"):
        bootstrap(hmm, X, lengths=[10, 20])
    with pytest.raises(ValueError, match="at least two sequences"):
        bootstrap(hmm, X)
    with pytest.raises(ValueError, match="lengths is for hidden Markov models"):
        bootstrap(gm, small, lengths=[len(small)])
    for n_boot, error in ((1, ValueError), (0, ValueError), (2.5, TypeError),
                          (True, TypeError)):
        with pytest.raises(error, match="n_boot"):
            bootstrap(gm, small, n_boot=n_boot)
    for confidence, error in ((0, ValueError), (1, ValueError), (1.5, ValueError),
                              (np.nan, ValueError), ("95%", TypeError)):
        with pytest.raises(error, match="confidence"):
            bootstrap(gm, small, confidence=confidence)
    with pytest.raises(ValueError, match="kind must be one of"):
        bootstrap(gm, small, kind="jackknife")
    with pytest.raises(ValueError, match="n_jobs"):
        bootstrap(gm, small, n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs"):
        bootstrap(gm, small, n_jobs=1.5)
    with pytest.raises(ValueError, match="random_state"):
        bootstrap(gm, small, random_state="seed")
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        bootstrap(gm, small, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight cannot be used"):
        bootstrap(gm, small, sample_weight=np.ones(len(small)), kind="parametric")
    with pytest.raises(ValueError, match="features"):
        bootstrap(gm, small[:, :1])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap(km, np.where(small > 5, np.nan, small))
    X, lengths = symbols
    cat = CategoricalHMM(2, random_state=0).fit(X, lengths)
    with pytest.raises(ValueError, match="symbol"):
        bootstrap(cat, X + 5, lengths=lengths)


def test_exported():
    assert fastem.bootstrap is bootstrap and "bootstrap" in fastem.__all__
    assert "BootstrapResult" in fastem.__all__


MODEL_COVARIANCES = {
    "full": [np.array([[1.0, 0.4], [0.4, 0.8]]), np.array([[0.6, -0.2], [-0.2, 1.2]])],
    "tied": [np.array([[1.0, 0.4], [0.4, 0.8]])] * 2,
    "diag": [np.diag([1.0, 0.5]), np.diag([0.4, 1.3])],
    "spherical": [np.eye(2) * 0.8, np.eye(2) * 1.3],
}


@pytest.mark.parametrize("covariance_type", sorted(MODEL_COVARIANCES))
def test_bootstrap_standard_errors_agree_with_the_observed_information(covariance_type):
    """On a well-separated mixture of the fitted type (n = 2000), every bootstrap
    standard error is within 15% of the observed-information one."""
    rs = np.random.RandomState(1)
    for name in sorted(MODEL_COVARIANCES):      # the same draws for every type
        A = MODEL_COVARIANCES[name]
        first = rs.rand(2000) < 0.4
        X = np.where(first[:, None], rs.multivariate_normal([0, 0], A[0], 2000),
                     rs.multivariate_normal([6, 4], A[1], 2000))
        if name == covariance_type:
            break
    gm = fastem.GaussianMixture(2, covariance_type=covariance_type, tol=1e-10,
                                max_iter=1000, random_state=0).fit(X)
    observed = gm.standard_errors(X)
    boot = fastem.bootstrap(gm, X, n_boot=200, random_state=0)
    for name, value in (("weights_", observed.weights), ("means_", observed.means),
                        ("covariances_", observed.covariances)):
        ratio = boot.standard_errors[name] / value
        assert np.all((ratio > 0.85) & (ratio < 1.15)), (name, ratio)
