"""fastem's default thread count on a busy machine, and Ctrl-C latency.

    python benchmarks/busy.py               # everything below (a few minutes)
    python benchmarks/busy.py --hogs 2      # how many CPU-busy processes to start

Cases, each timed with the default threads and with n_threads=1 (and scikit-learn's
GaussianMixture with its defaults, in the same conditions):
  - a BIC sweep on Old Faithful: 4 covariance types x K = 1..8, n_init=3;
  - a default fit of n=200,000, d=16, k=16, full covariance;
first on a quiet machine, then with --hogs processes that spin on the CPU (started and
stopped by this script). Every time is the median of --repeats runs. Then the delay
between a SIGINT and the KeyboardInterrupt during a fit at n=2,000,000, d=16, k=32,
full covariance.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import statistics
import threading
import time
import warnings

import numpy as np

from fastem import GaussianMixture
from fastem._kernels._parallel import effective_n_threads
from fastem.datasets import load_faithful

warnings.simplefilter("ignore")


def _spin():
    while True:
        pass


def bic_sweep(n_threads, make=GaussianMixture):
    X = load_faithful()
    extra = {} if make is not GaussianMixture else {"n_threads": n_threads}
    for ct in ("full", "tied", "diag", "spherical"):
        for k in range(1, 9):
            make(k, covariance_type=ct, n_init=3, random_state=0, **extra).fit(X).bic(X)


def blobs(n=200_000, d=16, k=16, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-5, 5, size=(k, d))
    return rng.standard_normal((n, d)) + centers[rng.randint(k, size=n)]


def large_fit(n_threads, make=GaussianMixture, X=None):
    extra = {} if make is not GaussianMixture else {"n_threads": n_threads}
    make(16, covariance_type="full", random_state=0, **extra).fit(X)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def table(conditions, repeats, X, sklearn_gm):
    rows = []
    for name, fn in (("BIC sweep, Old Faithful (32 fits x 3 inits)", bic_sweep),
                     ("fit n=200,000 d=16 k=16 full",
                      lambda t, **kw: large_fit(t, X=X, **kw))):
        default = median_time(lambda fn=fn: fn(None), repeats)
        serial = median_time(lambda fn=fn: fn(1), repeats)
        peer = (median_time(lambda fn=fn: fn(None, make=sklearn_gm), max(1, repeats // 2))
                if sklearn_gm is not None else float("nan"))
        rows.append((conditions, name, default, serial, default / serial, peer,
                     peer / default))
    return rows


def ctrl_c_latency(n=2_000_000, d=16, k=32, delays=(1.5, 3.0, 4.5)):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n, d))
    out = []
    for delay in delays:
        gm = GaussianMixture(k, covariance_type="full", max_iter=1000, tol=0,
                             weights_init=np.full(k, 1 / k), means_init=X[:k].copy(),
                             precisions_init=np.tile(np.eye(d), (k, 1, 1)))
        sent = []

        def fire(delay=delay, sent=sent):
            time.sleep(delay)
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=fire, daemon=True).start()
        try:
            gm.fit(X)
        except KeyboardInterrupt:
            out.append(time.perf_counter() - sent[0])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-ctrl-c", action="store_true")
    args = parser.parse_args()
    try:
        from sklearn.mixture import GaussianMixture as sklearn_gm
    except ImportError:
        sklearn_gm = None
    X = blobs()
    print(f"default threads: {effective_n_threads(None)}")
    rows = table("quiet", args.repeats, X, sklearn_gm)
    ctx = mp.get_context("spawn")
    hogs = [ctx.Process(target=_spin, daemon=True) for _ in range(args.hogs)]
    for h in hogs:
        h.start()
    time.sleep(1.0)
    try:
        rows += table(f"{args.hogs} busy processes", args.repeats, X, sklearn_gm)
    finally:
        for h in hogs:
            h.terminate()
            h.join()
    print("\n| machine | case | default threads s | n_threads=1 s | default / 1 thread "
          "| scikit-learn s | vs scikit-learn |")
    print("|---|---|---|---|---|---|---|")
    for cond, name, default, serial, ratio, peer, speedup in rows:
        print(f"| {cond} | {name} | {default:.3f} | {serial:.3f} | {ratio:.2f} | "
              f"{peer:.2f} | {speedup:.1f} |")
    if not args.no_ctrl_c:
        latency = ctrl_c_latency()
        print("\nCtrl-C during a fit at n=2,000,000, d=16, k=32 full: KeyboardInterrupt "
              "after " + ", ".join(f"{1000 * t:.1f} ms" for t in latency))


if __name__ == "__main__":
    main()
