"""python -m fastem: fit a Gaussian mixture to the bundled Old Faithful data and print it."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None):
    from . import GaussianMixture, show_config
    from .datasets import load_faithful

    parser = argparse.ArgumentParser(
        prog="fastem",
        description="Fit a Gaussian mixture by EM to the bundled Old Faithful data.",
    )
    parser.add_argument("-k", "--n-components", type=int, default=2)
    parser.add_argument("--covariance-type", default="full",
                        choices=["full", "tied", "diag", "spherical"])
    parser.add_argument("--config", action="store_true", help="print the build configuration")
    args = parser.parse_args(argv)
    if args.config:
        show_config()
        return 0
    X, columns = load_faithful(return_columns=True)
    try:
        gm = GaussianMixture(args.n_components, covariance_type=args.covariance_type,
                             reg_covar=0.0, tol=1e-10, max_iter=1000, n_init=5,
                             random_state=0).fit(X)
    except ValueError as exc:
        print(f"fastem: {exc}", file=sys.stderr)
        return 2
    loglik = gm.score(X) * X.shape[0]
    print(f"Old Faithful ({X.shape[0]} eruptions; columns {', '.join(columns)})")
    print(f"{gm.n_components}-component Gaussian mixture, covariance_type={gm.covariance_type!r}")
    print(f"log-likelihood {loglik:.3f}   BIC {gm.bic(X):.3f}   iterations {gm.n_iter_}   "
          f"converged {gm.converged_}")
    order = np.argsort(gm.means_[:, 0])
    for j in order:
        mean = ", ".join(f"{m:.4f}" for m in gm.means_[j])
        print(f"  component {j}: weight {gm.weights_[j]:.4f}  mean ({mean})")
        cov = gm.covariances_
        if gm.covariance_type == "full":
            rows = [", ".join(f"{v:9.4f}" for v in row) for row in cov[j]]
            print("    covariance [" + "; ".join(rows) + "]")
        elif gm.covariance_type in ("diag", "spherical"):
            print(f"    variance {np.round(cov[j], 4)}")
    if gm.covariance_type == "tied":
        print(f"  tied covariance {np.round(gm.covariances_, 4).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
