"""fastem on Dask against Spark MLlib and against fastem in memory: ms per EM iteration.

    python benchmarks/dask_spark.py                 # n=200000 d=16 k=16 full float64
    python benchmarks/dask_spark.py --chunks 2 8    # numbers of row chunks (default 2 8 32)

One case, the same data and the same initial parameters for every fit, tol=0 so that
every fit runs max_iter iterations. Per library, fits of 1 and N iterations (each the
fastest of three, after a warm-up fit) are differenced and divided by N - 1, which
cancels what every fit pays once: validation, the Py4J call, Spark's copy of the data.

- in memory: fastem.GaussianMixture on a NumPy array, all the threads of this process;
- Dask: the same on a dask array persisted on a distributed.LocalCluster of 2 worker
  processes x 1 thread (started, and the data persisted, before any timing), one row
  per chunking;
- Spark: pyspark.mllib's GaussianMixture on local[2] (benchmarks/_spark.py; the column
  is left empty, with a note, when that helper, pyspark or Java 17+ is missing).

"vs Spark" is Spark's time over Dask's (above 1: Dask is faster); "vs in memory" is the
in-memory time over Dask's (below 1: the cost of going through Dask). The table is
printed and written to benchmarks/results/dask_spark.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
from run import RESULTS, initial_parameters, mixture_data, per_iteration, ratio

import fastem


def fastem_fit(X, k, init, max_iter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # tol=0: ConvergenceWarning
        return fastem.GaussianMixture(k, covariance_type="full", tol=0, max_iter=max_iter,
                                      **init).fit(X)


def spark_column(X, k, init, n_iter):
    """Spark's ms per iteration, or (None, why not)."""
    try:
        import _spark
    except ImportError:
        return None, "benchmarks/_spark.py is missing"
    if not _spark.spark_available():
        return None, "pyspark or Java 17+ is missing"
    covs = np.linalg.inv(init["precisions_init"])
    ms = _spark.spark_gmm_ms_per_iter(X, k, init["weights_init"], init["means_init"],
                                      covs, n_iter, repeats=3)
    _spark.stop_spark()
    return ms, None if ms is not None else "Spark could not be timed (see the warning)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--iter", type=int, default=10, help="N: the longer fits' max_iter")
    parser.add_argument("--chunks", type=int, nargs="+", default=[2, 8, 32],
                        help="numbers of row chunks of the dask array")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "dask_spark.md"))
    args = parser.parse_args(argv)

    import dask
    import dask.array as da
    import distributed

    n, d, k, iters = args.n, args.d, args.k, (1, args.iter)
    X = mixture_data(n, d, k, np.float64)
    init = initial_parameters(X, k, "full")
    case = f"GMM n={n:,} d={d} k={k} full float64"
    threads = fastem._kernels._parallel.effective_n_threads(None)

    memory_ms, _ = per_iteration(lambda m: fastem_fit(X, k, init, m).n_iter_, iters)
    reference = fastem_fit(X, k, init, args.iter)
    print(f"in memory ({threads} threads): {memory_ms:.1f} ms/iteration", flush=True)

    dask_ms = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        for parts in args.chunks:
            dX = client.persist(da.from_array(X, chunks=(-(-n // parts), d)))
            distributed.wait(dX)
            dask_ms[parts], _ = per_iteration(
                lambda m, dX=dX: fastem_fit(dX, k, init, m).n_iter_, iters)
            same = fastem_fit(dX, k, init, args.iter)
            diff = np.max(np.abs(same.means_ - reference.means_)) / np.max(
                np.abs(reference.means_))
            print(f"Dask, {parts} chunks: {dask_ms[parts]:.1f} ms/iteration (means equal "
                  f"the in-memory fit's to {diff:.1e})", flush=True)
            del dX

    spark_ms, why = (None, "--no-spark") if args.no_spark else spark_column(
        X, k, init, args.iter)
    print(f"Spark local[2]: {'-' if spark_ms is None else f'{spark_ms:.1f}'} ms/iteration"
          + (f" ({why})" if why else ""), flush=True)

    def cell(v):
        return "-" if v is None or v != v else f"{v:.1f}" if v >= 10 else f"{v:.3g}"

    lines = [
        "# fastem on Dask vs Spark MLlib vs in memory",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores visible; Python "
        f"{platform.python_version()}, numpy {np.__version__}, fastem {fastem.__version__},"
        f" dask {dask.__version__}, "
        f"distributed {distributed.__version__}",
        f"- ms per EM iteration from fits of 1 and {args.iter} iterations (tol=0, the same "
        "start), each the fastest of three; in memory: "
        f"{threads} threads; Dask: LocalCluster 2 processes x 1 thread, data persisted; "
        "Spark: pyspark.mllib on local[2]" + (f" ({why})" if why else ""),
        "",
        "| case | Dask chunks | in memory ms/it | Dask ms/it | Spark ms/it | Dask vs Spark "
        "| Dask vs in memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for parts, ms in dask_ms.items():
        lines.append(f"| {case} | {parts} | {cell(memory_ms)} | {cell(ms)} | "
                     f"{cell(spark_ms)} | {cell(ratio(ms, spark_ms))} | "
                     f"{cell(ratio(ms, memory_ms))} |")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"table written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
