"""The fastem command line, end to end in subprocesses."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastem as _package
from fastem._cli import Progress
from fastem._engine import IterationInfo

# the fastem these tests imported: a source tree goes first on the subprocesses' path
# (an installed one is found there anyway)
SRC = Path(_package.__file__).parent.parent
SRC = None if SRC.name in ("site-packages", "dist-packages") else str(SRC)


def fastem(*args, cwd=None, env=None, input=None):
    """Run `python -m fastem` with the fastem under test; ``input`` is its standard input
    (else it has none)."""
    env = dict(os.environ if env is None else env)
    if SRC is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "fastem", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, input=input,
                          stdin=subprocess.DEVNULL if input is None else None)


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
    (["predict", "bad.npy", "bad.csv"], "bad.npy: not a valid fastem model file"),
    (["predict", "empty.npz", "bad.csv"], "empty.npz: not a valid fastem model file"),
    (["fit", "archive.npy"], "archive.npy: a .npz archive, not a .npy array"),
    (["fit", "empty.npy"], "empty.npy: not a readable .npy array"),
    (["fit", "text.csv", "--columns", "x,name"], "row 2, column 'name': 'bob' is not a number"),
    (["fit", "text.csv", "--columns", "x,nope"], "no column 'nope'; the columns are name, x"),
    (["fit", "garbage.csv"], "garbage.csv: not UTF-8 text"),
    (["fit", "nul.csv"], "nul.csv: a binary file, not a text table"),
    (["fit", "bad.csv", "--delimiter", "::"], "--delimiter takes one character"),
    (["fit", "-"], "standard input: the file is empty"),
    (["predict", "bad.npy", "-"], "bad.npy: not a valid fastem model file"),
])
def test_bad_input_exits_nonzero_with_one_line(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n3,abc\n")
    (tmp_path / "ragged.csv").write_text("x,y\n1,2\n3,4,5\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "empty.npy").write_bytes(b"")
    np.savez(tmp_path / "archive.npz", X=np.ones((5, 2)))
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")
    (tmp_path / "text.csv").write_text("name,x\n1,2\nbob,4\n")
    (tmp_path / "garbage.csv").write_bytes(bytes(range(128, 256)) * 4)
    (tmp_path / "nul.csv").write_bytes(b"x,y\n1,\x002\n")
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


def _one_line_error(run, *words):
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert all(w in run.stderr for w in words), run.stderr


def test_predict_with_a_damaged_model_file_is_one_line(tmp_path):
    import fastem as fe
    from fastem.datasets import load_faithful

    data = tmp_path / "data.npy"
    np.save(data, load_faithful())
    good = fe.GaussianMixture(2, random_state=0).fit(load_faithful()).save(tmp_path / "m.npz")
    raw = good.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[:len(raw) // 2])
    _one_line_error(fastem("predict", tmp_path / "truncated.npz", data),
                    "truncated.npz: not a valid fastem model file")
    with np.load(good) as z:
        parts = {k: z[k] for k in z.files}
    parts["attr:weights_"] = np.ones(1)          # breaks the schema
    np.savez(tmp_path / "edited.npz", **parts)
    _one_line_error(fastem("predict", tmp_path / "edited.npz", data),
                    "edited.npz: member 'attr:weights_'", "n_components=2")


def test_predict_with_every_saved_model_type(tmp_path):
    import fastem as fe
    from fastem.datasets import load_faithful

    X = load_faithful()
    data = tmp_path / "faithful.npy"
    np.save(data, X)
    hmm = fe.GaussianHMM(2, n_iter=5, random_state=0).fit(X)
    run = fastem("predict", hmm.save(tmp_path / "hmm.npz"), data)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "state" and [int(v) for v in lines[1:]] == hmm.predict(X).tolist()
    run = fastem("predict", tmp_path / "hmm.npz", data, "--proba")
    p = np.loadtxt(run.stdout.splitlines()[1:], delimiter=",")
    np.testing.assert_allclose(p, hmm.predict_proba(X), rtol=1e-5, atol=1e-12)

    symbols = np.random.RandomState(0).randint(0, 3, size=(60, 1))
    cat = fe.CategoricalHMM(2, n_iter=5, random_state=0).fit(symbols)
    (tmp_path / "symbols.csv").write_text("".join(f"{s}\n" for s in symbols[:, 0]))
    run = fastem("predict", cat.save(tmp_path / "cat.npz"), tmp_path / "symbols.csv")
    assert run.returncode == 0, run.stderr
    assert [int(v) for v in run.stdout.splitlines()[1:]] == cat.predict(symbols).tolist()
    (tmp_path / "halves.csv").write_text("0\n1.5\n")
    _one_line_error(fastem("predict", tmp_path / "cat.npz", tmp_path / "halves.csv"),
                    "non-negative integer")
    (tmp_path / "too-big.csv").write_text("0\n7\n")
    _one_line_error(fastem("predict", tmp_path / "cat.npz", tmp_path / "too-big.csv"),
                    "symbol 7")

    km = fe.KMeans(2, random_state=0).fit(X)
    run = fastem("predict", km.save(tmp_path / "km.npz"), data)
    assert run.returncode == 0, run.stderr
    assert [int(v) for v in run.stdout.splitlines()[1:]] == km.predict(X).tolist()
    _one_line_error(fastem("predict", tmp_path / "km.npz", data, "--proba"),
                    "--proba needs a Gaussian mixture or an HMM; a KMeans gives labels only")
    _one_line_error(fastem("predict", tmp_path / "hmm.npz", tmp_path / "symbols.csv"),
                    "has 1 columns, the model expects 2")


def test_a_closed_pipe_ends_quietly(tmp_path):
    model = tmp_path / "m.npz"
    assert fastem("fit", "--output", model, "-q").returncode == 0
    data = tmp_path / "big.npy"
    np.save(data, np.random.RandomState(0).randn(100_000, 2) * 10 + 50)  # 200 KB of labels
    proc = subprocess.Popen([sys.executable, "-m", "fastem", "predict", model, data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"label\n"
    proc.stdout.close()                       # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait() == 141 and err == b"", err


@pytest.mark.parametrize("first, rows, missing", [
    ("NA,1.5", 21, 1), ("null,2.5", 21, 1), (",3.5", 21, 1), ("nan,NA", 21, 2),
    ("\ufeff1.0,2.0", 21, 0), ("\ufeffa,b", 20, 0), ("x,NA", 20, 0),
])
def test_csv_first_row_is_data_unless_it_has_a_word(tmp_path, first, rows, missing):
    rng = np.random.RandomState(0)
    body = "".join(f"{a:.4f},{b:.4f}\n" for a, b in rng.randn(20, 2))
    path = tmp_path / "data.csv"
    path.write_text(f"{first}\n{body}", encoding="utf-8")
    run = fastem("fit", path, "-k", 1)
    assert run.returncode == 0, run.stderr
    header = first.lstrip("\ufeff").split(",") if rows == 20 else ["0", "1"]
    tail = f"; {missing} missing entries" if missing else ""
    assert f"({rows} rows; columns {', '.join(header)}{tail})" in run.stdout


def test_fit_reads_standard_input_and_skips_text_columns(tmp_path):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(40, 2), rng.randn(40, 2) + 5])
    text = "name;x;y\n" + "".join(f"p{i};{a:.5f};{b:.5f}\n" for i, (a, b) in enumerate(X))
    run = fastem("fit", "-", "-k", 2, "--output", tmp_path / "m.npz", input=text)
    assert run.returncode == 0, run.stderr
    assert "data: standard input (80 rows; columns x, y)" in run.stdout
    assert run.stderr == ("fastem: note: standard input: skipped column without numbers: "
                          "'name' (choose columns with --columns)\n")
    # predict finds the model's columns by name, in any order, beside other text columns
    shuffled = "y\tnote\tx\n" + "".join(f"{b:.5f}\tok\t{a:.5f}\n" for a, b in X)
    (tmp_path / "new.tsv").write_text(shuffled)
    labels = fastem("predict", tmp_path / "m.npz", tmp_path / "new.tsv")
    assert labels.returncode == 0, labels.stderr
    assert "skipped column without numbers: 'note'" in labels.stderr
    piped = fastem("predict", tmp_path / "m.npz", "-", "--columns", "x,y", input=text)
    assert piped.returncode == 0 and piped.stderr == ""
    assert labels.stdout == piped.stdout and len(set(labels.stdout.split()[1:41])) == 1


def test_fit_with_delimiter_and_header_options(tmp_path):
    rng = np.random.RandomState(1)
    rows = "".join(f"{a:.4f}|{b:.4f}\n" for a, b in rng.randn(30, 2))
    (tmp_path / "d.txt").write_text("100|200\n" + rows)
    run = fastem("fit", tmp_path / "d.txt", "-k", 1, "--delimiter", "|", "--header")
    assert run.returncode == 0, run.stderr
    assert "(30 rows; columns 100, 200)" in run.stdout
    run = fastem("fit", tmp_path / "d.txt", "-k", 1, "--delimiter", "|")
    assert run.returncode == 0 and "(31 rows; columns 0, 1)" in run.stdout


def test_parquet_without_pyarrow_is_one_line(tmp_path):
    (tmp_path / "pyarrow.py").write_text("raise ImportError('no pyarrow here')\n")
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    _one_line_error(fastem("fit", tmp_path / "t.parquet", env=env),
                    "reading Parquet needs pyarrow: pip install pyarrow")
