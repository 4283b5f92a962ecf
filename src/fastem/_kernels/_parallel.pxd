# The one parallel loop over rows, shared by every kernel.

ctypedef void (*BlockFn)(const void* ctx, Py_ssize_t row0, Py_ssize_t n_rows_block,
                         double* acc, void* scratch) noexcept nogil

cdef int run_blocks(Py_ssize_t n_rows, int n_threads, BlockFn fn, const void* ctx,
                    Py_ssize_t stride, size_t scratch_bytes, double* total) noexcept nogil
