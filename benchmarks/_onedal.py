"""Intel oneDAL as a benchmark peer (optional: scikit-learn-intelex, which ships daal4py).

What each function times, for benchmarks/run.py:

* ``em_gmm``: ``daal4py.em_gmm``, oneDAL's EM for Gaussian mixtures, from the given
  weights, means and covariances. oneDAL stores covariances "full" or "diagonal" only
  (no tied or spherical). accuracyThreshold=0 (negative values are refused) means a fit
  stops only when two successive log-likelihoods are equal, so every fit returns the
  iterations oneDAL reports it ran (``nIterations``), and the runner divides by those.
  A fit converts the NumPy arrays to oneDAL tables (no copy for C-contiguous data of the
  fptype) and builds the result tables: costs common to every max_iter, which the
  runner's difference of two fits cancels.
* ``kmeans``: ``sklearnex.cluster.KMeans`` (oneDAL's Lloyd) from the given centers,
  tol=0, n_init=1, n_jobs=threads. The fit raises if scikit-learn-intelex fell back to
  scikit-learn, so a number in the table is oneDAL's.
* ``kmeans_plusplus``: ``onedal.cluster.kmeans_plusplus``, the oneDAL seeding that
  ``sklearnex.cluster.KMeans(init="k-means++")`` runs: greedy k-means++ with
  2 + int(log k) candidates per center, as scikit-learn's and fastem's.

oneDAL parallelises with TBB, not OpenMP: ``set_threads`` calls ``daal4py.daalinit``,
which sets the thread count of the oneDAL library that daal4py and sklearnex share.
"""

from __future__ import annotations

import warnings

import numpy as np

COVARIANCE_STORAGE = {"full": "full", "diag": "diagonal"}


def available() -> bool:
    try:
        import daal4py  # noqa: F401
        import onedal.cluster  # noqa: F401
        import sklearnex.cluster  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    for dist in ("scikit-learn-intelex", "daal4py"):
        try:
            return f"{dist} {installed(dist)}"
        except PackageNotFoundError:
            pass
    return "unknown version"


def set_threads(n_threads: int) -> None:
    import daal4py

    daal4py.daalinit(n_threads)


def _fptype(dtype) -> str:
    return "float" if np.dtype(dtype) == np.float32 else "double"


def em_gmm(X, k, covariance_type, init):
    """fit(max_iter) -> iterations run, for daal4py.em_gmm from the runner's start."""
    import daal4py

    storage = COVARIANCE_STORAGE[covariance_type]
    dtype = X.dtype
    prec = init["precisions_init"]
    covs = np.linalg.inv(prec) if covariance_type == "full" else (1 / prec)[:, None, :]
    covs = [np.ascontiguousarray(c, dtype=dtype) for c in covs]  # diagonal: 1 x d each
    weights = np.ascontiguousarray(init["weights_init"][None, :], dtype=dtype)
    means = np.ascontiguousarray(init["means_init"], dtype=dtype)

    def fit(max_iter):
        algorithm = daal4py.em_gmm(nComponents=k, maxIterations=max_iter,
                                   accuracyThreshold=0.0, covarianceStorage=storage,
                                   fptype=_fptype(dtype))
        ran = int(algorithm.compute(X, weights, means, covs).nIterations[0, 0])
        if ran < max_iter:
            warnings.warn(f"oneDAL em_gmm stopped after {ran} of {max_iter} iterations "
                          "(log-likelihood unchanged)", RuntimeWarning, stacklevel=2)
        return ran

    return fit


def kmeans(X, k, centers, n_threads):
    """fit(max_iter) -> iterations run, for sklearnex's KMeans from the given centers."""
    from sklearnex.cluster import KMeans

    centers = np.ascontiguousarray(centers, dtype=X.dtype)

    def fit(max_iter):
        model = KMeans(k, init=centers, n_init=1, max_iter=max_iter, tol=0,
                       algorithm="lloyd", n_jobs=n_threads).fit(X)
        if not hasattr(model, "_onedal_estimator"):
            raise RuntimeError("scikit-learn-intelex fell back to scikit-learn's KMeans")
        return model.n_iter_

    return fit


def kmeans_plusplus(X, k, seed=0):
    from onedal.cluster import kmeans_plusplus

    return kmeans_plusplus(X, k, random_state=seed)[0]
