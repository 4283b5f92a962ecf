"""The parallel loops every kernel runs on, and how many threads they use.

run_blocks cuts the rows into blocks of BLOCK_ROWS, groups the blocks into partitions
whose boundaries depend only on the number of rows (and the accumulator size), hands the partitions to OpenMP
threads, and adds the per-partition accumulators in partition order: every reduction is
bitwise identical for any thread count. run_tasks runs independent tasks (one
sequence of a hidden Markov model each) that write disjoint outputs.
"""

import os

from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, free, malloc

from fastem._kernels._blocks cimport (
    BLOCK_ROWS, add_partitions, n_partitions_of, partition_first_row, threads_for,
)
from fastem._kernels._openmp cimport FASTEM_OPENMP_ENABLED, omp_get_max_threads


cdef int run_blocks(Py_ssize_t n_rows, int n_threads, BlockFn fn, const void* ctx,
                    Py_ssize_t stride, size_t scratch_bytes, double* total) noexcept nogil:
    """Call fn(ctx, first_row, rows, acc, scratch) on every block of rows.

    acc is the block's partition accumulator (stride doubles, zeroed at the start) and
    scratch a per-thread buffer of scratch_bytes. The accumulators are summed in
    partition order into total (stride doubles). Returns -1 when memory ran out.
    """
    cdef Py_ssize_t n_parts = n_partitions_of(n_rows, stride)
    cdef int nt = threads_for(n_threads, n_parts)
    cdef double* acc = <double*>calloc(n_parts * stride + 1, sizeof(double))
    cdef int failed = 0
    cdef Py_ssize_t p, row, row_end, nb
    cdef void* scratch
    if acc == NULL:
        return -1
    with parallel(num_threads=nt):
        scratch = malloc(scratch_bytes + 1)
        for p in prange(n_parts, schedule="dynamic"):
            if scratch == NULL:
                failed = 1
            else:
                row = partition_first_row(p, n_rows, n_parts)
                row_end = partition_first_row(p + 1, n_rows, n_parts)
                while row < row_end:
                    nb = row_end - row
                    if nb > BLOCK_ROWS:
                        nb = BLOCK_ROWS
                    fn(ctx, row, nb, acc + p * stride, scratch)
                    row = row + nb
        free(scratch)
    if stride > 0:
        add_partitions(acc, n_parts, stride, total)
    free(acc)
    return -1 if failed else 0


cdef int run_tasks(Py_ssize_t n_tasks, const Py_ssize_t* order, int n_threads, TaskFn fn,
                   const void* ctx, size_t scratch_bytes) noexcept nogil:
    """Call fn(ctx, task, scratch) for every task, in the given order (or 0..n_tasks-1)
    as threads become free; scratch is a per-thread buffer of scratch_bytes. Returns -1
    when memory ran out."""
    cdef int nt = threads_for(n_threads, n_tasks)
    cdef int failed = 0
    cdef Py_ssize_t i
    cdef void* scratch
    with parallel(num_threads=nt):
        scratch = malloc(scratch_bytes + 1)
        for i in prange(n_tasks, schedule="dynamic"):
            if scratch == NULL:
                failed = 1
            else:
                fn(ctx, order[i] if order != NULL else i, scratch)
        free(scratch)
    return -1 if failed else 0


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(FASTEM_OPENMP_ENABLED)


def _cpu_quota():
    """CPUs allowed by the cgroup (v2 cpu.max or v1 cfs quota), or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        if quota > 0 and period > 0:
            return max(1, -(-quota // period))
    except (OSError, ValueError):
        pass
    return None


def usable_cpus():
    """Cores this process may run on: affinity mask and cgroup quota respected."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    quota = _cpu_quota()
    return min(n, quota) if quota is not None else n


def effective_n_threads(n_threads=None):
    """Threads a kernel will use.

    None means every usable core, limited by OMP_NUM_THREADS when it is set; a positive
    integer is taken as given. Without OpenMP it is always 1.
    """
    if not FASTEM_OPENMP_ENABLED:
        return 1
    if n_threads is None:
        n = usable_cpus()
        if os.environ.get("OMP_NUM_THREADS"):
            n = min(n, omp_get_max_threads())
        return max(1, n)
    return int(n_threads)
