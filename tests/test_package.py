import subprocess
import sys

import numpy as np
import pytest

import fastem
from fastem.datasets import load_faithful


def test_show_config(capsys):
    fastem.show_config()
    out = capsys.readouterr().out
    assert fastem.__version__ in out
    assert "openmp" in out and "default threads" in out and "blas" in out


def test_show_config_reports_the_blas_numpy_loaded(monkeypatch):
    from fastem import _config

    threadpoolctl = pytest.importorskip("threadpoolctl")
    loaded = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert loaded and loaded[0]["internal_api"] in _config.blas()
    assert loaded[0]["filepath"] in _config.blas()
    # without threadpoolctl: numpy's build record, said to be that
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    assert "as numpy was built" in _config.blas() or "unknown" in _config.blas()


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
    out = subprocess.run([sys.executable, "-m", "fastem", "-k", "2"], capture_output=True,
                         text=True, check=True).stdout
    assert "log-likelihood -1130.264" in out
    assert "weight 0.3559" in out and "weight 0.6441" in out


def test_readme_test_command_is_what_ci_runs():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / ".ci" / "run").is_file():
        pytest.skip("not a checkout: no .ci/run (e.g. an unpacked sdist)")
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


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_release_metadata():
    """A LICENSE as declared, classifiers for the supported Pythons and platforms, a
    summary that says what fastem fits, and release tools kept out of the test extra."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause" and project["license-files"] == ["LICENSE"]
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
    classifiers = set(project["classifiers"])
    for minor in range(10, 15):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert {"Operating System :: POSIX :: Linux", "Operating System :: MacOS",
            "Operating System :: Microsoft :: Windows",
            "Programming Language :: Cython"} <= classifiers
    for words in ("hidden Markov", "missing values", "k-means", "Gaussian mixtures"):
        assert words in project["description"]
    test_extra = " ".join(project["optional-dependencies"]["test"])
    for tool in ("cibuildwheel", "zizmor", "check-jsonschema"):
        assert tool not in test_extra and any(
            tool in r for r in project["optional-dependencies"]["release"])


def test_readme_images_render_from_pypi():
    """PyPI renders the README from the sdist: no image may point at a relative path."""
    import re

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert [src for src in images if not src.startswith(("https://", "http://"))] == []


def test_compiled_modules_carry_no_debug_information():
    """The kernels are built with -g0 (unless FASTEM_DEBUG=1): ELF modules have no
    .debug_info section."""
    import os
    from pathlib import Path

    import fastem._kernels._gaussian as module

    path = Path(module.__file__)
    if os.environ.get("FASTEM_DEBUG") == "1" or path.read_bytes()[:4] != b"\x7fELF":
        pytest.skip("a debug build, or not an ELF module")
    assert b".debug_info" not in path.read_bytes()


def test_citation_cff_is_valid_and_matches_the_package():
    """CITATION.cff follows the Citation File Format 1.2.0 schema (check-jsonschema's
    vendored copy, in the release extra) and gives the package's version and license."""
    import os
    import re
    import shutil
    from pathlib import Path

    YAML = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with "
                               "check-jsonschema, in the release extra").YAML

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
    if not check:
        message = "check-jsonschema is in the release extra: pip install '.[release]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([check, "--builtin-schema", "vendor.citation-file-format",
                             str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
