import subprocess
import sys

import numpy as np

import fastem
from fastem.datasets import load_faithful


def test_show_config(capsys):
    fastem.show_config()
    out = capsys.readouterr().out
    assert fastem.__version__ in out
    assert "openmp" in out and "default threads" in out and "blas" in out


def test_openmp_is_on_when_available():
    from fastem._kernels._parallel import effective_n_threads, openmp_enabled

    assert effective_n_threads(3) == (3 if openmp_enabled() else 1)
    assert effective_n_threads(None) >= 1


def test_load_faithful():
    X, columns = load_faithful(return_columns=True)
    assert X.shape == (272, 2) and X.dtype == np.float64
    assert columns == ("eruptions", "waiting")
    np.testing.assert_allclose(X[0], [3.6, 79])


def test_main_job_prints_the_old_faithful_fit():
    out = subprocess.run([sys.executable, "-m", "fastem"], capture_output=True, text=True,
                         check=True).stdout
    assert "log-likelihood -1130.264" in out
    assert "weight 0.3559" in out and "weight 0.6441" in out


def test_readme_test_command_is_what_ci_runs():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    command = 'pip install ".[test]" && python -m pytest tests'
    assert command in readme and command in ci
    assert "pip install . && python -m fastem" in readme


def test_readme_python_examples_run():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        subprocess.run([sys.executable, "-c", block], check=True, capture_output=True)


def test_citation_cff_is_valid_and_matches_the_package():
    """CITATION.cff follows the Citation File Format 1.2.0 schema (check-jsonschema's
    vendored copy, in the test extra) and gives the package's version and license."""
    import re
    import shutil
    from pathlib import Path

    from ruamel.yaml import YAML  # a dependency of check-jsonschema

    root = Path(__file__).resolve().parents[1]
    path = root / "CITATION.cff"
    cff = YAML(typ="safe").load(path.read_text())
    for key in ("cff-version", "message", "title", "version", "license", "authors",
                "abstract"):
        assert cff.get(key), f"CITATION.cff lacks {key}"
    assert cff["cff-version"] == "1.2.0"
    pyproject = (root / "pyproject.toml").read_text()   # no tomllib on Python 3.10
    assert re.search(rf'^version = "{re.escape(str(cff["version"]))}"$', pyproject, re.M)
    assert str(cff["version"]) == fastem.__version__
    assert re.search(rf'^license = "{re.escape(cff["license"])}"$', pyproject, re.M)
    assert cff["license"] == "BSD-3-Clause"
    assert cff["authors"] == [{"name": "fastem developers"}]

    beside = Path(sys.executable).parent / "check-jsonschema"
    check = str(beside) if beside.is_file() else shutil.which("check-jsonschema")
    assert check, "check-jsonschema is in the test extra: pip install '.[test]'"
    result = subprocess.run([check, "--builtin-schema", "vendor.citation-file-format",
                             str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
