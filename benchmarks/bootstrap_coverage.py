"""Coverage of fastem.bootstrap's percentile intervals for a mixture's means.

    python benchmarks/bootstrap_coverage.py [--n-datasets 200] [--n-boot 200]
        [--kind nonparametric] [--confidence 0.95] [--n-jobs N] [--seed 0]

Simulates data sets from a known, well-separated two-component mixture in two
dimensions (n = 2000 rows each), fits a GaussianMixture to each, computes bootstrap
percentile intervals for the four coordinates of the means and counts how often they
contain the true means. For 95% intervals the coverage should be near 0.95 (between
0.90 and 0.99); its Monte Carlo standard error over the data sets is printed beside it.
Also prints the bootstrap standard errors against the true sampling standard deviation
of the estimates across the data sets, and the time taken.
"""

import argparse
import time

import numpy as np

import fastem
from fastem._assignment import linear_assignment

WEIGHTS = np.array([0.4, 0.6])
MEANS = np.array([[0.0, 0.0], [5.0, 3.0]])
COVARIANCES = np.array([[[1.0, 0.3], [0.3, 1.0]], [[0.5, 0.0], [0.0, 2.0]]])
N_SAMPLES = 2000


def simulate(rng, n=N_SAMPLES):
    labels = rng.choice(2, size=n, p=WEIGHTS)
    factors = np.linalg.cholesky(COVARIANCES)
    z = rng.standard_normal((n, 2))
    return MEANS[labels] + np.einsum("nij,nj->ni", factors[labels], z)


def one_data_set(seed, args):
    """(whether each mean coordinate's interval covers the truth, the estimate and its
    bootstrap standard error), all in the true components' order."""
    rng = np.random.default_rng(seed)
    X = simulate(rng)
    gm = fastem.GaussianMixture(2, random_state=seed).fit(X)
    # the fit's labels are arbitrary: put its components in the true order
    order = linear_assignment(((MEANS[:, None] - gm.means_[None]) ** 2).sum(axis=2))
    result = fastem.bootstrap(gm, X, n_boot=args.n_boot, kind=args.kind,
                              confidence=args.confidence, random_state=seed,
                              n_jobs=args.n_jobs)
    lower, upper = result.lower["means_"][order], result.upper["means_"][order]
    covered = (lower <= MEANS) & (MEANS <= upper)
    return (covered, gm.means_[order], result.standard_errors["means_"][order],
            result.n_failed, result.n_not_converged)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-datasets", type=int, default=200)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--kind", default="nonparametric",
                        choices=("nonparametric", "parametric", "weighted"))
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    covered, estimates, errors = [], [], []
    failed = not_converged = 0
    for i in range(args.n_datasets):
        hit, estimate, error, n_failed, n_slow = one_data_set(args.seed + i, args)
        covered.append(hit)
        estimates.append(estimate)
        errors.append(error)
        failed += n_failed
        not_converged += n_slow
    elapsed = time.perf_counter() - start
    covered, estimates, errors = map(np.array, (covered, estimates, errors))

    m = args.n_datasets
    print(f"bootstrap coverage: {m} data sets of {N_SAMPLES} rows from a known 2-component "
          f"2-d mixture, {args.kind} bootstrap, n_boot={args.n_boot}, "
          f"{args.confidence:.0%} percentile intervals, n_jobs={args.n_jobs}")
    print(f"{'parameter':<14}{'true':>7}{'coverage':>10}{'+/-':>7}"
          f"{'mean boot SE':>14}{'SD of estimate':>16}")
    for k in range(2):
        for j in range(2):
            rate = covered[:, k, j].mean()
            print(f"means_[{k}, {j}]  {MEANS[k, j]:>7.2f}{rate:>10.3f}"
                  f"{np.sqrt(rate * (1 - rate) / m):>7.3f}{errors[:, k, j].mean():>14.4f}"
                  f"{estimates[:, k, j].std(ddof=1) if m > 1 else np.nan:>16.4f}")
    overall = covered.mean()
    print(f"{'all four':<14}{'':>7}{overall:>10.3f}"
          f"{np.sqrt(overall * (1 - overall) / covered[:, 0, 0].size):>7.3f}")
    print(f"failed replicates: {failed}, not converged: {not_converged} "
          f"(of {m * args.n_boot})")
    print(f"time: {elapsed:.1f} s in all, {elapsed / m:.3f} s per data set "
          f"({1e3 * elapsed / (m * args.n_boot):.2f} ms per replicate)")


if __name__ == "__main__":
    main()
