"""What the command line prints about a fitted model: text summaries and JSON records."""

from __future__ import annotations

import json
import math

import numpy as np


def _vector(values, fmt=".4f"):
    return ", ".join(f"{v:{fmt}}" for v in np.ravel(values))


def _matrix(rows, fmt=".4f"):
    return "; ".join(_vector(row, fmt) for row in np.atleast_2d(rows))


def data_line(X, names, source, more=""):
    missing = int(np.isnan(X).sum())
    return (f"data: {source} ({X.shape[0]} rows; columns {', '.join(names)}"
            + (f"; {missing} missing entries" if missing else "") + more + ")")


def data_record(X, names, source):
    return {"source": source, "rows": int(X.shape[0]), "columns": list(names),
            "missing": int(np.isnan(X).sum())}


def log_likelihood(gm, X):
    """The mixture's total log-likelihood of X (score is the mean per row)."""
    return float(gm.score(X)) * X.shape[0]


# -- Gaussian mixtures ---------------------------------------------------------------------
def mixture_summary(gm, X, names, source):
    lines = [
        data_line(X, names, source),
        f"model: {gm.n_components}-component Gaussian mixture, "
        f"covariance_type={gm.covariance_type!r}"
        + ("" if gm.prior is None else ", MAP estimates (conjugate prior)"),
        f"log-likelihood {log_likelihood(gm, X):.3f}   BIC {gm.bic(X):.3f}   "
        f"AIC {gm.aic(X):.3f}   iterations {gm.n_iter_}   converged {gm.converged_}",
    ]
    for j in np.argsort(gm.means_[:, 0]):
        lines.append(f"  component {j}: weight {gm.weights_[j]:.4f}  "
                     f"mean ({_vector(gm.means_[j])})")
        if gm.covariance_type == "full":
            lines.append(f"    covariance [{_matrix(gm.covariances_[j])}]")
        elif gm.covariance_type in ("diag", "spherical"):
            variance = np.array2string(np.atleast_1d(gm.covariances_[j]), precision=4)
            lines.append(f"    variance {variance}")
    if gm.covariance_type == "tied":
        lines.append(f"  tied covariance [{_matrix(gm.covariances_)}]")
    return "\n".join(lines)


def mixture_record(gm, X):
    return {
        "model": "GaussianMixture",
        "params": params_record(gm),
        "log_likelihood": log_likelihood(gm, X),
        "bic": float(gm.bic(X)),
        "aic": float(gm.aic(X)),
        "n_iter": int(gm.n_iter_),
        "converged": bool(gm.converged_),
        "weights": gm.weights_,
        "means": gm.means_,
        "covariances": gm.covariances_,
    }


# -- k-means -------------------------------------------------------------------------------
def kmeans_summary(km, X, names, source):
    sizes = np.bincount(km.labels_, minlength=km.n_clusters)
    lines = [
        data_line(X, names, source),
        f"model: k-means with {km.n_clusters} clusters, init={km.init!r}",
        f"inertia {km.inertia_:.6g}   iterations {km.n_iter_} (max_iter {km.max_iter})",
    ]
    for j in np.argsort(km.cluster_centers_[:, 0]):
        lines.append(f"  cluster {j}: {sizes[j]} rows  "
                     f"center ({_vector(km.cluster_centers_[j])})")
    return "\n".join(lines)


def kmeans_record(km):
    return {
        "model": "KMeans",
        "params": params_record(km),
        "inertia": float(km.inertia_),
        "n_iter": int(km.n_iter_),
        "cluster_sizes": np.bincount(km.labels_, minlength=km.n_clusters),
        "cluster_centers": km.cluster_centers_,
    }


# -- hidden Markov models ------------------------------------------------------------------
def hmm_converged(model):
    """Whether the last iteration gained less than tol. hmmlearn's monitor_.converged is
    also True when the fit merely ran out of iterations (n_iter), which is not this."""
    history = model.monitor_.history
    return len(history) >= 2 and history[-1] - history[-2] < model.monitor_.tol


def _hmm_emission_lines(model, j):
    if hasattr(model, "emissionprob_"):
        return [f"    emission probabilities ({_vector(model.emissionprob_[j])})"]
    lines = [f"    mean ({_vector(model.means_[j])})"]
    covars = model.covars_[j]
    if model.covariance_type in ("full", "tied"):
        lines.append(f"    covariance [{_matrix(covars)}]")
    else:
        lines.append(f"    variance ({_vector(np.diag(covars))})")
    return lines


def hmm_summary(model, X, lengths, names, source):
    n_sequences = 1 if lengths is None else len(lengths)
    kind = ("categorical emissions" if hasattr(model, "emissionprob_")
            else f"Gaussian emissions, covariance_type={model.covariance_type!r}")
    lines = [
        data_line(X, names, source, f"; {n_sequences} sequence"
                  + ("s" if n_sequences > 1 else "")),
        f"model: {model.n_components}-state hidden Markov model, {kind}",
        f"log-likelihood {model.score(X, lengths):.3f}   BIC {model.bic(X, lengths):.3f}   "
        f"AIC {model.aic(X, lengths):.3f}   iterations {model.monitor_.iter} "
        f"(n_iter {model.n_iter})   converged {hmm_converged(model)}",
    ]
    for j in range(model.n_components):
        lines.append(f"  state {j}: start probability {model.startprob_[j]:.4f}  "
                     f"transitions ({_vector(model.transmat_[j])})")
        lines.extend(_hmm_emission_lines(model, j))
    return "\n".join(lines)


def hmm_record(model, X, lengths):
    record = {
        "model": type(model).__name__,
        "params": params_record(model),
        "log_likelihood": float(model.score(X, lengths)),
        "bic": float(model.bic(X, lengths)),
        "aic": float(model.aic(X, lengths)),
        "n_iter": int(model.monitor_.iter),
        "converged": hmm_converged(model),
        "startprob": model.startprob_,
        "transmat": model.transmat_,
    }
    if hasattr(model, "emissionprob_"):
        record["emissionprob"] = model.emissionprob_
    else:
        record["means"] = model.means_
        record["covars"] = model.covars_
    return record


# -- JSON ----------------------------------------------------------------------------------
def params_record(model):
    """The model's parameters that JSON can hold (not callbacks)."""
    return {name: value for name, value in model.get_params().items()
            if not callable(value)}


def _plain(value):
    """value with numpy arrays and scalars as lists and numbers; non-finite floats as
    None (JSON has no NaN or infinity)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)          # e.g. a RandomState given as random_state


def to_json(record):
    return json.dumps(_plain(record), indent=2)
