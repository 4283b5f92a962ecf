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
    """Print version, OpenMP on/off, default thread count and BLAS in use."""
    for key, value in config().items():
        print(f"{key:>16}: {value}")
