"""Choosing a Gaussian mixture: BIC and ICL over the number of components and the
covariance types (the command line's `fastem select`), built on GaussianMixture.bic.

Both criteria have scikit-learn's sign, smaller is better:
BIC = -2 log-likelihood + (free parameters) log(rows), mclust's BIC with the sign flipped;
ICL = BIC + 2 entropy, the entropy of the classification being
-sum over rows and components of p log p, p the posterior probabilities (Biernacki,
Celeux and Govaert, 2000). A model whose components overlap pays for the rows it
cannot classify clearly.
"""

from __future__ import annotations

import numpy as np


def classification_entropy(proba):
    """-sum p log p over rows and components (0 log 0 = 0)."""
    p = np.asarray(proba, dtype=np.float64)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return float(-(p * logs).sum())


def compare_mixtures(X, n_components, covariance_types, make_model, on_fit=None):
    """Fit make_model(k, covariance_type) to X for every pair; return (results, models):
    results a list of dicts (n_components, covariance_type, log_likelihood, bic, icl,
    n_iter, converged; error and None criteria when the fit failed), models the fitted
    models by (k, covariance_type). on_fit(k, covariance_type) runs before each fit."""
    results, models = [], {}
    for ct in covariance_types:
        for k in n_components:
            if on_fit is not None:
                on_fit(k, ct)
            gm = make_model(k, ct)
            row = {"n_components": k, "covariance_type": ct}
            try:
                gm.fit(X)
                bic = float(gm.bic(X))
                loglik = float(gm.score(X)) * X.shape[0]
                icl = bic + 2 * classification_entropy(gm.predict_proba(X))
            except (ValueError, np.linalg.LinAlgError) as exc:
                row.update(log_likelihood=None, bic=None, icl=None, n_iter=None,
                           converged=None, error=" ".join(str(exc).split()))
            else:
                row.update(log_likelihood=loglik, bic=bic, icl=icl, n_iter=int(gm.n_iter_),
                           converged=bool(gm.converged_))
                models[k, ct] = gm
            results.append(row)
    return results, models


def best(results, criterion):
    """The row with the smallest criterion ('bic' or 'icl'), None if every fit failed."""
    fitted = [r for r in results if r[criterion] is not None]
    return min(fitted, key=lambda r: r[criterion]) if fitted else None


def table(results, criterion):
    """A K x covariance-type table of one criterion, as text: '-' for a failed fit, '*'
    after a fit that did not converge."""
    types = list(dict.fromkeys(r["covariance_type"] for r in results))
    ks = list(dict.fromkeys(r["n_components"] for r in results))
    cell = {(r["n_components"], r["covariance_type"]): r for r in results}
    width = max(12, *(len(t) + 2 for t in types))
    lines = [f"{'K':>3}" + "".join(f"{t:>{width - 1}} " for t in types)]
    for k in ks:
        parts = []
        for t in types:
            r = cell[k, t]
            if r[criterion] is None:
                parts.append(f"{'-':>{width - 1}} ")
            else:
                mark = " " if r["converged"] else "*"
                parts.append(f"{r[criterion]:.3f}{mark}".rjust(width))
        lines.append(f"{k:>3}" + "".join(parts))
    return "\n".join(line.rstrip() for line in lines)
