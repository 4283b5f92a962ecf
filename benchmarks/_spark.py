"""Spark MLlib's Gaussian mixture EM as a benchmark peer (optional: needs pyspark and Java).

    python benchmarks/_spark.py     # demo: n=200000, d=16, k=16, full covariance

``spark_gmm_ms_per_iter`` times ``pyspark.mllib.clustering.GaussianMixture`` on a
``local[2]`` SparkContext. The RDD-based ``pyspark.mllib`` API is used because it is the
only Spark GMM that accepts an initial model (the DataFrame-based ``pyspark.ml`` one
always starts from its own random initialisation). Spark fits full covariances only.

How the time per iteration is measured:

* the data are shipped to the JVM once, as an RDD of mllib vectors that is cached and
  counted before any timing, so no fit pays for pickling the points out of Python;
* each fit starts from the given parameters with convergenceTol=0 (Spark's smallest).
  Spark then still stops early when two successive log-likelihoods are bit-for-bit
  equal, which does happen once EM reaches a floating-point fixed point, so the
  iterations each fit actually ran are counted (from its Spark jobs; mllib does not
  report them) and a warning is given when a fit stopped short;
* fits with ``n_iter`` and with 1 iteration are timed, each the fastest of ``repeats``,
  and the difference is divided by the difference of the iterations run. This cancels
  the cost common to every fit: the Py4J call, building the initial model, and the copy
  of the data into Breeze vectors that Spark's ``run`` makes (and caches) at the start
  of every fit.

Spark's E-step is not exact EM (see SPARK_EPSILON below): with densities far below
1e-16, as in the demo at its natural scale, it follows a different path from the same
start. The cost per iteration is the same either way.

Spark's ``run`` never unpersists that per-fit copy, so after each fit every cached RDD
other than our own data is unpersisted here, to keep the driver's memory flat.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np

# pyspark 4.x needs Java 17 or newer.
_MIN_JAVA = 17

_spark = None  # the cached SparkSession, created on first use
_available = None  # the cached answer of spark_available()

# {requested n_iter: (fastest seconds, iterations Spark actually ran)} of the last
# spark_gmm_ms_per_iter call, for reporting.
last_timings: dict[int, tuple[float, int]] | None = None


def _java_major() -> int | None:
    """Major version of the `java` that spark-submit will run, or None if there is none."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        # `java -version` prints to stderr, e.g. 'openjdk version "17.0.15" 2025-04-15'
        # (or "1.8.0_392" for Java 8).
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):  # old "1.x" numbering
        major = int(m.group(2))
    return major


def spark_available() -> bool:
    """True when pyspark imports and a Java runtime new enough for it is found."""
    global _available
    if _available is None:
        try:
            import pyspark  # noqa: F401
        except Exception:
            _available = False
        else:
            major = _java_major()
            _available = major is not None and major >= _MIN_JAVA
    return _available


def _get_spark():
    """The module's SparkSession on local[2], started on first call; None if it cannot start."""
    global _spark
    if _spark is not None:
        return _spark
    if not spark_available():
        return None
    # Python workers (used only while shipping the data) must run this interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # Keep Spark on the loopback interface.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        with warnings.catch_warnings():
            # pyspark warns at import about pandas versions it has not been tested with.
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.sql import SparkSession

            spark = (
                SparkSession.builder.master("local[2]")
                .appName("fastem-bench-spark-gmm")
                # Driver settings only take effect because the JVM is launched here.
                .config("spark.driver.memory", "4g")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.log.level", "ERROR")
                .getOrCreate()
            )
        spark.sparkContext.setLogLevel("ERROR")
    except Exception as exc:  # no JVM, bad JAVA_HOME, port trouble, ...
        warnings.warn(f"Spark could not start: {exc}", RuntimeWarning, stacklevel=2)
        return None
    _spark = spark
    return spark


def stop_spark() -> None:
    """Stop the cached SparkSession (a later call starts a new one)."""
    global _spark
    if _spark is not None:
        _spark.stop()
        _spark = None


def _ship_data(sc, X: np.ndarray):
    """X as a cached, materialised JavaRDD of mllib DenseVectors, one partition per core."""
    from pyspark.mllib.common import _to_java_object_rdd
    from pyspark.mllib.linalg import DenseVector

    n_parts = max(1, sc.defaultParallelism)
    # Ship contiguous row blocks (one pickle each) rather than 200k single rows.
    blocks = np.array_split(X, n_parts)
    rows = sc.parallelize(blocks, n_parts).flatMap(lambda b: [DenseVector(r) for r in b])
    # Unpickled into JVM objects once; from here on no Python worker is involved.
    jrdd = _to_java_object_rdd(rows).cache()
    jrdd.count()
    return jrdd


def _unpersist_others(sc, keep_id: int) -> None:
    """Drop cached RDDs other than ours (Spark's GMM leaves one per fit)."""
    persisted = sc._jsc.getPersistentRDDs()  # java.util.Map[Integer, JavaRDD]
    for rdd_id in list(persisted.keySet()):
        if int(rdd_id) != keep_id:
            persisted.get(rdd_id).unpersist(True)


_fit_counter = 0  # makes each fit's job group unique


def _fit(jrdd, k: int, weights, means, covs, max_iter: int):
    """One Spark EM fit of at most `max_iter` iterations from the given parameters.

    Calls the same JVM entry point as pyspark.mllib's GaussianMixture.train, but with
    our already-cached JVM RDD instead of a Python RDD that would be re-pickled.
    Returns (model, number of Spark jobs the fit ran); the jobs are counted because
    mllib does not report how many iterations it ran (see _Iterations).
    """
    global _fit_counter
    from pyspark import SparkContext
    from pyspark.mllib.clustering import GaussianMixtureModel
    from pyspark.mllib.common import callMLlibFunc
    from pyspark.mllib.linalg import DenseMatrix, DenseVector

    sc = SparkContext.getOrCreate()
    _fit_counter += 1
    group = f"fastem-gmm-fit-{_fit_counter}"
    sc.setJobGroup(group, group)
    d = means.shape[1]
    try:
        java_model = callMLlibFunc(
            "trainGaussianMixtureModel",
            jrdd,
            int(k),
            0.0,  # convergenceTol: Spark's smallest (it must be >= 0)
            int(max_iter),
            None,  # seed: unused with an initial model
            [float(w) for w in weights],
            [DenseVector(m) for m in means],
            # DenseMatrix takes its values column-major; the covariances are symmetric
            # anyway, but be exact.
            [DenseMatrix(d, d, np.asarray(c, dtype=np.float64).ravel(order="F")) for c in covs],
        )
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)  # leave the group
    n_jobs = len(sc.statusTracker().getJobIdsForGroup(group))
    return GaussianMixtureModel(java_model), n_jobs


class _Iterations:
    """Turns a fit's Spark job count into its number of EM iterations.

    With convergenceTol=0 Spark still stops when two successive log-likelihoods are
    bit-for-bit equal, which does happen (EM at a floating-point fixed point), so the
    iterations actually run are counted. A fit runs a fixed number of jobs (Spark's
    `first()` on its copy of the data) plus a fixed number per iteration (the
    treeAggregate of the E-step, and a second job for large d). Both are calibrated from
    fits of 1 and 2 iterations, which always run in full (the first iteration compares
    against a dummy previous log-likelihood, the second against Double.MinValue).
    """

    def __init__(self, jobs_1: int, jobs_2: int):
        self.per_iter = jobs_2 - jobs_1
        self.base = jobs_1 - self.per_iter
        if self.per_iter < 1:
            raise RuntimeError(f"cannot count Spark GMM iterations (jobs {jobs_1}, {jobs_2})")

    def __call__(self, n_jobs: int) -> int:
        return (n_jobs - self.base) // self.per_iter


def _model_params(model):
    """(weights, means, covariances) of an mllib GaussianMixtureModel as numpy arrays."""
    weights = np.asarray(model.weights, dtype=np.float64)
    gaussians = model.gaussians
    means = np.array([g.mu.toArray() for g in gaussians])
    covs = np.array([g.sigma.toArray() for g in gaussians])
    return weights, means, covs


def _check_inputs(X, n_components, init_weights, init_means, init_covs, n_iter):
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d, got shape {X.shape}")
    k, d = int(n_components), X.shape[1]
    w = np.asarray(init_weights, dtype=np.float64)
    m = np.asarray(init_means, dtype=np.float64)
    c = np.asarray(init_covs, dtype=np.float64)
    if w.shape != (k,) or m.shape != (k, d) or c.shape != (k, d, d):
        raise ValueError(
            f"initial parameters must have shapes ({k},), ({k}, {d}), ({k}, {d}, {d}); "
            f"got {w.shape}, {m.shape}, {c.shape}"
        )
    if int(n_iter) < 2:
        raise ValueError("n_iter must be at least 2 (it is differenced against 1 iteration)")
    return X, k, w, m, c


def _time_fits(X, n_components, init_weights, init_means, init_covs, iter_counts, repeats):
    """Time `repeats` fits for each requested iteration count in `iter_counts`.

    Returns {requested count: (fastest seconds, iterations Spark actually ran)}, or None
    when Spark is not usable.
    """
    spark = _get_spark()
    if spark is None:
        return None
    sc = spark.sparkContext
    jrdd = _ship_data(sc, X)
    keep = int(jrdd.id())
    start = (init_weights, init_means, init_covs)
    try:
        # Warm-up fits (JIT compilation, class loading), not timed; they also calibrate
        # the job-to-iteration count.
        jobs = []
        for n in (1, 2):
            jobs.append(_fit(jrdd, n_components, *start, n)[1])
            _unpersist_others(sc, keep)
        count_iters = _Iterations(*jobs)
        best = {n: (float("inf"), None) for n in iter_counts}
        for _ in range(repeats):
            # Interleave the counts so that load from elsewhere hits both alike.
            for n in iter_counts:
                t0 = time.perf_counter()
                _, n_jobs = _fit(jrdd, n_components, *start, n)
                elapsed = time.perf_counter() - t0
                _unpersist_others(sc, keep)
                ran = count_iters(n_jobs)
                if elapsed < best[n][0]:
                    best[n] = (elapsed, ran)
        return best
    finally:
        jrdd.unpersist(True)


def spark_gmm_ms_per_iter(
    X, n_components, init_weights, init_means, init_covs, n_iter, repeats=3
) -> float | None:
    """Spark MLlib's full-covariance GMM time per EM iteration, in ms, on local[2].

    X is an (n, d) float array; the initial parameters have shapes (k,), (k, d) and
    (k, d, d). Fits of `n_iter` and of 1 iteration, each the fastest of `repeats`, are
    differenced, so the one-off costs of a fit are excluded; the difference is divided by
    the iterations Spark actually ran (a RuntimeWarning says when it stopped short of
    `n_iter`). Returns None when pyspark or Java is missing, Spark will not start, a fit
    fails inside Spark (with a warning), or Spark ran no iteration beyond the first.
    Raises ValueError for inconsistent shapes or n_iter < 2.
    """
    global last_timings
    last_timings = None
    X, k, w, m, c = _check_inputs(X, n_components, init_weights, init_means, init_covs, n_iter)
    n_iter = int(n_iter)
    try:
        best = _time_fits(X, k, w, m, c, (1, n_iter), max(1, int(repeats)))
    except Exception as exc:  # a Py4J/JVM failure (out of memory, a lost JVM, ...)
        warnings.warn(f"Spark GMM fit failed: {exc}", RuntimeWarning, stacklevel=2)
        return None
    if best is None:
        return None
    last_timings = best
    (t_lo, it_lo), (t_hi, it_hi) = best[1], best[n_iter]
    if it_hi < n_iter:
        warnings.warn(
            f"Spark stopped after {it_hi} of {n_iter} iterations (equal successive "
            "log-likelihoods); the time per iteration uses the iterations actually run",
            RuntimeWarning,
            stacklevel=2,
        )
    if it_hi <= it_lo:
        return None
    return (t_hi - t_lo) / (it_hi - it_lo) * 1e3


# -- demo and a check that Spark runs the iterations it is asked for --------------------
# Spark's E-step is not exact EM: it works with densities, not log-densities, and adds
# MLUtils.EPSILON (the double machine epsilon) to each weighted component density, so a
# point whose densities are all below ~1e-16 gets near-uniform responsibilities. The
# reference step below can do the same, to compare Spark iteration for iteration.
SPARK_EPSILON = float(np.finfo(np.float64).eps)


def _log_gauss(X, means, covs):
    """(n, k) log-densities of X under each full-covariance Gaussian."""
    n, d = X.shape
    out = np.empty((n, len(means)))
    for j, (mu, cov) in enumerate(zip(means, covs)):
        L = np.linalg.cholesky(cov)
        z = np.linalg.solve(L, (X - mu).T)  # L z = (x - mu)
        out[:, j] = (
            -0.5 * np.einsum("ij,ij->j", z, z)
            - np.log(np.diag(L)).sum()
            - 0.5 * d * np.log(2 * np.pi)
        )
    return out


def _loglik(X, weights, means, covs):
    """Exact log-likelihood of X under the mixture (log-sum-exp)."""
    lp = _log_gauss(X, means, covs) + np.log(weights)
    top = lp.max(axis=1, keepdims=True)
    return float((top[:, 0] + np.log(np.exp(lp - top).sum(axis=1))).sum())


def _em_step(X, weights, means, covs, floor=0.0):
    """One numpy EM iteration. floor=0 is exact EM (in log space); floor=SPARK_EPSILON
    reproduces Spark's E-step, p_j = floor + w_j * pdf_j in linear space."""
    lp = _log_gauss(X, means, covs) + np.log(weights)
    if floor:
        p = floor + np.exp(lp)
        r = p / p.sum(axis=1, keepdims=True)
    else:
        r = np.exp(lp - lp.max(axis=1, keepdims=True))
        r /= r.sum(axis=1, keepdims=True)
    nk = r.sum(axis=0)
    new_means = (r.T @ X) / nk[:, None]
    new_covs = np.empty_like(covs)
    for j in range(len(nk)):
        xc = X - new_means[j]
        new_covs[j] = (r[:, j, None] * xc).T @ xc / nk[j]
    return nk / nk.sum(), new_means, new_covs


def _rel_diff(a, b):
    """Largest relative difference between two (weights, means, covs) triples."""
    return max(float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-300)) for x, y in zip(a, b))


def check_iterations(X, k, weights, means, covs, n_iter):
    """Confirm that a Spark fit of m iterations is exactly m EM steps from the start.

    Fits Spark with n_iter and n_iter + 1 iterations and compares each with numpy
    steps of Spark's EM (see SPARK_EPSILON) from the same start: a fit should match the
    reference with as many steps to rounding and differ clearly from its neighbours.
    Returns a dict of the findings, or None without Spark.
    """
    spark = _get_spark()
    if spark is None:
        return None
    sc = spark.sparkContext
    jrdd = _ship_data(sc, X)
    try:
        sp, ran = {}, {}
        jobs = []
        for n in (1, 2):
            jobs.append(_fit(jrdd, k, weights, means, covs, n)[1])
            _unpersist_others(sc, int(jrdd.id()))
        count_iters = _Iterations(*jobs)
        for n in (n_iter, n_iter + 1):
            model, n_jobs = _fit(jrdd, k, weights, means, covs, n)
            sp[n], ran[n] = _model_params(model), count_iters(n_jobs)
            _unpersist_others(sc, int(jrdd.id()))
    finally:
        jrdd.unpersist(True)

    # ref[i]: parameters after i Spark-style steps; exact[i]: after i exact EM steps.
    ref, exact = [(weights, means, covs)], [(weights, means, covs)]
    for _ in range(n_iter + 1):
        ref.append(_em_step(X, *ref[-1], floor=SPARK_EPSILON))
        exact.append(_em_step(X, *exact[-1]))
    n = n_iter
    return {
        "iterations run for n": ran[n],
        "iterations run for n+1": ran[n + 1],
        "spark(n) vs spark(n+1)": _rel_diff(sp[n + 1], sp[n]),
        "spark(n) vs ref(n-1)": _rel_diff(sp[n], ref[n - 1]),
        "spark(n) vs ref(n)": _rel_diff(sp[n], ref[n]),
        "spark(n) vs ref(n+1)": _rel_diff(sp[n], ref[n + 1]),
        "spark(n+1) vs ref(n+1)": _rel_diff(sp[n + 1], ref[n + 1]),
        "spark(n) vs exact EM(n)": _rel_diff(sp[n], exact[n]),
        # exact log-likelihoods of the parameters Spark returned
        "loglik spark(n)": _loglik(X, *sp[n]),
        "loglik spark(n+1)": _loglik(X, *sp[n + 1]),
    }


def _demo_problem(n=200_000, d=16, k=16, seed=0):
    """Data from a well-separated k-component mixture with random full covariances, and
    a start: means drawn near the true ones, identity covariances, equal weights."""
    rng = np.random.default_rng(seed)
    true_means = rng.normal(scale=6.0, size=(k, d))  # pairwise distances ~ 6 sqrt(2d)
    labels = rng.integers(k, size=n)
    X = np.empty((n, d))
    for j in range(k):
        # covariance Q diag(s) Q^T: random orientation, variances in [0.5, 2]
        Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
        A = Q * np.sqrt(rng.uniform(0.5, 2.0, size=d))
        idx = labels == j
        X[idx] = true_means[j] + rng.standard_normal((idx.sum(), d)) @ A.T
    init_means = true_means + rng.normal(scale=0.5, size=(k, d))
    init_covs = np.tile(np.eye(d), (k, 1, 1))
    init_weights = np.full(k, 1.0 / k)
    return X, init_weights, init_means, init_covs


if __name__ == "__main__":
    n, d, k, n_iter = 200_000, 16, 16, 10
    if not spark_available():
        print("Spark is not usable here (pyspark or Java >= 17 missing)")
        sys.exit(0)
    X, w0, m0, c0 = _demo_problem(n, d, k)
    # Spark's local[2] wants both cores; a busy machine inflates the result.
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    t0 = time.perf_counter()
    ms = spark_gmm_ms_per_iter(X, k, w0, m0, c0, n_iter=n_iter, repeats=3)
    took = time.perf_counter() - t0
    if ms is None:
        print("Spark GMM could not be timed")
        sys.exit(1)
    print(f"Spark MLlib GMM, n={n} d={d} k={k} full, local[2]: {ms:.1f} ms/iteration")
    for req, (secs, ran) in last_timings.items():
        print(f"  asked {req:2d} iterations, ran {ran:2d}: fastest of 3 fits {secs:.2f} s")
    print(f"  whole timing call incl. Spark start-up and data shipping: {took:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    t0 = time.perf_counter()
    found = check_iterations(X, k, w0, m0, c0, n_iter=3)
    print(f"iteration check ({time.perf_counter() - t0:.1f} s):")
    for key, value in found.items():
        print(f"  {key:24s} {value:.10g}")
    stop_spark()
