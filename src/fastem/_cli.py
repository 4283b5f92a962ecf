"""The fastem command line.

    fastem fit [FILE] [-k K] [--covariance-type TYPE] [--output model.npz] [--plot out.png]
    fastem select [FILE] [-k 1-9] [--covariance-types full,diag] [--plot bic.png]
    fastem kmeans [FILE] [-k K] [--output model.npz]
    fastem hmm fit [FILE] [-k K] [--lengths 100,200 | --lengths lengths.txt] [--categorical]
    fastem predict MODEL.npz FILE [--proba | --score] [--lengths ...] [--output out.csv]
    fastem config

With no FILE a command uses the bundled Old Faithful data; plain `fastem` is `fastem fit`.
Every option that sets an estimator's parameter has that estimator's default (read from
its signature), so `fastem fit` fits what GaussianMixture() fits; --random-state makes a
run reproducible. fit, select, kmeans and hmm fit print a summary, or with --json one
JSON object. On a terminal a long fit shows a progress line on stderr (not with --quiet,
never when stderr is piped). Errors are one line on stderr and a non-zero exit code,
never a traceback; when the reader of the output goes away (`fastem predict ... | head`)
fastem stops quietly with exit code 141.
"""

from __future__ import annotations

import argparse
import copy
import csv
import inspect
import os
import sys
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np

from . import __version__
from ._engine import IterationInfo
from ._reports import (
    data_line,
    data_record,
    hmm_converged,
    hmm_record,
    hmm_summary,
    kmeans_record,
    kmeans_summary,
    mixture_record,
    mixture_summary,
    to_json,
)
from ._tables import UsageError, add_input_arguments, read_input, select_columns
from .cluster import KMeans
from .exceptions import ConvergenceWarning
from .hmm import CategoricalHMM, ConvergenceMonitor, GaussianHMM
from .mixture import GaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
SELECT_K = "1-9"        # mclust's default G = 1:9


def library_default(cls, name):
    """The default of the parameter ``name`` of the estimator class ``cls``."""
    return inspect.signature(cls).parameters[name].default


# -- progress ------------------------------------------------------------------------------
class Progress:
    """A one-line progress display on a terminal: run, iteration, objective, elapsed time.

    Called with an IterationInfo after every iteration (an estimator's ``callback``);
    redraws the line at most every ``interval`` seconds, and ``close`` draws the last
    iteration and ends the line. ``label`` names ``sign * info.lower_bound``; ``prefix``
    (settable between fits) starts the line.
    """

    def __init__(self, stream, label="log-likelihood/n", sign=1.0, fmt=" .6f",
                 interval=0.1, clock=time.perf_counter):
        self.stream, self.label, self.sign, self.fmt = stream, label, sign, fmt
        self.interval, self.clock = interval, clock
        self.prefix = ""
        self.start = clock()
        self.drawn_at = None
        self.pending = None
        self.width = 0          # the longest line drawn: a shorter one pads over it
        self.active = False

    def __call__(self, info):
        self.pending = info
        now = self.clock()
        if self.drawn_at is None or now - self.drawn_at >= self.interval:
            self._draw(now)

    def _draw(self, now):
        info, self.pending = self.pending, None
        line = (f"  {self.prefix}init {info.init}  iteration {info.n_iter:4d}  "
                f"{self.label} {self.sign * info.lower_bound:{self.fmt}}  "
                f"elapsed {now - self.start:.1f} s")
        self.width = max(self.width, len(line))
        self.stream.write(f"\r{line:<{self.width}}")
        self.stream.flush()
        self.drawn_at = now
        self.active = True

    def close(self):
        if self.pending is not None:
            self._draw(self.clock())
        if self.active:
            self.stream.write("\n")
            self.stream.flush()
            self.active = False


def progress_for(args, stream=None, **kwargs):
    """A Progress on stderr (or ``stream``) when it is a terminal and not --quiet."""
    stream = sys.stderr if stream is None else stream
    if getattr(args, "quiet", False) or not stream.isatty():
        return None
    return Progress(stream, **kwargs)


class _ProgressMonitor(ConvergenceMonitor):
    """An HMM's convergence monitor that also shows each iteration on a Progress."""

    def __init__(self, tol, n_iter, progress):
        super().__init__(tol, n_iter, False)
        self.progress = progress

    def __deepcopy__(self, memo):      # a fit copies its monitor: share the Progress
        twin = copy.copy(self)
        twin.history = deque(self.history)
        return twin

    def report(self, log_prob):
        change = log_prob - self.history[-1] if self.history else np.inf
        super().report(log_prob)
        self.progress(IterationInfo(0, self.iter, float(log_prob), float(change), 0.0))


def _fitting(fit, progress, *args):
    """fit(*args), the progress line ended however the fit ends."""
    try:
        return fit(*args)
    finally:
        if progress is not None:
            progress.close()


# -- input ---------------------------------------------------------------------------------
def _read_lengths(spec, n_rows):
    """--lengths: a comma list of integers, or a file of integers (one or more a line,
    separated by commas or spaces)."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_file():
        text, where = path.read_text(encoding="utf-8-sig"), f"{path}"
    elif all(part.strip().lstrip("+").isdigit() for part in spec.split(",")):
        text, where = spec, "--lengths"
    else:
        raise UsageError(f"--lengths {spec!r}: neither a file nor a comma list of integers")
    tokens = text.replace(",", " ").split()
    bad = [t for t in tokens if not t.lstrip("+").isdigit()]
    if bad or not tokens:
        raise UsageError(f"{where}: {bad[0]!r} is not a sequence length" if bad
                         else f"{where}: no sequence lengths")
    lengths = [int(t) for t in tokens]
    if sum(lengths) != n_rows:
        raise UsageError(f"{where}: the {len(lengths)} lengths sum to {sum(lengths)}, "
                         f"but the data has {n_rows} rows")
    return lengths


def _symbols(X, path):
    """A CategoricalHMM's integer symbols from the numbers read from ``path``."""
    if X.shape[1] != 1:
        raise UsageError(f"{path}: a CategoricalHMM reads one column of symbols, got "
                         f"{X.shape[1]} (choose one with --columns)")
    if not (np.isfinite(X).all() and (X == np.round(X)).all() and (X >= 0).all()):
        raise UsageError(f"{path}: a CategoricalHMM reads symbols 0, 1, 2, ...: every value "
                         "must be a non-negative integer")
    return X.astype(np.int64)


# -- output --------------------------------------------------------------------------------
def _save(model, names, path):
    """Save the model; mixtures and k-means keep the column names, by which predict
    selects the same columns."""
    if hasattr(model, "n_features_in_"):
        model.feature_names_in_ = np.array(names, dtype=object)
    try:
        model.save(path)
    finally:
        vars(model).pop("feature_names_in_", None)


def _finish(args, record, summary, extra_lines=()):
    """Print the summary (or with --json the record) and the lines about saved files."""
    if args.json:
        print(to_json(record))
    else:
        print(summary)
        for line in extra_lines:
            print(line)


def _not_converged(what):
    print(f"fastem: warning: {what}", file=sys.stderr)


# -- fit -----------------------------------------------------------------------------------
def _check_k(value, flag="-k"):
    if value < 1:
        raise UsageError(f"{flag} must be at least 1, got {value}")


def _mixture(args, n_components, covariance_type, callback=None):
    return GaussianMixture(n_components, covariance_type=covariance_type, tol=args.tol,
                           reg_covar=args.reg_covar, max_iter=args.max_iter,
                           n_init=args.n_init, init_params=args.init_params,
                           random_state=args.random_state, n_threads=args.n_threads,
                           callback=callback, prior=args.prior,
                           accelerate=args.accelerate)


def _plot_pair(X, names, spec):
    if not spec:
        return [0, min(1, X.shape[1] - 1)]
    _, picked = select_columns(X, names, spec)
    if len(picked) != 2:
        raise UsageError("--plot-columns takes two columns, e.g. --plot-columns 0,1")
    return [names.index(p) for p in picked]


def cmd_fit(args):
    X, names, source = read_input(args)
    _check_k(args.n_components)
    pair = _plot_pair(X, names, args.plot_columns)
    progress = progress_for(args)
    gm = _mixture(args, args.n_components, args.covariance_type, progress)
    _fitting(gm.fit, progress, X)
    gm.callback = None
    if not gm.converged_:
        _not_converged(f"EM did not converge in {gm.max_iter} iterations "
                             "(raise --max-iter or --tol)")
    record = {"command": "fit", "data": data_record(X, names, source),
              **mixture_record(gm, X), "output": args.output, "plot": args.plot}
    lines = []
    if args.output:
        _save(gm, names, args.output)
        lines.append(f"model saved to {args.output}")
    if args.plot:
        from ._plots import fit_figure, save

        save(fit_figure(gm, X, names, pair, equal_aspect=args.equal_aspect), args.plot)
        lines.append(f"plot written to {args.plot}")
    _finish(args, record, mixture_summary(gm, X, names, source), lines)
    return 0


# -- select --------------------------------------------------------------------------------
def cmd_select(args):
    from ._selection import best_index, select, table

    X, names, source = read_input(args)
    progress = progress_for(args)

    def announce(k, covariance_type):
        if progress is not None:
            progress.prefix = f"K={k} {covariance_type}  "

    result = _fitting(
        lambda: select(X, args.k_values, args.covariance_types, criterion="bic",
                       n_init=args.n_init, random_state=args.random_state, tol=args.tol,
                       reg_covar=args.reg_covar, max_iter=args.max_iter,
                       init_params=args.init_params, n_threads=args.n_threads,
                       prior=args.prior, accelerate=args.accelerate, callback=progress,
                       on_fit=announce if progress else None),
        progress)
    results = result.rows
    by_bic, by_icl = results[result.best_index_], results[best_index(results, "icl")[0]]
    gm = result.best_estimator_
    gm.callback = None
    lines = []
    if args.output:
        _save(gm, names, args.output)
        lines.append(f"best model saved to {args.output}")
    if args.plot:
        from ._plots import save, select_figure

        save(select_figure(results, source), args.plot)
        lines.append(f"plot written to {args.plot}")
    choice = {k: by_bic[k] for k in ("n_components", "covariance_type", "bic", "icl")}
    record = {"command": "select", "data": data_record(X, names, source),
              "criteria": "BIC = -2 log-likelihood + free parameters x log(rows); "
                          "ICL = BIC + 2 x classification entropy; smaller is better",
              "table": results,
              "best": {**choice, **mixture_record(gm, X)},
              "best_icl": {k: by_icl[k] for k in ("n_components", "covariance_type", "icl")},
              "output": args.output, "plot": args.plot}
    failed = [r for r in results if r["bic"] is None]
    text = [
        data_line(X, names, source),
        "BIC = -2 log-likelihood + (free parameters) log(rows): smaller is better "
        "(scikit-learn's sign; mclust's BIC is minus this)",
        "", "BIC", table(results, "bic"),
        "", "ICL = BIC + 2 x entropy of the classification: smaller is better",
        table(results, "icl"), "",
    ]
    if any(r["converged"] is False for r in results):
        text.append("* did not converge within --max-iter iterations")
    degenerate = [r for r in results if r["degenerate"]]
    if degenerate:
        text.append(f"degenerate ({len(degenerate)}, a component on fewer than n_features + 1 "
                    f"points; never chosen), e.g. K={degenerate[0]['n_components']} "
                    f"{degenerate[0]['covariance_type']}")
    if failed:
        text.append(f"- the fit failed ({len(failed)}), e.g. K={failed[0]['n_components']} "
                    f"{failed[0]['covariance_type']}: {failed[0]['error']}")
    text += [
        f"best by BIC: K={by_bic['n_components']}, {by_bic['covariance_type']} "
        f"(BIC {by_bic['bic']:.3f})",
        f"best by ICL: K={by_icl['n_components']}, {by_icl['covariance_type']} "
        f"(ICL {by_icl['icl']:.3f})",
        "", "the best model by BIC:",
        mixture_summary(gm, X, names, source),
    ]
    _finish(args, record, "\n".join(text), lines)
    return 0


# -- kmeans --------------------------------------------------------------------------------
def cmd_kmeans(args):
    X, names, source = read_input(args)
    _check_k(args.n_clusters)
    progress = progress_for(args, label="inertia", sign=-1.0, fmt=".6g")
    km = KMeans(args.n_clusters, init=args.init, n_init=args.n_init,
                max_iter=args.max_iter, tol=args.tol, random_state=args.random_state,
                n_threads=args.n_threads, callback=progress)
    _fitting(km.fit, progress, X)
    km.callback = None
    record = {"command": "kmeans", "data": data_record(X, names, source),
              **kmeans_record(km), "output": args.output}
    lines = []
    if args.output:
        _save(km, names, args.output)
        lines.append(f"model saved to {args.output}")
    _finish(args, record, kmeans_summary(km, X, names, source), lines)
    return 0


# -- hmm fit -------------------------------------------------------------------------------
def cmd_hmm_fit(args):
    X, names, source = read_input(args)
    _check_k(args.n_components)
    lengths = _read_lengths(args.lengths, X.shape[0])
    settings = dict(n_iter=args.n_iter, tol=args.tol, random_state=args.random_state,
                    n_threads=args.n_threads)
    if args.categorical:
        X = _symbols(X, source)
        model = CategoricalHMM(args.n_components, **settings)
    else:
        model = GaussianHMM(args.n_components, covariance_type=args.covariance_type,
                            **settings)
    progress = progress_for(args, label="log-likelihood", fmt=".4f")
    if progress is not None:
        model.monitor_ = _ProgressMonitor(args.tol, args.n_iter, progress)
    _fitting(model.fit, progress, X, lengths)
    fitted = model.monitor_
    model.monitor_ = ConvergenceMonitor(fitted.tol, fitted.n_iter, False)
    model.monitor_.history, model.monitor_.iter = deque(fitted.history), fitted.iter
    if not hmm_converged(model):
        _not_converged(f"Baum-Welch stopped at --n-iter {model.n_iter} before the "
                             f"log-likelihood gained less than --tol {model.tol:g}")
    record = {"command": "hmm fit", "data": data_record(X, names, source),
              "lengths": lengths or [X.shape[0]], **hmm_record(model, X, lengths),
              "output": args.output}
    lines = []
    if args.output:
        _save(model, names, args.output)
        lines.append(f"model saved to {args.output}")
    _finish(args, record, hmm_summary(model, X, lengths, names, source), lines)
    return 0


# -- predict -------------------------------------------------------------------------------
def _n_features(model):
    """Columns the model reads: n_features_in_, a Gaussian HMM's means_, or 1 symbol."""
    if hasattr(model, "n_features_in_"):
        return model.n_features_in_
    return model.means_.shape[1] if hasattr(model, "means_") else 1


def cmd_predict(args):
    from . import load

    model_path = Path(args.model)
    if not model_path.is_file():
        raise UsageError(f"no such model file: {model_path}")
    model = load(model_path)      # ModelFileError: one line naming the file and the member
    X, names, source = read_input(args)
    trained = getattr(model, "feature_names_in_", None)
    if not args.columns and trained is not None and set(trained) <= set(names):
        X, names = select_columns(X, names, ",".join(trained))
    elif X.shape[1] != _n_features(model):
        raise UsageError(f"{source} has {X.shape[1]} columns, the model expects "
                         f"{_n_features(model)}" + ("" if args.columns else
                                                    " (choose them with --columns)"))
    vars(model).pop("feature_names_in_", None)   # the columns are chosen: X is an array
    hmm = isinstance(model, (GaussianHMM, CategoricalHMM))
    if isinstance(model, CategoricalHMM):
        X = _symbols(X, source)
    if args.lengths is not None and not hmm:
        raise UsageError(f"--lengths is for hidden Markov models; a "
                         f"{type(model).__name__} reads independent rows")
    lengths = _read_lengths(args.lengths, X.shape[0]) if hmm else None
    if args.proba:   # an HMM: the posterior probabilities of its states
        if not hasattr(model, "predict_proba"):
            raise UsageError(f"--proba needs a Gaussian mixture or an HMM; a "
                             f"{type(model).__name__} gives labels only")
        out = model.predict_proba(X, lengths) if hmm else model.predict_proba(X)
        header = [f"p{j}" for j in range(out.shape[1])]
        rows = [[f"{v:.6g}" for v in row] for row in out]
    elif args.score:
        if hmm:      # one log-likelihood per sequence: an HMM's rows are not independent
            bounds = np.cumsum([0, *(lengths or [X.shape[0]])])
            out = [model.score(X[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        elif hasattr(model, "score_samples"):
            out = model.score_samples(X)
        else:
            raise UsageError(f"--score needs a Gaussian mixture or an HMM; a "
                             f"{type(model).__name__} has no likelihood")
        header = ["log_likelihood"]
        rows = [[f"{v:.10g}"] for v in out]
    else:            # an HMM's most likely state at each row (Viterbi)
        out = model.predict(X, lengths) if hmm else model.predict(X)
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
        print(f"{len(rows)} {'scores' if args.score else 'predictions'} written to "
              f"{args.output}")
    return 0


def cmd_config(args):
    from . import show_config

    show_config()
    return 0


# -- the parser ----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is one line on stderr (and exit code 2)."""

    def error(self, message):
        self.exit(2, f"fastem: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default (as ArgumentDefaultsHelpFormatter's),
    but for flags, options without a default, and help that already names it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.option_strings and action.nargs != 0 and "default" not in text
                and action.default is not None and action.default is not argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def _int_or_auto(text):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer, got {text!r}") \
            from None


def _k_values(text):
    """'1-9' or '2,3,5' (or a mix, '1-3,6'): the numbers of components to compare."""
    values = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            values.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 1-9 or 2,3,5, got {text!r}") \
            from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"numbers of components must be at least 1, got "
                                         f"{text!r}")
    return sorted(set(values))


def _covariance_types(text):
    types = [t.strip() for t in text.split(",")]
    unknown = [t for t in types if t not in COVARIANCE_TYPES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown covariance type {unknown[0]!r} (choose "
                                         f"from {', '.join(COVARIANCE_TYPES)})")
    return list(dict.fromkeys(types))


def _option(p, cls, name, *flags, **kwargs):
    """An option setting the parameter ``name`` of ``cls``, with the class's default."""
    p.add_argument(*(flags or [f"--{name.replace('_', '-')}"]), dest=name,
                   default=library_default(cls, name), **kwargs)


_SEED_HELP = ("seed of the random initialisation; give one for reproducible results "
              "(default: None, a different start each run)")
_THREADS_HELP = ("threads for the kernels; results are identical for any number "
                 "(default: None, all cores)")


def _common_output(p, what="fit"):
    p.add_argument("--output", help="save the model to this .npz file")
    p.add_argument("--json", action="store_true",
                   help=f"print the {what} as one JSON object instead of text")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress line (shown only when stderr is a terminal)")


def _mixture_options(p):
    _option(p, GaussianMixture, "tol", type=float,
            help="stop when the mean log-likelihood per row gains less than this")
    _option(p, GaussianMixture, "reg_covar", type=float,
            help="added to the covariances' diagonal, keeping them positive definite")
    _option(p, GaussianMixture, "max_iter", type=int, help="EM iterations per run, at most")
    _option(p, GaussianMixture, "n_init", type=int, help="runs from different starts; the "
                                                         "best is kept")
    _option(p, GaussianMixture, "init_params",
            choices=["kmeans", "k-means++", "random", "random_from_data", "hierarchical",
                     "auto"],
            help="how each run starts")
    _option(p, GaussianMixture, "random_state", type=int, help=_SEED_HELP)
    _option(p, GaussianMixture, "n_threads", type=int, help=_THREADS_HELP)
    p.add_argument("--accelerate", choices=["squarem"], default=None,
                   help="accelerate EM with SQUAREM (default: none, plain EM)")
    p.add_argument("--prior", choices=["default"], default=None,
                   help="fit by maximum a posteriori with mclust's default conjugate prior "
                        "(priorControl()) instead of maximum likelihood (default: none)")


def _sub(sub, name, **kwargs):
    return sub.add_parser(name, formatter_class=_HelpFormatter, **kwargs)


def parser():
    p = _Parser(prog="fastem", formatter_class=_HelpFormatter,
                description="Fast EM for Gaussian mixtures, k-means and hidden Markov "
                            "models. Plain `fastem` is `fastem fit` on the bundled Old "
                            "Faithful data; `fastem COMMAND --help` shows each command's "
                            "options and defaults (those of the library's estimators).")
    p.add_argument("--version", action="version", version=f"fastem {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    fit = _sub(sub, "fit", help="fit a Gaussian mixture and print it",
               description="Fit a Gaussian mixture (fastem.GaussianMixture) and print its "
                           "parameters, log-likelihood, BIC and AIC.")
    add_input_arguments(fit, optional=True)
    _option(fit, GaussianMixture, "n_components", "-k", "--n-components", type=int, metavar="K",
            help="number of components")
    _option(fit, GaussianMixture, "covariance_type", choices=COVARIANCE_TYPES,
            help="the components' covariance matrices")
    _mixture_options(fit)
    _common_output(fit)
    fit.add_argument("--plot", help="draw the data with the components, and the "
                                    "log-likelihood per iteration, to this image file")
    fit.add_argument("--plot-columns", help="the two columns to draw (default: the first "
                                            "two)")
    fit.add_argument("--equal-aspect", action="store_true",
                     help="draw both columns to the same scale (for columns in the same "
                          "units)")
    fit.set_defaults(run=cmd_fit)

    sel = _sub(sub, "select", help="compare mixtures by BIC and ICL over K and covariance "
                                   "types",
               description="Fit a Gaussian mixture for every number of components and "
                           "covariance type, print tables of BIC and ICL (smaller is better: "
                           "scikit-learn's sign, mclust's is the opposite) and the best "
                           "model by BIC. ICL = BIC + 2 x the entropy of the classification "
                           "(-sum of p log p over rows and components).")
    add_input_arguments(sel, optional=True)
    sel.add_argument("-k", "--n-components", dest="k_values", type=_k_values, metavar="K",
                     default=SELECT_K, help="numbers of components: a range, a list, or both "
                                            "(1-3,6)")
    sel.add_argument("--covariance-types", type=_covariance_types,
                     default=",".join(COVARIANCE_TYPES), help="covariance types to compare")
    _mixture_options(sel)
    _common_output(sel, "table and the best model")
    sel.add_argument("--plot", help="draw BIC against K for each covariance type to this "
                                    "image file")
    sel.set_defaults(run=cmd_select)

    km = _sub(sub, "kmeans", help="k-means clustering",
              description="k-means (fastem.KMeans, Lloyd's algorithm): print the centers, "
                          "the inertia and the iterations.")
    add_input_arguments(km, optional=True)
    _option(km, KMeans, "n_clusters", "-k", "--n-clusters", type=int, metavar="K",
            help="number of clusters")
    _option(km, KMeans, "init", choices=["k-means++", "random"], help="how each run starts")
    _option(km, KMeans, "n_init", type=_int_or_auto, help="runs from different starts "
                                                           "('auto': 1 for k-means++, else 10)")
    _option(km, KMeans, "max_iter", type=int, help="iterations per run, at most")
    _option(km, KMeans, "tol", type=float, help="stop when the centers move less than this, "
                                                "relative to the data's variance")
    _option(km, KMeans, "random_state", type=int, help=_SEED_HELP)
    _option(km, KMeans, "n_threads", type=int, help=_THREADS_HELP)
    _common_output(km)
    km.set_defaults(run=cmd_kmeans)

    hmm = _sub(sub, "hmm", help="hidden Markov models (fastem hmm fit --help)",
               description="Hidden Markov models: `fastem hmm fit`.")
    hmm_sub = hmm.add_subparsers(dest="hmm_command", metavar="COMMAND", required=True)
    hfit = _sub(hmm_sub, "fit", help="fit a hidden Markov model and print it",
                description="Fit a GaussianHMM (or with --categorical a CategoricalHMM, one "
                            "column of symbols 0, 1, 2, ...) by Baum-Welch and print it. The "
                            "rows are one sequence, or several given by --lengths.")
    add_input_arguments(hfit, optional=True)
    _option(hfit, GaussianHMM, "n_components", "-k", "--n-components", type=int, metavar="K",
            help="number of hidden states")
    hfit.add_argument("--lengths", help="lengths of the sequences, in order: a comma list "
                                        "(100,172) or a file of integers (default: one "
                                        "sequence)")
    hfit.add_argument("--categorical", action="store_true",
                      help="categorical emissions (CategoricalHMM) instead of Gaussian")
    _option(hfit, GaussianHMM, "covariance_type", choices=COVARIANCE_TYPES,
            help="the states' covariance matrices (Gaussian emissions)")
    _option(hfit, GaussianHMM, "n_iter", type=int, help="Baum-Welch iterations, at most")
    _option(hfit, GaussianHMM, "tol", type=float,
            help="stop when the log-likelihood gains less than this")
    _option(hfit, GaussianHMM, "random_state", type=int, help=_SEED_HELP)
    _option(hfit, GaussianHMM, "n_threads", type=int, help=_THREADS_HELP)
    _common_output(hfit)
    hfit.set_defaults(run=cmd_hmm_fit)

    pred = _sub(sub, "predict", help="labels, probabilities or log-likelihoods from a saved "
                                     "model",
                description="Predict with a model saved by --output: a mixture's or "
                            "k-means' label for each row, or an HMM's most likely state at "
                            "each row (Viterbi). --score: a mixture's log-likelihood of each "
                            "row; an HMM's rows are not independent, so its score is one "
                            "log-likelihood per sequence (the file is one sequence unless "
                            "--lengths says otherwise).")
    pred.add_argument("model", help="a model saved by fastem (fit, kmeans, hmm fit --output)")
    add_input_arguments(pred)
    what = pred.add_mutually_exclusive_group()
    what.add_argument("--proba", action="store_true",
                      help="write the posterior probabilities (mixtures, HMMs)")
    what.add_argument("--score", action="store_true",
                      help="write log-likelihoods: per row (mixtures), per sequence (HMMs)")
    pred.add_argument("--lengths", help="an HMM's sequence lengths, as for hmm fit (default: "
                                        "one sequence)")
    pred.add_argument("--output", help="write CSV here instead of standard output")
    pred.set_defaults(run=cmd_predict)

    conf = _sub(sub, "config", help="print the build configuration")
    conf.set_defaults(run=cmd_config)
    return p


COMMANDS = ("fit", "select", "kmeans", "hmm", "predict", "config")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = ["fit", *argv]
    args = parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            # the summaries say whether a fit converged: no multi-line Python warning
            warnings.simplefilter("ignore", ConvergenceWarning)
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
