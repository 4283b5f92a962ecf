"""Cost of GaussianMixture.standard_errors against one EM iteration of fit, same run.

    python benchmarks/standard_errors.py                  # n=200,000, d=16, k=16, full
    python benchmarks/standard_errors.py --n 50000 --k 8 --threads 1
    python benchmarks/standard_errors.py --blas-threads 1   # needs threadpoolctl

The data are benchmarks/run.py's mixture_data (well-separated spherical clusters with
per-feature scales). One EM iteration is timed as run.py does (fits from the same
initial parameters with tol=0 at two max_iter values, each the fastest of --repeats
fits: the difference per iteration).
Two fitted models are measured: one fitted from the generating centres (each component
on its own cluster) and the default fit (k-means initialisation, random_state=0), whose
components may share clusters. Every time is the fastest of --repeats calls. Printed as
a markdown table: milliseconds, and the ratio to one EM iteration.

The products of standard_errors (and its small factorisations) run in numpy's BLAS,
whose threads split each call statically: on a machine where other processes hold
cores, a call waits for its slowest thread, and multi-threaded BLAS times swing by 10x
from run to run. --blas-threads 1 (with --threads 1 for the kernels) gives stable ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np
import run
from run import initial_parameters, mixture_data, per_iteration

import fastem
from fastem._kernels._parallel import effective_n_threads
from fastem.mixture._information import RESPONSIBILITY_FLOOR


def best_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def blas_limit(threads):
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads, user_api="blas")


def shared_rows(gm, X):
    """Rows with some pair of responsibilities whose product reaches the floor."""
    count = 0
    for lo in range(0, len(X), 65536):
        r = gm.predict_proba(X[lo:lo + 65536])
        top2 = np.sort(r, axis=1)[:, -2:]
        count += int((top2[:, 0] * top2[:, 1] >= RESPONSIBILITY_FLOOR).sum())
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--threads", type=int, default=None, help="n_threads of fastem")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit numpy's BLAS threads (threadpoolctl)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    run.REPEATS = args.repeats          # per_iteration's fits: the fastest of these
    n, d, k, ct = args.n, args.d, args.k, args.covariance_type
    X = mixture_data(n, d, k, np.float64)
    centres = np.random.RandomState(0).uniform(-5, 5, size=(k, d))   # mixture_data's
    warnings.simplefilter("ignore")
    threads = args.threads
    init = initial_parameters(X, k, ct)

    def fit(max_iter):
        return fastem.GaussianMixture(k, covariance_type=ct, tol=0, max_iter=max_iter,
                                      n_threads=threads, **init).fit(X).n_iter_

    with blas_limit(args.blas_threads):
        iteration, _ = per_iteration(fit, (2, 12))
        models = {
            "fitted from the generating centres": fastem.GaussianMixture(
                k, covariance_type=ct, means_init=centres, n_threads=threads).fit(X),
            "default fit (k-means init, random_state=0)": fastem.GaussianMixture(
                k, covariance_type=ct, random_state=0, n_threads=threads).fit(X),
        }
        rows = [("EM iteration of fit (ms/it)", iteration)]
        notes = []
        for label, gm in models.items():
            for method in ("observed", "empirical"):
                rows.append((f"{label}: standard_errors, {method}",
                             best_ms(lambda gm=gm, method=method: gm.standard_errors(
                                 X, method=method), args.repeats)))
            rows.append((f"{label}: parameter_covariance, observed",
                         best_ms(lambda gm=gm: gm.parameter_covariance(X), args.repeats)))
            notes.append(f"{label}: {shared_rows(gm, X):,} of {n:,} rows shared by two "
                         "components (responsibility product >= 1e-12)")
    n_params = models[next(iter(models))]._n_parameters()
    blas = "default" if args.blas_threads is None else str(args.blas_threads)
    print(f"GaussianMixture n={n:,} d={d} k={k} {ct}: P={n_params} parameters; "
          f"{effective_n_threads(threads)} kernel thread(s), BLAS threads {blas}; "
          f"fastest of {args.repeats}\n")
    print("| case | ms | EM iterations |")
    print("|---|---:|---:|")
    for label, ms in rows:
        print(f"| {label} | {ms:.0f} | {ms / iteration:.2f} |")
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
