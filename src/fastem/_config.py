"""fastem.show_config(): what this build of fastem runs with."""

from __future__ import annotations

import platform
import sys

import numpy as np

from ._kernels._parallel import effective_n_threads, openmp_enabled, usable_cpus


def config() -> dict[str, object]:
    """The facts show_config prints, as a dict."""
    from . import __version__

    return {
        "fastem": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "openmp": "on" if openmp_enabled() else "off (kernels are serial)",
        "usable cores": usable_cpus(),
        "default threads": effective_n_threads(None),
        "blas": "none (kernels use their own loops; numpy's BLAS only in the M-step)",
    }


def show_config() -> None:
    """Print what this build of fastem runs with.

    One line each: the versions of fastem, Python and NumPy, the platform, whether the
    kernels were built with OpenMP, the usable cores (affinity mask and cgroup quota),
    the number of threads that ``n_threads=None`` gives (every usable core, limited by
    ``OMP_NUM_THREADS`` and threadpoolctl's limits; 1 without OpenMP) and the BLAS in
    use. Include its output in bug reports.

    See Also
    --------
    numpy.show_config : Show NumPy's build configuration.
    threadpoolctl.threadpool_limits : Limit the threads that ``n_threads=None`` uses.

    Examples
    --------
    >>> import fastem
    >>> fastem.show_config()
             fastem: ...
             python: ...
           platform: ...
              numpy: ...
             openmp: ...
       usable cores: ...
    default threads: ...
               blas: none (kernels use their own loops; numpy's BLAS only in the M-step)
    """
    for key, value in config().items():
        print(f"{key:>16}: {value}")
