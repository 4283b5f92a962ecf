"""The typed API: mypy passes on the package and the compiled modules match their stubs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ["fastem._kernels._parallel", "fastem._kernels._gaussian", "fastem._kernels._kmeans",
           "fastem._kernels._hmm"]


def _run(*args):
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_package_ships_stubs_and_marker():
    import fastem

    package = Path(fastem.__file__).parent
    assert (package / "py.typed").is_file()
    for module in KERNELS:
        assert (package / "_kernels" / (module.rsplit(".", 1)[1] + ".pyi")).is_file()


def test_mypy_on_the_package():
    out = _run("mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "fastem")
    assert "Success" in out


def test_stubtest_on_the_extensions():
    _run("mypy.stubtest", "--mypy-config-file", str(ROOT / "pyproject.toml"),
         "--allowlist", str(ROOT / "tests" / "stubtest_allowlist.txt"), *KERNELS)
