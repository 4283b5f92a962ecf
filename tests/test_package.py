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
    out = subprocess.run([sys.executable, "-m", "fastem", "-k", "2"], capture_output=True,
                         text=True, check=True).stdout
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
