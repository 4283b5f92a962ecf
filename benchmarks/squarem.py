"""SQUAREM against plain EM: E-steps and wall time to convergence from the same start.

    python benchmarks/squarem.py [--repeat 3] [--tol 1e-8]

Each case starts both fits from the same parameters (a k-means start) and runs them to a
relative change of the lower bound below ``--tol`` (fastem's ``tol`` is absolute on the
mean log-likelihood per row, so the absolute threshold is tol x |lower bound|). It prints
a markdown table: E-steps, milliseconds (best of ``--repeat``), the ratios, and the
relative difference of the final log-likelihoods.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from fastem import ConvergenceWarning, GaussianHMM, GaussianMixture
from fastem.datasets import load_faithful


def overlapping(n=20000, d=8, k=8, seed=0):
    rs = np.random.RandomState(seed)
    centers = rs.randn(k, d) * 1.5
    scales = rs.uniform(0.6, 1.4, size=(k, d))
    labels = rs.randint(k, size=n)
    return centers[labels] + rs.randn(n, d) * scales[labels]


def slow_hmm(T=3000, seed=0):
    rs = np.random.RandomState(seed)
    trans = np.full((3, 3), 0.05) + np.eye(3) * 0.85
    means = np.array([[0.0, 0.0], [1.0, 0.5], [0.5, 1.2]])
    states = [0]
    for _ in range(T - 1):
        states.append(rs.choice(3, p=trans[states[-1]]))
    return means[states] + rs.randn(T, 2) * 0.8


def timed(fit, repeat):
    best, model = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        model = fit()
        best = min(best, time.perf_counter() - t0)
    return model, best * 1e3


def _steps_to_optimum(make, X, optimum, within):
    """E-steps until the lower bound is within ``within`` (relative) of ``optimum``."""
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make(seen.append).fit(X)
    for info in seen:
        if (optimum - info.lower_bound) <= within * abs(optimum):
            return info.n_iter
    return None


def _parameter_stop(tol):
    """A convergence test on the parameters, as R's SQUAREM: the relative change of the
    unconstrained coordinates over one update (an EM step, or a SQUAREM cycle)."""
    from fastem.mixture._gaussian import pack_unconstrained

    def converged(self, change, _tol, old, new):
        u, v = pack_unconstrained(old), pack_unconstrained(new)
        return float(np.linalg.norm(v - u)) <= tol * float(np.linalg.norm(u))

    return converged


def _with_parameter_stop(tol, fit):
    from fastem.mixture import _gaussian_mixture as gmm

    problem = gmm._GaussianMixtureEM
    had = "converged" in vars(problem)
    saved = vars(problem).get("converged")
    problem.converged = _parameter_stop(tol)
    try:
        return fit()
    finally:
        if had:
            problem.converged = saved
        else:
            del problem.converged


def mixture_case(name, X, k, ct, tol, repeat):
    start = GaussianMixture(k, covariance_type=ct, max_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start.fit(X)
    init = {"weights_init": start.weights_, "means_init": start.means_,
            "precisions_init": start.precisions_}
    scale = abs(GaussianMixture(k, covariance_type=ct, max_iter=5, **init).fit(X).score(X))
    rows = {}
    for acc in (None, "squarem"):
        def fit(acc=acc):
            return GaussianMixture(k, covariance_type=ct, tol=tol * scale, max_iter=100000,
                                   accelerate=acc, **init).fit(X)
        model, ms = timed(fit, repeat)
        rows[acc] = (model.n_iter_, ms, model.score(X) * len(X), model.converged_)
    best = GaussianMixture(k, covariance_type=ct, tol=0, max_iter=3000, accelerate="squarem",
                           **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        optimum = best.fit(X).lower_bound_
    reach = {acc: _steps_to_optimum(
        lambda cb, acc=acc: GaussianMixture(k, covariance_type=ct, tol=0, max_iter=20000,
                                            accelerate=acc, callback=cb, **init),
        X, optimum, tol) for acc in (None, "squarem")}
    by_parameters = {}
    for acc in (None, "squarem"):
        def fit(acc=acc):
            return GaussianMixture(k, covariance_type=ct, tol=0.0, max_iter=100000,
                                   accelerate=acc, **init).fit(X)
        model, ms = timed(lambda fit=fit: _with_parameter_stop(tol, fit), repeat)
        by_parameters[acc] = (model.n_iter_, ms, model.score(X) * len(X), model.converged_)
    return name, rows, (reach, by_parameters)


def hmm_case(name, X, tol, repeat):
    scale = abs(GaussianHMM(3, n_iter=5, random_state=0).fit(X).score(X))
    rows = {}
    for acc in (None, "squarem"):
        def fit(acc=acc):
            return GaussianHMM(3, n_iter=100000, tol=tol * scale, random_state=0,
                               accelerate=acc).fit(X)
        model, ms = timed(fit, repeat)
        rows[acc] = (model.monitor_.iter, ms, model.score(X), model.monitor_.converged)
    return name, rows, None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tol", type=float, default=1e-8)
    args = p.parse_args()
    faithful = load_faithful()
    cases = [
        mixture_case("Old Faithful, full, K=3", faithful, 3, "full", args.tol, args.repeat),
        mixture_case("Old Faithful, diag, K=4", faithful, 4, "diag", args.tol, args.repeat),
        mixture_case("overlapping 20000 x 8, full, K=8", overlapping(), 8, "full", args.tol,
                     args.repeat),
        mixture_case("overlapping 20000 x 8, diag, K=8", overlapping(), 8, "diag", args.tol,
                     args.repeat),
        mixture_case("Old Faithful 20% missing, full, K=3", _missing(faithful), 3, "full",
                     args.tol, args.repeat),
        hmm_case("GaussianHMM 3 states, 3000 x 2, diag", slow_hmm(), args.tol, args.repeat),
    ]
    print(f"relative tol {args.tol:g}; best of {args.repeat}\n")
    print("| case | EM E-steps | SQUAREM E-steps | fewer | EM ms | SQUAREM ms | faster | "
          "log-lik rel. diff |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows, _ in cases:
        (n0, t0, l0, c0), (n1, t1, l1, c1) = rows[None], rows["squarem"]
        flag = "" if c0 and c1 else " (not converged)"
        print(f"| {name}{flag} | {n0} | {n1} | {n0 / n1:.1f}x | {t0:.1f} | {t1:.1f} | "
              f"{t0 / t1:.1f}x | {(l1 - l0) / abs(l0):+.1e} |")
    print(f"\nE-steps until the lower bound is within {args.tol:g} (relative) of the "
          "optimum (SQUAREM run with tol=0 for 3000 E-steps)\n")
    print("| case | EM | SQUAREM | fewer |")
    print("|---|---|---|---|")
    for name, _, extra in cases:
        if extra is None:
            continue
        em, sq = extra[0][None], extra[0]["squarem"]
        ratio = f"{em / sq:.1f}x" if em and sq else "-"
        print(f"| {name} | {em if em else '> 20000'} | {sq} | {ratio} |")
    print(f"\nTo a relative change of the parameters below {args.tol:g} per update (R "
          "SQUAREM's kind of test; unconstrained coordinates)\n")
    print("| case | EM E-steps | SQUAREM E-steps | fewer | EM ms | SQUAREM ms | faster | "
          "log-lik rel. diff |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, extra in cases:
        if extra is None:
            continue
        (n0, t0, l0, c0), (n1, t1, l1, c1) = extra[1][None], extra[1]["squarem"]
        flag = "" if c0 and c1 else " (not converged)"
        print(f"| {name}{flag} | {n0} | {n1} | {n0 / n1:.1f}x | {t0:.1f} | {t1:.1f} | "
              f"{t0 / t1:.1f}x | {(l1 - l0) / abs(l0):+.1e} |")


def _missing(X, rate=0.2, seed=0):
    X = X.copy()
    X[np.random.RandomState(seed).rand(*X.shape) < rate] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 3.0
    return X


if __name__ == "__main__":
    main()
