"""Gaussian mixture parameters: translation to kernel arguments, and the M-step.

Everything here is O(K * D^3) at most; the only pass over the data is the kernel's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._engine import MAX_SHRINK
from .._kernels import _gaussian

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
COV_CODE = {
    "full": _gaussian.FULL,
    "tied": _gaussian.TIED,
    "diag": _gaussian.DIAG,
    "spherical": _gaussian.SPHERICAL,
}
_EPS10 = 10 * np.finfo(np.float64).eps
_LOG_2PI = np.log(2 * np.pi)


@dataclass
class GaussianParams:
    """Mixture parameters; precisions_cholesky holds upper-triangular factors."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray | None
    precisions_cholesky: np.ndarray
    covariance_type: str


def classification_entropy(proba):
    """-sum p log p over rows and components of posterior probabilities (0 log 0 = 0)."""
    p = np.asarray(proba, dtype=np.float64)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return float(-(p * logs).sum())


def cov_shape(covariance_type, n_components, n_features):
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def _singular(component, reg_covar):
    where = "the tied covariance" if component is None else f"component {component}"
    return ValueError(
        "Fitting the mixture model failed because some components have ill-defined "
        "empirical covariance (for instance caused by singleton or collapsed samples). "
        "Try to decrease the number of components, increase reg_covar, or scale the input "
        f"data. (The covariance of {where} is not positive definite; reg_covar is now "
        f"{reg_covar:g}.)"
    )


def _upper_factor_of_inverse(matrices):
    """Upper-triangular P with P P^T = inv(S), for a stack of SPD S (as scikit-learn).

    Raises np.linalg.LinAlgError when some S is not positive definite."""
    lower = np.linalg.cholesky(matrices)
    inv_lower = np.tril(np.linalg.inv(lower))
    return np.ascontiguousarray(np.swapaxes(inv_lower, -1, -2))


def _first_failing(matrices):
    for k, m in enumerate(matrices):
        try:
            np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            return k
    return None


def precision_cholesky_from_covariances(covariances, covariance_type, reg_covar=0.0):
    """Upper Cholesky factors of the precisions; ValueError naming a singular component."""
    if covariance_type in ("full", "tied"):
        stack = covariances if covariance_type == "full" else covariances[None]
        if not np.all(np.isfinite(stack)):
            bad = np.flatnonzero(~np.isfinite(stack).all(axis=(1, 2)))[0]
            raise _singular(None if covariance_type == "tied" else int(bad), reg_covar)
        try:
            factors = _upper_factor_of_inverse(stack)
        except np.linalg.LinAlgError:
            k = _first_failing(stack)
            raise _singular(None if covariance_type == "tied" else k, reg_covar) from None
        return factors if covariance_type == "full" else factors[0]
    bad = ~(covariances > 0) | ~np.isfinite(covariances)
    if bad.any():
        k = int(np.argwhere(bad)[0][0])
        raise _singular(k, reg_covar)
    return 1.0 / np.sqrt(covariances)


def precision_cholesky_from_precisions(precisions, covariance_type):
    """Upper factors P with P P^T = precision, from user-given precisions."""
    if covariance_type in ("full", "tied"):
        stack = precisions if covariance_type == "full" else precisions[None]
        # P = J chol(J A J) J is upper triangular with P P^T = A (J reverses the order).
        flipped = stack[:, ::-1, ::-1]
        factors = np.ascontiguousarray(np.linalg.cholesky(flipped)[:, ::-1, ::-1])
        return factors if covariance_type == "full" else factors[0]
    return np.sqrt(precisions)


def precisions_from_cholesky(prec_chol, covariance_type):
    if covariance_type == "full":
        return prec_chol @ np.swapaxes(prec_chol, -1, -2)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def covariances_from_precisions(precisions, covariance_type):
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(precisions)
    return 1.0 / precisions


def kernel_arguments(params, dtype):
    """Means, flat precision factors and per-component log normalisers for the kernel.

    For float32 data the kernel works with float32 copies of the means and factors; the
    normalisers use those same rounded factors so the density stays consistent."""
    d = params.means.shape[1]
    means = np.ascontiguousarray(params.means, dtype=dtype)
    prec = np.ascontiguousarray(params.precisions_cholesky, dtype=dtype)
    used = prec.astype(np.float64)
    ct = params.covariance_type
    if ct == "full":
        log_det = np.log(np.diagonal(used, axis1=1, axis2=2)).sum(axis=1)
    elif ct == "tied":
        log_det = np.full(means.shape[0], np.log(np.diag(used)).sum())
    elif ct == "diag":
        log_det = np.log(used).sum(axis=1)
    else:
        log_det = d * np.log(used)
    with np.errstate(divide="ignore"):
        log_norm = np.log(params.weights) + log_det - 0.5 * d * _LOG_2PI
    return means, prec.reshape(-1), np.ascontiguousarray(log_norm, dtype=np.float64)


def _zero_stats(code, k, d):
    """(nk, s1, s2) accumulators for the kernels' statistics."""
    return np.zeros(k), np.zeros((k, d)), np.zeros(_gaussian.stats_size(code, k, d))


def _run_kernel(X, sample_weight, means, prec, log_norm, covariance_type, *, n_threads,
                want_stats, resp_in=None, resp_out=None, lse_out=None, logp_out=None):
    k, d = means.shape
    code = COV_CODE[covariance_type]
    nk, s1, s2 = _zero_stats(code, k, d)
    empty2 = np.empty((0, 0))
    loglik = _gaussian.gaussian_pass(
        X,
        np.empty(0) if sample_weight is None else sample_weight,
        means, prec, log_norm, code,
        empty2 if resp_in is None else resp_in,
        empty2 if resp_out is None else resp_out,
        np.empty(0) if lse_out is None else lse_out,
        empty2 if logp_out is None else logp_out,
        nk, s1, s2, want_stats, n_threads,
    )
    return loglik, nk, s1, s2


def e_pass(X, sample_weight, params, *, n_threads, want_stats=False, resp_out=None,
           lse_out=None):
    """The fused E pass at ``params``: returns (loglik_sum, nk, s1, s2, shift).

    The moments are about ``shift``, the means as the kernel saw them (rounded to the
    dtype of X), which is what params_from_stats needs."""
    means, prec, log_norm = kernel_arguments(params, X.dtype)
    loglik, nk, s1, s2 = _run_kernel(
        X, sample_weight, means, prec, log_norm, params.covariance_type,
        n_threads=n_threads, want_stats=want_stats, resp_out=resp_out, lse_out=lse_out,
    )
    return loglik, nk, s1, s2, means.astype(np.float64)


def log_densities(X, params, out, *, n_threads):
    """out[n, k] = log weights[k] + log N(x_n | means[k], covariance k), one pass over X.

    With unit weights these are the emission log-probabilities of a Gaussian HMM."""
    means, prec, log_norm = kernel_arguments(params, X.dtype)
    _run_kernel(X, None, means, prec, log_norm, params.covariance_type,
                n_threads=n_threads, want_stats=False, logp_out=out)
    return out


def responsibility_stats(X, sample_weight, resp, shift, covariance_type, *, n_threads):
    """(nk, s1, s2) for given responsibilities resp (rows of X), moments about shift."""
    k, d = shift.shape
    means = np.ascontiguousarray(shift, dtype=X.dtype)
    prec = np.zeros(_gaussian.stats_size(COV_CODE[covariance_type], k, d) or 1, dtype=X.dtype)
    _, nk, s1, s2 = _run_kernel(
        X, sample_weight, means, prec, np.zeros(k), covariance_type,
        n_threads=n_threads, want_stats=True, resp_in=np.ascontiguousarray(resp),
    )
    return nk, s1, s2


def labelled_stats(X, sample_weight, labels, shift, covariance_type, *, n_threads):
    """(nk, s1, s2) for responsibilities one-hot at ``labels``, moments about shift."""
    k, d = shift.shape
    code = COV_CODE[covariance_type]
    nk, s1, s2 = _zero_stats(code, k, d)
    _gaussian.labelled_stats(
        X, np.empty(0) if sample_weight is None else sample_weight,
        np.ascontiguousarray(labels, dtype=np.intc),
        np.ascontiguousarray(shift, dtype=X.dtype), code, nk, s1, s2, n_threads)
    return nk, s1, s2


def unpack_symmetric(packed, d):
    """Symmetric d x d matrices from packed upper triangles (row by row), batched."""
    rows, cols = np.triu_indices(d)
    out = np.zeros(packed.shape[:-1] + (d, d))
    out[..., rows, cols] = packed
    out[..., cols, rows] = packed
    return out


def pack_upper(matrices):
    """Packed upper triangles (row by row) of symmetric d x d matrices, batched."""
    d = matrices.shape[-1]
    rows, cols = np.triu_indices(d)
    return matrices[..., rows, cols]


def params_from_stats(nk, s1, s2, shift, reg_covar, covariance_type, prior=None):
    """M-step: parameters from moments about ``shift``.

    mu = shift + s1/nk and Sigma = s2/nk - delta delta^T + reg_covar I, with nk padded by
    10 machine epsilons as scikit-learn does, so an empty component stays finite. With a
    ``prior`` (a ResolvedPrior), the posterior mode from the same moments instead."""
    k, d = s1.shape
    padded = nk + _EPS10
    delta = s1 / padded[:, None]
    means = shift + delta
    if covariance_type in ("full", "tied"):
        second = unpack_symmetric(s2.reshape(k, -1) if covariance_type == "full" else s2, d)
    else:
        second = s2.reshape(k, d)
    if prior is not None:
        # scatter matrices about the component means (the kernels sum the tied ones)
        if covariance_type == "full":
            scatter = second - padded[:, None, None] * delta[:, :, None] * delta[:, None, :]
        elif covariance_type == "tied":
            scatter = second - (padded[:, None] * delta).T @ delta
        else:
            scatter = second - padded[:, None] * delta**2
        weights, means, cov = prior.posterior_mode(nk, means, scatter, reg_covar)
    else:
        if covariance_type == "full":
            cov = second / padded[:, None, None] - delta[:, :, None] * delta[:, None, :]
            cov += reg_covar * np.eye(d)
        elif covariance_type == "tied":
            cov = (second - (padded[:, None] * delta).T @ delta) / padded.sum()
            cov += reg_covar * np.eye(d)
        else:
            cov = second / padded[:, None] - delta**2 + reg_covar
            if covariance_type == "spherical":
                cov = cov.mean(axis=1)
        weights = padded / padded.sum()
    prec_chol = precision_cholesky_from_covariances(cov, covariance_type, reg_covar)
    return GaussianParams(weights, means, cov, prec_chol, covariance_type)


# -- unconstrained coordinates (SQUAREM extrapolates in them) ---------------------------
_TINY = np.finfo(np.float64).tiny


def pack_unconstrained(params, weights=True):
    """One vector: log(w_k / w_K) for k < K, the means, and the covariances as lower
    Cholesky factors with the log of their diagonal (log variances for diag and
    spherical). Every vector of that length is valid parameters (unpack_unconstrained).
    weights=False leaves the weights out (a hidden Markov model's emissions)."""
    ct = params.covariance_type
    logw = np.log(np.maximum(params.weights, _TINY))
    parts = [logw[:-1] - logw[-1]] if weights else []
    parts.append(params.means.ravel())
    cov = params.covariances
    if ct in ("full", "tied"):
        lower = np.linalg.cholesky(cov if ct == "full" else cov[None])
        d = lower.shape[-1]
        rows, cols = np.tril_indices(d, -1)
        diag = np.log(np.diagonal(lower, axis1=1, axis2=2))
        parts += [lower[:, rows, cols].ravel(), diag.ravel()]
    else:
        parts.append(np.log(cov).ravel())
    return np.concatenate(parts)


def unpack_unconstrained(vector, like, reg_covar=0.0, weights=True):
    """GaussianParams from pack_unconstrained's coordinates (shapes from ``like``)."""
    ct = like.covariance_type
    k, d = like.means.shape
    at = k - 1 if weights else 0
    logits = np.concatenate([vector[:at], [0.0]])
    w = np.exp(logits - logits.max())
    means = vector[at:at + k * d].reshape(k, d)
    at += k * d
    if ct in ("full", "tied"):
        m = k if ct == "full" else 1
        n_off = d * (d - 1) // 2
        lower = np.zeros((m, d, d))
        rows, cols = np.tril_indices(d, -1)
        lower[:, rows, cols] = vector[at:at + m * n_off].reshape(m, n_off)
        at += m * n_off
        idx = np.arange(d)
        lower[:, idx, idx] = np.exp(vector[at:at + m * d].reshape(m, d))
        cov = lower @ np.swapaxes(lower, 1, 2)
        cov = cov if ct == "full" else cov[0]
    else:
        cov = np.exp(vector[at:].reshape(like.covariances.shape))
    if not (np.isfinite(means).all() and np.isfinite(cov).all() and np.isfinite(w).all()):
        raise FloatingPointError("the extrapolated parameters are not finite")
    prec_chol = precision_cholesky_from_covariances(cov, ct, reg_covar)
    if weights:
        w = w / w.sum()
        if (w < MAX_SHRINK * like.weights).any():
            raise FloatingPointError("an extrapolated weight is too small")
    else:
        w = like.weights.copy()
    return GaussianParams(w, means.copy(), cov, prec_chol, ct)


def n_parameters(covariance_type, n_components, n_features):
    k, d = n_components, n_features
    cov = {
        "full": k * d * (d + 1) / 2.0,
        "tied": d * (d + 1) / 2.0,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return int(cov + k * d + k - 1)
