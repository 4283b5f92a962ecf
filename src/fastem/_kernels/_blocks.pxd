# Row blocks and partitions, and small loops shared by the kernels (see _parallel.pyx).
#
# Rows are cut into blocks of BLOCK_ROWS; blocks are grouped into at most MAX_PARTITIONS
# contiguous partitions whose boundaries depend only on the number of rows and the size
# of the accumulators (large accumulators, as full covariances at large d, get fewer
# partitions: at most PARTITION_BUDGET doubles in all, but at least MIN_PARTITIONS). Each
# partition accumulates its blocks in order into its own buffer and partitions are added
# in index order, so every reduction is bitwise identical for any number of threads.

from cython cimport floating

# A second fused type, resolved independently of `floating`, for helpers that are
# called on float64 buffers from inside float32 kernels.
ctypedef fused real:
    float
    double

cdef enum:
    BLOCK_ROWS = 256
    PAD_ROWS = 16                 # transposed blocks are zeroed up to a multiple of this
                                  # (FASTEM_PAD_ROWS in _simd.h)
    MAX_PARTITIONS = 64
    MIN_PARTITIONS = 8
    PARTITION_BUDGET = 65536      # doubles (512 KiB) of per-partition accumulators


cdef inline Py_ssize_t n_blocks_of(Py_ssize_t n_rows) noexcept nogil:
    return (n_rows + BLOCK_ROWS - 1) // BLOCK_ROWS


cdef inline Py_ssize_t n_partitions_of(Py_ssize_t n_rows, Py_ssize_t stride) noexcept nogil:
    """Partitions of n_rows rows whose accumulators hold stride doubles each."""
    cdef Py_ssize_t nb = n_blocks_of(n_rows), cap = MAX_PARTITIONS
    if stride > 0 and PARTITION_BUDGET // stride < cap:
        cap = PARTITION_BUDGET // stride
        if cap < MIN_PARTITIONS:
            cap = MIN_PARTITIONS
    return nb if nb < cap else cap


cdef inline Py_ssize_t partition_first_row(Py_ssize_t p, Py_ssize_t n_rows,
                                           Py_ssize_t n_parts) noexcept nogil:
    """First row of partition p of n_parts (p == n_parts gives n_rows)."""
    cdef Py_ssize_t nb = n_blocks_of(n_rows)
    cdef Py_ssize_t first = ((p * nb) // n_parts) * BLOCK_ROWS
    return first if first < n_rows else n_rows


cdef inline int threads_for(int n_threads, Py_ssize_t n_parts) noexcept nogil:
    if n_threads < 1:
        return 1
    return n_threads if n_threads < n_parts else <int>n_parts


cdef extern from "_simd.h" nogil:
    void fastem_transpose_d(const double* X, Py_ssize_t nb, Py_ssize_t d, double* xt,
                            int hand_vectorised)
    void fastem_transpose_f(const float* X, Py_ssize_t nb, Py_ssize_t d, float* xt,
                            int hand_vectorised)


cdef inline void transpose_block(const floating* X, Py_ssize_t nb, Py_ssize_t d,
                                 floating* xt, int hand_vectorised) noexcept nogil:
    """xt[i * BLOCK_ROWS + b] = X[b, i], rows nb up to the next multiple of PAD_ROWS
    zeroed.

    Feature-major layout makes the per-feature loops over the rows of a block contiguous,
    so they vectorise without reassociating sums (see fastem_transpose in _simd.h)."""
    if floating is double:
        fastem_transpose_d(X, nb, d, xt, hand_vectorised)
    else:
        fastem_transpose_f(X, nb, d, xt, hand_vectorised)


cdef extern from "_simd.h" nogil:
    double fastem_sum_rows_d(const double* a, Py_ssize_t n)
    double fastem_sum_rows_f(const float* a, Py_ssize_t n)


cdef inline double sum_rows(const real* a, Py_ssize_t n) noexcept nogil:
    """sum(a) accumulated in float64 in a fixed order (see fastem_sum_rows in _simd.h)."""
    if real is double:
        return fastem_sum_rows_d(a, n)
    else:
        return fastem_sum_rows_f(a, n)


cdef inline void add_partitions(const double* acc, Py_ssize_t n_parts, Py_ssize_t stride,
                                double* out) noexcept nogil:
    """out[j] = sum over partitions p, in index order, of acc[p * stride + j]."""
    cdef Py_ssize_t p, j
    for j in range(stride):
        out[j] = 0
    for p in range(n_parts):
        for j in range(stride):
            out[j] += acc[p * stride + j]
