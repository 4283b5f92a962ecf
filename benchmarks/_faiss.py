"""faiss's k-means as a benchmark peer (optional: faiss-cpu). faiss clusters float32 only.

What each function times, for benchmarks/run.py:

* ``kmeans``: ``faiss.Kmeans(d, k, niter=max_iter).train(X, init_centroids=centers)``
  with max_points_per_centroid raised to n/k, so that every row is used (by default
  faiss trains on a random subsample of 256 rows per centroid). An iteration is one
  assignment (an exact IndexFlatL2 search, sgemm-based) and one centroid update, as a
  Lloyd iteration of fastem; faiss stops early only when the objective is unchanged, so
  fit returns the iterations it recorded. A fit also scans X for NaNs once: a fixed
  cost, cancelled by the runner's difference of two fits.
* ``kmeans_plusplus``: ``faiss.ClusteringInitialization`` with KMEANS_PLUS_PLUS over all
  of X: plain D^2 sampling (one candidate per center, not greedy), serial C++ (no
  OpenMP in faiss's seeding), so it does less work than greedy k-means++ on one thread.
* ``default_train``: ``faiss.Kmeans(d, k, init_method=KMEANS_PLUS_PLUS).train(X)`` with
  faiss's defaults otherwise: a random subsample of 256 rows per centroid, k-means++ on
  that subsample, then up to 25 iterations on it. This is the whole training a faiss
  user runs with k-means++ seeding, not a seeding time.
"""

from __future__ import annotations

import numpy as np


def available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def has_kmeans_plusplus() -> bool:
    import faiss

    return hasattr(faiss, "ClusteringInitialization")


def version() -> str:
    import faiss

    return faiss.__version__


def set_threads(n_threads: int) -> None:
    import faiss

    faiss.omp_set_num_threads(n_threads)


def kmeans(X, k, centers):
    """fit(max_iter) -> iterations run, for faiss's k-means from the given centers."""
    import faiss

    X = np.ascontiguousarray(X, dtype=np.float32)
    centers = np.ascontiguousarray(centers, dtype=np.float32)
    n, d = X.shape

    def fit(max_iter):
        model = faiss.Kmeans(d, k, niter=max_iter, max_points_per_centroid=-(-n // k))
        model.train(X, init_centroids=centers)
        return len(model.obj)

    return fit


def kmeans_plusplus(X, k, seed=0):
    import faiss

    X = np.ascontiguousarray(X, dtype=np.float32)
    init = faiss.ClusteringInitialization(X.shape[1], k)
    init.method = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
    init.seed = seed
    centers = np.empty((k, X.shape[1]), dtype=np.float32)
    init.init_centroids(len(X), faiss.swig_ptr(X), faiss.swig_ptr(centers))
    return centers


def default_train(X, k, seed=0):
    import faiss

    model = faiss.Kmeans(X.shape[1], k, seed=seed,
                         init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS)
    model.train(np.ascontiguousarray(X, dtype=np.float32))
    return model
