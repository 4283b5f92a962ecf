"""The fastem command line, end to end in subprocesses."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastem as _fastem
from fastem._cli import Progress
from fastem._engine import IterationInfo

# the fastem these tests imported: a source tree goes first on the subprocesses' path
# (an installed one is found there anyway)
SRC = Path(_fastem.__file__).parent.parent
SRC = None if SRC.name in ("site-packages", "dist-packages") else str(SRC)


def _env(env=None):
    """The environment for a subprocess that runs the fastem under test."""
    env = dict(os.environ if env is None else env)
    if SRC is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    return env


def fastem(*args, cwd=None, env=None, input=None):
    """Run `python -m fastem` with the fastem under test; ``input`` is its standard input
    (else it has none)."""
    env = _env(env)
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
    # library defaults (tol 1e-3) stop EM early on waiting alone; a tighter --tol reaches
    # the maximum (both values are scikit-learn's GaussianMixture's too)
    run = fastem("fit", "--columns", "waiting", "-k", 2, "--plot", tmp_path / "w.png")
    assert run.returncode == 0 and "log-likelihood -1034.019" in run.stdout
    run = fastem("fit", "--columns", "waiting", "-k", 2, "--tol", "1e-8")
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
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
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


# -- defaults, help, version -----------------------------------------------------------------
@pytest.mark.parametrize("argv, cls, names", [
    (["fit"], "GaussianMixture", {"n_components", "covariance_type", "tol", "reg_covar",
                                  "max_iter", "n_init", "init_params", "random_state",
                                  "n_threads"}),
    (["select"], "GaussianMixture", {"tol", "reg_covar", "max_iter", "n_init",
                                     "init_params", "random_state", "n_threads"}),
    (["kmeans"], "KMeans", {"n_clusters", "init", "n_init", "max_iter", "tol",
                            "random_state", "n_threads"}),
    (["hmm", "fit"], "GaussianHMM", {"n_components", "covariance_type", "n_iter", "tol",
                                     "random_state", "n_threads"}),
    (["hmm", "fit", "--categorical"], "CategoricalHMM", {"n_components", "n_iter", "tol",
                                                         "random_state", "n_threads"}),
])
def test_cli_defaults_are_the_library_defaults(argv, cls, names):
    import inspect

    from fastem._cli import parser

    args = vars(parser().parse_args(argv))
    defaults = {name: p.default
                for name, p in inspect.signature(getattr(_fastem, cls)).parameters.items()}
    shared = set(args) & set(defaults)
    assert names <= shared, names - shared
    for name in shared:
        assert args[name] == defaults[name], (name, args[name], defaults[name])


def test_help_shows_the_defaults_and_version():
    run = fastem("--help")
    assert run.returncode == 0
    for command in ("fit", "select", "kmeans", "hmm", "predict", "config"):
        assert f"    {command} " in run.stdout
    run = fastem("fit", "--help")
    text = " ".join(run.stdout.split())
    for shown in ("number of components (default: 1)", "(default: 0.001)", "(default: 1e-06)",
                  "at most (default: 100)", "reproducible results (default: None"):
        assert shown in text, shown
    for argv in (["select"], ["kmeans"], ["hmm", "fit"], ["predict"]):
        run = fastem(*argv, "--help")
        assert run.returncode == 0 and "(default: " in run.stdout, argv
    assert " ".join(fastem("kmeans", "--help").stdout.split()).count("(default: 8)") == 1
    assert "(default: diag)" in fastem("hmm", "fit", "--help").stdout
    run = fastem("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"fastem {_fastem.__version__}"


def test_plain_fastem_fits_the_bundled_data_with_library_defaults():
    run = fastem("--random-state", 0)
    assert run.returncode == 0, run.stderr
    gm = _fastem.GaussianMixture(random_state=0).fit(_faithful())
    assert "1-component Gaussian mixture, covariance_type='full'" in run.stdout
    assert f"BIC {gm.bic(_faithful()):.3f}" in run.stdout


def test_the_known_maximum_with_a_tighter_tol():
    run = fastem("fit", "-k", 2, "--tol", "1e-8", "--max-iter", 1000)
    assert run.returncode == 0 and "log-likelihood -1130.264 " in run.stdout
    assert "converged True" in run.stdout


def test_integer_valued_csv_fits_with_the_default_reg_covar(tmp_path):
    rng = np.random.RandomState(0)
    counts = np.column_stack([rng.poisson(2, 400), rng.randint(1, 6, 400)])
    path = tmp_path / "counts.csv"
    np.savetxt(path, counts, fmt="%d", delimiter=",", header="visits,rating", comments="")
    run = fastem("fit", path, "-k", 4, "--random-state", 0)
    assert run.returncode == 0, run.stderr
    assert "4-component Gaussian mixture" in run.stdout
    # the former defaults (no regularisation, EM run to tol 1e-10) fail on it, in one line
    former = ["--reg-covar", 0, "--tol", "1e-10", "--max-iter", 1000, "--n-init", 5]
    _one_line_error(fastem("fit", path, "-k", 4, "--random-state", 0, *former),
                    "ill-defined empirical covariance")


# -- JSON ------------------------------------------------------------------------------------
def _faithful():
    from fastem.datasets import load_faithful

    return load_faithful()


def test_fit_json_is_the_library_fit(tmp_path):
    import json

    run = fastem("fit", "-k", 2, "--random-state", 0, "--json", "--output", tmp_path / "m.npz")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)            # stdout is only the JSON object
    X = _faithful()
    gm = _fastem.GaussianMixture(2, random_state=0).fit(X)
    assert out["data"] == {"source": "bundled Old Faithful data", "rows": 272,
                           "columns": ["eruptions", "waiting"], "missing": 0}
    assert out["model"] == "GaussianMixture" and out["params"]["n_components"] == 2
    np.testing.assert_allclose(out["log_likelihood"], gm.score(X) * 272, rtol=1e-12)
    np.testing.assert_allclose([out["bic"], out["aic"]], [gm.bic(X), gm.aic(X)], rtol=1e-12)
    np.testing.assert_allclose(out["means"], gm.means_, rtol=1e-12)
    np.testing.assert_allclose(out["covariances"], gm.covariances_, rtol=1e-12)
    assert out["n_iter"] == gm.n_iter_ and out["converged"] is True
    assert out["output"] == str(tmp_path / "m.npz") and (tmp_path / "m.npz").is_file()


# -- select ----------------------------------------------------------------------------------
def _entropy(p):
    return -np.sum(p * np.log(np.where(p > 0, p, 1)))


def test_select_prints_bic_and_icl_tables_and_the_best(tmp_path):
    import json

    X = _faithful()
    run = fastem("select", "-k", "1-3", "--covariance-types", "full,diag",
                 "--random-state", 0, "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert [(r["n_components"], r["covariance_type"]) for r in out["table"]] == [
        (1, "full"), (2, "full"), (3, "full"), (1, "diag"), (2, "diag"), (3, "diag")]
    for row in out["table"]:   # each cell is the library's model, ICL = BIC + 2 entropy
        gm = _fastem.GaussianMixture(row["n_components"],
                                     covariance_type=row["covariance_type"],
                                     random_state=0).fit(X)
        np.testing.assert_allclose(row["bic"], gm.bic(X), rtol=1e-12)
        np.testing.assert_allclose(row["icl"], gm.bic(X) + 2 * _entropy(gm.predict_proba(X)),
                                   rtol=1e-12)
    best = min(out["table"], key=lambda r: r["bic"])
    assert (out["best"]["n_components"], out["best"]["covariance_type"]) == (2, "full")
    assert out["best"]["bic"] == best["bic"] and len(out["best"]["means"]) == 2
    assert out["best_icl"]["icl"] == min(r["icl"] for r in out["table"])

    png, model = tmp_path / "bic.png", tmp_path / "best.npz"
    run = fastem("select", "-k", "1-3", "--random-state", 0, "--plot", png, "--output", model)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    lines = run.stdout.splitlines()
    header = lines.index("BIC") + 1
    assert lines[header].split() == ["K", "full", "tied", "diag", "spherical"]
    assert [line.split()[0] for line in lines[header + 1:header + 4]] == ["1", "2", "3"]
    assert "smaller is better" in run.stdout and "ICL = BIC + 2 x entropy" in run.stdout
    assert "best by BIC: K=2, full (BIC 2322.192)" in run.stdout
    assert png.read_bytes()[:4] == b"\x89PNG" and _fastem.load(model).n_components == 2


def test_select_marks_failed_fits():
    run = fastem("select", "-k", "1,300", "--covariance-types", "diag", "--random-state", 0)
    assert run.returncode == 0, run.stderr
    assert "- the fit failed (1), e.g. K=300 diag" in run.stdout


# -- kmeans and hmm fit ----------------------------------------------------------------------
def test_kmeans_prints_centers_inertia_iterations_and_saves(tmp_path):
    X = _faithful()
    run = fastem("kmeans", "-k", 3, "--random-state", 0, "--output", tmp_path / "km.npz")
    assert run.returncode == 0 and run.stderr == "", run.stderr
    km = _fastem.KMeans(3, random_state=0).fit(X)
    assert f"inertia {km.inertia_:.6g}   iterations {km.n_iter_}" in run.stdout
    for center in km.cluster_centers_:
        assert f"center ({center[0]:.4f}, {center[1]:.4f})" in run.stdout
    saved = _fastem.load(tmp_path / "km.npz")
    np.testing.assert_array_equal(saved.cluster_centers_, km.cluster_centers_)
    import json

    out = json.loads(fastem("kmeans", "-k", 3, "--random-state", 0, "--json").stdout)
    assert out["model"] == "KMeans" and out["inertia"] == pytest.approx(km.inertia_)


def test_hmm_fit_with_lengths_as_a_list_or_a_file_and_predict_scores(tmp_path):
    X = _faithful()
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("100\n172\n")
    model = _fastem.GaussianHMM(2, random_state=0).fit(X, [100, 172])
    runs = [fastem("hmm", "fit", "-k", 2, "--random-state", 0, "--lengths", spec,
                   "--output", tmp_path / f"hmm{i}.npz") for i, spec in
            enumerate(["100,172", lengths])]
    for run in runs:
        assert run.returncode == 0 and run.stderr == "", run.stderr
        assert f"log-likelihood {model.score(X, [100, 172]):.3f}" in run.stdout
        assert "2 sequences" in run.stdout
    assert runs[0].stdout.splitlines()[:-1] == runs[1].stdout.splitlines()[:-1]
    data = tmp_path / "faithful.npy"
    np.save(data, X)
    run = fastem("predict", tmp_path / "hmm0.npz", data, "--score", "--lengths", "100,172")
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(np.loadtxt(run.stdout.splitlines()[1:]),
                               [model.score(X[:100]), model.score(X[100:])], rtol=1e-9)
    run = fastem("predict", tmp_path / "hmm0.npz", data, "--score")   # one sequence
    assert len(run.stdout.splitlines()) == 2
    assert float(run.stdout.splitlines()[1]) == pytest.approx(model.score(X), rel=1e-9)
    run = fastem("predict", tmp_path / "hmm0.npz", data, "--lengths", "100,172")
    assert [int(v) for v in run.stdout.splitlines()[1:]] == model.predict(X, [100, 172]).tolist()


def test_hmm_fit_categorical(tmp_path):
    import json

    symbols = np.random.RandomState(0).randint(0, 3, size=(80, 1))
    path = tmp_path / "symbols.csv"
    path.write_text("symbol\n" + "".join(f"{s}\n" for s in symbols[:, 0]))
    run = fastem("hmm", "fit", path, "--categorical", "-k", 2, "--random-state", 0,
                 "--lengths", "30,50", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    model = _fastem.CategoricalHMM(2, random_state=0).fit(symbols, [30, 50])
    assert out["model"] == "CategoricalHMM" and out["lengths"] == [30, 50]
    np.testing.assert_allclose(out["emissionprob"], model.emissionprob_, rtol=1e-12)
    np.testing.assert_allclose(out["log_likelihood"], model.score(symbols, [30, 50]))
    assert out["n_iter"] == model.monitor_.iter


def test_predict_columns_and_mixture_scores(tmp_path):
    X = _faithful()
    path = tmp_path / "wide.csv"
    cols = np.column_stack([np.arange(272), X[:, 1], X[:, 0]])
    np.savetxt(path, cols, delimiter=",", header="id,w,e", comments="", fmt="%.6g")
    gm = _fastem.GaussianMixture(2, random_state=0).fit(X)
    gm.save(tmp_path / "m.npz")       # no column names: predict needs --columns
    _one_line_error(fastem("predict", tmp_path / "m.npz", path), "has 3 columns, the model "
                    "expects 2 (choose them with --columns)")
    run = fastem("predict", tmp_path / "m.npz", path, "--columns", "e,w", "--score")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "log_likelihood"
    np.testing.assert_allclose(np.loadtxt(run.stdout.splitlines()[1:]),
                               gm.score_samples(cols[:, [2, 1]]), rtol=1e-8)
    km = _fastem.KMeans(2, random_state=0).fit(X).save(tmp_path / "km.npz")
    _one_line_error(fastem("predict", km, path, "--columns", "2,1", "--score"),
                    "--score needs a Gaussian mixture or an HMM")
    _one_line_error(fastem("predict", km, path, "--columns", "2,1", "--lengths", "272"),
                    "--lengths is for hidden Markov models")


@pytest.mark.parametrize("args, message", [
    (["select", "-k", "0"], "numbers of components must be at least 1"),
    (["select", "-k", "two"], "expected e.g. 1-9 or 2,3,5"),
    (["select", "--covariance-types", "full,round"], "unknown covariance type 'round'"),
    (["kmeans", "-k", "0"], "-k must be at least 1"),
    (["kmeans", "--n-init", "many"], "expected 'auto' or an integer"),
    (["hmm"], "required: COMMAND"),
    (["hmm", "fit", "--lengths", "100,100"], "the 2 lengths sum to 200, but the data has 272"),
    (["hmm", "fit", "--lengths", "nofile.txt"], "neither a file nor a comma list"),
    (["hmm", "fit", "--categorical"], "a CategoricalHMM reads one column of symbols"),
    (["predict", "m.npz", "x.csv", "--proba", "--score"], "not allowed with argument"),
])
def test_bad_options_of_the_new_commands_are_one_line(args, message):
    run = fastem(*args)
    assert run.returncode != 0 and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


# -- progress --------------------------------------------------------------------------------
class _FakeTTY:
    def __init__(self, tty=True):
        self.text, self.tty = "", tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass

    def isatty(self):
        return self.tty


def test_progress_shows_elapsed_time_and_only_on_a_terminal():
    from types import SimpleNamespace

    from fastem._cli import progress_for

    assert progress_for(SimpleNamespace(quiet=False), _FakeTTY(tty=False)) is None
    assert progress_for(SimpleNamespace(quiet=True), _FakeTTY()) is None
    stream = _FakeTTY()
    progress = progress_for(SimpleNamespace(quiet=False), stream)
    now = [100.0]
    progress.clock, progress.start = (lambda: now[0]), 100.0
    progress(IterationInfo(init=0, n_iter=1, lower_bound=-5.0, change=np.inf, time=0.1))
    now[0] = 100.05            # within the redraw interval: not drawn yet
    progress(IterationInfo(init=0, n_iter=2, lower_bound=-4.5, change=0.5, time=0.1))
    assert "iteration    2" not in stream.text
    now[0] = 102.5
    progress.close()           # draws the last iteration, ends the line
    assert stream.text.count("\r") == 2 and stream.text.endswith("\n")
    assert "iteration    2  log-likelihood/n -4.500000  elapsed 2.5 s" in stream.text
    km = Progress(_FakeTTY(), label="inertia", sign=-1.0, fmt=".6g")
    km(IterationInfo(init=1, n_iter=7, lower_bound=-1234.5, change=1.0, time=0.1))
    assert "init 1  iteration    7  inertia 1234.5" in km.stream.text


@pytest.mark.parametrize("argv", [["fit", "-k", 2], ["kmeans", "-k", 3], ["hmm", "fit", "-k", 2],
                                  ["select", "-k", "1-2"]])
def test_no_progress_when_stderr_is_piped(argv):
    # seeded: an unseeded HMM fit may stop at --n-iter, which warns on stderr (one line)
    run = fastem(*argv, "--random-state", 0)
    assert run.returncode == 0 and run.stderr == "", run.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("argv, shown", [(["fit", "-k", 2], "log-likelihood/n"),
                                         (["hmm", "fit", "-k", 2], "log-likelihood")])
def test_progress_on_a_terminal(argv, shown):
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fastem", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=slave, env=_env())
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:        # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0 and b"log-likelihood" in out
    assert err.startswith("\r") and "iteration" in err and shown in err and "elapsed" in err


# -- plots -----------------------------------------------------------------------------------
def test_fit_figure_has_a_legend_means_integer_ticks_and_equal_aspect():
    pytest.importorskip("matplotlib")
    from fastem._plots import fit_figure

    X = _faithful()
    gm = _fastem.GaussianMixture(2, random_state=0).fit(X)
    fig = fit_figure(gm, X, ["eruptions", "waiting"], [0, 1], equal_aspect=True)
    data, history = fig.axes
    labels = [t.get_text() for t in data.get_legend().get_texts()]
    assert {f"component {j} (weight {w:.2f})" for j, w in enumerate(gm.weights_)} | {
        "component means"} <= set(labels)
    (means,) = [line for line in data.get_lines() if line.get_label() == "component means"]
    np.testing.assert_allclose(np.column_stack(means.get_data()), gm.means_)
    assert data.get_aspect() == 1.0
    assert fit_figure(gm, X, ["eruptions", "waiting"], [0, 1]).axes[0].get_aspect() == "auto"
    ticks = [t for t in history.get_xticks() if 1 <= t <= gm.n_iter_]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert history.get_title().startswith("Log-likelihood at each EM iteration")


def test_one_column_figure_is_a_density_histogram_without_empty_bins():
    pytest.importorskip("matplotlib")
    from fastem._plots import fit_figure, histogram_bins

    waiting = _faithful()[:, 1:]               # whole minutes
    gm = _fastem.GaussianMixture(2, random_state=0).fit(waiting)
    ax = fit_figure(gm, waiting, ["waiting"], [0, 0]).axes[0]
    assert ax.get_ylabel() == "density" and ax.get_legend() is not None
    heights = np.array([bar.get_height() for bar in ax.patches])
    widths = np.array([bar.get_width() for bar in ax.patches])
    np.testing.assert_allclose(np.sum(heights * widths), 1.0)          # a density
    means = [line for line in ax.get_lines() if line.get_label() == "component means"]
    np.testing.assert_allclose(np.sort(means[0].get_xdata()), np.sort(gm.means_[:, 0]))

    counts = np.repeat(np.arange(8), [5, 9, 14, 20, 14, 9, 5, 2])     # integers 0..7
    edges = histogram_bins(counts)
    np.testing.assert_allclose(edges, np.arange(-0.5, 8.0))           # a bin per integer
    wide = np.random.RandomState(0).poisson(200, 500).astype(float)
    edges = histogram_bins(wide)
    width = edges[1] - edges[0]
    assert float(width).is_integer() and (np.histogram(wide, edges)[0][[0, -1]] > 0).all()
    assert ((edges - 0.5) % 1 == 0).all()      # edges halfway between integers
    smooth = np.random.RandomState(0).randn(300)
    np.testing.assert_allclose(histogram_bins(smooth), np.histogram_bin_edges(smooth, "auto"))


def test_select_figure_draws_bic_against_k_per_covariance_type():
    pytest.importorskip("matplotlib")
    from fastem._plots import select_figure

    results = [{"n_components": k, "covariance_type": ct, "bic": 100.0 - k * (ct == "full")}
               for ct in ("full", "diag") for k in (1, 2, 3)]
    results.append({"n_components": 4, "covariance_type": "diag", "bic": None})   # failed
    ax = select_figure(results, "test data").axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["full"].get_ydata(), [99, 98, 97])
    np.testing.assert_allclose(lines["diag"].get_xdata(), [1, 2, 3])
    assert list(lines["best: K=3, full"].get_xdata()) == [3]
    assert ax.get_legend() is not None and "smaller is better" in ax.get_ylabel()
    assert all(float(t).is_integer() for t in ax.get_xticks())

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
