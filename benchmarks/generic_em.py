"""fastem.em, plain EM against SQUAREM, on the user models of the guide.

    python benchmarks/generic_em.py [--tol 1e-8] [--repeat 3]

For each model both runs start from the same parameters and stop at a relative change of
the log-likelihood below ``--tol``. The markdown table gives the E-steps, milliseconds
(best of ``--repeat``), the distance of the estimate from the maximum (known in closed
form, or from a SQUAREM run with tol=0), and the E-steps until the iterate is within
1e-10 (relative) of the maximum.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import fastem
from fastem import ConvergenceWarning

COUNTS = np.array([125, 18, 20, 34])


def linkage():
    def e_step(t):
        probabilities = np.array([1 / 2 + t / 4, (1 - t) / 4, (1 - t) / 4, t / 4])
        return COUNTS[0] * (t / 4) / (1 / 2 + t / 4), float(COUNTS @ np.log(probabilities))

    def m_step(latent):
        return (latent + COUNTS[3]) / (latent + COUNTS[1:].sum())

    root = (15 + np.sqrt(15**2 + 4 * 197 * 68)) / 394
    return e_step, m_step, 0.5, lambda t: np.array([t]), np.array([root])


def poisson_mixture(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    first = rng.random(n) < 0.4
    x = np.where(first, rng.poisson(2.0, n), rng.poisson(5.0, n))
    log_factorial = np.cumsum(np.log(np.r_[1, np.arange(1, x.max() + 1)]))[x]

    def e_step(theta):
        w, rate1, rate2 = theta
        joint = np.stack([np.log(w) + x * np.log(rate1) - rate1,
                          np.log1p(-w) + x * np.log(rate2) - rate2]) - log_factorial
        total = np.logaddexp(joint[0], joint[1])
        r = np.exp(joint[0] - total)
        return (r.sum(), r @ x, n - r.sum(), (1 - r) @ x), float(total.sum())

    def m_step(stats):
        n1, s1, n2, s2 = stats
        return np.array([n1 / n, s1 / n1, s2 / n2])

    return e_step, m_step, np.array([0.5, 1.0, 6.0]), np.asarray, None


def censored_exponential(n=200, seed=3):
    rng = np.random.default_rng(seed)
    life, limit = rng.exponential(1 / 0.7, n), rng.uniform(0.5, 3.0, n)
    times, censored = np.minimum(life, limit), life > limit
    failures, total = (~censored).sum(), times.sum()

    def e_step(rate):
        return total + censored.sum() / rate, failures * np.log(rate) - rate * total

    return e_step, lambda expected: n / expected, 1.0, lambda t: np.array([t]), np.array(
        [failures / total])


def timed(repeat, *args, **kwargs):
    """fastem.em(*args, **kwargs) and its best time in milliseconds."""
    best, fit = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = fastem.em(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return fit, best * 1e3


def e_steps_to(e_step, m_step, theta0, as_vector, optimum, accelerate, within=1e-10):
    seen = []

    def recording(theta):
        seen.append(as_vector(theta))
        return e_step(theta)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fastem.em(recording, m_step, theta0, tol=0, max_iter=5000, accelerate=accelerate)
    for i, theta in enumerate(seen, 1):
        if np.max(np.abs(theta - optimum) / np.abs(optimum)) < within:
            return i
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"relative tol {args.tol:g}; best of {args.repeat}\n")
    print("| model | EM E-steps | SQUAREM E-steps | EM ms | SQUAREM ms | EM distance | "
          "SQUAREM distance | EM E-steps to 1e-10 | SQUAREM E-steps to 1e-10 |")
    print("|---|---|---|---|---|---|---|---|---|")
    cases = {"DLR linkage": linkage(), "Poisson mixture, n=2000": poisson_mixture(),
             "censored exponential, n=200": censored_exponential()}
    for name, (e_step, m_step, theta0, as_vector, optimum) in cases.items():
        if optimum is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                optimum = as_vector(fastem.em(e_step, m_step, theta0, tol=0, max_iter=400,
                                              accelerate="squarem").theta)
        row = {}
        for accelerate in (None, "squarem"):
            fit, ms = timed(args.repeat, e_step, m_step, theta0, tol=args.tol,
                            accelerate=accelerate)
            distance = np.max(np.abs(as_vector(fit.theta) - optimum) / np.abs(optimum))
            steps = e_steps_to(e_step, m_step, theta0, as_vector, optimum, accelerate)
            row[accelerate] = (fit.n_iter, ms, distance, steps)
        (a, b) = row[None], row["squarem"]
        print(f"| {name} | {a[0]} | {b[0]} | {a[1]:.2f} | {b[1]:.2f} | {a[2]:.1e} | "
              f"{b[2]:.1e} | {a[3]} | {b[3]} |")


if __name__ == "__main__":
    main()
