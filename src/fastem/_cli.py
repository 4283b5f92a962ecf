"""The fastem command line: fit a Gaussian mixture to a file, predict with a saved model.

    fastem fit [FILE.csv|FILE.npy] -k K --covariance-type TYPE [--output model.npz]
               [--plot out.png] [--columns A,B,...]
    fastem predict MODEL.npz FILE [--proba] [--output labels.csv]
    fastem config

With no FILE, `fastem fit` (and plain `fastem`) uses the bundled Old Faithful data.
`predict` works with every saved model: a mixture's or k-means' label for each row, or
an HMM's most likely state at each row, the file being read as one sequence (--proba:
the mixture's or the HMM's posterior probabilities). Errors are one line on stderr and a
non-zero exit code, never a traceback; when the reader of the output goes away
(`fastem predict ... | head`) fastem stops quietly with exit code 141.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


class UsageError(Exception):
    """A problem with the user's files or options: reported in one line."""


# -- reading data ------------------------------------------------------------------------
_MISSING = ("", "nan", "na", "null")


def _cell(text):
    """The number in a CSV cell, NaN for a missing value, None when it is not a number."""
    text = text.strip()
    if text.lower() in _MISSING:
        return np.nan
    try:
        return float(text)
    except ValueError:
        return None


def _number(text, where):
    value = _cell(text)
    if value is None:
        raise UsageError(f"{where}: {text.strip()!r} is not a number")
    return value


def read_table(path):
    """(X, column names) from a .csv (optional header, empty cells = missing) or .npy."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix.lower() == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise UsageError(f"{path}: not a readable .npy array ({exc})") from None
        if not isinstance(X, np.ndarray):       # np.load opened a .npz archive
            X.close()
            raise UsageError(f"{path}: a .npz archive, not a .npy array (write one array "
                             "with numpy.save)")
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or X.dtype.kind not in "biuf":
            raise UsageError(f"{path}: need a 2-D numeric array, got {X.ndim}-D {X.dtype}")
        return X.astype(np.float64), [str(i) for i in range(X.shape[1])]
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:   # -sig: drop a BOM
            rows = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path}: cannot read as CSV ({exc})") from None
    if not rows:
        raise UsageError(f"{path}: the file is empty")
    first = rows[0]
    if all(_cell(c) is not None for c in first):    # numbers and missing values: data
        names = [str(i) for i in range(len(first))]
    else:
        names = [c.strip() for c in first]
        rows = rows[1:]
    if not rows:
        raise UsageError(f"{path}: no data rows after the header")
    width = len(names)
    data = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise UsageError(f"{path}: row {i + 1} has {len(row)} fields, expected {width}")
        data[i] = [_number(c, f"{path}: row {i + 1}, column {names[j]!r}")
                   for j, c in enumerate(row)]
    return data, names


def select_columns(X, names, spec):
    """Columns chosen by name or 0-based index, e.g. 'waiting' or '0,2'."""
    if not spec:
        return X, names
    chosen = []
    for item in spec.split(","):
        item = item.strip()
        if item in names:
            chosen.append(names.index(item))
        elif item.isdigit() and int(item) < len(names):
            chosen.append(int(item))
        else:
            raise UsageError(f"no column {item!r}; the columns are {', '.join(names)}")
    return X[:, chosen], [names[j] for j in chosen]


# -- fit -----------------------------------------------------------------------------------
class Progress:
    """A one-line progress display on a terminal: iteration and log-likelihood."""

    def __init__(self, stream):
        self.stream = stream
        self.active = False

    def __call__(self, info):
        self.stream.write(f"\r  init {info.init}  iteration {info.n_iter:4d}  "
                          f"log-likelihood/n {info.lower_bound: .6f}   ")
        self.stream.flush()
        self.active = True

    def close(self):
        if self.active:
            self.stream.write("\n")
            self.stream.flush()


def summary(gm, X, names, source):
    loglik = gm.score(X) * X.shape[0]
    lines = [
        f"data: {source} ({X.shape[0]} rows; columns {', '.join(names)}"
        + (f"; {int(np.isnan(X).sum())} missing entries" if np.isnan(X).any() else "") + ")",
        f"model: {gm.n_components}-component Gaussian mixture, "
        f"covariance_type={gm.covariance_type!r}",
        f"log-likelihood {loglik:.3f}   BIC {gm.bic(X):.3f}   AIC {gm.aic(X):.3f}   "
        f"iterations {gm.n_iter_}   converged {gm.converged_}",
    ]
    order = np.argsort(gm.means_[:, 0])
    for j in order:
        mean = ", ".join(f"{v:.4f}" for v in gm.means_[j])
        lines.append(f"  component {j}: weight {gm.weights_[j]:.4f}  mean ({mean})")
        if gm.covariance_type == "full":
            rows = "; ".join(", ".join(f"{v:.4f}" for v in row) for row in gm.covariances_[j])
            lines.append(f"    covariance [{rows}]")
        elif gm.covariance_type in ("diag", "spherical"):
            variance = np.array2string(np.atleast_1d(gm.covariances_[j]), precision=4)
            lines.append(f"    variance {variance}")
    if gm.covariance_type == "tied":
        rows = "; ".join(", ".join(f"{v:.4f}" for v in row) for row in gm.covariances_)
        lines.append(f"  tied covariance [{rows}]")
    return "\n".join(lines)


def _component_covariance(gm, j, pair):
    ct = gm.covariance_type
    if ct == "full":
        return gm.covariances_[j][np.ix_(pair, pair)]
    if ct == "tied":
        return gm.covariances_[np.ix_(pair, pair)]
    if ct == "diag":
        return np.diag(gm.covariances_[j][pair])
    return np.eye(2) * gm.covariances_[j]


def plot(gm, X, names, path, pair):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Ellipse
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'fastem[plot]'") from None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    labels = gm.predict(X)
    if X.shape[1] == 1:
        left.hist(X[:, 0][~np.isnan(X[:, 0])], bins=40, density=True, color="#9bb7d4")
        grid = np.linspace(np.nanmin(X), np.nanmax(X), 400)[:, None]
        left.plot(grid[:, 0], np.exp(gm.score_samples(grid)), color="black")
        left.set_xlabel(names[0])
    else:
        seen = ~np.isnan(X[:, pair]).any(axis=1)
        left.scatter(X[seen, pair[0]], X[seen, pair[1]], c=labels[seen], s=8, cmap="tab10",
                     vmin=0, vmax=9, alpha=0.7)
        for j in range(gm.n_components):
            vals, vecs = np.linalg.eigh(_component_covariance(gm, j, pair))
            angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
            for scale in (1, 2):
                left.add_patch(Ellipse(gm.means_[j, pair], 2 * scale * np.sqrt(vals[-1]),
                                       2 * scale * np.sqrt(vals[0]), angle=angle, fill=False,
                                       lw=1.5 / scale, color="black"))
        left.set_xlabel(names[pair[0]])
        left.set_ylabel(names[pair[1]])
    left.set_title(f"{gm.n_components} components, {gm.covariance_type} covariance")
    right.plot(range(1, len(gm.lower_bounds_) + 1), gm.lower_bounds_, marker="o", ms=3)
    right.set_xlabel("EM iteration")
    right.set_ylabel("mean log-likelihood per row")
    right.set_title("EM never decreases the log-likelihood")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_fit(args):
    from . import GaussianMixture
    from .datasets import load_faithful

    if args.file is None:
        X, names = load_faithful(return_columns=True)
        names, source = list(names), "bundled Old Faithful data"
    else:
        X, names = read_table(args.file)
        source = str(args.file)
    X, names = select_columns(X, names, args.columns)
    if args.n_components < 1:
        raise UsageError(f"-k must be at least 1, got {args.n_components}")
    progress = Progress(sys.stderr) if sys.stderr.isatty() and not args.quiet else None
    gm = GaussianMixture(args.n_components, covariance_type=args.covariance_type,
                         reg_covar=args.reg_covar, tol=args.tol, max_iter=args.max_iter,
                         n_init=args.n_init, random_state=args.random_state,
                         callback=progress)
    try:
        gm.fit(X)
    finally:
        if progress is not None:
            progress.close()
    gm.callback = None
    print(summary(gm, X, names, source))
    if args.output:
        # the file keeps the column names (predict selects the same columns by name)
        gm.feature_names_in_ = np.array(names, dtype=object)
        gm.save(args.output)
        del gm.feature_names_in_
        print(f"model saved to {args.output}")
    if args.plot:
        pair = [0, min(1, X.shape[1] - 1)]
        if args.plot_columns:
            _, picked = select_columns(X, names, args.plot_columns)
            if len(picked) != 2:
                raise UsageError("--plot-columns takes two columns, e.g. --plot-columns 0,1")
            pair = [names.index(p) for p in picked]
        plot(gm, X, names, args.plot, pair)
        print(f"plot written to {args.plot}")
    return 0


def _n_features(model):
    """Columns the model reads: n_features_in_, a Gaussian HMM's means_, or 1 symbol."""
    if hasattr(model, "n_features_in_"):
        return model.n_features_in_
    return model.means_.shape[1] if hasattr(model, "means_") else 1


def _symbols(X, path):
    """A CategoricalHMM's integer symbols from the numbers read from ``path``."""
    if not (np.isfinite(X).all() and (X == np.round(X)).all() and (X >= 0).all()):
        raise UsageError(f"{path}: a CategoricalHMM reads symbols 0, 1, 2, ...: every value "
                         "must be a non-negative integer")
    return X.astype(np.int64)


def cmd_predict(args):
    from . import CategoricalHMM, GaussianHMM, load

    model_path = Path(args.model)
    if not model_path.is_file():
        raise UsageError(f"no such model file: {model_path}")
    model = load(model_path)      # ModelFileError: one line naming the file and the member
    X, names = read_table(args.file)
    trained = getattr(model, "feature_names_in_", None)
    if trained is not None and set(trained) <= set(names):
        X, names = select_columns(X, names, ",".join(trained))
    elif X.shape[1] != _n_features(model):
        raise UsageError(f"{args.file} has {X.shape[1]} columns, the model expects "
                         f"{_n_features(model)}")
    vars(model).pop("feature_names_in_", None)   # the columns are chosen: X is an array
    hmm = isinstance(model, (GaussianHMM, CategoricalHMM))
    if isinstance(model, CategoricalHMM):
        X = _symbols(X, args.file)
    if args.proba:   # an HMM reads the rows as one sequence: posteriors of its states
        if not hasattr(model, "predict_proba"):
            raise UsageError(f"--proba needs a Gaussian mixture or an HMM; a "
                             f"{type(model).__name__} gives labels only")
        out = model.predict_proba(X)
        header = [f"p{j}" for j in range(out.shape[1])]
        rows = [[f"{v:.6g}" for v in row] for row in out]
    else:            # an HMM's most likely state at each row (Viterbi, one sequence)
        out = model.predict(X)
        header = ["state" if hmm else "label"]
        rows = [[str(int(v))] for v in out]
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    finally:
        if args.output:
            stream.close()
    if args.output:
        print(f"{len(rows)} predictions written to {args.output}")
    return 0


def cmd_config(args):
    from . import show_config

    show_config()
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"fastem: error: {message} (see fastem --help)\n")


def parser():
    p = _Parser(prog="fastem", description="Fast EM for Gaussian mixtures.")
    sub = p.add_subparsers(dest="command")
    fit = sub.add_parser("fit", help="fit a Gaussian mixture and print it")
    fit.add_argument("file", nargs="?", help=".csv or .npy (default: bundled Old Faithful)")
    fit.add_argument("-k", "--n-components", type=int, default=2)
    fit.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES)
    fit.add_argument("--columns", help="columns to use, by name or index: a,b or 0,2")
    fit.add_argument("--reg-covar", type=float, default=0.0)
    fit.add_argument("--tol", type=float, default=1e-10)
    fit.add_argument("--max-iter", type=int, default=1000)
    fit.add_argument("--n-init", type=int, default=5)
    fit.add_argument("--random-state", type=int, default=0)
    fit.add_argument("--output", help="save the model to this .npz file")
    fit.add_argument("--plot", help="draw the data, the components and the log-likelihood")
    fit.add_argument("--plot-columns", help="the two columns to draw (default: first two)")
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    fit.set_defaults(run=cmd_fit)
    pred = sub.add_parser("predict", help="labels or probabilities from a saved model")
    pred.add_argument("model", help="a model saved by `fastem fit --output`")
    pred.add_argument("file", help=".csv or .npy with the same columns")
    pred.add_argument("--proba", action="store_true", help="write probabilities")
    pred.add_argument("--output", help="write CSV here instead of standard output")
    pred.set_defaults(run=cmd_predict)
    conf = sub.add_parser("config", help="print the build configuration")
    conf.set_defaults(run=cmd_config)
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("fit", "predict", "config", "-h", "--help"):
        argv = ["fit", *argv]
    args = parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()      # a closed pipe shows here rather than at exit
        return code
    except BrokenPipeError:
        # the reader stopped (`fastem predict ... | head`): end quietly, as a program
        # killed by SIGPIPE would; stdout goes to devnull so the exit flush is silent
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):   # stdout is not a file descriptor
            pass
        return 141
    except (UsageError, ValueError, TypeError, OSError, MemoryError,
            np.linalg.LinAlgError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"fastem: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastem: interrupted", file=sys.stderr)
        return 130
