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

import numpy as np

from cython cimport floating
from libc.math cimport INFINITY, log, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastem._kernels._blocks cimport BLOCK_ROWS, PAD_ROWS, sum_rows, transpose_block
from fastem._kernels._parallel cimport (BlockFn, check_status, hand_vectorised, run_blocks,
                                        run_tasks)

# The full-covariance quadratic form and moments have hand-vectorised AVX2 versions (see
# _simd.h), switched off by the tests to check them against the generic ones.
from fastem._kernels._parallel import use_hand_vectorised  # noqa: F401


cdef extern from "_simd.h" nogil:
    void fastem_quad_triangular_d(const double* yt, Py_ssize_t nb, Py_ssize_t d,
                                  const double* P, const double* cs, double* quad,
                                  int hand_vectorised)
    void fastem_quad_triangular_f(const float* yt, Py_ssize_t nb, Py_ssize_t d,
                                  const float* P, const float* cs, double* quad,
                                  int hand_vectorised)
    void fastem_moments_d(const double* xt, const double* xr, const double* mu,
                          const double* w, Py_ssize_t nb, Py_ssize_t d, double* s1,
                          double* s2, double* wy, int hand_vectorised)
    void fastem_moments_f(const float* xt, const float* xr, const float* mu, const float* w,
                          Py_ssize_t nb, Py_ssize_t d, double* s1, double* s2, float* wy,
                          int hand_vectorised)
    float fastem_weight_f(double v)
    void fastem_gather_rows_d(const double* X, Py_ssize_t d, const Py_ssize_t* rows,
                              Py_ssize_t nb, const Py_ssize_t* obs, Py_ssize_t o,
                              double* xt)
    void fastem_gather_rows_f(const float* X, Py_ssize_t d, const Py_ssize_t* rows,
                              Py_ssize_t nb, const Py_ssize_t* obs, Py_ssize_t o, float* xt)
    void fastem_conditional_rows_d(const double* xo, Py_ssize_t nb, Py_ssize_t o,
                                   const double* mu, const double* B, Py_ssize_t m,
                                   const Py_ssize_t* mis, double* yt, int hand_vectorised)
    void fastem_conditional_rows_f(const float* xo, Py_ssize_t nb, Py_ssize_t o,
                                   const float* mu, const float* B, Py_ssize_t m,
                                   const Py_ssize_t* mis, float* yt, int hand_vectorised)
    void fastem_log_densities(const double* quad, Py_ssize_t nb, double ln, double* out,
                              double* lse, int first)
    double fastem_posteriors_d(const double* logp, double* resp, Py_ssize_t nb,
                               Py_ssize_t K, const double* w, const Py_ssize_t* rows,
                               Py_ssize_t row0, double* resp_out, double* lse_out,
                               double* lse, double* scale, int hand_vectorised)
    double fastem_posteriors_f(const double* logp, float* resp, Py_ssize_t nb, Py_ssize_t K,
                               const double* w, const Py_ssize_t* rows, Py_ssize_t row0,
                               double* resp_out, double* lse_out, double* lse, float* scale,
                               int hand_vectorised)
    void fastem_moments_diag_d(const double* xt, const double* mu, const double* w,
                               Py_ssize_t nb, Py_ssize_t d, double* s1, double* s2)
    void fastem_moments_diag_f(const float* xt, const float* mu, const float* w,
                               Py_ssize_t nb, Py_ssize_t d, double* s1, double* s2)
    void fastem_quad_diag_d(const double* xt, Py_ssize_t nb, Py_ssize_t d, const double* mu,
                            const double* p, Py_ssize_t ps, double* quad,
                            int hand_vectorised)
    void fastem_quad_diag_f(const float* xt, Py_ssize_t nb, Py_ssize_t d, const float* mu,
                            const float* p, Py_ssize_t ps, double* quad,
                            int hand_vectorised)

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


cdef inline Py_ssize_t _n_s2(int cov, Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    # full and tied: packed upper triangles of d (d + 1) / 2 entries
    if cov == C_FULL:
        return K * (d * (d + 1) // 2)
    if cov == C_TIED:
        return d * (d + 1) // 2
    return K * d


def stats_size(int cov_type, Py_ssize_t n_components, Py_ssize_t n_features):
    """Length of the flat second-moment array: packed upper triangles (row by row) for
    full and tied, diagonals for diag and spherical."""
    return _n_s2(cov_type, n_components, n_features)


cdef inline void _quad_triangular(const floating* yt, Py_ssize_t nb, Py_ssize_t d,
                                  const floating* P, const floating* cs,
                                  double* quad) noexcept nogil:
    """quad[b] = || y_b @ P - cs ||^2 for upper-triangular P (d x d, row-major)."""
    if floating is double:
        fastem_quad_triangular_d(yt, nb, d, P, cs, quad, hand_vectorised())
    else:
        fastem_quad_triangular_f(yt, nb, d, P, cs, quad, hand_vectorised())


cdef inline void _log_density(const floating* yt, Py_ssize_t nb, Py_ssize_t d, int cov,
                              const floating* factor, const floating* mu, floating* cs,
                              double* quad) noexcept nogil:
    """quad[b] = squared Mahalanobis length of row b of the block, about the mean mu
    (NULL when the rows are already shifted).

    factor is the component's upper-triangular precision factor (full, tied), its
    diagonal (diag) or its single scalar (spherical). Full and tied subtract
    cs = mu @ factor (d values of scratch) from the rows' product with the factor."""
    cdef Py_ssize_t i, j
    cdef floating v, coef
    if cov == C_FULL or cov == C_TIED:
        if mu != NULL:
            for j in range(d):
                v = 0
                for i in range(j + 1):
                    v = v + mu[i] * factor[i * d + j]
                cs[j] = v
        _quad_triangular(yt, nb, d, factor, cs if mu != NULL else NULL, quad)
    elif floating is double:
        fastem_quad_diag_d(yt, nb, d, mu, factor, 1 if cov == C_DIAG else 0, quad,
                           hand_vectorised())
    else:
        fastem_quad_diag_f(yt, nb, d, mu, factor, 1 if cov == C_DIAG else 0, quad,
                           hand_vectorised())


cdef inline void _posteriors(double* logp, floating* resp, Py_ssize_t nb, Py_ssize_t K,
                             const double* w, Py_ssize_t row0, const Py_ssize_t* rows,
                             double* acc, double* resp_out, double* lse_out, double* quad,
                             double* lse) noexcept nogil:
    """Turn the block's log-densities logp (K x BLOCK_ROWS) into weighted responsibilities
    in resp (the data's precision; float64: logp itself) and add sum_b w_b log p(x_b) to
    acc[0] (see FASTEM_POSTERIORS in _simd.h)."""
    if floating is double:
        acc[0] += fastem_posteriors_d(logp, resp, nb, K, w, rows, row0, resp_out, lse_out,
                                      lse, quad, hand_vectorised())
    else:
        acc[0] += fastem_posteriors_f(logp, resp, nb, K, w, rows, row0, resp_out, lse_out,
                                      lse, <float*>quad, hand_vectorised())


cdef inline void _put_weight(floating* r, Py_ssize_t j, double v) noexcept nogil:
    """r[j] = v as the moments kernels take weights (see FASTEM_WEIGHT in _simd.h)."""
    if floating is float:
        r[j] = fastem_weight_f(v)
    else:
        r[j] = v


cdef void _accumulate(const floating* xt, const floating* xr, const floating* mu,
                      const floating* r, Py_ssize_t nb, Py_ssize_t d, int cov, double* s1,
                      double* s2, floating* wy) noexcept nogil:
    """s1 += sum_b r_b y_b and s2 += sum_b r_b y_b y_b^T (upper triangle, or diagonal),
    with y = xt - mu shifted on the fly (mu may be NULL: no shift). xr: the same rows as
    stored (nb x d, row-major), or NULL. Full and tied: wy is scratch of d x BLOCK_ROWS."""
    if cov == C_FULL or cov == C_TIED:
        if floating is double:
            fastem_moments_d(xt, xr, mu, r, nb, d, s1, s2, wy, hand_vectorised())
        else:
            fastem_moments_f(xt, xr, mu, r, nb, d, s1, s2, wy, hand_vectorised())
    elif floating is double:
        fastem_moments_diag_d(xt, mu, r, nb, d, s1, s2)
    else:
        fastem_moments_diag_f(xt, mu, r, nb, d, s1, s2)


cdef inline double* _s2_of(double* s2, int cov, Py_ssize_t k, Py_ssize_t d) noexcept nogil:
    if cov == C_FULL:
        return s2 + k * (d * (d + 1) // 2)
    if cov == C_TIED:
        return s2
    return s2 + k * d


cdef inline size_t _scratch_bytes(Py_ssize_t K, Py_ssize_t d, size_t item) noexcept nogil:
    cdef size_t resp = K * item if item == sizeof(float) else 0
    return ((K + 2) * sizeof(double) + resp + 3 * d * item) * BLOCK_ROWS + 3 * d * item


cdef inline void _scratch_layout(void* scratch, Py_ssize_t K, Py_ssize_t d, double** logp,
                                 double** quad, double** lse, floating** resp, floating** xt,
                                 floating** yt, floating** wy,
                                 floating** cs) noexcept nogil:
    """Per-thread scratch of both Gaussian passes (_scratch_bytes long): logp (K x BLOCK_ROWS),
    quad, lse (BLOCK_ROWS each) as float64, then in the data's precision the
    responsibilities resp (float32: K x BLOCK_ROWS; float64: logp itself), the block's
    rows xt, the completed rows yt (with missing values) and wy (d x BLOCK_ROWS each), and
    cs (3 d: the missing-value pass also keeps a component's observed and completed
    means there)."""
    logp[0] = <double*>scratch
    quad[0] = logp[0] + K * BLOCK_ROWS
    lse[0] = quad[0] + BLOCK_ROWS
    if floating is double:
        resp[0] = logp[0]
        xt[0] = lse[0] + BLOCK_ROWS
    else:
        resp[0] = <float*>(lse[0] + BLOCK_ROWS)
        xt[0] = resp[0] + K * BLOCK_ROWS
    yt[0] = xt[0] + d * BLOCK_ROWS
    wy[0] = yt[0] + d * BLOCK_ROWS
    cs[0] = wy[0] + d * BLOCK_ROWS


cdef void _block(
    const floating* X, const double* w, Py_ssize_t row0, Py_ssize_t nb,
    Py_ssize_t d, Py_ssize_t K, const floating* means, const floating* prec,
    const double* log_norm, int cov, const double* resp_in, double* resp_out,
    double* lse_out, double* logp_out, bint want_stats, double* acc, void* scratch,
) noexcept nogil:
    cdef double* logp
    cdef double* quad
    cdef double* lse
    cdef floating* xt
    cdef floating* yt
    cdef floating* cs
    cdef floating* wy
    cdef Py_ssize_t k, b, fstride
    cdef double nk_block
    cdef floating* r
    cdef floating* lp      # the responsibilities
    cdef const floating* xb = X + row0 * d

    _scratch_layout(scratch, K, d, &logp, &quad, &lse, &lp, &xt, &yt, &wy, &cs)
    transpose_block(xb, nb, d, xt, hand_vectorised())
    if resp_in == NULL:
        fstride = d * d if cov == C_FULL else (d if cov == C_DIAG else (1 if cov == C_SPHERICAL else 0))
        for k in range(K):
            _log_density(xt, nb, d, cov, prec + k * fstride, means + k * d, cs, quad)
            if logp_out != NULL:
                # per-component log-densities only (emissions of a hidden Markov model)
                for b in range(nb):
                    logp_out[(row0 + b) * K + k] = log_norm[k] - 0.5 * quad[b]
            else:
                fastem_log_densities(quad, nb, log_norm[k], logp + k * BLOCK_ROWS, lse,
                                     k == 0)
        if logp_out != NULL:
            return
        _posteriors(logp, lp, nb, K, w, row0, NULL, acc, resp_out, lse_out, quad, lse)
    else:
        for k in range(K):
            r = lp + k * BLOCK_ROWS
            for b in range(nb):
                _put_weight(r, b, resp_in[(row0 + b) * K + k] if w == NULL else (
                    resp_in[(row0 + b) * K + k] * w[row0 + b]))

    if not want_stats:
        return
    for k in range(K):
        r = lp + k * BLOCK_ROWS
        nk_block = sum_rows(r, nb)
        if nk_block == 0:
            continue
        acc[1 + k] += nk_block
        # moments about the component's mean, the rows shifted on the fly
        _accumulate(xt, xb, means + k * d, r, nb, d, cov, acc + 1 + K + k * d,
                    _s2_of(acc + 1 + K + K * d, cov, k, d), wy)


cdef double _run_pass(BlockFn fn, const void* ctx, Py_ssize_t n_rows, int n_threads,
                      size_t scratch, Py_ssize_t K, Py_ssize_t d, int cov_type,
                      Py_ssize_t n_extra, bint want_stats, double[::1] nk, double[:, ::1] s1,
                      double[::1] s2, double* extra) except? -1:
    """Run a Gaussian block function over the rows; unpack nk, s1, s2 and n_extra more
    statistics into extra. Returns the log-likelihood sum (accumulator 0)."""
    cdef Py_ssize_t n_s2 = stats_size(cov_type, K, d)
    cdef Py_ssize_t stride = 1 + K + K * d + n_s2 + n_extra
    cdef double* total = <double*>malloc(stride * sizeof(double))
    cdef Py_ssize_t j
    cdef int status
    cdef double loglik
    if total == NULL:
        raise MemoryError()
    # multiply-adds per row and component: the quadratic form, and the moments
    cdef double work = <double>n_rows * K * (
        d * d if cov_type == C_FULL or cov_type == C_TIED else d)
    with nogil:
        status = run_blocks(n_rows, n_threads, fn, ctx, stride, scratch, total,
                            work * (2 if want_stats else 1))
    if status != 0:
        free(total)
        check_status(status)
    if want_stats:
        for j in range(K):
            nk[j] = total[1 + j]
        for j in range(K * d):
            s1[j // d, j % d] = total[1 + K + j]
        for j in range(n_s2):
            s2[j] = total[1 + K + K * d + j]
        for j in range(n_extra):
            extra[j] = total[1 + K + K * d + n_s2 + j]
    loglik = total[0]
    free(total)
    return loglik


cdef void _labelled_block(const floating* X, const double* w, Py_ssize_t row0, Py_ssize_t nb,
                          Py_ssize_t d, Py_ssize_t K, const floating* means, int cov,
                          const int* labels, double* acc, void* scratch) noexcept nogil:
    """Statistics of one-hot responsibilities given by labels: the block's rows are
    ordered by label (counting sort, stable) and each label's rows go once through the
    moments kernel, about that component's mean."""
    cdef double* logp
    cdef double* quad
    cdef double* lse
    cdef floating* r
    cdef floating* xt
    cdef floating* yt
    cdef floating* wy
    cdef floating* cs
    cdef Py_ssize_t* start
    cdef Py_ssize_t* order
    cdef Py_ssize_t k, b, i, j, cnt, first, padded
    cdef const int* lab = labels + row0
    cdef double nk_block
    # the label counts use the log-density area (K x BLOCK_ROWS doubles), the order the
    # quad area, the gathered rows' weights the lse area
    _scratch_layout(scratch, K, d, &logp, &quad, &lse, &r, &xt, &yt, &wy, &cs)
    r = <floating*>lse
    start = <Py_ssize_t*>logp
    order = <Py_ssize_t*>quad
    for k in range(K + 1):
        start[k] = 0
    for b in range(nb):
        start[lab[b] + 1] += 1
    for k in range(K):
        start[k + 1] += start[k]
    for b in range(nb):
        order[start[lab[b]]] = b
        start[lab[b]] += 1
    # start[k] is now the end of label k's rows
    first = 0
    for k in range(K):
        cnt = start[k] - first
        if cnt > 0:
            padded = (cnt + 7) & ~(<Py_ssize_t>7)
            for i in range(d):
                for j in range(cnt):
                    xt[i * BLOCK_ROWS + j] = X[(row0 + order[first + j]) * d + i]
                for j in range(cnt, padded):
                    xt[i * BLOCK_ROWS + j] = 0
            for j in range(cnt):
                _put_weight(r, j, 1.0 if w == NULL else w[row0 + order[first + j]])
            nk_block = sum_rows(r, cnt)
            acc[1 + k] += nk_block
            _accumulate(xt, NULL, means + k * d, r, cnt, d, cov, acc + 1 + K + k * d,
                        _s2_of(acc + 1 + K + K * d, cov, k, d), wy)
        first = start[k]


cdef struct GaussianPass:
    const void* X
    const double* w
    Py_ssize_t d
    Py_ssize_t K
    const void* means
    const void* prec
    const double* log_norm
    int cov
    const double* resp_in
    const int* labels_in
    double* resp_out
    double* lse_out
    double* logp_out
    bint want_stats
    bint single


cdef void _gaussian_block(const void* ctx, Py_ssize_t row0, Py_ssize_t nb, double* acc,
                          void* scratch) noexcept nogil:
    cdef const GaussianPass* c = <const GaussianPass*>ctx
    if c.labels_in != NULL:
        if c.single:
            _labelled_block[float](<const float*>c.X, c.w, row0, nb, c.d, c.K,
                                   <const float*>c.means, c.cov, c.labels_in, acc, scratch)
        else:
            _labelled_block[double](<const double*>c.X, c.w, row0, nb, c.d, c.K,
                                    <const double*>c.means, c.cov, c.labels_in, acc, scratch)
        return
    if c.single:
        _block[float](<const float*>c.X, c.w, row0, nb, c.d, c.K, <const float*>c.means,
                      <const float*>c.prec, c.log_norm, c.cov, c.resp_in, c.resp_out,
                      c.lse_out, c.logp_out, c.want_stats, acc, scratch)
    else:
        _block[double](<const double*>c.X, c.w, row0, nb, c.d, c.K, <const double*>c.means,
                       <const double*>c.prec, c.log_norm, c.cov, c.resp_in, c.resp_out,
                       c.lse_out, c.logp_out, c.want_stats, acc, scratch)


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
    double[:, ::1] logp_out,             # OUT (n, K) log_norm[k] + log N(x | k), or (0, 0)
    double[::1] nk,                      # OUT (K,)
    double[:, ::1] s1,                   # OUT (K, d)
    double[::1] s2,                      # OUT flat, stats_size(cov_type, K, d)
    bint want_stats,
    int n_threads,
):
    """One pass over X; returns sum_b w_b log p(x_b) (0 when resp_in or logp_out is given).

    With logp_out the pass only writes each component's log-density term (nothing else
    is computed).

    prec holds upper-triangular factors P with P P^T = precision: (K, d, d) for full,
    (d, d) for tied, (K, d) for diag (1/sigma), (K,) for spherical. s1 and s2 are moments
    about ``means``; s2 holds packed upper triangles for full and tied.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = means.shape[0]
    cdef size_t scratch = _scratch_bytes(K, d, sizeof(floating))
    cdef GaussianPass c
    c.X = &X[0, 0]
    c.w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    c.d = d
    c.K = K
    c.means = &means[0, 0]
    c.prec = &prec[0]
    c.log_norm = &log_norm[0]
    c.cov = cov_type
    c.resp_in = &resp_in[0, 0] if resp_in.shape[0] > 0 else NULL
    c.labels_in = NULL
    c.resp_out = &resp_out[0, 0] if resp_out.shape[0] > 0 else NULL
    c.lse_out = &lse_out[0] if lse_out.shape[0] > 0 else NULL
    c.logp_out = &logp_out[0, 0] if logp_out.shape[0] > 0 else NULL
    c.want_stats = want_stats and c.logp_out == NULL
    c.single = floating is float
    return _run_pass(_gaussian_block, &c, n, n_threads, scratch, K, d, cov_type, 0,
                     want_stats, nk, s1, s2, NULL)


def labelled_stats(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const int[::1] labels,               # IN  (n,) in 0 .. K - 1
    const floating[:, ::1] means,        # IN  (K, d): shift of the statistics
    int cov_type,
    double[::1] nk,                      # OUT (K,)
    double[:, ::1] s1,                   # OUT (K, d)
    double[::1] s2,                      # OUT flat, stats_size(cov_type, K, d)
    int n_threads,
):
    """The statistics (as gaussian_pass) of the responsibilities one-hot at labels."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = means.shape[0], i
    cdef GaussianPass c
    if labels.shape[0] != n:
        raise ValueError(f"labels has {labels.shape[0]} entries for {n} rows")
    for i in range(n):
        if labels[i] < 0 or labels[i] >= K:
            raise ValueError(f"labels[{i}] = {labels[i]} is not in 0..{K - 1}")
    cdef double[::1] no_log_norm = np.zeros(K)
    c.X = &X[0, 0]
    c.w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    c.d = d
    c.K = K
    c.means = &means[0, 0]
    c.prec = NULL
    c.log_norm = &no_log_norm[0]
    c.cov = cov_type
    c.resp_in = NULL
    c.labels_in = &labels[0]
    c.resp_out = NULL
    c.lse_out = NULL
    c.logp_out = NULL
    c.want_stats = True
    c.single = floating is float
    _run_pass(_gaussian_block, &c, n, n_threads, _scratch_bytes(K, d, sizeof(floating)), K,
              d, cov_type, 0, True, nk, s1, s2, NULL)


# ---------------------------------------------------------------------------------------
# Missing values: rows grouped by pattern of observed entries (positions in `order`).
# For pattern p and component k the caller supplies the precision factor of Sigma_oo,
# the conditional-mean map B = Sigma_mo Sigma_oo^-1 (full/tied only) and the log
# normaliser. The E-step uses the marginal density of the observed entries; the moments
# use the completed row (x_o, mu_m + B (x_o - mu_o)), and the conditional covariance is
# added by the caller from the per-(pattern, component) responsibility sums.
# ---------------------------------------------------------------------------------------

cdef struct MissingPass:
    const void* X
    const double* w
    Py_ssize_t d
    Py_ssize_t K
    int cov
    bint single
    const Py_ssize_t* order        # positions -> rows of X, grouped by pattern
    const Py_ssize_t* seg          # (P + 1,) pattern p holds positions seg[p] .. seg[p+1]-1
    Py_ssize_t P
    const Py_ssize_t* obs_start    # (P + 1,) into obs_idx
    const Py_ssize_t* obs_idx
    const Py_ssize_t* mis_start    # (P + 1,) into mis_idx
    const Py_ssize_t* mis_idx
    const void* factor             # pattern p, component k at factor_start[p] + k * size_p
    const Py_ssize_t* factor_start
    const void* bmat               # (m x o) per (p, k) at bmat_start[p] + k * m * o, or NULL
    const Py_ssize_t* bmat_start
    const double* log_norm         # (P, K)
    const void* means              # (K, d)
    double* resp_out
    double* lse_out
    bint want_stats


cdef void _missing_segment(const MissingPass* c, const floating* X, const floating* means,
                           const floating* factor, const floating* bmat, Py_ssize_t p,
                           Py_ssize_t pos, Py_ssize_t nb, double* acc,
                           void* scratch) noexcept nogil:
    cdef Py_ssize_t d = c.d, K = c.K, cov = c.cov
    cdef Py_ssize_t o = c.obs_start[p + 1] - c.obs_start[p]
    cdef Py_ssize_t m = c.mis_start[p + 1] - c.mis_start[p]
    cdef const Py_ssize_t* obs = c.obs_idx + c.obs_start[p]
    cdef const Py_ssize_t* mis = c.mis_idx + c.mis_start[p]
    cdef const Py_ssize_t* rows = c.order + pos
    cdef bint dense = cov == C_FULL or cov == C_TIED
    cdef Py_ssize_t fsize = o * o if dense else (o if cov == C_DIAG else 1)
    cdef double* logp
    cdef double* quad
    cdef double* lse
    cdef floating* xo
    cdef floating* yt
    cdef floating* cs
    cdef floating* mo
    cdef floating* mz
    cdef floating* wy
    cdef floating* r
    cdef floating* lp
    cdef double nk_block
    cdef Py_ssize_t k, j, i, b
    cdef const floating* mu
    cdef const floating* bk
    cdef floating v
    cdef Py_ssize_t stats0 = 1 + K + K * d
    cdef Py_ssize_t rsum0 = stats0 + _n_s2(cov, K, d)

    _scratch_layout(scratch, K, d, &logp, &quad, &lse, &lp, &xo, &yt, &wy, &cs)
    mo = cs + d
    mz = cs + 2 * d
    if floating is double:
        fastem_gather_rows_d(X, d, rows, nb, obs, o, xo)
    else:
        fastem_gather_rows_f(X, d, rows, nb, obs, o, xo)
    for k in range(K):
        # the marginal density of the observed entries, about mu_o (full, tied: through
        # cs = mu_o @ factor, as the complete-data pass; diag, spherical: shifted on the fly)
        mu = means + k * d
        for j in range(o):
            mo[j] = mu[obs[j]]
        _log_density(xo, nb, o, cov, factor + c.factor_start[p] + k * fsize, mo, cs, quad)
        fastem_log_densities(quad, nb, c.log_norm[p * K + k], logp + k * BLOCK_ROWS, lse,
                             k == 0)
    _posteriors(logp, lp, nb, K, c.w, 0, rows, acc, c.resp_out, c.lse_out, quad, lse)

    if not c.want_stats:
        return
    # the completed rows: the observed entries x_o as they are, the missing ones per
    # component; the moments shift them on the fly
    for j in range(o):
        memcpy(yt + obs[j] * BLOCK_ROWS, xo + j * BLOCK_ROWS, nb * sizeof(floating))
    for k in range(K):
        r = lp + k * BLOCK_ROWS
        nk_block = sum_rows(r, nb)
        if nk_block == 0:
            continue
        acc[1 + k] += nk_block
        acc[rsum0 + p * K + k] += nk_block
        mu = means + k * d
        if not dense:
            # diag, spherical: x_m = mu_m (shifted: y_m = mu_m - mu_m = 0)
            for i in range(m):
                v = mu[mis[i]]
                for b in range(nb):
                    yt[mis[i] * BLOCK_ROWS + b] = v
            _accumulate(yt, NULL, mu, r, nb, d, cov, acc + 1 + K + k * d,
                        _s2_of(acc + stats0, cov, k, d), wy)
            continue
        # full, tied: y_o = x_o - mu_o and y_m = B y_o, stored shifted: the moments
        # shift by mz, mu with zeros at the missing entries
        for j in range(d):
            mz[j] = mu[j]
        for j in range(o):
            mo[j] = mu[obs[j]]
        for i in range(m):
            mz[mis[i]] = 0
        if bmat != NULL:
            bk = bmat + c.bmat_start[p] + k * m * o
            if floating is double:
                fastem_conditional_rows_d(xo, nb, o, mo, bk, m, mis, yt,
                                          hand_vectorised())
            else:
                fastem_conditional_rows_f(xo, nb, o, mo, bk, m, mis, yt,
                                          hand_vectorised())
        else:
            # nothing observed (o = 0 wherever entries are missing): y_m = 0
            for i in range(m):
                for b in range(nb):
                    yt[mis[i] * BLOCK_ROWS + b] = 0
        _accumulate(yt, NULL, mz, r, nb, d, cov, acc + 1 + K + k * d,
                    _s2_of(acc + stats0, cov, k, d), wy)


cdef void _missing_block(const void* ctx, Py_ssize_t row0, Py_ssize_t nb, double* acc,
                         void* scratch) noexcept nogil:
    cdef const MissingPass* c = <const MissingPass*>ctx
    cdef Py_ssize_t lo = 0, hi = c.P, mid, p, pos = row0, end
    # the pattern holding position row0: last p with seg[p] <= row0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if c.seg[mid] <= row0:
            lo = mid
        else:
            hi = mid
    p = lo
    while pos < row0 + nb and p < c.P:
        end = c.seg[p + 1] if c.seg[p + 1] < row0 + nb else row0 + nb
        if end > pos:
            if c.single:
                _missing_segment[float](c, <const float*>c.X, <const float*>c.means,
                                        <const float*>c.factor, <const float*>c.bmat,
                                        p, pos, end - pos, acc, scratch)
            else:
                _missing_segment[double](c, <const double*>c.X, <const double*>c.means,
                                         <const double*>c.factor, <const double*>c.bmat,
                                         p, pos, end - pos, acc, scratch)
            pos = end
        p += 1


def gaussian_missing_pass(
    const floating[:, ::1] X,            # IN  (n, d) with NaN for missing entries
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    const Py_ssize_t[::1] order,         # IN  rows of X grouped by pattern
    const Py_ssize_t[::1] seg,           # IN  (P + 1,) pattern boundaries in order
    const Py_ssize_t[::1] obs_start,     # IN  (P + 1,)
    const Py_ssize_t[::1] obs_idx,       # IN  observed columns, pattern after pattern
    const Py_ssize_t[::1] mis_start,     # IN  (P + 1,)
    const Py_ssize_t[::1] mis_idx,       # IN  missing columns, pattern after pattern
    const floating[::1] factor,          # IN  precision factors of Sigma_oo per (p, k)
    const Py_ssize_t[::1] factor_start,  # IN  (P + 1,)
    const floating[::1] bmat,            # IN  conditional-mean maps per (p, k), or (0,)
    const Py_ssize_t[::1] bmat_start,    # IN  (P + 1,)
    const double[:, ::1] log_norm,       # IN  (P, K)
    const floating[:, ::1] means,        # IN  (K, d)
    int cov_type,
    double[:, ::1] resp_out,             # OUT (n, K) or (0, 0)
    double[::1] lse_out,                 # OUT (n,) or (0,)
    double[::1] nk,                      # OUT (K,)
    double[:, ::1] s1,                   # OUT (K, d)
    double[::1] s2,                      # OUT flat, stats_size(cov_type, K, d)
    double[:, ::1] rsum,                 # OUT (P, K) responsibility sums per pattern
    bint want_stats,
    int n_threads,
):
    """The fused E pass over rows with missing entries; returns sum_b w_b log p(x_b,obs)."""
    cdef Py_ssize_t d = X.shape[1], K = means.shape[0], P = seg.shape[0] - 1
    cdef size_t scratch = _scratch_bytes(K, d, sizeof(floating))
    cdef MissingPass c
    c.X = &X[0, 0]
    c.w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    c.d = d
    c.K = K
    c.cov = cov_type
    c.single = floating is float
    c.order = &order[0]
    c.seg = &seg[0]
    c.P = P
    c.obs_start = &obs_start[0]
    c.obs_idx = &obs_idx[0]
    c.mis_start = &mis_start[0]
    c.mis_idx = &mis_idx[0] if mis_idx.shape[0] > 0 else NULL
    c.factor = &factor[0]
    c.factor_start = &factor_start[0]
    c.bmat = &bmat[0] if bmat.shape[0] > 0 else NULL
    c.bmat_start = &bmat_start[0]
    c.log_norm = &log_norm[0, 0]
    c.means = &means[0, 0]
    c.resp_out = &resp_out[0, 0] if resp_out.shape[0] > 0 else NULL
    c.lse_out = &lse_out[0] if lse_out.shape[0] > 0 else NULL
    c.want_stats = want_stats
    return _run_pass(_missing_block, &c, order.shape[0], n_threads, scratch, K, d, cov_type,
                     P * K, want_stats, nk, s1, s2, &rsum[0, 0] if P > 0 else NULL)


# -- per-pattern parameters of the missing-value pass ------------------------------------
#
# For pattern p (observed columns o, missing columns m) and component k, with
# L L^T = Sigma_oo (Cholesky) and Li = L^-1:
#     factor = Li^T            upper, factor factor^T = Sigma_oo^-1 (the pass's P)
#     log|factor| = sum_j log Li_jj
#     W = Sigma_mo Li^T        (m x o)
#     B = W Li = Sigma_mo Sigma_oo^-1,   C = Sigma_mm - W W^T = Sigma_mm - B Sigma_om
# Each pattern is one task writing only its own slices of the outputs: results do not
# depend on the thread count.

cdef struct PatternAlgebra:
    const double* cov              # full (K, d, d), tied (d, d), diag (K, d), spherical (K,)
    Py_ssize_t d
    Py_ssize_t K
    int cov_type
    bint single                    # factor and bmat are float32
    const Py_ssize_t* obs_start
    const Py_ssize_t* obs_idx
    const Py_ssize_t* mis_start
    const Py_ssize_t* mis_idx
    void* factor                   # as the pass reads it: factor_start[p] + k * size_p
    const Py_ssize_t* factor_start
    void* bmat                     # (m x o) per (p, k), or NULL (diag, spherical)
    const Py_ssize_t* bmat_start
    double* cond                   # (m x m) per (p, k), or the m variances
    const Py_ssize_t* cond_start
    double* log_det                # (P, K)
    int* failed                    # (P,) 0, or 1 + the first component that failed


cdef inline void _put(void* out, Py_ssize_t i, double v, bint single) noexcept nogil:
    if single:
        (<float*>out)[i] = <float>v
    else:
        (<double*>out)[i] = v


cdef bint _cholesky_of_block(const double* S, Py_ssize_t d, const Py_ssize_t* idx,
                             Py_ssize_t o, double* L) noexcept nogil:
    """L (o x o, lower, row-major) with L L^T = S[idx, idx]; False when that block is not
    positive definite (a pivot <= 0 or NaN)."""
    cdef Py_ssize_t i, j, l
    cdef double v
    for j in range(o):
        for i in range(j, o):
            v = S[idx[i] * d + idx[j]]
            for l in range(j):
                v = v - L[i * o + l] * L[j * o + l]
            if i == j:
                if not (v > 0):
                    return False
                L[j * o + j] = sqrt(v)
            else:
                L[i * o + j] = v / L[j * o + j]
    return True


cdef void _lower_inverse(const double* L, Py_ssize_t o, double* Li) noexcept nogil:
    """Li = L^-1 for lower-triangular L (both o x o, row-major; Li's lower part only)."""
    cdef Py_ssize_t i, j, l
    cdef double v
    for j in range(o):
        Li[j * o + j] = 1.0 / L[j * o + j]
        for i in range(j + 1, o):
            v = 0
            for l in range(j, i):
                v = v + L[i * o + l] * Li[l * o + j]
            Li[i * o + j] = -v / L[i * o + i]


cdef bint _dense_pattern(const PatternAlgebra* c, Py_ssize_t p, Py_ssize_t k,
                         const double* S, double* scratch) noexcept nogil:
    """Factor, B, C and log-determinant of pattern p, component k (full and tied)."""
    cdef Py_ssize_t d = c.d
    cdef Py_ssize_t o = c.obs_start[p + 1] - c.obs_start[p]
    cdef Py_ssize_t m = c.mis_start[p + 1] - c.mis_start[p]
    cdef const Py_ssize_t* obs = (c.obs_idx + c.obs_start[p]) if o > 0 else NULL
    cdef const Py_ssize_t* mis = (c.mis_idx + c.mis_start[p]) if m > 0 else NULL
    cdef double* L = scratch
    cdef double* Li = L + d * d
    cdef double* W = Li + d * d
    cdef Py_ssize_t i, j, l, f0, b0, c0
    cdef double v, log_det = 0
    if o > 0 and not _cholesky_of_block(S, d, obs, o, L):
        return False
    _lower_inverse(L, o, Li)
    f0 = c.factor_start[p] + k * o * o
    for i in range(o):
        log_det += log(Li[i * o + i])
        for j in range(o):
            _put(c.factor, f0 + i * o + j, Li[j * o + i] if j >= i else 0.0, c.single)
    c.log_det[p * c.K + k] = log_det
    if m == 0:
        return True
    for i in range(m):
        for j in range(o):
            v = 0
            for l in range(j + 1):
                v = v + S[mis[i] * d + obs[l]] * Li[j * o + l]
            W[i * o + j] = v
    b0 = c.bmat_start[p] + k * m * o
    for i in range(m):
        for j in range(o):
            v = 0
            for l in range(j, o):
                v = v + W[i * o + l] * Li[l * o + j]
            _put(c.bmat, b0 + i * o + j, v, c.single)
    c0 = c.cond_start[p] + k * m * m
    for i in range(m):
        for j in range(m):
            v = 0
            for l in range(o):
                v = v + W[i * o + l] * W[j * o + l]
            c.cond[c0 + i * m + j] = S[mis[i] * d + mis[j]] - v
    return True


cdef void _copy_first_component(const PatternAlgebra* c, Py_ssize_t p) noexcept nogil:
    """Tied: every component of pattern p gets component 0's factor, B and C."""
    cdef Py_ssize_t o = c.obs_start[p + 1] - c.obs_start[p]
    cdef Py_ssize_t m = c.mis_start[p + 1] - c.mis_start[p]
    cdef size_t item = sizeof(float) if c.single else sizeof(double)
    cdef Py_ssize_t k
    for k in range(1, c.K):
        if o > 0:
            memcpy(<char*>c.factor + (c.factor_start[p] + k * o * o) * item,
                   <char*>c.factor + c.factor_start[p] * item, o * o * item)
        if m > 0 and o > 0:
            memcpy(<char*>c.bmat + (c.bmat_start[p] + k * m * o) * item,
                   <char*>c.bmat + c.bmat_start[p] * item, m * o * item)
        if m > 0:
            memcpy(c.cond + c.cond_start[p] + k * m * m, c.cond + c.cond_start[p],
                   m * m * sizeof(double))
        c.log_det[p * c.K + k] = c.log_det[p * c.K]


cdef void _pattern_task(const void* ctx, Py_ssize_t p, void* scratch) noexcept nogil:
    cdef const PatternAlgebra* c = <const PatternAlgebra*>ctx
    cdef Py_ssize_t d = c.d, K = c.K
    cdef Py_ssize_t o = c.obs_start[p + 1] - c.obs_start[p]
    cdef Py_ssize_t m = c.mis_start[p + 1] - c.mis_start[p]
    cdef const Py_ssize_t* obs = (c.obs_idx + c.obs_start[p]) if o > 0 else NULL
    cdef const Py_ssize_t* mis = (c.mis_idx + c.mis_start[p]) if m > 0 else NULL
    cdef Py_ssize_t k, j
    cdef double v, inv_sd, log_det
    c.failed[p] = 0
    if c.cov_type == C_FULL or c.cov_type == C_TIED:
        for k in range(K if c.cov_type == C_FULL else 1):
            if not _dense_pattern(c, p, k, c.cov + k * d * d, <double*>scratch):
                c.failed[p] = 1 + k
                return
        if c.cov_type == C_TIED:
            _copy_first_component(c, p)
        return
    for k in range(K):
        log_det = 0
        if c.cov_type == C_DIAG:
            for j in range(o):
                v = c.cov[k * d + obs[j]]
                if not (v > 0):
                    c.failed[p] = 1 + k
                    return
                inv_sd = 1.0 / sqrt(v)
                _put(c.factor, c.factor_start[p] + k * o + j, inv_sd, c.single)
                log_det += log(inv_sd)
            for j in range(m):
                c.cond[c.cond_start[p] + k * m + j] = c.cov[k * d + mis[j]]
        else:
            v = c.cov[k]
            if not (v > 0):
                c.failed[p] = 1 + k
                return
            inv_sd = 1.0 / sqrt(v)
            _put(c.factor, c.factor_start[p] + k, inv_sd, c.single)
            log_det = o * log(inv_sd)
            for j in range(m):
                c.cond[c.cond_start[p] + k * m + j] = v
        c.log_det[p * K + k] = log_det


def missing_pattern_parameters(
    const double[::1] cov,               # IN  full (K*d*d), tied (d*d), diag (K*d), sph. (K)
    int cov_type,
    const Py_ssize_t[::1] obs_start,     # IN  (P + 1,)
    const Py_ssize_t[::1] obs_idx,       # IN  observed columns, pattern after pattern
    const Py_ssize_t[::1] mis_start,     # IN  (P + 1,)
    const Py_ssize_t[::1] mis_idx,       # IN  missing columns, pattern after pattern
    floating[::1] factor,                # OUT precision factors of Sigma_oo per (p, k)
    const Py_ssize_t[::1] factor_start,  # IN  (P + 1,)
    floating[::1] bmat,                  # OUT conditional-mean maps per (p, k), or (0,)
    const Py_ssize_t[::1] bmat_start,    # IN  (P + 1,)
    double[::1] cond,                    # OUT conditional covariances (or variances)
    const Py_ssize_t[::1] cond_start,    # IN  (P + 1,)
    double[:, ::1] log_det,              # OUT (P, K) log|factor|
    int[::1] failed,                     # OUT (P,) 0, or 1 + a component not pos. def.
    Py_ssize_t n_features,
    int n_threads,
):
    """The arguments of gaussian_missing_pass for patterns 0..P-1, and the conditional
    covariances of their missing entries (one task per pattern)."""
    cdef Py_ssize_t P = obs_start.shape[0] - 1, d = n_features, p, o, m
    cdef int status
    cdef double work = 0
    cdef PatternAlgebra c
    cdef Py_ssize_t K = log_det.shape[1]
    if cov.shape[0] != (K * d * d if cov_type == C_FULL else d * d if cov_type == C_TIED
                        else K * d if cov_type == C_DIAG else K):
        raise ValueError("cov does not match cov_type, n_components and n_features")
    if (log_det.shape[0] != P or failed.shape[0] != P or mis_start.shape[0] != P + 1
            or factor_start.shape[0] != P + 1 or bmat_start.shape[0] != P + 1
            or cond_start.shape[0] != P + 1):
        raise ValueError("the per-pattern arrays disagree on the number of patterns")
    if P == 0:
        return
    if (obs_start[P] > obs_idx.shape[0] or mis_start[P] > mis_idx.shape[0]
            or factor_start[P] > factor.shape[0] or bmat_start[P] > bmat.shape[0]
            or cond_start[P] > cond.shape[0]):
        raise ValueError("an output is shorter than its starts say")
    c.cov = &cov[0]
    c.d = d
    c.K = K
    c.cov_type = cov_type
    c.single = floating is float
    c.obs_start = &obs_start[0]
    c.obs_idx = &obs_idx[0] if obs_idx.shape[0] > 0 else NULL
    c.mis_start = &mis_start[0]
    c.mis_idx = &mis_idx[0] if mis_idx.shape[0] > 0 else NULL
    c.factor = &factor[0] if factor.shape[0] > 0 else NULL
    c.factor_start = &factor_start[0]
    c.bmat = &bmat[0] if bmat.shape[0] > 0 else NULL
    c.bmat_start = &bmat_start[0]
    c.cond = &cond[0] if cond.shape[0] > 0 else NULL
    c.cond_start = &cond_start[0]
    c.log_det = &log_det[0, 0]
    c.failed = &failed[0]
    for p in range(P):
        o = obs_start[p + 1] - obs_start[p]
        m = mis_start[p + 1] - mis_start[p]
        work += (o * o * o / 3.0 + m * o * o + m * m * o) if (
            cov_type == C_FULL or cov_type == C_TIED) else d
    if cov_type != C_TIED:
        work *= c.K
    with nogil:
        status = run_tasks(P, NULL, n_threads, _pattern_task, &c,
                           3 * d * d * sizeof(double), work)
    check_status(status)


def missing_conditional_moments(
    const double[:, ::1] rsum,           # IN  (P, K) responsibility sums per pattern
    const double[::1] cond,              # IN  as missing_pattern_parameters wrote it
    const Py_ssize_t[::1] cond_start,    # IN  (P + 1,)
    const Py_ssize_t[::1] mis_start,     # IN  (P + 1,)
    const Py_ssize_t[::1] mis_idx,       # IN  missing columns, pattern after pattern
    int cov_type,
    Py_ssize_t n_features,
    double[::1] extra,                   # OUT added to: (K, d, d) full, tied; (K, d) else
):
    """extra[k] += sum_p rsum[p, k] C_pk, the conditional covariances placed at the
    missing entries, patterns in order."""
    cdef Py_ssize_t P = rsum.shape[0], K = rsum.shape[1], d = n_features
    cdef Py_ssize_t p, k, i, j, m, c0
    cdef bint dense = cov_type == C_FULL or cov_type == C_TIED
    cdef const Py_ssize_t* mis
    cdef double r
    if extra.shape[0] != K * d * (d if dense else 1):
        raise ValueError("extra has the wrong size")
    with nogil:
        for p in range(P):
            m = mis_start[p + 1] - mis_start[p]
            if m == 0:
                continue
            mis = &mis_idx[mis_start[p]]
            for k in range(K):
                r = rsum[p, k]
                if dense:
                    c0 = cond_start[p] + k * m * m
                    for i in range(m):
                        for j in range(m):
                            extra[(k * d + mis[i]) * d + mis[j]] += r * cond[c0 + i * m + j]
                else:
                    c0 = cond_start[p] + k * m
                    for i in range(m):
                        extra[k * d + mis[i]] += r * cond[c0 + i]
