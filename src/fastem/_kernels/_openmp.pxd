# The one place that touches OpenMP. Kernels cimport from here; when the extension is
# built without OpenMP the stubs below stand in and prange runs serially.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTEM_OPENMP_ENABLED 1
    #else
    #define FASTEM_OPENMP_ENABLED 0
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    #endif
    """
    const int FASTEM_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
