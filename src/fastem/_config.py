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
        "blas": blas(),
    }


def blas() -> str:
    """The BLAS numpy has loaded (threadpoolctl's view), or numpy's build record of it.

    fastem's kernels use their own loops; numpy's BLAS serves the small M-step
    algebra."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        libraries = [info for info in threadpool_info() if info.get("user_api") == "blas"]
        if libraries:
            return "; ".join(
                f"{info.get('internal_api')} {info.get('version') or ''}".strip()
                + f" ({info.get('num_threads')} threads, {info.get('filepath')})"
                for info in libraries)
        return "none loaded"
    try:
        name = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # noqa: BLE001 - older numpy or an unusual build: say so
        name = None
    if name:
        return f"{name}, as numpy was built (install threadpoolctl to see the one loaded)"
    return "unknown (install threadpoolctl to see the one loaded)"


def show_config() -> None:
    """Print what this build of fastem runs with.

    One line each: the versions of fastem, Python and NumPy, the platform, whether the
    kernels were built with OpenMP, the usable cores (affinity mask and cgroup quota),
    the number of threads that ``n_threads=None`` gives (every usable core, limited by
    ``OMP_NUM_THREADS`` and threadpoolctl's limits; 1 without OpenMP) and the BLAS that
    numpy has loaded, as threadpoolctl reports it (without threadpoolctl, the one numpy
    was built with); the kernels use their own loops, numpy's BLAS serves the M-step.
    Include its output in bug reports.

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
               blas: ...
    """
    for key, value in config().items():
        print(f"{key:>16}: {value}")
