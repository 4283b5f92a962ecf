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


def test_a_downstream_script_type_checks_strictly_without_any():
    """mypy --strict passes on a script that uses every public class, and the types it
    sees for data, fitted arrays and loaded models are precise (never Any)."""
    script = ROOT / "tests" / "typing" / "downstream.py"
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                             str(script)], capture_output=True, text=True, cwd=ROOT)
    lines = result.stdout.splitlines()
    errors = [line for line in lines if ": error:" in line]
    assert errors == [] and result.returncode == 0, result.stdout + result.stderr
    revealed = [line.partition('Revealed type is "')[2].rstrip('"') for line in lines
                if "Revealed type is" in line]
    assert len(revealed) == script.read_text().count("    reveal_type(")
    assert [t for t in revealed if t == "Any" or t.endswith("| Any")] == [], revealed


def test_the_downstream_script_runs():
    subprocess.run([sys.executable, str(ROOT / "tests" / "typing" / "downstream.py")],
                   check=True, capture_output=True, cwd=ROOT)
