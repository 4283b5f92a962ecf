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
