# The parallel loops shared by every kernel: row blocks, and independent tasks.

ctypedef void (*BlockFn)(const void* ctx, Py_ssize_t row0, Py_ssize_t n_rows_block,
                         double* acc, void* scratch) noexcept nogil

cdef int run_blocks(Py_ssize_t n_rows, int n_threads, BlockFn fn, const void* ctx,
                    Py_ssize_t stride, size_t scratch_bytes, double* total,
                    double work) noexcept nogil

# Independent tasks (e.g. one sequence each), dynamically scheduled. A task writes only
# its own outputs, so results do not depend on the thread count or the schedule.
ctypedef void (*TaskFn)(const void* ctx, Py_ssize_t task, void* scratch) noexcept nogil

cdef int run_tasks(Py_ssize_t n_tasks, const Py_ssize_t* order, int n_threads, TaskFn fn,
                   const void* ctx, size_t scratch_bytes, double work) noexcept nogil

# Which hand-vectorised versions the kernels may use (0-2, see use_hand_vectorised).
cdef int hand_vectorised() noexcept nogil

# MemoryError for OUT_OF_MEMORY; for INTERRUPTED, the exception Python's SIGINT handler
# set (KeyboardInterrupt) propagates.
cdef int check_status(int status) except -1
