"""Model-based agglomerative hierarchical clustering (Fraley 1998), the start of
``init_params='hierarchical'``, as R mclust's default initialisation.

The data (a bounded sample of rows) are first scaled as mclust's ``hcUse = "SVD"``:
centred, each column scaled to unit variance, rotated onto the right singular vectors and
each coordinate divided by the square root of its singular value. Then every row starts
as its own cluster and the pair of clusters whose merge costs least is merged, until K
clusters are left. The cost is mclust's criterion for its unconstrained (VVV) model: a
cluster C of n rows with scatter matrix W costs

    n log(b)                             when n <= d,
    n log(sqrt(det(W / n)) + b)          when n > d,     b = (trace(W) + alpha) / n,

with alpha the mean variance of the scaled data, which keeps the costs of clusters too
small for a covariance finite; a merge costs the merged cluster's cost minus the two
parts'. Merging clusters i and j gives W = W_i + W_j + n_i n_j / (n_i + n_j)
(m_i - m_j)(m_i - m_j)^T. Each merge updates the costs of the new cluster's pairs only.
On data without tied pairs the partitions are mclust's ``hclass(hc(X, use = "SVD"), K)``
(checked on iris, diabetes and banknote); tied pairs may merge in another order.
"""

from __future__ import annotations

import numpy as np

MAX_ROWS = 1000      # the sample the hierarchy is built on


def svd_scaled(X):
    """mclust's "SVD" transformation of X (rows x features), float64."""
    Z = np.asarray(X, dtype=np.float64)
    Z = Z - Z.mean(axis=0)
    sd = Z.std(axis=0, ddof=1) if len(Z) > 1 else np.ones(Z.shape[1])
    Z = Z / np.where(sd > 0, sd, 1.0)
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    keep = s > s.max() * 1e-12 if s.size and s.max() > 0 else np.zeros(s.size, bool)
    out = np.zeros_like(Z)
    out[:, :keep.sum()] = (Z @ vt[keep].T) / np.sqrt(s[keep])
    return out


def _costs(scatter, count, alpha):
    """mclust's VVV cost of clusters with scatter matrices (c, d, d) and sizes (c,)."""
    d = scatter.shape[-1]
    base = (np.trace(scatter, axis1=-2, axis2=-1) + alpha) / count
    root = np.zeros_like(base)
    big = count > d       # only these have a determinant in the cost
    if big.any():
        sign, logdet = np.linalg.slogdet(scatter[big] / count[big, None, None])
        root[big] = np.where(sign > 0, np.exp(0.5 * logdet), 0.0)
    return count * np.log(root + base)


def merge_partition(Z, k):
    """Labels in [0, k) of the rows of Z after agglomerating down to k clusters."""
    m, d = Z.shape
    if k >= m:
        return np.arange(m) % k
    alpha = max(float(np.mean(np.var(Z, axis=0))), np.finfo(np.float64).eps)
    count = np.ones(m)
    mean = Z.copy()
    scatter = np.zeros((m, d, d))
    cost = np.full(m, np.log(alpha))                 # singletons
    # singleton pairs: W = delta delta^T / 2, trace |delta|^2 / 2, n = 2
    sq = (Z * Z).sum(axis=1)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (Z @ Z.T), 0.0)
    if d >= 2:
        pair = 2.0 * np.log((dist / 2.0 + alpha) / 2.0)
    else:        # n = 2 > d = 1: det(W / 2) = |delta|^2 / 4
        pair = 2.0 * np.log(np.sqrt(dist) / 2.0 + (dist / 2.0 + alpha) / 2.0)
    delta = pair - 2.0 * np.log(alpha)
    np.fill_diagonal(delta, np.inf)
    active = np.ones(m, dtype=bool)
    owner = np.arange(m)                 # each row's cluster slot
    row_best = delta.min(axis=1)
    row_arg = delta.argmin(axis=1)
    for _ in range(m - k):
        a = int(np.argmin(np.where(active, row_best, np.inf)))
        b = int(row_arg[a])
        if b < a:
            a, b = b, a
        n_ab = count[a] + count[b]
        diff = mean[a] - mean[b]
        scatter[a] = scatter[a] + scatter[b] + (count[a] * count[b] / n_ab) * np.outer(
            diff, diff)
        mean[a] = (count[a] * mean[a] + count[b] * mean[b]) / n_ab
        count[a] = n_ab
        cost[a] = _costs(scatter[a:a + 1], count[a:a + 1], alpha)[0]
        active[b] = False
        owner[owner == b] = a
        delta[b, :] = np.inf
        delta[:, b] = np.inf
        others = np.flatnonzero(active)
        others = others[others != a]
        if others.size:
            n_j = count[others]
            n_new = n_ab + n_j
            dm = mean[others] - mean[a]
            merged = (scatter[a] + scatter[others]
                      + (n_ab * n_j / n_new)[:, None, None] * dm[:, :, None] * dm[:, None, :])
            value = _costs(merged, n_new, alpha) - cost[a] - cost[others]
            delta[a, others] = value
            delta[others, a] = value
        row_best[b] = np.inf
        # rows whose best partner was a or b, and a itself, look again
        stale = np.flatnonzero(active & ((row_arg == a) | (row_arg == b)))
        stale = np.union1d(stale, [a])
        row_arg[stale] = delta[stale].argmin(axis=1)
        row_best[stale] = delta[stale, row_arg[stale]]
        if others.size:     # the new pairs may beat the others' best
            better = delta[others, a] < row_best[others]
            row_best[others[better]] = delta[others[better], a]
            row_arg[others[better]] = a
    slots = np.flatnonzero(active)
    return np.searchsorted(slots, owner)


def standardized(X):
    """X centred, each column scaled to unit variance (mclust's "STD")."""
    Z = np.asarray(X, dtype=np.float64)
    Z = Z - Z.mean(axis=0)
    sd = Z.std(axis=0, ddof=1) if len(Z) > 1 else np.ones(Z.shape[1])
    return Z / np.where(sd > 0, sd, 1.0)


SCALINGS = {"SVD": svd_scaled, "STD": standardized,
            "VARS": lambda X: np.asarray(X, dtype=np.float64)}


def sample_rows(k, d):
    """How many rows the hierarchy is built on: MAX_ROWS for up to 8 features, fewer for
    more (the cost grows as rows^2 d^3), but at least 2 (d + 1) per cluster."""
    by_cost = int(MAX_ROWS * min(1.0, (8.0 / d) ** 1.5))
    return min(MAX_ROWS, max(by_cost, 2 * k * (d + 1)))


def hierarchical_labels(X, k, rs, rows=None, use="SVD"):
    """(rows used, their labels): the hierarchy on at most MAX_ROWS rows of X (a random
    sample, drawn from ``rs``, when X has more) transformed as mclust's ``hcUse``
    ``use``, cut at k clusters."""
    n = X.shape[0] if rows is None else len(rows)
    pick = np.arange(n) if rows is None else np.asarray(rows)
    cap = sample_rows(k, X.shape[1])
    if n > cap:
        pick = np.sort(rs.choice(pick, size=cap, replace=False))
    labels = merge_partition(SCALINGS[use](X[pick]), k)
    return pick, labels
