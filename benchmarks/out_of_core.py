"""A Gaussian mixture fitted from a file larger than the memory the process may use.

    python benchmarks/out_of_core.py [--gb 2] [--limit-mb 512] [--iters 3]

Writes ``--gb`` GB of float64 rows (16 features, a mixture of 16 components) to a .npy
file in a temporary directory (or --dir), then times EM iterations (full covariances,
16 components, from the same given start, tol=0) three ways, each in its own process:

- in memory: the file loaded into an array (needs the RAM);
- memmap: ``fit(np.load(path, mmap_mode="r"))``, read in chunks, the file in the page
  cache (it was just written), no limit;
- memmap under a limit: the same with RLIMIT_DATA set to the process's private memory
  at start plus ``--limit-mb`` MB (Linux counts private allocations against it, not the
  read-only mapping of the file), so a copy of the data cannot be made.

Per-iteration time is (time of a fit of 1 + iters iterations - time of a fit of 1
iteration) / iters, which leaves out the validation pass and the first E-step. Prints a
markdown table with the ratios to the in-memory fit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

D, K = 16, 16

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
from fastem import GaussianMixture
path, mode, limit_mb, iters = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start = np.load(path.replace(".npy", "-start.npz"))
if mode == "memory":
    X = np.load(path)
else:
    X = np.load(path, mmap_mode="r")
if limit_mb:
    with open("/proc/self/status") as f:
        vmdata = [int(l.split()[1]) for l in f if l.startswith("VmData")][0] * 1024
    limit = vmdata + (limit_mb << 20)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    try:            # the limit holds: a copy of the data cannot be made
        np.ones(X.shape, dtype=X.dtype)
    except MemoryError:
        pass
    else:
        raise SystemExit("RLIMIT_DATA does not hold a copy of the data")
def fit(n_iter):
    gm = GaussianMixture(16, covariance_type="full", max_iter=n_iter, tol=0.0,
                         weights_init=start["w"], means_init=start["m"],
                         precisions_init=start["p"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        gm.fit(X)
        return time.perf_counter() - t0, gm
one, _ = fit(1)
more, gm = fit(1 + iters)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"ms_per_iter": (more - one) / iters * 1e3, "lower_bound": gm.lower_bound_,
                  "peak_rss_mb": peak / 2**20}))
"""


def write_data(path, n, seed=0):
    rs = np.random.RandomState(seed)
    centers = rs.normal(scale=3.0, size=(K, D))
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, D))
    step = 1 << 18
    for lo in range(0, n, step):
        m = min(step, n - lo)
        labels = rs.randint(K, size=m)
        mm[lo:lo + m] = centers[labels] + rs.normal(size=(m, D))
    mm.flush()
    del mm
    start = {"w": np.full(K, 1.0 / K), "m": centers + 0.3,
             "p": np.tile(np.eye(D), (K, 1, 1))}
    np.savez(str(path).replace(".npy", "-start.npz"), **start)


def run(path, mode, limit_mb, iters):
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode, str(limit_mb),
                          str(iters)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--limit-mb", type=int, default=512)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    n = int(args.gb * 1e9) // (8 * D)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "rows.npy"
        t0 = time.perf_counter()
        write_data(path, n)
        print(f"wrote {path.stat().st_size / 1e9:.2f} GB ({n} x {D}) in "
              f"{time.perf_counter() - t0:.0f} s")
        rows = [("in memory", run(path, "memory", 0, args.iters)),
                ("memmap (page cache)", run(path, "memmap", 0, args.iters)),
                (f"memmap, RLIMIT_DATA +{args.limit_mb} MB",
                 run(path, "memmap", args.limit_mb, args.iters))]
    base = rows[0][1]["ms_per_iter"]
    print(f"\nGaussianMixture, {n} x {D}, K={K}, full, float64; {args.iters} EM iterations "
          "timed")
    print("| fit | ms / iteration | vs in memory | peak RSS (MB) | lower bound |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['ms_per_iter']:.0f} | {r['ms_per_iter'] / base:.2f}x | "
              f"{r['peak_rss_mb']:.0f} | {r['lower_bound']:.10f} |")


if __name__ == "__main__":
    main()
