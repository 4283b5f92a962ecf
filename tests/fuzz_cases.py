"""What the fuzz examples run (in the harness's worker process): each case fits an
estimator and uses it, and returns the violated invariants (an empty list when the
results are valid). Exceptions propagate to the harness, which records their type."""

from __future__ import annotations

import numpy as np

import fastem
from fastem._kernels import _parallel

_DEFAULT_SERIAL_WORK = _parallel.serial_work()


def _threads(parallel):
    _parallel.serial_work(0 if parallel else _DEFAULT_SERIAL_WORK)


def _labels_ok(labels, n, k, name):
    labels = np.asarray(labels)
    if labels.shape != (n,):
        return [f"{name} has shape {labels.shape}, expected ({n},)"]
    if n and (labels.min() < 0 or labels.max() >= k):
        return [f"{name} out of range [0, {k}): {labels.min()}..{labels.max()}"]
    return []


def _stochastic(p, name, axis=-1):
    p = np.asarray(p)
    if not np.all(np.isfinite(p)) or (p < 0).any():
        return [f"{name} not finite or negative"]
    if not np.allclose(p.sum(axis=axis), 1.0, atol=1e-6):
        return [f"{name} does not sum to 1"]
    return []


def _finite(a, name):
    return [] if np.all(np.isfinite(np.asarray(a))) else [f"{name} not finite"]


def _fit(estimator, X, sample_weight, feed):
    """Fit by one of the ways data comes in: an array, Chunks of it, or partial_fit on
    three batches."""
    if feed == "chunks":
        return estimator.fit(fastem.Chunks(X, chunk_size=max(1, len(X) // 3)),
                             sample_weight=sample_weight)
    if feed == "partial":
        for rows in np.array_split(np.arange(len(X)), 3):
            if len(rows):
                sw = sample_weight
                if isinstance(sw, np.ndarray) and sw.ndim == 1 and len(sw) == len(X):
                    sw = sw[rows]
                estimator.partial_fit(X[rows], sample_weight=sw)
        return estimator
    return estimator.fit(X, sample_weight=sample_weight)


def gaussian_mixture(X, sample_weight, params, parallel, feed="array"):
    _threads(parallel)
    gm = _fit(fastem.GaussianMixture(**params), X, sample_weight, feed)
    n, k = len(X), gm.weights_.shape[0]
    problems = _stochastic(gm.weights_, "weights_")
    for name in ("means_", "covariances_", "precisions_cholesky_"):
        problems += _finite(getattr(gm, name), name)
    problems += _labels_ok(gm.predict(X), n, k, "predict")
    proba = gm.predict_proba(X)
    scores = gm.score_samples(X)
    if np.isnan(scores).any():
        problems.append("score_samples is NaN")
    # a row whose density is zero under every component has no posterior: all zeros
    zero = scores == -np.inf
    problems += _stochastic(proba[~zero], "predict_proba")
    if (proba[zero] != 0).any():
        problems.append("predict_proba of a row of zero density is not zero")
    gm.score(X)
    gm.bic(X)
    sample, labels = gm.sample(5)
    problems += _labels_ok(labels, 5, k, "sample labels")
    if np.isnan(X).any():
        filled = gm.impute(X)
        problems += _finite(filled[~np.isnan(X).all(axis=1)], "impute")
    return problems


def kmeans(X, sample_weight, params, parallel, feed="array"):
    _threads(parallel)
    km = _fit(fastem.KMeans(**params), X, sample_weight, feed)
    n, k = len(X), km.cluster_centers_.shape[0]
    problems = _labels_ok(km.labels_, n if feed != "partial" else len(km.labels_), k,
                          "labels_")
    problems += _labels_ok(km.predict(X), n, k, "predict")
    problems += _finite(km.cluster_centers_, "cluster_centers_")
    if not (np.isfinite(km.inertia_) and km.inertia_ >= 0):
        problems.append(f"inertia_ = {km.inertia_}")
    distances = km.transform(X)
    if distances.shape != (n, k) or np.isnan(distances).any() or (distances < 0).any():
        problems.append("transform is not a valid (n, k) array of distances")
    km.score(X)
    return problems


def kmeans_plusplus(X, n_clusters, sample_weight, params, parallel):
    _threads(parallel)
    centers, indices = fastem.kmeans_plusplus(X, n_clusters, sample_weight=sample_weight,
                                              **params)
    return _labels_ok(indices, n_clusters, len(X), "indices")


def _hmm(model, X, lengths):
    """Fit a hidden Markov model and use it: the invariants both kinds share."""
    model.fit(X, lengths)
    n, k = len(X), model.n_components
    problems = _stochastic(model.startprob_, "startprob_")
    problems += _stochastic(model.transmat_, "transmat_")
    if np.isnan(model.score(X, lengths)):
        problems.append("score is NaN")
    problems += _labels_ok(model.predict(X, lengths), n, k, "predict")
    model.decode(X, lengths, algorithm="map")
    sample, states = model.sample(5, random_state=0)
    return problems + _labels_ok(states, 5, k, "sample states")


def gaussian_hmm(X, lengths, params, parallel):
    _threads(parallel)
    model = fastem.GaussianHMM(**params)
    problems = _hmm(model, X, lengths)
    return problems + _finite(model.means_, "means_")


def categorical_hmm(X, lengths, params, parallel):
    _threads(parallel)
    model = fastem.CategoricalHMM(**params)
    problems = _hmm(model, X, lengths)
    return problems + _stochastic(model.emissionprob_, "emissionprob_")


def harness_crash():
    """For the harness's own test: a segmentation fault."""
    import ctypes

    ctypes.string_at(0)


def harness_hang(seconds):
    """For the harness's own test: no answer for a while."""
    import time

    time.sleep(seconds)
    return []
