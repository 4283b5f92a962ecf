"""scikit-learn's conventions for dtypes and feature names, on fastem's estimators."""

import warnings

import numpy as np
import pytest
from conftest import make_blobs

import fastem
from fastem import GaussianMixture, KMeans

pd = pytest.importorskip("pandas")

X = make_blobs(n=300, d=3, seed=2)
NAMES = ["a", "b", "c"]


def estimators():
    return [GaussianMixture(2, random_state=0), KMeans(2, random_state=0, n_init=1)]


@pytest.mark.parametrize("est", estimators(), ids=type)
def test_feature_names_from_a_dataframe(est, tmp_path):
    frame = pd.DataFrame(X, columns=NAMES)
    est.fit(frame)
    assert est.feature_names_in_.dtype == object
    assert list(est.feature_names_in_) == NAMES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(frame)                          # same names: no warning
    with pytest.warns(UserWarning, match="X does not have valid feature names, but "
                      f"{type(est).__name__} was fitted with feature names"):
        est.predict(X)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(frame[["b", "a", "c"]])
    renamed = frame.rename(columns={"c": "z"})
    with pytest.raises(ValueError, match="(?s)unseen at fit time:\n- z\n.*yet now "
                                         "missing:\n- c"):
        est.predict(renamed)
    # the names survive a model file, as str objects
    back = fastem.load(est.save(tmp_path / "m.npz"))
    assert back.feature_names_in_.dtype == object
    assert list(back.feature_names_in_) == NAMES
    # a refit on an array forgets them, and then a DataFrame warns
    est.fit(X)
    assert not hasattr(est, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but"):
        est.predict(frame)


@pytest.mark.parametrize("est", estimators(), ids=type)
def test_feature_names_rules(est):
    est.fit(pd.DataFrame(X))                         # integer column names: no names
    assert not hasattr(est, "feature_names_in_")
    with pytest.raises(TypeError, match="only supported if all input features have "
                                        "string names"):
        est.fit(pd.DataFrame(X, columns=["a", 1, "c"]))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_float32_mixture_saves_and_loads_in_float32(covariance_type, tmp_path):
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    gm.fit(X.astype(np.float32))
    back = fastem.load(gm.save(tmp_path / "m.npz"))
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        assert getattr(back, name).dtype == np.float32
        np.testing.assert_array_equal(getattr(back, name), getattr(gm, name))
    np.testing.assert_array_equal(back.score_samples(X), gm.score_samples(X))
