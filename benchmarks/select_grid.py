"""Time fastem.mixture.select over K = 1..9 x the four covariance types on Old Faithful.

    python benchmarks/select_grid.py

Prints the best of 5 runs (after one warm-up) for the grid run one fit at a time with
every thread, for the fits side by side in threads, and for the automatic choice, and
the same grid written as scikit-learn users write it (a loop over
sklearn.mixture.GaussianMixture) when scikit-learn is installed.
"""

import time
import warnings

import fastem
from fastem.datasets import load_faithful
from fastem.mixture import select

KS, TYPES, REPEATS = range(1, 10), ("full", "tied", "diag", "spherical"), 5


def best_time(run):
    run()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def sklearn_loop(X):
    from sklearn.mixture import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ct in TYPES:
            for k in KS:
                GaussianMixture(k, covariance_type=ct, random_state=0).fit(X).bic(X)


def main():
    X = load_faithful()
    threads = fastem._kernels._parallel.effective_n_threads(None)
    runs = {
        "serial (n_jobs=1)": lambda: select(X, KS, TYPES, random_state=0, n_jobs=1),
        f"threaded (n_jobs={threads})": lambda: select(X, KS, TYPES, random_state=0,
                                                       n_jobs=threads),
        "automatic (n_jobs=None)": lambda: select(X, KS, TYPES, random_state=0),
    }
    try:
        import sklearn  # noqa: F401
        runs["scikit-learn loop (reference)"] = lambda: sklearn_loop(X)
    except ImportError:
        pass
    print(f"select on Old Faithful ({X.shape[0]} x {X.shape[1]}), K=1..9 x "
          f"{len(TYPES)} types = {len(KS) * len(TYPES)} fits, {threads} threads; "
          f"best of {REPEATS}")
    print(f"{'run':<32}{'seconds':>9}")
    for name, run in runs.items():
        print(f"{name:<32}{best_time(run):>9.3f}")


if __name__ == "__main__":
    main()
