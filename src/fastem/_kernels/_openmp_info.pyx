"""What the kernels were built with, and how many threads they use."""

import os

from fastem._kernels._openmp cimport FASTEM_OPENMP_ENABLED, omp_get_max_threads


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
