"""k-means kernels: Lloyd's assignment/update pass, distances, k-means++ potentials.

Every pass walks fixed row blocks grouped into deterministic partitions (see _blocks.pxd),
so the sums, the inertia and the potentials are bitwise identical for any thread count.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY
from libc.stdlib cimport calloc, free, malloc

from fastem._kernels._blocks cimport (
    BLOCK_ROWS, add_partitions, n_partitions_of, partition_first_row, threads_for,
    transpose_block,
)


cdef void _sqdist_block(const floating* xt, Py_ssize_t nb, Py_ssize_t d,
                        const floating* c, double* dd) noexcept nogil:
    """dd[b] = ||x_b - c||^2, x in feature-major block layout."""
    cdef Py_ssize_t i, b
    cdef floating diff
    for b in range(nb):
        dd[b] = 0
    for i in range(d):
        for b in range(nb):
            diff = xt[i * BLOCK_ROWS + b] - c[i]
            dd[b] += diff * diff


cdef void _lloyd_block(
    const floating* X, const double* w, Py_ssize_t row0, Py_ssize_t nb, Py_ssize_t d,
    Py_ssize_t K, const floating* centers, const floating* cc, int* labels,
    double* dist_out, bint want_sums, double* acc,
    floating* xt, floating* dot, double* best, int* lab,
) noexcept nogil:
    cdef Py_ssize_t k, i, b
    cdef const floating* xb = X + row0 * d
    cdef const floating* ck
    cdef floating c, diff
    cdef double dist, ww, e
    transpose_block(xb, nb, d, <const floating*>NULL, xt)
    for b in range(nb):
        best[b] = INFINITY
        lab[b] = 0
    # nearest center by ||c||^2 - 2 x.c, vectorised over the rows of the block
    for k in range(K):
        ck = centers + k * d
        for b in range(nb):
            dot[b] = 0
        for i in range(d):
            c = ck[i]
            for b in range(nb):
                dot[b] += c * xt[i * BLOCK_ROWS + b]
        for b in range(nb):
            e = cc[k] - 2 * dot[b]
            if e < best[b]:
                best[b] = e
                lab[b] = <int>k
    for b in range(nb):
        ck = centers + lab[b] * d
        dist = 0
        for i in range(d):
            diff = xb[b * d + i] - ck[i]
            dist += diff * diff
        ww = 1.0 if w == NULL else w[row0 + b]
        acc[0] += ww * dist
        if labels != NULL:
            labels[row0 + b] = lab[b]
        if dist_out != NULL:
            dist_out[row0 + b] = dist
        if want_sums and ww != 0:
            acc[1 + lab[b]] += ww
            for i in range(d):
                acc[1 + K + lab[b] * d + i] += ww * xb[b * d + i]


def lloyd_pass(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const floating[:, ::1] centers,      # IN  (K, d)
    int[::1] labels,                     # OUT (n,) or (0,)
    double[:, ::1] sums,                 # OUT (K, d) weighted sums of assigned rows
    double[::1] weight_in_clusters,      # OUT (K,)
    double[::1] dist_out,                # OUT (n,) squared distance to own center, or (0,)
    bint want_sums,
    int n_threads,
):
    """Assign every row to its nearest center; returns the inertia of that assignment."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = centers.shape[0]
    cdef Py_ssize_t n_parts = n_partitions_of(n)
    cdef Py_ssize_t stride = 1 + K + K * d
    cdef int nt = threads_for(n_threads, n_parts)
    cdef const double* w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef int* plab = &labels[0] if labels.shape[0] > 0 else NULL
    cdef double* pdist = &dist_out[0] if dist_out.shape[0] > 0 else NULL
    cdef const floating* px = &X[0, 0]
    cdef const floating* pc = &centers[0, 0]
    cdef floating* cc = <floating*>malloc(K * sizeof(floating))
    cdef double* acc = <double*>calloc(n_parts * stride, sizeof(double))
    cdef double* total = <double*>malloc(stride * sizeof(double))
    cdef Py_ssize_t p, row, row_end, nb, j, i
    cdef floating* xt
    cdef floating* dot
    cdef double* best
    cdef int* lab
    cdef double inertia
    if cc == NULL or acc == NULL or total == NULL:
        free(cc)
        free(acc)
        free(total)
        raise MemoryError()
    for j in range(K):
        cc[j] = 0
        for i in range(d):
            cc[j] += centers[j, i] * centers[j, i]

    with nogil, parallel(num_threads=nt):
        xt = <floating*>malloc(d * BLOCK_ROWS * sizeof(floating))
        dot = <floating*>malloc(BLOCK_ROWS * sizeof(floating))
        best = <double*>malloc(BLOCK_ROWS * sizeof(double))
        lab = <int*>malloc(BLOCK_ROWS * sizeof(int))
        for p in prange(n_parts, schedule="static"):
            row = partition_first_row(p, n)
            row_end = partition_first_row(p + 1, n)
            while row < row_end:
                nb = row_end - row
                if nb > BLOCK_ROWS:
                    nb = BLOCK_ROWS
                _lloyd_block(px, w, row, nb, d, K, pc, cc, plab, pdist, want_sums,
                             acc + p * stride, xt, dot, best, lab)
                row = row + nb
        free(xt)
        free(dot)
        free(best)
        free(lab)

    add_partitions(acc, n_parts, stride, total)
    inertia = total[0]
    if want_sums:
        for j in range(K):
            weight_in_clusters[j] = total[1 + j]
        for j in range(K * d):
            sums[j // d, j % d] = total[1 + K + j]
    free(cc)
    free(acc)
    free(total)
    return inertia


def sq_distances(
    const floating[:, ::1] X,            # IN  (n, d)
    const floating[:, ::1] centers,      # IN  (K, d)
    double[:, ::1] out,                  # OUT (n, K)
    int n_threads,
):
    """out[i, k] = ||X[i] - centers[k]||^2."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = centers.shape[0]
    cdef Py_ssize_t n_parts = n_partitions_of(n)
    cdef int nt = threads_for(n_threads, n_parts)
    cdef Py_ssize_t p, row, row_end, nb, k, b
    cdef floating* xt
    cdef double* dd
    with nogil, parallel(num_threads=nt):
        xt = <floating*>malloc(d * BLOCK_ROWS * sizeof(floating))
        dd = <double*>malloc(BLOCK_ROWS * sizeof(double))
        for p in prange(n_parts, schedule="static"):
            row = partition_first_row(p, n)
            row_end = partition_first_row(p + 1, n)
            while row < row_end:
                nb = row_end - row
                if nb > BLOCK_ROWS:
                    nb = BLOCK_ROWS
                transpose_block(&X[row, 0], nb, d, <const floating*>NULL, xt)
                for k in range(K):
                    _sqdist_block(xt, nb, d, &centers[k, 0], dd)
                    for b in range(nb):
                        out[row + b, k] = dd[b]
                row = row + nb
        free(xt)
        free(dd)


def kpp_potentials(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    const double[::1] closest,           # IN  (n,) squared distance to the nearest center
    const floating[:, ::1] candidates,   # IN  (T, d)
    double[::1] potentials,              # OUT (T,)
    int n_threads,
):
    """potentials[t] = sum_i w_i min(closest_i, ||X_i - candidates_t||^2)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], T = candidates.shape[0]
    cdef Py_ssize_t n_parts = n_partitions_of(n)
    cdef int nt = threads_for(n_threads, n_parts)
    cdef const double* w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef double* acc = <double*>calloc(n_parts * T, sizeof(double))
    cdef Py_ssize_t p, row, row_end, nb, t, b
    cdef double m
    cdef floating* xt
    cdef double* dd
    if acc == NULL:
        raise MemoryError()
    with nogil, parallel(num_threads=nt):
        xt = <floating*>malloc(d * BLOCK_ROWS * sizeof(floating))
        dd = <double*>malloc(BLOCK_ROWS * sizeof(double))
        for p in prange(n_parts, schedule="static"):
            row = partition_first_row(p, n)
            row_end = partition_first_row(p + 1, n)
            while row < row_end:
                nb = row_end - row
                if nb > BLOCK_ROWS:
                    nb = BLOCK_ROWS
                transpose_block(&X[row, 0], nb, d, <const floating*>NULL, xt)
                for t in range(T):
                    _sqdist_block(xt, nb, d, &candidates[t, 0], dd)
                    for b in range(nb):
                        m = dd[b] if dd[b] < closest[row + b] else closest[row + b]
                        acc[p * T + t] += m if w == NULL else w[row + b] * m
                row = row + nb
        free(xt)
        free(dd)
    add_partitions(acc, n_parts, T, &potentials[0])
    free(acc)


def kpp_update_closest(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    double[::1] closest,                 # INOUT (n,)
    const floating[::1] center,          # IN  (d,) the center just chosen
    int n_threads,
):
    """closest = min(closest, ||X - center||^2); returns the new potential sum w*closest."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_parts = n_partitions_of(n)
    cdef int nt = threads_for(n_threads, n_parts)
    cdef const double* w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef double* acc = <double*>calloc(n_parts, sizeof(double))
    cdef Py_ssize_t p, row, row_end, nb, b
    cdef double total
    cdef floating* xt
    cdef double* dd
    if acc == NULL:
        raise MemoryError()
    with nogil, parallel(num_threads=nt):
        xt = <floating*>malloc(d * BLOCK_ROWS * sizeof(floating))
        dd = <double*>malloc(BLOCK_ROWS * sizeof(double))
        for p in prange(n_parts, schedule="static"):
            row = partition_first_row(p, n)
            row_end = partition_first_row(p + 1, n)
            while row < row_end:
                nb = row_end - row
                if nb > BLOCK_ROWS:
                    nb = BLOCK_ROWS
                transpose_block(&X[row, 0], nb, d, <const floating*>NULL, xt)
                _sqdist_block(xt, nb, d, &center[0], dd)
                for b in range(nb):
                    if dd[b] < closest[row + b]:
                        closest[row + b] = dd[b]
                    acc[p] += closest[row + b] if w == NULL else w[row + b] * closest[row + b]
                row = row + nb
        free(xt)
        free(dd)
    add_partitions(acc, n_parts, 1, &total)
    free(acc)
    return total


def weighted_search(
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const double[::1] closest,           # IN  (n,) or (0,) for all ones
    Py_ssize_t n,
    const double[::1] targets,           # IN  (T,) sorted ascending
    Py_ssize_t[::1] out,                 # OUT (T,)
):
    """out[t] = first i with cumsum(w * closest)[i] >= targets[t], at most n - 1.

    Samples rows with probability proportional to w * closest without an n-sized cumsum.
    """
    cdef Py_ssize_t T = targets.shape[0]
    cdef bint unit = sample_weight.shape[0] == 0, ones = closest.shape[0] == 0
    cdef Py_ssize_t i = 0, t
    cdef double run
    with nogil:
        run = (1.0 if unit else sample_weight[0]) * (1.0 if ones else closest[0])
        for t in range(T):
            while run < targets[t] and i < n - 1:
                i += 1
                run += (1.0 if unit else sample_weight[i]) * (1.0 if ones else closest[i])
            out[t] = i
