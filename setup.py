"""Build the Cython kernels, with OpenMP when the compiler supports it.

Metadata and tool configuration live in pyproject.toml; this file only chooses
compiler flags. Without OpenMP the kernels are built serial, with a warning (or an
error when FASTEM_REQUIRE_OPENMP=1, as on the wheel-building CI). The modules carry no
debug information unless FASTEM_DEBUG=1.
"""

import os
import sys
import tempfile
import textwrap
import warnings

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_parallel", "_gaussian", "_kmeans", "_hmm"]

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)


def openmp_flags(compiler_type):
    """Compile and link flags that turn OpenMP on for this compiler."""
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


class BuildExtWithOpenMP(build_ext):
    """build_ext that probes for OpenMP and sets per-compiler flags."""

    def _openmp_works(self, compile_flags, link_flags):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(OPENMP_PROBE)
            try:
                objects = self.compiler.compile([src], output_dir=tmp, extra_postargs=compile_flags)
                self.compiler.link_executable(
                    objects, os.path.join(tmp, "probe"), extra_postargs=link_flags
                )
            except Exception:  # noqa: BLE001 - any compiler/linker failure means "no OpenMP"
                return False
        return True

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        compile_flags, link_flags = openmp_flags(ctype)
        use_openmp = os.environ.get("FASTEM_DISABLE_OPENMP", "0") != "1"
        if use_openmp and not self._openmp_works(compile_flags, link_flags):
            if os.environ.get("FASTEM_REQUIRE_OPENMP", "0") == "1":
                raise RuntimeError(
                    "FASTEM_REQUIRE_OPENMP=1 but OpenMP is not available with this compiler: "
                    "refusing to build serial (single-threaded) kernels."
                )
            warnings.warn(
                "OpenMP is not available with this compiler: fastem's kernels are built "
                "serial (single-threaded). Install an OpenMP runtime (libgomp/libomp) "
                "for parallel kernels.",
                stacklevel=1,
            )
            use_openmp = False
        # -fopenmp-simd: the `omp simd` loops of _simd.h vectorise even without OpenMP;
        # -fno-trapping-math lets branch-free selects in those loops vectorise
        optimise = (["/O2"] if ctype == "msvc"
                    else ["-O3", "-fopenmp-simd", "-fno-trapping-math"])
        # no debug information in the modules (Python's own CFLAGS ask for -g; the
        # later -g0 wins): a third of the size. FASTEM_DEBUG=1 keeps it.
        if ctype != "msvc" and os.environ.get("FASTEM_DEBUG", "0") != "1":
            optimise.append("-g0")
        for ext in self.extensions:
            ext.extra_compile_args = optimise + (compile_flags if use_openmp else [])
            ext.extra_link_args = link_flags if use_openmp else []
        super().build_extensions()


extensions = [
    Extension(f"fastem._kernels.{name}", [f"src/fastem/_kernels/{name}.pyx"])
    for name in KERNELS
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
