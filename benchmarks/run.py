"""fastem benchmark runner: fastem against its peers, same data, same machine, one run.

    python benchmarks/run.py            # the full case matrix (tens of minutes)
    python benchmarks/run.py --quick    # a small smoke run (about a minute)
    python benchmarks/run.py --only missing kmeans
    python benchmarks/run.py --only hmm
    python benchmarks/run.py --skip pomegranate   # without a peer (here: the slowest)

Per case it fits every library from identical initial parameters with tol=0 for two
values of max_iter and reports the difference per iteration (each time the fastest of
REPEATS fits after a warm-up fit: two, three with --quick; the k-means++ and whole-fit
times are the fastest of REPEATS too), the peak memory beyond the
input during fit (Linux VmHWM, reset before each fit), the achieved GFLOP/s of the
full-covariance work (4 n k d^2 flops per iteration) as a share of this machine's DGEMM
rate (measured here), and fastem's speed-up from 1 to all threads. Peers: scikit-learn
(GaussianMixture, KMeans), hmmlearn (GaussianHMM, CategoricalHMM; its default "log"
implementation) and, when importable, pomegranate's GeneralMixtureModel, Intel oneDAL
(daal4py.em_gmm for full and diagonal mixtures; scikit-learn-intelex's KMeans and its
k-means++; benchmarks/_onedal.py) and faiss (k-means and k-means++ in float32;
benchmarks/_faiss.py), every peer on as many threads as fastem.
The tables are printed, written to benchmarks/results/latest.md, and the ratios are
plotted to benchmarks/results/ratios.png when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import _faiss  # benchmarks/ is on sys.path when this file runs as a script
import _onedal
import numpy as np

import fastem

RESULTS = Path(__file__).resolve().parent / "results"


# -- measurement -----------------------------------------------------------------------
def _status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def _release_freed_memory():
    """Hand freed heap pages back to the OS so that VmHWM sees new allocations."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak():
    _release_freed_memory()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(fn):
    """(seconds, peak bytes beyond the resident set before the call)."""
    gc.collect()
    can_reset = _reset_peak()
    before = _status("VmRSS:")
    t0 = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - t0
    peak = _status("VmHWM:") - before if can_reset else float("nan")
    return elapsed, max(peak, 0)


REPEATS = 3


def best_of(fn):
    """Seconds of the fastest of REPEATS calls."""
    return min(measure(fn)[0] for _ in range(REPEATS))


def per_iteration(fit, iters):
    """ms per iteration from fits with two max_iter values (best of REPEATS each, after a
    warm-up fit), and the larger fit's peak memory. fit(max_iter) returns the number of
    iterations it ran (k-means may stop early on a fixed point)."""
    lo, hi = iters
    fit(lo)
    done = {}

    def timed(m):
        def call():
            done[m] = fit(m)
        return measure(call)

    t_lo = min(timed(lo)[0] for _ in range(REPEATS))
    runs = [timed(hi) for _ in range(REPEATS)]
    t_hi = min(t for t, _ in runs)
    mem = max(m for _, m in runs)
    steps = done[hi] - done[lo]
    if steps <= 0 or t_hi <= t_lo:  # the larger fit no slower: noise, not a time
        return float("nan"), mem
    return 1000 * (t_hi - t_lo) / steps, mem


def dgemm_gflops(size=3000):
    a = np.random.RandomState(0).rand(size, size)
    a @ a
    best = min(measure(lambda: a @ a)[0] for _ in range(3))
    return 2 * size**3 / best / 1e9


# -- data ------------------------------------------------------------------------------
def mixture_data(n, d, k, dtype, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(-5, 5, size=(k, d))
    labels = rng.randint(0, k, size=n)
    X = rng.standard_normal((n, d))
    X *= rng.uniform(0.5, 1.5, size=d)
    X += centers[labels]
    return np.ascontiguousarray(X, dtype=dtype)


def initial_parameters(X, k, covariance_type, seed=1):
    rng = np.random.RandomState(seed)
    means = X[rng.choice(len(X), k, replace=False)].astype(np.float64)
    means = np.where(np.isnan(means), 0.0, means)
    var = np.nanvar(X[: min(len(X), 100_000)].astype(np.float64), axis=0)
    prec = {
        "full": np.tile(np.diag(1 / var), (k, 1, 1)),
        "tied": np.diag(1 / var),
        "diag": np.tile(1 / var, (k, 1)),
        "spherical": np.full(k, 1 / var.mean()),
    }[covariance_type]
    return dict(weights_init=np.full(k, 1.0 / k), means_init=means, precisions_init=prec)


# -- peers -----------------------------------------------------------------------------
def sklearn_available():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def pomegranate_fit(X, k, covariance_type, init, max_iter):
    import torch
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    cov = {"full": "full", "diag": "diag", "spherical": "sphere"}[covariance_type]
    prec = init["precisions_init"]
    covs = np.linalg.inv(prec) if covariance_type == "full" else 1 / prec
    if covariance_type == "spherical":  # pomegranate wants one variance per feature
        covs = np.repeat(covs[:, None], X.shape[1], axis=1)
    dtype = torch.float64 if X.dtype == np.float64 else torch.float32

    def tensor(a):
        return torch.tensor(np.asarray(a), dtype=dtype)

    dists = [Normal(means=tensor(init["means_init"][j]), covs=tensor(covs[j]),
                    covariance_type=cov) for j in range(k)]
    model = GeneralMixtureModel(dists, priors=tensor(init["weights_init"]),
                                max_iter=max_iter, tol=-1e300)
    model.fit(torch.from_numpy(X))
    return max_iter  # tol is -inf: every iteration runs


def hmmlearn_available():
    try:
        import hmmlearn  # noqa: F401
    except ImportError:
        return False
    return True


def pomegranate_available():
    try:
        import pomegranate  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# -- cases -----------------------------------------------------------------------------
@dataclass
class Row:
    case: str
    values: dict = field(default_factory=dict)


def gmm_case(n, d, k, covariance_type, dtype, iters, threads, missing=0.0, peers=()):
    X = mixture_data(n, d, k, dtype)
    if missing:
        rng = np.random.RandomState(7)
        X[rng.uniform(size=X.shape) < missing] = np.nan
    init = initial_parameters(X, k, covariance_type)
    name = (f"GMM n={n:,} d={d} k={k} {covariance_type} {np.dtype(dtype).name}"
            + (f" {int(missing * 100)}% missing" if missing else ""))
    row = Row(name)

    def fe(max_iter, n_threads=threads):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fastem.GaussianMixture(k, covariance_type=covariance_type, tol=0,
                                          max_iter=max_iter, n_threads=n_threads,
                                          **init).fit(X).n_iter_

    row.values["fastem ms/it"], row.values["fastem MB"] = per_iteration(fe, iters)
    if threads > 1:
        one, _ = per_iteration(lambda m: fe(m, 1), iters)
        row.values["threads speed-up"] = one / row.values["fastem ms/it"]
    if covariance_type in ("full", "tied"):
        gflops = 4 * n * k * d * d / (row.values["fastem ms/it"] / 1000) / 1e9
        row.values["GFLOP/s"] = gflops
    if "sklearn" in peers and not missing:
        from sklearn.mixture import GaussianMixture as SkGM

        def sk(max_iter):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return SkGM(k, covariance_type=covariance_type, tol=0, max_iter=max_iter,
                            **init).fit(X).n_iter_

        row.values["sklearn ms/it"], row.values["sklearn MB"] = per_iteration(sk, iters)
    if "pomegranate" in peers and not missing and covariance_type != "tied":
        row.values["pomegranate ms/it"], row.values["pomegranate MB"] = per_iteration(
            lambda m: pomegranate_fit(X, k, covariance_type, init, m), iters)
    if "oneDAL" in peers and not missing and covariance_type in _onedal.COVARIANCE_STORAGE:
        row.values["oneDAL ms/it"], row.values["oneDAL MB"] = per_iteration(
            _onedal.em_gmm(X, k, covariance_type, init), iters)
    row.values["input MB"] = X.nbytes
    return row


def default_fit_case(n, d, k, covariance_type, threads):
    """Whole default fit (initialisation + EM to convergence), fastem vs scikit-learn."""
    from sklearn.mixture import GaussianMixture as SkGM

    X = mixture_data(n, d, k, np.float64, seed=3)
    row = Row(f"default fit n={n:,} d={d} k={k} {covariance_type}")
    fe = fastem.GaussianMixture(k, covariance_type=covariance_type, random_state=0,
                                n_threads=threads)
    sk = SkGM(k, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row.values["fastem s"] = best_of(lambda: fe.fit(X))
        row.values["sklearn s"] = best_of(lambda: sk.fit(X))
    row.values["fastem loglik/n"] = fe.score(X)
    row.values["sklearn loglik/n"] = sk.score(X)
    row.values["fastem iters"] = fe.n_iter_
    row.values["sklearn iters"] = sk.n_iter_
    return row


def kmeans_case(n, d, k, dtype, iters, threads, peers=()):
    X = mixture_data(n, d, k, dtype, seed=5)
    # start all centers inside one corner so that Lloyd needs many iterations
    centers = X[np.argsort(X[:, 0])[: 50 * k : 50]].copy()
    row = Row(f"KMeans n={n:,} d={d} k={k} {np.dtype(dtype).name}")

    def fe(max_iter, n_threads=threads):
        return fastem.KMeans(k, init=centers, max_iter=max_iter, tol=0,
                             n_threads=n_threads).fit(X).n_iter_

    row.values["fastem ms/it"], row.values["fastem MB"] = per_iteration(fe, iters)
    if threads > 1:
        one, _ = per_iteration(lambda m: fe(m, 1), iters)
        row.values["threads speed-up"] = one / row.values["fastem ms/it"]
    row.values["fastem k-means++ ms"] = 1000 * best_of(
        lambda: fastem.kmeans_plusplus(X, k, random_state=0, n_threads=threads))
    if "sklearn" in peers:
        from sklearn.cluster import KMeans as SkKMeans
        from sklearn.cluster import kmeans_plusplus

        def sk(max_iter):
            return SkKMeans(k, init=centers, n_init=1, max_iter=max_iter, tol=0,
                            algorithm="lloyd").fit(X).n_iter_

        row.values["sklearn ms/it"], row.values["sklearn MB"] = per_iteration(sk, iters)
        row.values["sklearn k-means++ ms"] = 1000 * best_of(
            lambda: kmeans_plusplus(X, k, random_state=0))
    if "oneDAL" in peers:
        row.values["sklearnex ms/it"], row.values["sklearnex MB"] = per_iteration(
            _onedal.kmeans(X, k, centers, threads), iters)
        row.values["sklearnex k-means++ ms"] = 1000 * best_of(
            lambda: _onedal.kmeans_plusplus(X, k))
    if "faiss" in peers and X.dtype == np.float32:
        row.values["faiss ms/it"], row.values["faiss MB"] = per_iteration(
            _faiss.kmeans(X, k, centers), iters)
        if _faiss.has_kmeans_plusplus():
            row.values["faiss k-means++ ms"] = 1000 * best_of(
                lambda: _faiss.kmeans_plusplus(X, k))
            row.values["faiss default train ms"] = 1000 * best_of(
                lambda: _faiss.default_train(X, k))
    row.values["input MB"] = X.nbytes
    return row


def hmm_case(T, n_seq, d, k, kind, iters, threads, peers=()):
    """Baum-Welch per iteration from identical parameters, fastem against hmmlearn.

    kind is a covariance type (GaussianHMM, d features) or "categorical" (d symbols)."""
    rng = np.random.RandomState(11)
    startprob = np.full(k, 1.0 / k)
    transmat = rng.dirichlet(np.ones(k), size=k) + 4 * np.eye(k)
    transmat /= transmat.sum(axis=1, keepdims=True)
    lengths = np.full(n_seq, T // n_seq)
    if kind == "categorical":
        emission = {"emissionprob_": rng.dirichlet(np.ones(d), size=k)}
        gen = fastem.CategoricalHMM(k, init_params="")
        name = f"CategoricalHMM T={T:,} in {n_seq} seqs, {d} symbols, k={k}"
    else:
        truth = {"means_": rng.uniform(-4, 4, size=(k, d)),
                 "covars_": np.tile(rng.uniform(0.5, 1.5, size=d), (k, 1))}
        gen = fastem.GaussianHMM(k, covariance_type="diag", init_params="")
        name = f"GaussianHMM T={T:,} in {n_seq} seqs, d={d}, k={k} {kind}"
    gen.startprob_, gen.transmat_ = startprob, transmat
    for key, value in (emission if kind == "categorical" else truth).items():
        setattr(gen, key, value)
    X, _ = gen.sample(T, random_state=0)
    if kind != "categorical":
        # start from perturbed means and unit covariances of the requested type
        var = X.var(axis=0)
        covars = {"diag": np.tile(var, (k, 1)), "full": np.tile(np.diag(var), (k, 1, 1)),
                  "spherical": np.full(k, var.mean()), "tied": np.diag(var)}[kind]
        start = {"means_": truth["means_"] + rng.normal(0, 0.5, size=(k, d)),
                 "covars_": covars}
    else:
        start = {"emissionprob_": rng.dirichlet(np.ones(d), size=k)}
    row = Row(name)

    def make(cls, max_iter, **kw):
        extra = {} if kind == "categorical" else {"covariance_type": kind}
        m = cls(k, n_iter=max_iter, tol=-np.inf, init_params="", **extra, **kw)
        m.startprob_, m.transmat_ = startprob.copy(), transmat.copy()
        for key, value in start.items():
            setattr(m, key, value.copy())
        return m

    fe_cls = fastem.CategoricalHMM if kind == "categorical" else fastem.GaussianHMM

    def fe(max_iter, n_threads=threads):
        return make(fe_cls, max_iter, n_threads=n_threads).fit(X, lengths).monitor_.iter

    row.values["fastem ms/it"], row.values["fastem MB"] = per_iteration(fe, iters)
    if threads > 1:
        one, _ = per_iteration(lambda m: fe(m, 1), iters)
        row.values["threads speed-up"] = one / row.values["fastem ms/it"]
    if "hmmlearn" in peers:
        from hmmlearn import hmm

        hl_cls = hmm.CategoricalHMM if kind == "categorical" else hmm.GaussianHMM

        def hl(max_iter):
            return make(hl_cls, max_iter).fit(X, lengths).monitor_.iter

        row.values["hmmlearn ms/it"], row.values["hmmlearn MB"] = per_iteration(hl, iters)
    row.values["input MB"] = X.nbytes
    return row


GMM_MATRIX = [
    (200_000, 16, 16, "full"),
    (1_000_000, 8, 8, "full"),
    (1_000_000, 8, 8, "diag"),
    (200_000, 50, 10, "full"),
    (1_000_000, 2, 5, "full"),
    (2_000_000, 4, 32, "diag"),
    (1_000_000, 8, 8, "spherical"),
    (1_000_000, 8, 8, "tied"),
]
KMEANS_MATRIX = [
    (1_000_000, 8, 8, np.float64),
    (1_000_000, 8, 8, np.float32),
    (200_000, 50, 100, np.float64),
    (200_000, 50, 100, np.float32),
    (1_000_000, 32, 256, np.float32),
]
MISSING_CASES = [(200_000, 8, 8, "full"), (200_000, 10, 8, "full")]
HMM_MATRIX = [
    (100_000, 100, 4, 8, "diag"),
    (100_000, 100, 4, 8, "full"),
    (200_000, 200, 10, 16, "diag"),
    (200_000, 200, 20, 16, "categorical"),
]
DEFAULT_FITS = [(200_000, 16, 16, "full"), (1_000_000, 8, 8, "diag")]


# -- report ----------------------------------------------------------------------------
# the peers' column prefixes: oneDAL is daal4py.em_gmm, sklearnex its KMeans
PEER_COLUMNS = ("sklearn", "pomegranate", "hmmlearn", "oneDAL", "sklearnex", "faiss")


def ratio(a, b):
    return b / a if a and b else float("nan")


def table(title, rows, columns):
    lines = [f"### {title}", "", "| case | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for col in columns:
            v = row.values.get(col)
            if v is None:
                cells.append("-")
            elif "MB" in col:
                cells.append(f"{v / 2**20:.1f}")
            elif isinstance(v, (int, np.integer)):
                cells.append(str(v))
            elif abs(v) >= 100:
                cells.append(f"{v:.0f}")
            else:
                cells.append(f"{v:.3g}")
        lines.append(f"| {row.case} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_ratios(rows, peak):
    for row in rows:
        v = row.values
        fe = v.get("fastem ms/it")
        for peer in PEER_COLUMNS:
            if f"{peer} ms/it" in v:
                v[f"vs {peer}"] = ratio(fe, v[f"{peer} ms/it"])
            if f"{peer} k-means++ ms" in v:
                v[f"k-means++ vs {peer}"] = ratio(v["fastem k-means++ ms"],
                                                  v[f"{peer} k-means++ ms"])
        for who in ("fastem", *PEER_COLUMNS):
            if f"{who} MB" in v:
                v[f"{who} mem/X"] = v[f"{who} MB"] / v["input MB"]
        if "GFLOP/s" in v:
            v["% DGEMM"] = 100 * v["GFLOP/s"] / peak


def plot(rows, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return
    labeled = [(r.case, r.values.get("vs sklearn", r.values.get("vs hmmlearn")))
               for r in rows if "vs sklearn" in r.values or "vs hmmlearn" in r.values]
    if not labeled:
        return
    names, values = zip(*labeled)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(names) + 1.5))
    ax.barh(range(len(names)), values, color="#3b7dd8")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up per EM iteration vs scikit-learn (HMMs: vs hmmlearn); "
                  "higher is better")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--only", nargs="*", default=None,
                        choices=["gmm", "float32", "missing", "kmeans", "default", "hmm"],
                        help="run only these groups")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    parser.add_argument("--no-peers", action="store_true", help="time fastem alone")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["sklearn", "pomegranate", "hmmlearn", "oneDAL", "faiss"],
                        help="leave out these peers")
    parser.add_argument("--output", default=str(RESULTS / "latest.md"))
    args = parser.parse_args(argv)

    threads = fastem._kernels._parallel.effective_n_threads(args.threads)
    peers = () if args.no_peers else tuple(
        p for p, ok in (("sklearn", sklearn_available()),
                        ("pomegranate", pomegranate_available()),
                        ("hmmlearn", hmmlearn_available()),
                        ("oneDAL", _onedal.available()),
                        ("faiss", _faiss.available())) if ok and p not in args.skip)
    versions = {"oneDAL": _onedal.version, "faiss": _faiss.version}
    if "oneDAL" in peers:
        _onedal.set_threads(threads)
    if "faiss" in peers:
        _faiss.set_threads(threads)
    global REPEATS
    scale = 20 if args.quick else 1
    iters = (1, 5) if args.quick else (2, 6)
    # Lloyd iterations take milliseconds: five times the span, so that the noise of the
    # fits' fixed costs spreads over 20 iterations
    kmeans_iters = (iters[0], iters[0] + 5 * (iters[1] - iters[0]))
    REPEATS = 3 if args.quick else 2
    groups = set(args.only or ["gmm", "float32", "missing", "kmeans", "default", "hmm"])
    peak = dgemm_gflops(1000 if args.quick else 3000)
    header = [
        "# fastem benchmark",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores visible, {threads} threads "
        f"used; DGEMM (numpy) {peak:.1f} GFLOP/s",
        f"- fastem {fastem.__version__}, numpy {np.__version__}, Python "
        f"{platform.python_version()}; peers: "
        + (", ".join(f"{p} ({versions[p]()})" if p in versions else p for p in peers)
           or "none"),
        f"- per-iteration times from fits with max_iter={iters[0]} and {iters[1]} (KMeans: "
        f"{kmeans_iters[0]} and {kmeans_iters[1]}), tol=0, identical initial parameters, "
        f"fastest of {REPEATS} after a warm-up fit; memory is the peak beyond the input "
        "during fit",
        "",
    ]
    print("\n".join(header), flush=True)
    sections = []

    def run(title, rows_fn, columns):
        rows = []
        for make in rows_fn:
            row = make()
            add_ratios([row], peak)
            rows.append(row)
            print(table(title, [row], columns).splitlines()[-1], flush=True)
        sections.append((title, rows, columns))

    gmm_cols = ["fastem ms/it", "sklearn ms/it", "vs sklearn", "pomegranate ms/it",
                "vs pomegranate", "oneDAL ms/it", "vs oneDAL", "fastem mem/X",
                "sklearn mem/X", "GFLOP/s", "% DGEMM", "threads speed-up"]
    dtypes = [np.float64] + ([np.float32] if "float32" in groups else [])
    if "gmm" in groups or "float32" in groups:
        cases = [(n // scale, d, k, ct, dt) for (n, d, k, ct) in GMM_MATRIX for dt in dtypes]
        if "gmm" not in groups:
            cases = [c for c in cases if c[4] == np.float32]
        run("Gaussian mixture, per EM iteration",
            [lambda c=c: gmm_case(*c, iters=iters, threads=threads, peers=peers)
             for c in cases], gmm_cols)
    if "missing" in groups:
        complete = {}

        def missing_case(c, m):
            row = gmm_case(c[0] // scale, *c[1:], np.float64, iters=iters, threads=threads,
                           missing=m)
            if m:
                row.values["vs complete"] = row.values["fastem ms/it"] / complete[c]
            else:
                complete[c] = row.values["fastem ms/it"]
            return row

        run("Gaussian mixture with missing values (vs the same fit on complete data)",
            [lambda c=c, m=m: missing_case(c, m) for c in MISSING_CASES for m in (0.0, 0.2)],
            ["fastem ms/it", "vs complete", "fastem mem/X", "threads speed-up"])
    if "kmeans" in groups:
        run("KMeans, per Lloyd iteration",
            [lambda c=c: kmeans_case(c[0] // scale, *c[1:], iters=kmeans_iters,
                                     threads=threads, peers=peers) for c in KMEANS_MATRIX],
            ["fastem ms/it", "sklearn ms/it", "vs sklearn", "sklearnex ms/it",
             "vs sklearnex", "faiss ms/it", "vs faiss", "fastem mem/X", "sklearn mem/X",
             "threads speed-up"])
        # the same rows: their seeding times
        sections.append(("k-means++ seeding (faiss default train: its whole k-means++ fit)",
                         sections[-1][1],
                         ["fastem k-means++ ms", "sklearn k-means++ ms",
                          "k-means++ vs sklearn", "sklearnex k-means++ ms",
                          "k-means++ vs sklearnex", "faiss k-means++ ms",
                          "k-means++ vs faiss", "faiss default train ms"]))
    if "hmm" in groups:
        run("Hidden Markov models, per Baum-Welch iteration",
            [lambda c=c: hmm_case(c[0] // scale, max(c[1] // scale, 1), *c[2:], iters=iters,
                                  threads=threads, peers=peers) for c in HMM_MATRIX],
            ["fastem ms/it", "hmmlearn ms/it", "vs hmmlearn", "fastem mem/X",
             "hmmlearn mem/X", "threads speed-up"])
    if "default" in groups and "sklearn" in peers:
        run("Whole default fit (initialisation + EM to convergence)",
            [lambda c=c: default_fit_case(c[0] // scale, *c[1:], threads=threads)
             for c in DEFAULT_FITS],
            ["fastem s", "sklearn s", "fastem iters", "sklearn iters", "fastem loglik/n",
             "sklearn loglik/n"])

    text = "\n".join(header) + "\n" + "\n\n".join(table(*s) for s in sections) + "\n"
    summary = _summary(sections)
    text += "\n" + summary + "\n"
    print("\n" + "\n\n".join(table(*s) for s in sections) + "\n\n" + summary)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"\ntables written to {out}")
    plot([r for _, rows, _ in sections for r in rows], out.with_name("ratios.png"))
    return 0


def _finite(rows, key):
    """The row values under key that are numbers (a noisy difference gives nan)."""
    return [r.values[key] for r in rows if np.isfinite(r.values.get(key, np.nan))]


def _spread(values):
    return (f"median {np.median(values):.1f}x, min {min(values):.1f}x over "
            f"{len(values)} cases")


def _summary(sections):
    gmm = [r for t, rows, _ in sections if t.startswith("Gaussian mixture, per")
           for r in rows]
    lines = ["### Summary"]
    sk = _finite(gmm, "vs sklearn")
    if sk:
        lines.append(f"- GaussianMixture vs scikit-learn per iteration: {_spread(sk)}")
    for peer in ("pomegranate", "oneDAL"):
        vs = _finite(gmm, f"vs {peer}")
        if vs:
            lines.append(f"- vs {peer}: {_spread(vs)}")
    mem = [r.values["fastem mem/X"] for r in gmm if "fastem mem/X" in r.values]
    if mem:
        lines.append(f"- fastem peak extra memory: max {max(mem):.3f}x the input")
    by_case = {}
    for r in gmm:
        key = r.case.replace("float32", "").replace("float64", "")
        by_case.setdefault(key, {})["32" if "float32" in r.case else "64"] = r.values[
            "fastem ms/it"]
    f32 = [v["64"] / v["32"] for v in by_case.values() if "32" in v and "64" in v]
    f32 = [x for x in f32 if np.isfinite(x)]
    if f32:
        lines.append(f"- float32 vs float64 speed-up: median {np.median(f32):.2f}x, "
                     f"min {min(f32):.2f}x")
    kmeans = [r for t, rows, _ in sections if t.startswith("KMeans") for r in rows]
    for peer in ("sklearn", "sklearnex", "faiss"):
        vs = _finite(kmeans, f"vs {peer}")
        if vs:
            lines.append(f"- KMeans vs {peer} per Lloyd iteration: {_spread(vs)}")
        vs = _finite(kmeans, f"k-means++ vs {peer}")
        if vs:
            lines.append(f"- k-means++ vs {peer}: {_spread(vs)}")
    hmm = _finite([r for t, rows, _ in sections if t.startswith("Hidden Markov")
                   for r in rows], "vs hmmlearn")
    if hmm:
        lines.append(f"- HMMs vs hmmlearn per Baum-Welch iteration: {_spread(hmm)}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
