"""k-means kernels: Lloyd's assignment/update pass, distances, k-means++ gains and folds.

Every pass runs on run_blocks (see _parallel.pyx), so the sums, the inertia and the
gains and potentials are bitwise identical for any thread count.
"""

import numpy as np

from cython cimport floating
from libc.float cimport DBL_MAX

from fastem._kernels._blocks cimport BLOCK_ROWS, n_blocks_of, transpose_block
from fastem._kernels._parallel cimport check_status, hand_vectorised, run_blocks


cdef extern from "_simd.h" nogil:
    enum: FASTEM_PANEL
    void fastem_nearest_d(const double* X, Py_ssize_t nb, Py_ssize_t d, const double* ct,
                          const double* cc, Py_ssize_t n_panels, Py_ssize_t K, double* best,
                          int* lab, int hand_vectorised)
    void fastem_nearest_f(const float* X, Py_ssize_t nb, Py_ssize_t d, const float* ct,
                          const float* cc, Py_ssize_t n_panels, Py_ssize_t K, double* best,
                          int* lab, int hand_vectorised)
    void fastem_shift_rows_d(const double* X, const int* sel, Py_ssize_t nb, Py_ssize_t d,
                             const double* m, double* out)
    void fastem_shift_rows_f(const float* X, const int* sel, Py_ssize_t nb, Py_ssize_t d,
                             const float* m, float* out)
    void fastem_lloyd_sums_d(const double* X, Py_ssize_t nb, Py_ssize_t d, Py_ssize_t K,
                             const int* lab, const double* w, const double* best,
                             double* inertia, double* counts, double* sums)
    void fastem_lloyd_sums_f(const float* X, Py_ssize_t nb, Py_ssize_t d, Py_ssize_t K,
                             const int* lab, const double* w, const double* best,
                             double* inertia, double* counts, double* sums)
    void fastem_kpp_d(const double* X, const int* xsel, const int* sel, Py_ssize_t m,
                      Py_ssize_t d, const double* ct, const double* cc, Py_ssize_t nc,
                      const double* w, const double* xx, const double* closest,
                      double* pot, double* D, Py_ssize_t dw, int* rows, int* count,
                      int hand_vectorised)
    void fastem_kpp_f(const float* X, const int* xsel, const int* sel, Py_ssize_t m,
                      Py_ssize_t d, const float* ct, const float* cc, Py_ssize_t nc,
                      const double* w, const double* xx, const double* closest,
                      double* pot, double* D, Py_ssize_t dw, int* rows, int* count,
                      int hand_vectorised)
    Py_ssize_t fastem_kpp_select(Py_ssize_t nb, const double* closest, const int* lab,
                                 const double* gaps, Py_ssize_t n_gaps, double slack,
                                 int* sel)
    void fastem_kpp_dist1_d(const double* X, const int* xsel, const int* sel, Py_ssize_t m,
                            Py_ssize_t d, const double* C, double cc, const double* xx,
                            double* xx_out, double* dist)
    void fastem_kpp_dist1_f(const float* X, const int* xsel, const int* sel, Py_ssize_t m,
                            Py_ssize_t d, const float* C, float cc, const double* xx,
                            double* xx_out, double* dist)
    int fastem_kpp_fold(Py_ssize_t nb, const int* sel, Py_ssize_t m, const double* dist,
                        Py_ssize_t stride, double* closest, int* lab, int label)
    double fastem_kpp_block_sum(Py_ssize_t nb, const double* w, const double* closest)

# The nearest-center searches have hand-vectorised AVX2 versions (see _simd.h), switched
# off by the tests to check the generic versions against them.
from fastem._kernels._parallel import use_hand_vectorised  # noqa: F401


cdef enum Task:
    LLOYD = 0            # nearest center, inertia, per-cluster weighted sums
    DISTANCES = 1        # squared distances to every center into out (n, K)
    POTENTIALS = 2       # k-means++ candidates' gains (how much each lowers the potential)
    UPDATE_CLOSEST = 3   # fold one new center into the nearest-center distances
    COLUMNS = 4          # per-column weighted sums of x - c and of its square
    FOLD = 5             # closest = min(closest, dist), the kept distances of a candidate


cdef struct KMeansPass:
    int task
    bint single
    const void* X
    const void* shift        # (d,) in the data's precision: the rows are read as X - shift
                             # (LLOYD, POTENTIALS, UPDATE_CLOSEST), or NULL
    const double* w
    Py_ssize_t d
    Py_ssize_t K             # centers (or candidates)
    const void* centers      # (K, d) in the data's precision
    const void* panels       # LLOYD, POTENTIALS: the centers in panels (see _simd.h)
    const void* cc           # squared norms of the centers (LLOYD, POTENTIALS: padded to
                             # whole panels with +inf)
    int* labels              # LLOYD: (n,) or NULL; k-means++ (POTENTIALS read,
                             # UPDATE_CLOSEST and FOLD update): each row's nearest center
    double* dist             # LLOYD: (n,) distance to own center, or NULL; DISTANCES: (n, K);
                             # POTENTIALS (out), FOLD (in): per block and panel of
                             # candidates, the distances of the rows they come nearer to,
                             # (blocks, panels, BLOCK_ROWS, FASTEM_PANEL), or NULL
    Py_ssize_t dstride       # panels
    Py_ssize_t dwidth        # the distances kept per row and panel: FASTEM_PANEL, or 4
    int* kept_rows           # with dist: (blocks, panels, BLOCK_ROWS) those rows' offsets
    int* kept_counts         # with dist: (blocks, panels) how many
    Py_ssize_t column        # FOLD: the chosen candidate (its column of dist)
    float* dist_single       # DISTANCES into float32 (n, K) instead of dist, or NULL
    const double* xx         # POTENTIALS, UPDATE_CLOSEST: (n,) squared row norms, or NULL
    double* xx_out           # UPDATE_CLOSEST without xx: (n,) receives the norms, or NULL
    Py_ssize_t n
    double* closest          # POTENTIALS (read) / UPDATE_CLOSEST, FOLD (read-write): (n,)
    double* block_sums       # UPDATE_CLOSEST, FOLD: (blocks,) each block's sum of
                             # w * closest (rows [k BLOCK_ROWS, (k + 1) BLOCK_ROWS)), or NULL;
                             # with gaps they are read, and only the blocks that changed
                             # are summed again
    const double* gaps       # k-means++, with labels: per center, a lower bound of its
                             # squared distance to the new ones (fastem_kpp_select), or NULL
    Py_ssize_t n_gaps
    const double* slack      # with gaps: (blocks,) each block's bound on the rounding
    int new_label            # UPDATE_CLOSEST, FOLD: the label of the new center
    double* block_norms      # UPDATE_CLOSEST: (blocks,) each block's largest squared row
                             # norm, or NULL
    bint want_sums
    int hand_vectorised


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
                 Py_ssize_t row0, Py_ssize_t nb, double* acc, double* best) noexcept nogil:
    """Nearest centers of the block's rows (X: the block, shifted), their weighted sums,
    and the inertia (acc[0]); acc[1] counts the rows whose distance by expansion is not
    finite (overflow).

    While iterating (want_sums) the inertia is ||x||^2 + min_k(||c_k||^2 - 2 x.c_k), as
    scikit-learn's Lloyd loop; the final pass (labels, no sums) uses exact distances."""
    cdef Py_ssize_t d = c.d, K = c.K, i, b
    cdef Py_ssize_t n_panels = (K + FASTEM_PANEL - 1) // FASTEM_PANEL
    cdef const floating* xb = X
    cdef const floating* ck
    cdef int* lab = <int*>(best + BLOCK_ROWS)
    cdef const double* w = c.w + row0 if c.w != NULL else NULL
    cdef floating diff
    cdef double dist, ww
    if floating is double:
        fastem_nearest_d(xb, nb, d, <const double*>c.panels, <const double*>c.cc, n_panels,
                         K, best, lab, c.hand_vectorised)
        if c.want_sums:
            fastem_lloyd_sums_d(xb, nb, d, K, lab, w, best, acc, acc + 2, acc + 2 + K)
    else:
        fastem_nearest_f(xb, nb, d, <const float*>c.panels, <const float*>c.cc, n_panels,
                         K, best, lab, c.hand_vectorised)
        if c.want_sums:
            fastem_lloyd_sums_f(xb, nb, d, K, lab, w, best, acc, acc + 2, acc + 2 + K)
    cdef Py_ssize_t overflow = 0
    for b in range(nb):
        overflow += not best[b] <= DBL_MAX
    acc[1] += overflow
    if c.labels != NULL:
        for b in range(nb):
            c.labels[row0 + b] = lab[b]
    if c.want_sums:
        if c.dist != NULL:
            for b in range(nb):
                c.dist[row0 + b] = best[b]
        return
    for b in range(nb):
        ww = 1.0 if w == NULL else w[b]
        ck = centers + lab[b] * d
        dist = 0
        for i in range(d):
            diff = xb[b * d + i] - ck[i]
            dist += diff * diff
        acc[0] += ww * dist
        if c.dist != NULL:
            c.dist[row0 + b] = dist


cdef void _columns(const floating* X, Py_ssize_t nb, Py_ssize_t d, const double* shift,
                   const double* w, double* acc) noexcept nogil:
    """With v = X[b, i] - shift[i]: acc[i] += sum_b w_b v, acc[d + i] += sum_b w_b v^2
    and acc[2 d] += the unweighted sum of the v^2."""
    cdef Py_ssize_t b, i
    cdef double ww, v, unweighted = 0
    for b in range(nb):
        ww = 1.0 if w == NULL else w[b]
        for i in range(d):
            v = X[b * d + i] - shift[i]
            acc[i] += ww * v
            acc[d + i] += ww * (v * v)
            unweighted += v * v
    acc[2 * d] += unweighted


cdef void _kpp_task(const KMeansPass* c, const floating* xb, const floating* centers,
                    Py_ssize_t row0, Py_ssize_t nb, double* acc, double* dd,
                    floating* xt) noexcept nogil:
    """k-means++ on a block: the candidates' gains (POTENTIALS), or one new center folded
    into closest (UPDATE_CLOSEST: its distances computed here; FOLD: those POTENTIALS
    kept). With gaps, only the rows that a new center can come nearer to are computed
    (fastem_kpp_select): the others add exact zeros to the gains and keep their
    closest."""
    cdef Py_ssize_t d = c.d, b, m, k = row0 // BLOCK_ROWS
    cdef double top
    cdef int changed
    cdef int* sel = <int*>dd
    cdef double* far = dd + BLOCK_ROWS          # UPDATE_CLOSEST: the rows' distances
                                                # (their norms after xt)
    cdef const double* w = c.w + row0 if c.w != NULL else NULL
    cdef const double* xx = c.xx + row0 if c.xx != NULL else NULL
    cdef double* closest = c.closest + row0
    cdef int* labels = c.labels + row0 if c.labels != NULL else NULL
    cdef double slack = c.slack[k] if c.slack != NULL else 0.0
    cdef const floating* rows = xb
    cdef const int* xsel
    cdef double* norms = NULL
    cdef double* kd
    cdef int* kr
    cdef int* kc
    cdef Py_ssize_t panel = k * c.dstride + c.column // FASTEM_PANEL
    if c.task == FOLD:
        m = c.kept_counts[panel]
        m = 0 if m < 0 else (nb if m > nb else m)
        changed = fastem_kpp_fold(nb, c.kept_rows + panel * BLOCK_ROWS, m,
                                  c.dist + panel * BLOCK_ROWS * c.dwidth
                                  + c.column % FASTEM_PANEL, c.dwidth, closest, labels,
                                  c.new_label)
    else:
        m = fastem_kpp_select(nb, closest, labels, c.gaps, c.n_gaps, slack, sel)
        xsel = sel
        if c.shift != NULL:
            if floating is double:
                fastem_shift_rows_d(xb, sel, m, d, <const double*>c.shift, xt)
            else:
                fastem_shift_rows_f(xb, sel, m, d, <const float*>c.shift, xt)
            rows = xt
            xsel = NULL
        if c.task == POTENTIALS:
            panel = k * c.dstride      # this block's lists, when kept
            kd = c.dist + panel * BLOCK_ROWS * c.dwidth if c.dist != NULL else NULL
            kr = c.kept_rows + panel * BLOCK_ROWS if c.dist != NULL else NULL
            kc = c.kept_counts + panel if c.dist != NULL else NULL
            if floating is double:
                fastem_kpp_d(rows, xsel, sel, m, d, <const double*>c.panels,
                             <const double*>c.cc, c.K, w, xx, closest, acc, kd, c.dwidth,
                             kr, kc, c.hand_vectorised)
            else:
                fastem_kpp_f(rows, xsel, sel, m, d, <const float*>c.panels,
                             <const float*>c.cc, c.K, w, xx, closest, acc, kd, c.dwidth,
                             kr, kc, c.hand_vectorised)
            return
        # UPDATE_CLOSEST; the norms computed go to xx_out, or here for block_norms
        if xx == NULL:
            norms = c.xx_out + row0 if c.xx_out != NULL else (
                <double*>(xt + d * BLOCK_ROWS) if c.block_norms != NULL else NULL)
        if floating is double:
            fastem_kpp_dist1_d(rows, xsel, sel, m, d, centers, (<const double*>c.cc)[0], xx,
                               norms, far)
        else:
            fastem_kpp_dist1_f(rows, xsel, sel, m, d, centers, (<const float*>c.cc)[0], xx,
                               norms, far)
        changed = fastem_kpp_fold(nb, sel, m, far, 1, closest, labels, c.new_label)
        if c.block_norms != NULL:    # only without gaps: every row's norm is known
            top = 0.0
            for b in range(nb):
                if (xx[b] if xx != NULL else norms[b]) > top:
                    top = xx[b] if xx != NULL else norms[b]
            c.block_norms[k] = top
    if changed or c.block_sums == NULL or (c.task == UPDATE_CLOSEST and c.gaps == NULL):
        top = fastem_kpp_block_sum(nb, w, closest)
    else:
        top = c.block_sums[k]
    if c.block_sums != NULL:
        c.block_sums[k] = top
    acc[0] += top


cdef void _run_task(const KMeansPass* c, const floating* X, const floating* centers,
                    Py_ssize_t row0, Py_ssize_t nb, double* acc, void* scratch) noexcept nogil:
    # scratch: dd/best (BLOCK_ROWS doubles), labels (BLOCK_ROWS ints), then xt (d x
    # BLOCK_ROWS, the data's precision): DISTANCES' transposed block, the shifted rows,
    # or the rows k-means++ computes; then k-means++'s distances
    cdef double* dd = <double*>scratch
    cdef floating* xt = <floating*>(dd + 2 * BLOCK_ROWS)
    cdef Py_ssize_t k, b, d = c.d
    cdef double part
    cdef const floating* xb = X + row0 * d
    if c.shift != NULL and c.task == LLOYD:
        if floating is double:
            fastem_shift_rows_d(xb, NULL, nb, d, <const double*>c.shift, xt)
        else:
            fastem_shift_rows_f(xb, NULL, nb, d, <const float*>c.shift, xt)
        xb = xt
    cdef const double* w = c.w + row0 if c.w != NULL else NULL
    cdef double* dist = c.dist + row0 if c.dist != NULL else NULL
    cdef const double* xx = c.xx + row0 if c.xx != NULL else NULL
    cdef double* xx_out = c.xx_out + row0 if c.xx_out != NULL else NULL

    if c.task == LLOYD:
        _lloyd(c, xb, centers, row0, nb, acc, dd)
    elif c.task == POTENTIALS or c.task == UPDATE_CLOSEST or c.task == FOLD:
        _kpp_task(c, xb, centers, row0, nb, acc, dd, xt)
    elif c.task == COLUMNS:
        _columns(xb, nb, d, <const double*>c.centers, w, acc)
    else:
        transpose_block(xb, nb, d, xt, hand_vectorised())
        for k in range(c.K):
            _sqdist_block(xt, nb, d, centers + k * d, dd)
            if c.dist_single != NULL:
                for b in range(nb):
                    c.dist_single[(row0 + b) * c.K + k] = <float>dd[b]
            else:
                for b in range(nb):
                    c.dist[(row0 + b) * c.K + k] = dd[b]


cdef void _kmeans_block(const void* ctx, Py_ssize_t row0, Py_ssize_t nb, double* acc,
                        void* scratch) noexcept nogil:
    cdef const KMeansPass* c = <const KMeansPass*>ctx
    if c.single:
        _run_task[float](c, <const float*>c.X, <const float*>c.centers, row0, nb, acc,
                         scratch)
    else:
        _run_task[double](c, <const double*>c.X, <const double*>c.centers, row0, nb, acc,
                          scratch)


cdef double _run(KMeansPass* c, Py_ssize_t n, int n_threads, Py_ssize_t stride,
                 double* total, size_t item) except? -1:
    cdef bint kpp = c.task == POTENTIALS or c.task == UPDATE_CLOSEST
    cdef size_t xt = c.d * item if c.task == DISTANCES or c.shift != NULL or kpp else 0
    # UPDATE_CLOSEST: the norms of the rows after xt (see _kpp_task)
    cdef size_t norms = sizeof(double) if c.task == UPDATE_CLOSEST else 0
    cdef size_t scratch = (2 * sizeof(double) + xt + norms) * BLOCK_ROWS
    cdef int status
    cdef double work = <double>n * c.K * c.d
    with nogil:
        status = run_blocks(n, n_threads, _kmeans_block, c, stride, scratch, total, work)
    check_status(status)
    return 0


cdef void _setup(KMeansPass* c, int task, const floating[:, ::1] X,
                 const double[::1] sample_weight, const floating[:, ::1] centers):
    c.task = task
    c.single = floating is float
    c.X = &X[0, 0]
    c.shift = NULL
    c.w = &sample_weight[0] if sample_weight.shape[0] > 0 else NULL
    c.d = X.shape[1]
    c.K = centers.shape[0]
    c.centers = &centers[0, 0]
    c.cc = NULL
    c.panels = NULL
    c.labels = NULL
    c.dist = NULL
    c.dist_single = NULL
    c.closest = NULL
    c.block_sums = NULL
    c.xx = NULL
    c.xx_out = NULL
    c.gaps = NULL
    c.n_gaps = 0
    c.slack = NULL
    c.new_label = 0
    c.block_norms = NULL
    c.dstride = 0
    c.kept_rows = NULL
    c.kept_counts = NULL
    c.dwidth = FASTEM_PANEL
    c.column = 0
    c.n = X.shape[0]
    c.want_sums = False
    c.hand_vectorised = hand_vectorised()


cdef floating[::1] _squared_norms(const floating[:, ::1] centers):
    cdef Py_ssize_t K = centers.shape[0], d = centers.shape[1], j, i
    cdef floating[::1] cc = np.zeros(K, dtype=np.float32 if floating is float else np.float64)
    for j in range(K):
        for i in range(d):
            cc[j] += centers[j, i] * centers[j, i]
    return cc


cdef floating[::1] _panels(const floating[:, ::1] centers, floating[::1] cc):
    """The centers in panels of FASTEM_PANEL (see _simd.h); pads cc with +inf to whole
    panels and returns the panels. cc must have room for the padding."""
    cdef Py_ssize_t K = centers.shape[0], d = centers.shape[1], k, i
    cdef Py_ssize_t width = FASTEM_PANEL
    cdef Py_ssize_t n_panels = (K + width - 1) // width
    cdef floating[::1] ct = np.zeros(n_panels * d * width,
                                     dtype=np.float32 if floating is float else np.float64)
    for k in range(K):
        for i in range(d):
            ct[(k // width) * d * width + i * width + k % width] = centers[k, i]
    for k in range(K, n_panels * width):
        cc[k] = np.inf
    return ct


cdef floating[::1] _padded_norms(const floating[:, ::1] centers):
    """Squared norms of the centers, with room for the padding of _panels."""
    cdef Py_ssize_t K = centers.shape[0], width = FASTEM_PANEL
    cdef floating[::1] cc = np.zeros((K + width - 1) // width * width,
                                     dtype=np.float32 if floating is float else np.float64)
    cc[:K] = _squared_norms(centers)
    return cc


cdef void _set_shift(KMeansPass* c, shift, Py_ssize_t d, object dtype, list keep):
    """Rows are read as X - shift (None or zeros: as stored); keep holds the array
    alive."""
    if shift is None:
        return
    arr = np.ascontiguousarray(shift, dtype=dtype)
    if arr.shape != (d,):
        raise ValueError(f"shift must have shape ({d},), got {arr.shape}")
    if not arr.any():
        return
    keep.append(arr)
    c.shift = <const void*><size_t>arr.ctypes.data


def lloyd_pass(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const floating[:, ::1] centers,      # IN  (K, d), in the shifted coordinates
    int[::1] labels,                     # OUT (n,) or (0,)
    double[:, ::1] sums,                 # OUT (K, d) weighted sums of assigned rows (shifted)
    double[::1] weight_in_clusters,      # OUT (K,)
    double[::1] dist_out,                # OUT (n,) squared distance to own center, or (0,)
    bint want_sums,
    int n_threads,
    shift=None,                          # IN  (d,): the rows are X - shift, or None
):
    """Assign every row to its nearest center; returns the inertia of that assignment,
    or NaN when some distance overflowed (not finite)."""
    cdef Py_ssize_t d = X.shape[1], K = centers.shape[0], j, i
    cdef Py_ssize_t stride = 2 + K + K * d
    cdef list keep = []
    cdef floating[::1] cc = _padded_norms(centers)
    cdef floating[::1] ct = _panels(centers, cc)
    cdef double[::1] total = np.zeros(stride)
    cdef KMeansPass c
    _setup(&c, LLOYD, X, sample_weight, centers)
    c.cc = &cc[0]
    c.panels = &ct[0]
    c.labels = &labels[0] if labels.shape[0] > 0 else NULL
    c.dist = &dist_out[0] if dist_out.shape[0] > 0 else NULL
    c.want_sums = want_sums
    _set_shift(&c, shift, d, np.asarray(X).dtype, keep)
    _run(&c, X.shape[0], n_threads, stride, &total[0], sizeof(floating))
    if want_sums:
        for j in range(K):
            weight_in_clusters[j] = total[2 + j]
        for j in range(K * d):
            sums[j // d, j % d] = total[2 + K + j]
    return total[0] if total[1] == 0 else np.nan


def sq_distances(
    const floating[:, ::1] X,            # IN  (n, d)
    const floating[:, ::1] centers,      # IN  (K, d)
    out,                                 # OUT (n, K) float64 or float32
    int n_threads,
):
    """out[i, k] = ||X[i] - centers[k]||^2, accumulated in float64 whatever the dtype of
    X and out (float32 out receives the rounded values)."""
    cdef KMeansPass c
    cdef double unused
    cdef double[::1] no_weights = np.empty(0)
    cdef double[:, ::1] out_double
    cdef float[:, ::1] out_single
    if out.shape != (X.shape[0], centers.shape[0]):
        raise ValueError(f"out must have shape ({X.shape[0]}, {centers.shape[0]}), got "
                         f"{out.shape}")
    _setup(&c, DISTANCES, X, no_weights, centers)
    if out.dtype == np.float32:
        out_single = out
        c.dist_single = &out_single[0, 0]
    else:
        out_double = out
        c.dist = &out_double[0, 0]
    _run(&c, X.shape[0], n_threads, 0, &unused, sizeof(floating))


def column_sums(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const double[::1] shift,             # IN  (d,)
    int n_threads,
):
    """One pass: (sum_i w_i (X_i - shift), sum_i w_i (X_i - shift)^2 per column, and the
    unweighted sum over the rows of ||X_i - shift||^2)."""
    cdef Py_ssize_t d = X.shape[1]
    cdef double[::1] out = np.zeros(2 * d + 1)
    cdef KMeansPass c
    _setup(&c, COLUMNS, X, sample_weight, X)
    c.centers = &shift[0]
    _run(&c, X.shape[0], n_threads, 2 * d + 1, &out[0], sizeof(floating))
    result = np.asarray(out)
    return result[:d].copy(), result[d:2 * d].copy(), float(result[2 * d])


cdef _kpp_rows(KMeansPass* c, Py_ssize_t n, const double[::1] sample_weight,
               double[::1] closest, const double[::1] xx, labels, gaps, slack):
    """Checks the per-row arrays of a k-means++ pass and sets closest, xx, and the
    pruning by labels, gaps and slack (see fastem_kpp_select): gaps needs labels and
    slack."""
    if closest.shape[0] != n or sample_weight.shape[0] not in (0, n) or xx.shape[0] not in (
            0, n):
        raise ValueError(f"closest, sample_weight and xx must have shape ({n},) (or (0,) "
                         f"for sample_weight and xx)")
    cdef int[::1] lab
    cdef const double[::1] g, sl
    c.closest = &closest[0] if n > 0 else NULL
    c.xx = &xx[0] if xx.shape[0] > 0 else NULL
    if labels is not None:
        lab = labels
        if lab.shape[0] != n:
            raise ValueError(f"labels must have shape ({n},), got ({lab.shape[0]},)")
        c.labels = &lab[0] if n > 0 else NULL
    if gaps is None:
        return
    if labels is None or slack is None:
        raise ValueError("gaps needs labels and slack")
    g = gaps
    sl = slack
    if sl.shape[0] != n_blocks_of(n):
        raise ValueError(f"slack must have shape ({n_blocks_of(n)},), got ({sl.shape[0]},)")
    if g.shape[0] > 0:
        c.gaps = &g[0]
        c.n_gaps = g.shape[0]
        c.slack = &sl[0] if n > 0 else NULL


cdef _kpp_kept(KMeansPass* c, Py_ssize_t n, Py_ssize_t T, kept):
    """kept = (dist (blocks, panels, BLOCK_ROWS, width) float64, rows (blocks, panels,
    BLOCK_ROWS) int32, counts (blocks, panels) int32), panels the T candidates in whole
    panels and width FASTEM_PANEL (or 4 for at most 4 candidates): per block and panel,
    the rows some candidate comes nearer to (see kpp_gains)."""
    cdef double[:, :, :, ::1] dist
    cdef int[:, :, ::1] rows
    cdef int[:, ::1] counts
    dist, rows, counts = kept
    cdef Py_ssize_t panels = (T + FASTEM_PANEL - 1) // FASTEM_PANEL
    cdef Py_ssize_t nk = n_blocks_of(n)
    cdef Py_ssize_t width = 4 if T <= 4 and dist.shape[3] == 4 else FASTEM_PANEL
    shapes = ((nk, panels, BLOCK_ROWS, width), (nk, panels, BLOCK_ROWS), (nk, panels))
    if ((dist.shape[0], dist.shape[1], dist.shape[2], dist.shape[3]),
            (rows.shape[0], rows.shape[1], rows.shape[2]),
            (counts.shape[0], counts.shape[1])) != shapes:
        raise ValueError(f"kept must be arrays of shapes {shapes}")
    if n > 0:
        c.dist = &dist[0, 0, 0, 0]
        c.dstride = panels
        c.dwidth = width
        c.kept_rows = &rows[0, 0, 0]
        c.kept_counts = &counts[0, 0]


def kpp_gains(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    double[::1] closest,                 # IN  (n,) squared distance to the nearest center
    const floating[:, ::1] candidates,   # IN  (T, d)
    double[::1] gains,                   # OUT (T,)
    const double[::1] xx,                # IN  (n,) squared norms of the rows, or (0,)
    int n_threads,
    shift=None,                          # IN  (d,): the rows are X - shift, or None
    labels=None,                         # IN  (n,) int32: each row's nearest center
    gaps=None,                           # IN  (C,) per center, see kpp_gaps
    slack=None,                          # IN  (blocks,) see kpp_slack
    kept=None,                           # OUT the distances computed, see below
):
    """gains[t] = sum_i w_i max(closest_i - ||X_i - candidates_t||^2, 0): how much
    candidate t lowers the potential, the distances by expansion, with ||X_i||^2 = xx[i]
    if given (candidates in shifted coordinates), summed in row order.

    With labels, gaps (per center the smallest over the candidates of kpp_gaps) and
    slack, the distances of the rows that no candidate can come nearer to are not
    computed: they would add exact zeros. kept, a tuple (dist, rows, counts) as
    _kpp_kept checks it, receives for kpp_fold, per block k and panel p of candidates,
    the rows that some candidate of the panel comes nearer to: their number in
    counts[k, p], their offsets in the block in rows[k, p], the panel's distances to
    them in dist[k, p]."""
    cdef KMeansPass c
    cdef list keep = []
    cdef Py_ssize_t n = X.shape[0], T = candidates.shape[0]
    if candidates.shape[1] != X.shape[1] or gains.shape[0] != T or T == 0:
        raise ValueError(f"candidates must have shape (T, {X.shape[1]}) with T >= 1 and "
                         f"gains shape (T,)")
    cdef floating[::1] cc = _padded_norms(candidates)
    cdef floating[::1] ct = _panels(candidates, cc)
    _setup(&c, POTENTIALS, X, sample_weight, candidates)
    _kpp_rows(&c, n, sample_weight, closest, xx, labels, gaps, slack)
    if kept is not None:
        _kpp_kept(&c, n, T, kept)
    c.cc = &cc[0]
    c.panels = &ct[0]
    _set_shift(&c, shift, X.shape[1], np.asarray(X).dtype, keep)
    _run(&c, n, n_threads, T, &gains[0], sizeof(floating))


def kpp_update_closest(
    const floating[:, ::1] X,            # IN  (n, d)
    const double[::1] sample_weight,     # IN  (n,) or (0,)
    double[::1] closest,                 # INOUT (n,)
    const floating[:, ::1] center,       # IN  (1, d) the center just chosen
    const double[::1] xx,                # IN  (n,) squared norms of the rows, or (0,)
    int n_threads,
    double[::1] xx_out=None,             # OUT (n,) the rows' squared norms (xx empty)
    shift=None,                          # IN  (d,): the rows are X - shift, or None
    double[::1] block_sums=None,         # OUT (blocks,) see kpp_fold, optional
    labels=None,                         # INOUT (n,) int32: each row's nearest center
    gaps=None,                           # IN  (C,) kpp_gaps of the center
    slack=None,                          # IN  (blocks,) see kpp_slack
    int new_label=0,                     # the center's label, for labels
    double[::1] block_norms=None,        # OUT (blocks,) each block's largest row norm
):
    """closest = min(closest, ||X - center||^2); returns the new potential sum w*closest.
    Without xx, the norms computed on the way go to xx_out when it is given. labels
    becomes new_label where the center is nearer; with gaps and slack (as for
    kpp_gains) only the rows it can come nearer to are computed, and only the blocks
    where some row came nearer get their block_sums summed again. block_norms
    receives each block's largest squared row norm (as computed, or xx's), for
    kpp_slack; it and xx_out need every row computed (no gaps)."""
    cdef KMeansPass c
    cdef list keep = []
    cdef double total
    cdef Py_ssize_t n = X.shape[0]
    if center.shape[0] != 1 or center.shape[1] != X.shape[1]:
        raise ValueError(f"center must have shape (1, {X.shape[1]})")
    if gaps is not None and (xx_out is not None or block_norms is not None):
        raise ValueError("xx_out and block_norms need every row computed (no gaps)")
    if xx_out is not None and xx_out.shape[0] != n:
        raise ValueError(f"xx_out must have shape ({n},)")
    cdef floating[::1] cc = _squared_norms(center)
    _setup(&c, UPDATE_CLOSEST, X, sample_weight, center)
    _kpp_rows(&c, n, sample_weight, closest, xx, labels, gaps, slack)
    c.cc = &cc[0]
    c.new_label = new_label
    if c.xx == NULL and xx_out is not None:
        c.xx_out = &xx_out[0] if n > 0 else NULL
    if block_sums is not None:
        _check_block_sums(block_sums, n)
        c.block_sums = &block_sums[0] if block_sums.shape[0] > 0 else NULL
    if block_norms is not None:
        _check_block_sums(block_norms, n)
        c.block_norms = &block_norms[0] if block_norms.shape[0] > 0 else NULL
    _set_shift(&c, shift, X.shape[1], np.asarray(X).dtype, keep)
    _run(&c, n, n_threads, 1, &total, sizeof(floating))
    return total


def kpp_gaps(
    const floating[:, ::1] centers,      # IN  (C, d) the centers so far
    const floating[:, ::1] candidates,   # IN  (T, d) the new ones
    double[:, ::1] out,                  # OUT (T, C)
):
    """out[t, j] = a lower bound of ||candidates_t - centers_j||^2: the squared distance
    summed in float64, less its rounding. Returns the largest squared norm of the
    candidates (summed in float64, plus its rounding), for kpp_slack."""
    cdef Py_ssize_t C = centers.shape[0], T = candidates.shape[0], d = centers.shape[1]
    cdef Py_ssize_t t, j, i
    cdef double s, v, top = 0.0
    cdef double low = 1.0 - 1e-9 - 4.0 * (d + 2) * 2.0 ** -53, high = 1.0 + 1e-9
    if candidates.shape[1] != d or out.shape[0] != T or out.shape[1] != C:
        raise ValueError(f"candidates must have {d} columns and out shape ({T}, {C})")
    if 4.0 * (d + 2) * 2.0 ** -53 > 1e-3:
        low = 0.0    # (only for d in the trillions) no bound claimed
    with nogil:
        for t in range(T):
            s = 0.0
            for i in range(d):
                s = s + <double>candidates[t, i] * candidates[t, i]
            if s * high > top:
                top = s * high
            for j in range(C):
                s = 0.0
                for i in range(d):
                    v = <double>candidates[t, i] - <double>centers[j, i]
                    s = s + v * v
                out[t, j] = s * low
    return top


def kpp_slack(
    const double[::1] block_norms,       # IN  (blocks,) from kpp_update_closest
    double center_norms,                 # IN  the largest squared norm of any center or
                                         #     candidate (as kpp_gaps returns it)
    Py_ssize_t d,
    bint single,                         # float32 data (else float64)
    double[::1] out,                     # OUT (blocks,)
):
    """out[k] = a bound on the rounding of any squared distance by expansion between a
    row of block k and a center or candidate, as the k-means++ kernels compute them
    (dot products and norms summed in the data's precision, unit roundoff u): with
    g = d u / (1 - d u), at most 2 (g + 2 u) (||x||^2 + ||c||^2), doubled here for
    safety. +inf (no row skipped) when d u exceeds 1/100."""
    cdef double u = 2.0 ** -24 if single else 2.0 ** -53
    cdef double g = d * u / (1 - d * u) if d * u < 0.01 else 0.0
    cdef double k = 4 * (g + 2 * u)
    cdef Py_ssize_t b
    if out.shape[0] != block_norms.shape[0]:
        raise ValueError("out must have the shape of block_norms")
    for b in range(out.shape[0]):
        out[b] = k * (block_norms[b] / (1 - g) + center_norms) if d * u < 0.01 else np.inf


def n_blocks(Py_ssize_t n):
    """The number of blocks of BLOCK_ROWS rows (the last one partial) of n rows."""
    return n_blocks_of(n)


cdef _check_block_sums(const double[::1] block_sums, Py_ssize_t n):
    if block_sums.shape[0] != n_blocks_of(n):
        raise ValueError(f"block_sums must have shape ({n_blocks_of(n)},), got "
                         f"({block_sums.shape[0]},)")


def kpp_fold(
    kept,                                # IN  (dist, rows, counts) from kpp_gains
    Py_ssize_t column,                   # IN  the chosen candidate
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    double[::1] closest,                 # INOUT (n,)
    double[::1] block_sums,              # INOUT (blocks,) each block's sum of w * closest
    int n_threads,
    labels=None,                         # INOUT (n,) int32: each row's nearest center
    int new_label=0,                     # the candidate's label, for labels
):
    """closest = min(closest, the candidate's distances that kpp_gains kept) and labels
    = new_label where that is nearer; returns the new potential sum w * closest. The
    blocks where some row came nearer get their sum of w * closest (rows k BLOCK_ROWS
    onwards, in order) in block_sums again, for weighted_search; the others keep
    theirs."""
    cdef KMeansPass c
    cdef double total = 0.0
    cdef Py_ssize_t n = closest.shape[0]
    cdef double[:, ::1] one = np.zeros((1, 1))
    _check_block_sums(block_sums, n)
    if column < 0:
        raise ValueError("column must be >= 0")
    _setup(&c, FOLD, one, sample_weight, one)
    _kpp_rows(&c, n, sample_weight, closest, np.empty(0), labels, None, None)
    if n == 0:
        return 0.0
    dist = kept[0]
    if dist.ndim != 4 or column >= dist.shape[1] * FASTEM_PANEL or (
            column >= dist.shape[3] and dist.shape[3] < FASTEM_PANEL):
        raise ValueError(f"column must be below the candidates of kept")
    _kpp_kept(&c, n, dist.shape[1] * dist.shape[3], kept)
    c.X = &closest[0]    # not read
    c.d = 1
    c.K = 1
    c.n = n
    c.column = column
    c.new_label = new_label
    c.block_sums = &block_sums[0]
    _run(&c, n, n_threads, 1, &total, sizeof(double))
    return total


def weighted_search(
    const double[::1] sample_weight,     # IN  (n,) or (0,) for unit weights
    const double[::1] closest,           # IN  (n,) or (0,) for all ones
    Py_ssize_t n,
    const double[::1] targets,           # IN  (T,) sorted ascending
    Py_ssize_t[::1] out,                 # OUT (T,)
    const double[::1] block_sums=None,   # IN  (blocks,) from kpp_fold, optional
):
    """out[t] = first i with cumsum(w * closest)[i] >= targets[t], at most n - 1.

    Samples rows with probability proportional to w * closest without an n-sized cumsum.
    With block_sums (of this closest) the sum runs by blocks: the blocks' sums in order
    up to the block that reaches the target, then its rows in order (the last row of
    that block when rounding leaves them short).
    """
    cdef Py_ssize_t T = targets.shape[0]
    cdef bint unit = sample_weight.shape[0] == 0, ones = closest.shape[0] == 0
    cdef Py_ssize_t i = 0, t, k = 0, nk, end
    cdef double run, before = 0.0
    if out.shape[0] != T or (not unit and sample_weight.shape[0] < n) or (
            not ones and closest.shape[0] < n) or n < 1:
        raise ValueError("out must have one entry per target, sample_weight and closest "
                         "n (or none), n >= 1")
    if block_sums is not None:
        if ones:
            raise ValueError("block_sums needs closest")
        _check_block_sums(block_sums, n)
        nk = block_sums.shape[0]
        with nogil:
            i = -1
            for t in range(T):
                if i < 0 or before + block_sums[k] < targets[t]:
                    while k < nk - 1 and before + block_sums[k] < targets[t]:
                        before += block_sums[k]
                        k += 1
                    i = k * BLOCK_ROWS
                    run = before + (1.0 if unit else sample_weight[i]) * closest[i]
                end = min(n, (k + 1) * BLOCK_ROWS) - 1
                while run < targets[t] and i < end:
                    i += 1
                    run += (1.0 if unit else sample_weight[i]) * closest[i]
                out[t] = i
        return
    with nogil:
        run = (1.0 if unit else sample_weight[0]) * (1.0 if ones else closest[0])
        for t in range(T):
            while run < targets[t] and i < n - 1:
                i += 1
                run += (1.0 if unit else sample_weight[i]) * (1.0 if ones else closest[i])
            out[t] = i
