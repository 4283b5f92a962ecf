"""The linear assignment problem, solved exactly: which column goes with which row.

The bootstrap matches the components of each refit to those of the original fit with
it. scipy.optimize.linear_sum_assignment does the same, but scipy is not a runtime
dependency; the components of a mixture are few, so an O(K^3) Hungarian algorithm whose
inner loop is one numpy expression is all that is needed.
"""

from __future__ import annotations

import numpy as np


def linear_assignment(cost):
    """The columns of minimum total cost, one for each row, all different.

    Parameters: cost, a finite (n_rows, n_cols) array with n_rows <= n_cols.
    Returns an intp array ``columns`` of n_rows distinct values with
    ``cost[arange(n_rows), columns].sum()`` minimal.

    The Hungarian algorithm in its shortest augmenting path form (Kuhn, Munkres; the
    potentials of Jonker and Volgenant): each row in turn is added to the matching by
    the cheapest path in reduced costs, Dijkstra over the columns, and the row and column
    potentials keep every reduced cost non-negative. O(n_rows^2 n_cols) operations.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D array, got shape {cost.shape}")
    n, m = cost.shape
    if n > m:
        raise ValueError(f"cost must have at most as many rows as columns, got shape "
                         f"{cost.shape}")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite")
    # 1-based, as in the textbook statement: column 0 and row 0 are the "nothing" ones
    u = np.zeros(n + 1)                    # row potentials
    v = np.zeros(m + 1)                    # column potentials
    row_of = np.zeros(m + 1, dtype=np.intp)   # row matched to each column (0: none)
    way = np.zeros(m + 1, dtype=np.intp)      # previous column on the shortest path
    for i in range(1, n + 1):
        row_of[0] = i
        j0 = 0
        dist = np.full(m + 1, np.inf)      # shortest reduced distance to each column
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = row_of[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            free = ~used[1:]
            closer = free & (reduced < dist[1:])
            dist[1:][closer] = reduced[closer]
            way[1:][closer] = j0
            candidates = np.where(free, dist[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[row_of[used]] += delta       # the matched rows are distinct: no repeats
            v[used] -= delta
            dist[1:][free] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:                          # flip the matching along the path
            j1 = way[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    columns = np.empty(n, dtype=np.intp)
    matched = np.flatnonzero(row_of[1:]) + 1
    columns[row_of[matched] - 1] = matched - 1
    return columns
