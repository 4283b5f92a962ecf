"""fastem's estimators are scikit-learn estimators: check_estimator, Pipeline, search, clone."""

import warnings

import numpy as np
import pytest
from conftest import make_blobs
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from fastem import ConvergenceWarning, GaussianMixture, KMeans, NotFittedError

RANDOM_INIT = ("weighted rows and shuffled repeated rows draw different random initial "
               "centers; from identical initial parameters the fits are equal "
               "(test_integer_weights_equal_repeated_rows)")


@pytest.mark.parametrize("estimator", [GaussianMixture(n_components=2, random_state=0),
                                       KMeans(n_clusters=3, random_state=0)],
                         ids=["GaussianMixture", "KMeans"])
def test_check_estimator(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(
            estimator,
            expected_failed_checks={"check_sample_weight_equivalence_on_dense_data":
                                    RANDOM_INIT},
            on_fail=None,
        )
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results
              if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in results) > 30


def test_pipeline_search_and_clone():
    X = make_blobs(n=600, d=3, seed=3) * [1, 100, 0.01]
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0))
    labels = pipe.fit(X).predict(X)
    assert labels.shape == (600,) and len(np.unique(labels)) == 3
    search = GridSearchCV(GaussianMixture(random_state=0),
                          {"n_components": [1, 2, 3, 4], "covariance_type": ["full", "diag"]},
                          cv=3).fit(X)
    assert search.best_params_["n_components"] >= 3
    km = KMeans(4, random_state=1, n_threads=2)
    twin = clone(km)
    assert twin is not km and twin.get_params() == km.get_params()
    assert make_pipeline(StandardScaler(), KMeans(3, random_state=0)).fit_transform(X).shape == (
        600, 3)


def test_errors_and_warnings_are_scikit_learns_too():
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    from sklearn.exceptions import NotFittedError as SkNotFittedError

    with pytest.raises(SkNotFittedError):
        GaussianMixture().predict(np.zeros((2, 2)))
    with pytest.raises(NotFittedError):
        KMeans().predict(np.zeros((2, 2)))
    with pytest.warns(SkConvergenceWarning):
        GaussianMixture(2, max_iter=1, random_state=0).fit(make_blobs(n=100))
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(2, max_iter=1, random_state=0).fit(make_blobs(n=100))


@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(3, covariance_type="diag", random_state=0, tol=1e-4),
    lambda: GaussianMixture(3, means_init=make_blobs(n=3, seed=1), random_state=0),
    lambda: KMeans(3, random_state=0, n_threads=1),
])
def test_save_and_load_without_pickle(make, tmp_path):
    import fastem

    X = make_blobs(n=300, seed=4)
    X[::7, 1] = np.nan if isinstance(make(), GaussianMixture) else X[::7, 1]
    model = make().fit(X)
    path = model.save(tmp_path / "model.npz")
    loaded = fastem.load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params().keys() == model.get_params().keys()
    for name, value in vars(model).items():
        if name.endswith("_"):
            np.testing.assert_array_equal(getattr(loaded, name), value)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.score(X) == model.score(X)
    with np.load(path, allow_pickle=False) as data:  # nothing in the file needs pickle
        assert all(data[key].dtype != object for key in data.files)


def test_load_refuses_files_that_are_not_models(tmp_path):
    import fastem

    np.savez(tmp_path / "plain.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="not a fastem model"):
        fastem.load(tmp_path / "plain.npz")
    good = KMeans(2, random_state=0).fit(make_blobs(n=50)).save(tmp_path / "good.npz")
    with np.load(good) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["attr:cluster_centers_"] = np.array([object()], dtype=object)  # needs pickle
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="allow_pickle"):
        fastem.load(tmp_path / "evil.npz")
    with pytest.raises(ValueError, match="not fitted"):
        KMeans().save(tmp_path / "x.npz")
