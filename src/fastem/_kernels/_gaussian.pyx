"""The fused pass of the Gaussian mixture.

One read of each block of rows computes, for every component, the log-density, then the
row's log-sum-exp, its responsibilities, its contribution to the log-likelihood and the
weighted sufficient statistics about the current means:

    nk[k]      += sum_b r[b, k]
    s1[k, :]   += sum_b r[b, k] (x_b - mu_k)
    s2[k, ...] += sum_b r[b, k] (x_b - mu_k)(x_b - mu_k)^T   (upper triangle, or diagonal)

Nothing of size n_rows x n_components is allocated unless the caller asks for per-row
outputs (predict_proba, score_samples). The same pass accumulates statistics for given
responsibilities (initialisation), so the statistics code exists once.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, INFINITY
from libc.stdlib cimport calloc, free, malloc

from fastem._kernels._blocks cimport (
    BLOCK_ROWS, add_partitions, dot_rows, n_partitions_of, partition_first_row,
    sum_rows, threads_for, transpose_block,
)

# Covariance codes shared with fastem.mixture._gaussian.
FULL = 0
TIED = 1
DIAG = 2
SPHERICAL = 3

cdef enum:
    C_FULL = 0
    C_TIED = 1
    C_DIAG = 2
    C_SPHERICAL = 3


def stats_size(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features):
    """Length of the flat second-moment array for this covariance type."""
    if cov_type == C_FULL:
        return n_components * n_features * n_features
    if cov_type == C_TIED:
        return n_features * n_features
    return n_components * n_features


cdef void _quad_triangular(const floating* yt, Py_ssize_t nb, Py_ssize_t d,
                           const floating* P, floating* t, double* quad) noexcept nogil:
    """quad[b] = || y_b @ P ||^2 for upper-triangular P (d x d, row-major)."""
    cdef Py_ssize_t i, j, b
    cdef floating c
    cdef const floating* yi
    for b in range(nb):
        quad[b] = 0
    for j in range(d):
        for b in range(nb):
            t[b] = 0
        for i in range(j + 1):
            c = P[i * d + j]
            yi = yt + i * BLOCK_ROWS
            for b in range(nb):
                t[b] += c * yi[b]
        for b in range(nb):
            quad[b] += t[b] * t[b]


cdef void _quad_diagonal(const floating* yt, Py_ssize_t nb, Py_ssize_t d,
                         const floating* p, floating* t, double* quad) noexcept nogil:
    """quad[b] = sum_i (y_bi p_i)^2."""
    cdef Py_ssize_t i, b
    cdef floating c
    cdef const floating* yi
    for b in range(nb):
        quad[b] = 0
    for i in range(d):
        c = p[i]
        yi = yt + i * BLOCK_ROWS
        for b in range(nb):
            t[b] = c * yi[b]
        for b in range(nb):
            quad[b] += t[b] * t[b]


cdef void _block(
    const floating* X, const double* w, Py_ssize_t row0, Py_ssize_t nb,
    Py_ssize_t d, Py_ssize_t K, const floating* means, const floating* prec,
    const double* log_norm, int cov, const double* resp_in, double* resp_out,
    double* lse_out, bint want_stats, double* acc,
    floating* yt, floating* t, double* logp, double* quad, double* lse,
) noexcept nogil:
    cdef Py_ssize_t k, b, i, j
    cdef double m, s, ww, rk, nk_block
    cdef double* r
    cdef double* nk = acc + 1
    cdef double* s1 = acc + 1 + K
    cdef double* s2 = acc + 1 + K + K * d
    cdef double* s2k
    cdef const floating* xb = X + row0 * d
    cdef const floating* P
    cdef floating* ti

    if resp_in == NULL:
        # log-densities, component-major: logp[k * BLOCK_ROWS + b]
        for k in range(K):
            transpose_block(xb, nb, d, means + k * d, yt)
            if cov == C_FULL:
                _quad_triangular(yt, nb, d, prec + k * d * d, t, quad)
            elif cov == C_TIED:
                _quad_triangular(yt, nb, d, prec, t, quad)
            elif cov == C_DIAG:
                _quad_diagonal(yt, nb, d, prec + k * d, t, quad)
            else:
                for b in range(nb):
                    quad[b] = 0
                for i in range(d):
                    for b in range(nb):
                        quad[b] += yt[i * BLOCK_ROWS + b] * yt[i * BLOCK_ROWS + b]
                for b in range(nb):
                    quad[b] *= prec[k] * prec[k]
            for b in range(nb):
                logp[k * BLOCK_ROWS + b] = log_norm[k] - 0.5 * quad[b]
        # log-sum-exp over components, stable for rows where every term is -inf
        for b in range(nb):
            lse[b] = -INFINITY
        for k in range(K):
            for b in range(nb):
                if logp[k * BLOCK_ROWS + b] > lse[b]:
                    lse[b] = logp[k * BLOCK_ROWS + b]
        # logp becomes exp(logp - max), so each density is exponentiated once
        for b in range(nb):
            quad[b] = 0
        for k in range(K):
            r = logp + k * BLOCK_ROWS
            for b in range(nb):
                r[b] = 0.0 if lse[b] == -INFINITY else exp(r[b] - lse[b])
                quad[b] += r[b]
        for b in range(nb):
            if lse[b] != -INFINITY:
                lse[b] += log(quad[b])
                quad[b] = 1.0 / quad[b]
            else:
                quad[b] = 0
            ww = 1.0 if w == NULL else w[row0 + b]
            if ww != 0:
                acc[0] += ww * lse[b]
            if lse_out != NULL:
                lse_out[row0 + b] = lse[b]
        # responsibilities (times the row weight, in place of logp)
        for k in range(K):
            r = logp + k * BLOCK_ROWS
            for b in range(nb):
                rk = r[b] * quad[b]
                if resp_out != NULL:
                    resp_out[(row0 + b) * K + k] = rk
                r[b] = rk if w == NULL else rk * w[row0 + b]
    else:
        for k in range(K):
            r = logp + k * BLOCK_ROWS
            for b in range(nb):
                rk = resp_in[(row0 + b) * K + k]
                r[b] = rk if w == NULL else rk * w[row0 + b]

    if not want_stats:
        return
    for k in range(K):
        r = logp + k * BLOCK_ROWS
        nk_block = sum_rows(r, nb)
        if nk_block == 0:
            continue
        nk[k] += nk_block
        transpose_block(xb, nb, d, means + k * d, yt)
        if cov == C_FULL:
            s2k = s2 + k * d * d
        elif cov == C_TIED:
            s2k = s2
        else:
            s2k = s2 + k * d
        for i in range(d):
            ti = t
            for b in range(nb):
                ti[b] = <floating>r[b] * yt[i * BLOCK_ROWS + b]
            s1[k * d + i] += sum_rows(ti, nb)
            if cov == C_FULL or cov == C_TIED:
                for j in range(i, d):
                    s2k[i * d + j] += dot_rows(ti, yt + j * BLOCK_ROWS, nb)
            else:
                s2k[i] += dot_rows(ti, yt + i * BLOCK_ROWS, nb)


def gaussian_pass(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const floating[:, ::1] means,        # IN  (K, d): shift of the statistics
    const floating[::1] prec,            # IN  flat precision Cholesky factors, see below
    const double[::1] log_norm,          # IN  (K,) log w_k + log|P_k| - d/2 log(2 pi)
    int cov_type,
    const double[:, ::1] resp_in,        # IN  (n, K) given responsibilities, or (0, 0)
    double[:, ::1] resp_out,             # OUT (n, K) responsibilities, or (0, 0)
    double[::1] lse_out,                 # OUT (n,) per-row log-likelihood, or (0,)
    double[::1] nk,                      # OUT (K,)
    double[:, ::1] s1,                   # OUT (K, d)
    double[::1] s2,                      # OUT flat, stats_size(cov_type, K, d)
    bint want_stats,
    int n_threads,
):
    """One pass over X; returns sum_b w_b log p(x_b) (0 when resp_in is given).

    prec holds upper-triangular factors P with P P^T = precision: (K, d, d) for full,
    (d, d) for tied, (K, d) for diag (1/sigma), (K,) for spherical. s1 and s2 are moments
    about ``means``; s2 holds the upper triangle only for full and tied.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = means.shape[0]
    cdef Py_ssize_t n_parts = n_partitions_of(n)
    cdef Py_ssize_t n_s2 = stats_size(cov_type, K, d)
    cdef Py_ssize_t stride = 1 + K + K * d + n_s2
    cdef int nt = threads_for(n_threads, n_parts)
    cdef const double* w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    cdef const double* rin = &resp_in[0, 0] if resp_in.shape[0] > 0 else NULL
    cdef double* rout = &resp_out[0, 0] if resp_out.shape[0] > 0 else NULL
    cdef double* lout = &lse_out[0] if lse_out.shape[0] > 0 else NULL
    cdef const floating* px = &X[0, 0]
    cdef const floating* pm = &means[0, 0]
    cdef const floating* pp = &prec[0]
    cdef const double* pln = &log_norm[0]
    cdef double* acc = <double*>calloc(n_parts * stride, sizeof(double))
    cdef double* total = <double*>malloc(stride * sizeof(double))
    cdef Py_ssize_t p, row, row_end, nb, j
    cdef floating* yt
    cdef floating* t
    cdef double* logp
    cdef double* quad
    cdef double* lse
    cdef double loglik
    if acc == NULL or total == NULL:
        free(acc)
        free(total)
        raise MemoryError()

    with nogil, parallel(num_threads=nt):
        yt = <floating*>malloc(d * BLOCK_ROWS * sizeof(floating))
        t = <floating*>malloc(BLOCK_ROWS * sizeof(floating))
        logp = <double*>malloc(K * BLOCK_ROWS * sizeof(double))
        quad = <double*>malloc(BLOCK_ROWS * sizeof(double))
        lse = <double*>malloc(BLOCK_ROWS * sizeof(double))
        for p in prange(n_parts, schedule="static"):
            row = partition_first_row(p, n)
            row_end = partition_first_row(p + 1, n)
            while row < row_end:
                nb = row_end - row
                if nb > BLOCK_ROWS:
                    nb = BLOCK_ROWS
                _block(px, w, row, nb, d, K, pm, pp, pln, cov_type, rin, rout, lout,
                       want_stats, acc + p * stride, yt, t, logp, quad, lse)
                row = row + nb
        free(yt)
        free(t)
        free(logp)
        free(quad)
        free(lse)

    add_partitions(acc, n_parts, stride, total)
    loglik = total[0]
    if want_stats:
        for j in range(K):
            nk[j] = total[1 + j]
        for j in range(K * d):
            s1[j // d, j % d] = total[1 + K + j]
        for j in range(n_s2):
            s2[j] = total[1 + K + K * d + j]
    free(acc)
    free(total)
    return loglik
