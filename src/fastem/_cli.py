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

from ._plots import plot
from ._tables import UsageError, add_input_arguments, read_input, select_columns

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


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


def cmd_fit(args):
    from . import GaussianMixture

    X, names, source = read_input(args)
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
    X, names, source = read_input(args)
    trained = getattr(model, "feature_names_in_", None)
    if trained is not None and set(trained) <= set(names):
        X, names = select_columns(X, names, ",".join(trained))
    elif X.shape[1] != _n_features(model):
        raise UsageError(f"{source} has {X.shape[1]} columns, the model expects "
                         f"{_n_features(model)}")
    vars(model).pop("feature_names_in_", None)   # the columns are chosen: X is an array
    hmm = isinstance(model, (GaussianHMM, CategoricalHMM))
    if isinstance(model, CategoricalHMM):
        X = _symbols(X, source)
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
    fit.add_argument("-k", "--n-components", type=int, default=2)
    fit.add_argument("--covariance-type", default="full", choices=COVARIANCE_TYPES)
    fit.add_argument("--reg-covar", type=float, default=0.0)
    fit.add_argument("--tol", type=float, default=1e-10)
    fit.add_argument("--max-iter", type=int, default=1000)
    fit.add_argument("--n-init", type=int, default=5)
    fit.add_argument("--random-state", type=int, default=0)
    fit.add_argument("--output", help="save the model to this .npz file")
    fit.add_argument("--plot", help="draw the data, the components and the log-likelihood")
    fit.add_argument("--plot-columns", help="the two columns to draw (default: first two)")
    fit.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    add_input_arguments(fit, optional=True)
    fit.set_defaults(run=cmd_fit)
    pred = sub.add_parser("predict", help="labels or probabilities from a saved model")
    pred.add_argument("model", help="a model saved by `fastem fit --output`")
    add_input_arguments(pred)
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
