"""The parallel loops every kernel runs on, and how many threads they use.

run_blocks cuts the rows into blocks of BLOCK_ROWS, groups the blocks into partitions
whose boundaries depend only on the number of rows (and the accumulator size), hands
the partitions to OpenMP threads, and adds the per-partition accumulators in partition
order: every reduction is bitwise identical for any thread count. run_tasks runs
independent tasks (one sequence of a hidden Markov model each) that write disjoint
outputs.

Both run small passes (below SERIAL_WORK) on the calling thread without opening a
parallel region, as they do in a process forked after threads were started (libgomp
cannot start threads after fork). On the main thread they watch for Ctrl-C between
blocks (see _interrupt.h): an interrupted pass returns INTERRUPTED with Python's
exception set, or, when Python's SIGINT handler does not raise, runs again.
"""

import numbers
import os
import threading
import warnings

from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from fastem._kernels._blocks cimport (
    BLOCK_ROWS, add_partitions, n_partitions_of, partition_first_row, threads_for,
)
from fastem._kernels._openmp cimport FASTEM_OPENMP_ENABLED, omp_get_max_threads


cdef extern from "_interrupt.h" nogil:
    int fastem_interrupt_begin()
    void fastem_interrupt_end()
    int fastem_interrupted()

cdef extern from "Python.h" nogil:
    unsigned long PyThread_get_thread_ident()
    # declared here without Cython's error check: a raised exception stays set, for
    # the caller to propagate (see check_status)
    int _check_signals "PyErr_CheckSignals"() noexcept

# Status codes of run_blocks / run_tasks (see check_status).
cdef enum:
    DONE = 0
    OUT_OF_MEMORY = -1
    INTERRUPTED = -2
    RETRY = -3

# Below this much work (in multiply-adds, as the kernels estimate it) a pass runs on the
# calling thread: waking other threads costs more than it saves, and on a busy machine
# every parallel region can wait for a time slice (measured: benchmarks/busy.py).
cdef double SERIAL_WORK = 1e6

cdef unsigned long _main_thread = 0
cdef bint _threads_started = False     # a parallel region ran in this process
cdef bint _forked_after_threads = False
cdef bint _fork_warned = False


cdef int _threads(int n_threads, Py_ssize_t n_parts, double work) noexcept nogil:
    global _threads_started
    cdef int nt = threads_for(n_threads, n_parts)
    if work < SERIAL_WORK or _forked_after_threads:
        nt = 1
    if nt > 1:
        _threads_started = True
    return nt


cdef bint _watch() noexcept nogil:
    """Start watching for Ctrl-C if this is the main thread (see _interrupt.h)."""
    return PyThread_get_thread_ident() == _main_thread and fastem_interrupt_begin() == 1


cdef int _finish(bint watching, int status) noexcept nogil:
    """Stop watching; an interrupted pass lets Python run its SIGINT handler: when that
    raised, INTERRUPTED (the exception is set), else RETRY."""
    cdef int raised
    if not watching:
        return status
    fastem_interrupt_end()
    if status != INTERRUPTED and not fastem_interrupted():
        return status
    with gil:
        raised = _check_signals()
    if raised != 0:
        return INTERRUPTED
    return RETRY if status == INTERRUPTED else status


# One item of a parallel loop: a partition of row blocks, or a task. It returns early,
# setting stopped[0], when watching and Ctrl-C was pressed.
ctypedef void (*ItemFn)(const void* items, Py_ssize_t i, void* scratch, bint watching,
                        int* stopped) noexcept nogil


cdef int _run_items(Py_ssize_t n_items, int nt, ItemFn item, const void* items,
                    size_t scratch_bytes, double* reset, size_t reset_bytes) noexcept nogil:
    """item(items, i, scratch, ...) for every i, on nt threads (dynamically scheduled;
    with one thread, no parallel region at all: safe in a forked child, and no thread
    wake-ups), each thread with its own scratch. reset (reset_bytes) is zeroed before
    every attempt: a pass interrupted without a Python exception runs again."""
    cdef int failed, stopped, status = RETRY
    cdef Py_ssize_t i
    cdef void* scratch = NULL     # each thread sets its own (firstprivate copies this)
    cdef bint watching
    while status == RETRY:
        if reset != NULL:
            memset(reset, 0, reset_bytes)
        failed = 0
        stopped = 0
        watching = _watch()
        if nt == 1:
            scratch = malloc(scratch_bytes + 1)
            if scratch == NULL:
                failed = 1
            else:
                for i in range(n_items):
                    item(items, i, scratch, watching, &stopped)
                free(scratch)
        else:
            with parallel(num_threads=nt):
                scratch = malloc(scratch_bytes + 1)
                for i in prange(n_items, schedule="dynamic"):
                    if scratch == NULL:
                        failed += 1
                    else:
                        item(items, i, scratch, watching, &stopped)
                free(scratch)
        status = _finish(watching, OUT_OF_MEMORY if failed else
                         INTERRUPTED if stopped else DONE)
    return status


cdef struct Partitions:
    Py_ssize_t n_rows
    Py_ssize_t n_parts
    Py_ssize_t stride
    BlockFn fn
    const void* ctx
    double* acc


cdef void _partition(const void* items, Py_ssize_t p, void* scratch, bint watching,
                     int* stopped) noexcept nogil:
    """Partition p, block by block, in order, into its accumulator."""
    cdef const Partitions* c = <const Partitions*>items
    cdef Py_ssize_t row = partition_first_row(p, c.n_rows, c.n_parts)
    cdef Py_ssize_t row_end = partition_first_row(p + 1, c.n_rows, c.n_parts)
    cdef Py_ssize_t nb
    while row < row_end:
        if watching and fastem_interrupted():
            stopped[0] = 1
            return
        nb = row_end - row
        if nb > BLOCK_ROWS:
            nb = BLOCK_ROWS
        c.fn(c.ctx, row, nb, c.acc + p * c.stride, scratch)
        row = row + nb


cdef int run_blocks(Py_ssize_t n_rows, int n_threads, BlockFn fn, const void* ctx,
                    Py_ssize_t stride, size_t scratch_bytes, double* total,
                    double work) noexcept nogil:
    """Call fn(ctx, first_row, rows, acc, scratch) on every block of rows.

    acc is the block's partition accumulator (stride doubles, zeroed at the start) and
    scratch a per-thread buffer of scratch_bytes. The accumulators are summed in
    partition order into total (stride doubles). work estimates the pass's cost (in
    multiply-adds): small passes run serially. Returns DONE, OUT_OF_MEMORY, or
    INTERRUPTED (Ctrl-C; the Python exception is set).
    """
    cdef Partitions c
    cdef size_t acc_bytes
    cdef int status
    c.n_rows = n_rows
    c.n_parts = n_partitions_of(n_rows, stride)
    c.stride = stride
    c.fn = fn
    c.ctx = ctx
    acc_bytes = (c.n_parts * stride + 1) * sizeof(double)
    c.acc = <double*>malloc(acc_bytes)
    if c.acc == NULL:
        return OUT_OF_MEMORY
    status = _run_items(c.n_parts, _threads(n_threads, c.n_parts, work), _partition, &c,
                        scratch_bytes, c.acc, acc_bytes)
    if status == DONE and stride > 0:
        add_partitions(c.acc, c.n_parts, stride, total)
    free(c.acc)
    return status


cdef struct Tasks:
    const Py_ssize_t* order
    TaskFn fn
    const void* ctx


cdef void _task(const void* items, Py_ssize_t i, void* scratch, bint watching,
                int* stopped) noexcept nogil:
    cdef const Tasks* c = <const Tasks*>items
    if watching and fastem_interrupted():
        stopped[0] = 1
        return
    c.fn(c.ctx, c.order[i] if c.order != NULL else i, scratch)


cdef int run_tasks(Py_ssize_t n_tasks, const Py_ssize_t* order, int n_threads, TaskFn fn,
                   const void* ctx, size_t scratch_bytes, double work) noexcept nogil:
    """Call fn(ctx, task, scratch) for every task, in the given order (or 0..n_tasks-1)
    as threads become free; scratch is a per-thread buffer of scratch_bytes. work: as
    for run_blocks. Returns DONE, OUT_OF_MEMORY or INTERRUPTED."""
    cdef Tasks c
    c.order = order
    c.fn = fn
    c.ctx = ctx
    return _run_items(n_tasks, _threads(n_threads, n_tasks, work), _task, &c,
                      scratch_bytes, NULL, 0)


cdef int check_status(int status) except -1:
    """Raise for a status of run_blocks / run_tasks: MemoryError, or the exception that
    Python's SIGINT handler set (KeyboardInterrupt)."""
    if status == OUT_OF_MEMORY:
        raise MemoryError()
    if status == INTERRUPTED:
        return -1
    return 0


cdef int _hand_vectorised = 2


cdef int hand_vectorised() noexcept nogil:
    return _hand_vectorised


def use_hand_vectorised(level):
    """Which hand-vectorised versions of the kernels may run (each only where the CPU
    has its instructions, checked at run time): True or 2 the best the CPU has (AVX-512,
    then AVX2), 1 AVX2 at most, False or 0 none (the generic loops). Returns the
    previous level. The tests check the versions against each other with it."""
    global _hand_vectorised
    cdef int value = int(level)
    if value not in (0, 1, 2):
        raise ValueError(f"level must be 0, 1 or 2 (or a bool), got {level!r}")
    previous = _hand_vectorised
    _hand_vectorised = value
    return previous


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

    None means every usable core (affinity mask and cgroup quota), limited by OpenMP's
    own setting, omp_get_max_threads(): OMP_NUM_THREADS and threadpoolctl's
    threadpool_limits are respected. A positive integer is taken as given (at most
    max(64, usable cores)). A negative one counts from all of them, as scikit-learn's
    n_jobs: -1 is every core (as None), -2 all but one, and so on, at least one thread
    (when OpenMP's limit leaves fewer); a value below minus the number of usable cores,
    and 0, raise a ValueError. Without OpenMP, or in a process forked after OpenMP
    threads were started (where libgomp cannot start threads again), it is 1.
    """
    global _fork_warned
    if n_threads is not None and (not isinstance(n_threads, numbers.Integral)
                                  or isinstance(n_threads, bool)):
        raise TypeError(f"n_threads must be None or an integer, got {n_threads!r}")
    if n_threads is None or n_threads < 0:
        n = min(usable_cpus(), omp_get_max_threads())
        if n_threads is not None:
            if n_threads < -usable_cpus():
                raise ValueError(
                    f"n_threads={n_threads} would leave no thread: this process may use "
                    f"{usable_cpus()} core(s), so a negative n_threads must be >= "
                    f"-{usable_cpus()} (-1 means all of them, -2 all but one, ...)")
            n = n + 1 + n_threads
    else:
        if n_threads == 0:
            raise ValueError("n_threads=0 is invalid: use None or -1 for every usable "
                             "core, or a positive number of threads")
        # usable_cpus() reads cgroup files (~0.1 ms): only a count above 64 needs it,
        # and the E-steps resolve n_threads on every call
        n = n_threads if n_threads <= 64 else min(n_threads, max(64, usable_cpus()))
    n = max(1, int(n))
    if not FASTEM_OPENMP_ENABLED:
        return 1
    if _forked_after_threads and n > 1:
        if not _fork_warned:
            _fork_warned = True
            warnings.warn(
                "fastem runs its kernels on one thread in this process: it was forked "
                "from a process that had started OpenMP threads, and the OpenMP runtime "
                "cannot start threads again after fork(). Use the 'spawn' or "
                "'forkserver' start method of multiprocessing for parallel kernels in "
                "child processes.", RuntimeWarning, stacklevel=2)
        return 1
    return n


def serial_work(value=None):
    """The work (multiply-adds) below which a pass runs serially; sets it when value is
    given (the tests and benchmarks use 0: always parallel). Returns the previous value."""
    global SERIAL_WORK
    previous = SERIAL_WORK
    if value is not None:
        SERIAL_WORK = float(value)
    return previous


def _after_fork_in_child():
    global _forked_after_threads, _main_thread, _fork_warned
    _forked_after_threads = _forked_after_threads or _threads_started
    _fork_warned = False
    _main_thread = threading.get_ident()


def threads_started():
    """Whether a parallel region has run in this process (for the tests)."""
    return bool(_threads_started)


_main_thread = threading.main_thread().ident
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
