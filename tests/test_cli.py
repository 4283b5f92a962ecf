"""The fastem command line, end to end in subprocesses."""

import subprocess
import sys

import numpy as np
import pytest

from fastem._cli import Progress
from fastem._engine import IterationInfo


def fastem(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "fastem", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env)


def test_fit_bundled_data_save_predict_and_plot(tmp_path):
    model, png = tmp_path / "model.npz", tmp_path / "fit.png"
    run = fastem("fit", "-k", 2, "--output", model, "--plot", png)
    assert run.returncode == 0, run.stderr
    assert "log-likelihood -1130.264" in run.stdout and "BIC 2322.192" in run.stdout
    assert "iterations" in run.stdout and run.stderr == ""  # no progress bar off a terminal
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    from fastem.datasets import load_faithful

    data = tmp_path / "faithful.csv"
    np.savetxt(data, load_faithful(), delimiter=",", header="eruptions,waiting", comments="")
    labels = fastem("predict", model, data)
    assert labels.returncode == 0, labels.stderr
    lines = labels.stdout.splitlines()
    assert lines[0] == "label" and len(lines) == 273 and set(lines[1:]) == {"0", "1"}
    out = tmp_path / "proba.csv"
    proba = fastem("predict", model, data, "--proba", "--output", out)
    assert proba.returncode == 0 and "272 predictions" in proba.stdout
    p = np.loadtxt(out, delimiter=",", skiprows=1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_fit_csv_with_missing_values_columns_and_npy(tmp_path):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(150, 3), rng.randn(150, 3) + 4])
    path = tmp_path / "data.csv"
    with open(path, "w") as f:
        f.write("a,b,c\n")
        for i, row in enumerate(X):
            cells = [f"{v:.5f}" for v in row]
            if i % 10 == 0:
                cells[1] = ""  # missing
            f.write(",".join(cells) + "\n")
    run = fastem("fit", path, "-k", 2, "--covariance-type", "diag", "--columns", "a,b")
    assert run.returncode == 0, run.stderr
    assert "columns a, b; 30 missing entries" in run.stdout
    np.save(tmp_path / "data.npy", X)
    run = fastem("fit", tmp_path / "data.npy", "-k", 3, "--covariance-type", "spherical",
                 "--plot", tmp_path / "p.png", "--plot-columns", "0,2")
    assert run.returncode == 0, run.stderr and (tmp_path / "p.png").is_file()
    run = fastem("fit", "--columns", "waiting", "-k", 2, "--plot", tmp_path / "w.png")
    assert run.returncode == 0 and "log-likelihood -1034.002" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["fit", "missing.csv"], "no such file: missing.csv"),
    (["fit", "bad.csv"], "row 2, column 'y': 'abc' is not a number"),
    (["fit", "ragged.csv"], "row 2 has 3 fields, expected 2"),
    (["fit", "empty.csv"], "the file is empty"),
    (["fit", "bad.npy"], "not a readable .npy"),
    (["fit", "--columns", "nope"], "no column 'nope'; the columns are eruptions, waiting"),
    (["fit", "-k", "0"], "-k must be at least 1"),
    (["fit", "-k", "500"], "n_samples >= n_components"),
    (["fit", "--covariance-type", "round"], "invalid choice: 'round'"),
    (["fit", "--plot-columns", "0", "--plot", "x.png"], "--plot-columns takes two columns"),
    (["fit", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["predict", "nomodel.npz", "bad.csv"], "no such model file"),
    (["predict", "bad.npy", "bad.csv"], "not a fastem model"),
])
def test_bad_input_exits_nonzero_with_one_line(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n3,abc\n")
    (tmp_path / "ragged.csv").write_text("x,y\n1,2\n3,4,5\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    run = fastem(*args, cwd=tmp_path)
    assert run.returncode != 0
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr


def test_plot_without_matplotlib_says_what_to_install(tmp_path):
    (tmp_path / "matplotlib.py").write_text("raise ImportError('no matplotlib here')\n")
    import os

    paths = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    run = fastem("fit", "--plot", tmp_path / "x.png", env=env)
    assert run.returncode == 1
    assert "pip install 'fastem[plot]'" in run.stderr


def test_progress_line_on_a_terminal():
    import io

    stream = io.StringIO()
    progress = Progress(stream)
    progress(IterationInfo(init=0, n_iter=3, lower_bound=-4.25, change=0.1, time=0.01))
    progress.close()
    assert "iteration    3" in stream.getvalue() and "-4.250000" in stream.getvalue()
    assert stream.getvalue().startswith("\r") and stream.getvalue().endswith("\n")


def test_config_command():
    run = fastem("config")
    assert run.returncode == 0 and "openmp" in run.stdout
