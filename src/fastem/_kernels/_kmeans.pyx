"""k-means kernels: Lloyd's assignment/update pass, distances, k-means++ potentials.

Every pass runs on run_blocks (see _parallel.pyx), so the sums, the inertia and the
potentials are bitwise identical for any thread count.
"""

import numpy as np

from cython cimport floating

from fastem._kernels._blocks cimport BLOCK_ROWS, transpose_block
from fastem._kernels._parallel cimport run_blocks


cdef extern from "_simd.h" nogil:
    void fastem_nearest_d(const double* xt, Py_ssize_t nb, Py_ssize_t d, const double* centers,
                          const double* cc, Py_ssize_t K, double* best, int* lab)
    void fastem_nearest_f(const float* xt, Py_ssize_t nb, Py_ssize_t d, const float* centers,
                          const float* cc, Py_ssize_t K, double* best, int* lab)
    void fastem_nearest4_d(const double* xt, Py_ssize_t nb, Py_ssize_t d,
                           const double* centers, const double* cc, Py_ssize_t K,
                           double* best, int* lab)
    void fastem_nearest4_f(const float* xt, Py_ssize_t nb, Py_ssize_t d, const float* centers,
                           const float* cc, Py_ssize_t K, double* best, int* lab)
    void fastem_lloyd_sums_d(const double* X, Py_ssize_t nb, Py_ssize_t d, Py_ssize_t K,
                             const int* lab, const double* w, const double* best,
                             double* inertia, double* counts, double* sums)
    void fastem_lloyd_sums_f(const float* X, Py_ssize_t nb, Py_ssize_t d, Py_ssize_t K,
                             const int* lab, const double* w, const double* best,
                             double* inertia, double* counts, double* sums)
    void fastem_kpp_d(const double* X, Py_ssize_t nb, Py_ssize_t d, const double* C,
                      const double* cc, Py_ssize_t nc, const double* w, const double* xx,
                      double* closest, int update, double* pot, double* D,
                      Py_ssize_t dstride)
    void fastem_kpp_f(const float* X, Py_ssize_t nb, Py_ssize_t d, const float* C,
                      const float* cc, Py_ssize_t nc, const double* w, const double* xx,
                      double* closest, int update, double* pot, double* D,
                      Py_ssize_t dstride)
    void fastem_kpp_tile_d(const double* xt, Py_ssize_t nb, Py_ssize_t d, const double* C,
                           const double* cc, Py_ssize_t nc, const double* w,
                           const double* closest, double* pot)
    void fastem_kpp_tile_f(const float* xt, Py_ssize_t nb, Py_ssize_t d, const float* C,
                           const float* cc, Py_ssize_t nc, const double* w,
                           const double* closest, double* pot)

cdef enum:
    _KPP_ROWWISE_MIN_D = 16  # k-means++ potentials along the rows from this many features

# Python-visible: the caller keeps the candidates' distances only on that path.
KPP_ROWWISE_MIN_D = _KPP_ROWWISE_MIN_D

cdef enum Task:
    LLOYD = 0            # nearest center, inertia, per-cluster weighted sums
    DISTANCES = 1        # squared distances to every center into out (n, K)
    POTENTIALS = 2       # k-means++ candidate potentials
    UPDATE_CLOSEST = 3   # fold one new center into the nearest-center distances


cdef struct KMeansPass:
    int task
    bint single
    const void* X
    const double* w
    Py_ssize_t d
    Py_ssize_t K             # centers (or candidates)
    const void* centers      # (K, d) in the data's precision
    const void* cc           # (K,) squared norms of the centers
    int* labels              # LLOYD: (n,) or NULL
    double* dist             # LLOYD: (n,) distance to own center, or NULL; DISTANCES: (n, K);
                             # POTENTIALS: (K, n) candidate distances, or NULL
    const double* xx         # POTENTIALS: (n,) squared row norms, or NULL
    Py_ssize_t n
    double* closest          # POTENTIALS (read) / UPDATE_CLOSEST (read-write): (n,)
    bint want_sums


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


cdef void _lloyd(const KMeansPass* c, const floating* X, const floating* centers,
                 const floating* cc, Py_ssize_t row0, Py_ssize_t nb, double* acc,
                 floating* xt, double* best) noexcept nogil:
    """Nearest centers of the block's rows, their weighted sums, and the inertia.

    While iterating (want_sums) the inertia is ||x||^2 + min_k(||c_k||^2 - 2 x.c_k), as
    scikit-learn's Lloyd loop; the final pass (labels, no sums) uses exact distances."""
    cdef Py_ssize_t d = c.d, K = c.K, i, b
    cdef const floating* xb = X + row0 * d
    cdef const floating* ck
    cdef int* lab = <int*>(best + BLOCK_ROWS)
    cdef floating diff
    cdef double dist, ww
    if K <= 16:
        if floating is double:
            fastem_nearest4_d(xt, nb, d, centers, cc, K, best, lab)
        else:
            fastem_nearest4_f(xt, nb, d, centers, cc, K, best, lab)
    elif floating is double:
        fastem_nearest_d(xt, nb, d, centers, cc, K, best, lab)
    else:
        fastem_nearest_f(xt, nb, d, centers, cc, K, best, lab)
    if c.want_sums:
        if floating is double:
            fastem_lloyd_sums_d(xb, nb, d, K, lab, c.w + row0 if c.w != NULL else NULL,
                                best, acc, acc + 1, acc + 1 + K)
        else:
            fastem_lloyd_sums_f(xb, nb, d, K, lab, c.w + row0 if c.w != NULL else NULL,
                                best, acc, acc + 1, acc + 1 + K)
    for b in range(nb):
        if c.want_sums:
            dist = best[b]
        else:
            ww = 1.0 if c.w == NULL else c.w[row0 + b]
            ck = centers + lab[b] * d
            dist = 0
            for i in range(d):
                diff = xb[b * d + i] - ck[i]
                dist += diff * diff
            acc[0] += ww * dist
        if c.labels != NULL:
            c.labels[row0 + b] = lab[b]
        if c.dist != NULL:
            c.dist[row0 + b] = dist


cdef void _run_task(const KMeansPass* c, const floating* X, const floating* centers,
                    const floating* cc, Py_ssize_t row0, Py_ssize_t nb, double* acc,
                    void* scratch) noexcept nogil:
    # scratch: dd/best (BLOCK_ROWS doubles), labels (BLOCK_ROWS ints), then xt (d x
    # BLOCK_ROWS) in the data's precision
    cdef double* dd = <double*>scratch
    cdef floating* xt = <floating*>(dd + 2 * BLOCK_ROWS)
    cdef Py_ssize_t k, b, d = c.d

    if (c.task == POTENTIALS and d >= _KPP_ROWWISE_MIN_D) or c.task == UPDATE_CLOSEST:
        # k-means++: a few candidates, so dot products along the rows as stored (no
        # transposed copy); distances by expansion, as scikit-learn's k-means++
        if floating is double:
            fastem_kpp_d(X + row0 * d, nb, d, centers, cc, c.K,
                         c.w + row0 if c.w != NULL else NULL,
                         c.xx + row0 if c.xx != NULL else NULL, c.closest + row0,
                         c.task == UPDATE_CLOSEST, acc,
                         c.dist + row0 if c.dist != NULL else NULL, c.n)
        else:
            fastem_kpp_f(X + row0 * d, nb, d, centers, cc, c.K,
                         c.w + row0 if c.w != NULL else NULL,
                         c.xx + row0 if c.xx != NULL else NULL, c.closest + row0,
                         c.task == UPDATE_CLOSEST, acc,
                         c.dist + row0 if c.dist != NULL else NULL, c.n)
        return
    transpose_block(X + row0 * d, nb, d, <const floating*>NULL, xt)
    if c.task == LLOYD:
        _lloyd(c, X, centers, cc, row0, nb, acc, xt, dd)
    elif c.task == POTENTIALS:
        # short rows, several candidates: four at a time on the transposed block
        if floating is double:
            fastem_kpp_tile_d(xt, nb, d, centers, cc, c.K,
                              c.w + row0 if c.w != NULL else NULL, c.closest + row0, acc)
        else:
            fastem_kpp_tile_f(xt, nb, d, centers, cc, c.K,
                              c.w + row0 if c.w != NULL else NULL, c.closest + row0, acc)
    else:
        for k in range(c.K):
            _sqdist_block(xt, nb, d, centers + k * d, dd)
            for b in range(nb):
                c.dist[(row0 + b) * c.K + k] = dd[b]


cdef void _kmeans_block(const void* ctx, Py_ssize_t row0, Py_ssize_t nb, double* acc,
                        void* scratch) noexcept nogil:
    cdef const KMeansPass* c = <const KMeansPass*>ctx
    if c.single:
        _run_task[float](c, <const float*>c.X, <const float*>c.centers, <const float*>c.cc,
                         row0, nb, acc, scratch)
    else:
        _run_task[double](c, <const double*>c.X, <const double*>c.centers,
                          <const double*>c.cc, row0, nb, acc, scratch)


cdef double _run(KMeansPass* c, Py_ssize_t n, int n_threads, Py_ssize_t stride,
                 double* total, size_t item) except? -1:
    cdef size_t scratch = (2 * sizeof(double) + c.d * item) * BLOCK_ROWS
    cdef int status
    with nogil:
        status = run_blocks(n, n_threads, _kmeans_block, c, stride, scratch, total)
    if status != 0:
        raise MemoryError()
    return 0


cdef void _setup(KMeansPass* c, int task, const floating[:, ::1] X,
                 const double[::1] sample_weight, const floating[:, ::1] centers):
    c.task = task
    c.single = floating is float
    c.X = &X[0, 0]
    c.w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    c.d = X.shape[1]
    c.K = centers.shape[0]
    c.centers = &centers[0, 0]
    c.cc = NULL
    c.labels = NULL
    c.dist = NULL
    c.closest = NULL
    c.xx = NULL
    c.n = X.shape[0]
    c.want_sums = False


cdef floating[::1] _squared_norms(const floating[:, ::1] centers):
    cdef Py_ssize_t K = centers.shape[0], d = centers.shape[1], j, i
    cdef floating[::1] cc = np.zeros(K, dtype=np.float32 if floating is float else np.float64)
    for j in range(K):
        for i in range(d):
            cc[j] += centers[j, i] * centers[j, i]
    return cc


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
    cdef Py_ssize_t d = X.shape[1], K = centers.shape[0], j, i
    cdef Py_ssize_t stride = 1 + K + K * d
    cdef floating[::1] cc = _squared_norms(centers)
    cdef double[::1] total = np.zeros(stride)
    cdef KMeansPass c
    _setup(&c, LLOYD, X, sample_weight, centers)
    c.cc = &cc[0]
    c.labels = &labels[0] if labels.shape[0] > 0 else NULL
    c.dist = &dist_out[0] if dist_out.shape[0] > 0 else NULL
    c.want_sums = want_sums
    _run(&c, X.shape[0], n_threads, stride, &total[0], sizeof(floating))
    if want_sums:
        for j in range(K):
            weight_in_clusters[j] = total[1 + j]
        for j in range(K * d):
            sums[j // d, j % d] = total[1 + K + j]
    return total[0]


def sq_distances(
    const floating[:, ::1] X,            # IN  (n, d)
    const floating[:, ::1] centers,      # IN  (K, d)
    double[:, ::1] out,                  # OUT (n, K)
    int n_threads,
):
    """out[i, k] = ||X[i] - centers[k]||^2."""
    cdef KMeansPass c
    cdef double unused
    cdef double[::1] no_weights = np.empty(0)
    _setup(&c, DISTANCES, X, no_weights, centers)
    c.dist = &out[0, 0]
    _run(&c, X.shape[0], n_threads, 0, &unused, sizeof(floating))


def kpp_potentials(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    double[::1] closest,                 # IN  (n,) squared distance to the nearest center
    const floating[:, ::1] candidates,   # IN  (T, d)
    double[::1] potentials,              # OUT (T,)
    int n_threads,
    const double[::1] xx=None,           # IN  (n,) squared norms of the rows, optional
    double[:, ::1] dist_out=None,        # OUT (T, n) the candidates' distances, optional
):
    """potentials[t] = sum_i w_i min(closest_i, ||X_i - candidates_t||^2).

    xx and dist_out are used when d >= KPP_ROWWISE_MIN_D (the pass along the rows), else
    ignored."""
    cdef KMeansPass c
    cdef floating[::1] cc = _squared_norms(candidates)
    _setup(&c, POTENTIALS, X, sample_weight, candidates)
    c.cc = &cc[0]
    c.closest = &closest[0]
    if X.shape[1] >= _KPP_ROWWISE_MIN_D:
        if xx is not None:
            c.xx = &xx[0]
        if dist_out is not None:
            c.dist = &dist_out[0, 0]
    _run(&c, X.shape[0], n_threads, candidates.shape[0], &potentials[0], sizeof(floating))


def kpp_update_closest(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    double[::1] closest,                 # INOUT (n,)
    const floating[:, ::1] center,       # IN  (1, d) the center just chosen
    int n_threads,
):
    """closest = min(closest, ||X - center||^2); returns the new potential sum w*closest."""
    cdef KMeansPass c
    cdef double total
    cdef floating[::1] cc = _squared_norms(center)
    _setup(&c, UPDATE_CLOSEST, X, sample_weight, center)
    c.cc = &cc[0]
    c.closest = &closest[0]
    _run(&c, X.shape[0], n_threads, 1, &total, sizeof(floating))
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
