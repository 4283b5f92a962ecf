"""Missing values (NaN) in Gaussian mixtures: patterns, per-pattern parameters, E pass.

Rows are grouped by which entries they observe. For each pattern and component one
Cholesky factorisation of Sigma_oo gives the marginal density of the observed entries,
the conditional mean of the missing ones (mu_m + B (x_o - mu_o), B = Sigma_mo Sigma_oo^-1)
and their conditional covariance C = Sigma_mm - B Sigma_om (Ghahramani & Jordan, 1994).
The kernel accumulates the moments of the completed rows; C enters here, weighted by the
responsibility each (pattern, component) received.
"""

from __future__ import annotations

import numpy as np

from .._kernels import _gaussian
from .._sources import row_pieces
from ._gaussian import _LOG_2PI, COV_CODE, _zero_stats, pack_upper

_CHUNK_ROWS = 1 << 14
_BATCH_CELLS = 1 << 20  # parameter entries per kernel call (bounds memory for many patterns)


class MissingPatterns:
    """The rows of X grouped by their pattern of missing entries.

    Attributes: ``masks`` (P, d) True where missing, ``order`` the rows with at least one
    observed entry sorted by pattern, ``seg`` (P + 1,) pattern boundaries in ``order``,
    ``empty_rows`` the rows with nothing observed.
    """

    def __init__(self, X, *, for_fit=True):
        n, d = X.shape
        width = (d + 7) // 8
        packed = np.empty((n, width), dtype=np.uint8)
        for lo in range(0, n, _CHUNK_ROWS):
            packed[lo:lo + _CHUNK_ROWS] = np.packbits(np.isnan(X[lo:lo + _CHUNK_ROWS]), axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()
        del packed
        unique, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        masks = np.unpackbits(unique.view(np.uint8).reshape(-1, width), axis=1,
                              count=d).astype(bool)
        counts = np.bincount(inverse, minlength=len(masks))
        missing_per_column = counts @ masks
        full = np.flatnonzero(missing_per_column == n)
        if for_fit and len(full):
            raise ValueError(f"column {int(full[0])} of X is entirely missing (NaN); drop it "
                             "before fitting")
        all_missing = np.flatnonzero(masks.all(axis=1))
        order = np.argsort(inverse, kind="stable")
        if len(all_missing):
            (empty_id,) = all_missing
            self.empty_rows = np.flatnonzero(inverse == empty_id)
            order = order[inverse[order] != empty_id]
            keep = np.arange(len(masks)) != empty_id
            masks, counts = masks[keep], counts[keep]
        else:
            self.empty_rows = np.empty(0, dtype=np.intp)
        self.masks = masks
        self.columns = PatternColumns(masks)
        self.order = np.ascontiguousarray(order, dtype=np.intp)
        self.seg = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        self.n_features = d

    @property
    def n_patterns(self):
        return len(self.masks)

    def batches(self, n_components):
        """Contiguous ranges of patterns whose parameters (at most K d^2 entries each)
        fit one kernel call."""
        d = self.n_features
        size = max(1, _BATCH_CELLS // (n_components * d * d))
        for start in range(0, max(self.n_patterns, 1), size):
            yield start, min(start + size, self.n_patterns)


class PatternColumns:
    """The observed and missing columns of patterns ``masks`` (P, d), pattern after
    pattern, as the kernels read them: ``obs_idx[obs_start[p]:obs_start[p + 1]]`` are
    pattern p's observed columns in increasing order (``mis_idx`` likewise)."""

    def __init__(self, masks):
        masks = np.asarray(masks, dtype=bool)
        self.n_features = masks.shape[1]
        self.obs_idx = np.ascontiguousarray(np.nonzero(~masks)[1], dtype=np.intp)
        self.mis_idx = np.ascontiguousarray(np.nonzero(masks)[1], dtype=np.intp)
        self.n_obs = (~masks).sum(axis=1).astype(np.intp)
        self.obs_start = _starts(self.n_obs)
        self.mis_start = _starts(self.n_features - self.n_obs)

    def __len__(self):
        return len(self.n_obs)

    def observed(self, p):
        return self.obs_idx[self.obs_start[p]:self.obs_start[p + 1]]

    def missing(self, p):
        return self.mis_idx[self.mis_start[p]:self.mis_start[p + 1]]

    def batch(self, first, last):
        """The columns of patterns first..last-1 (their starts counted from 0)."""
        out = PatternColumns.__new__(PatternColumns)
        out.n_features = self.n_features
        out.n_obs = self.n_obs[first:last]
        o0, o1 = self.obs_start[first], self.obs_start[last]
        m0, m1 = self.mis_start[first], self.mis_start[last]
        out.obs_idx, out.mis_idx = self.obs_idx[o0:o1], self.mis_idx[m0:m1]
        out.obs_start = self.obs_start[first:last + 1] - o0
        out.mis_start = self.mis_start[first:last + 1] - m0
        return out


def _starts(sizes):
    out = np.zeros(len(sizes) + 1, dtype=np.intp)
    np.cumsum(sizes, out=out[1:])
    return out


OBSERVED_CHUNK = 1 << 14     # rows per chunk of the passes over the observed entries


def observed_means(X, sample_weight=None):
    """(mean, weight) of each column's observed entries, of an array or a Source, in
    chunks (no temporary of X's size); the mean of a column with nothing observed is 0."""
    total = count = 0.0
    for chunk, w in row_pieces(X, sample_weight, OBSERVED_CHUNK):
        seen = ~np.isnan(chunk)
        if w is None:
            total = total + np.where(seen, chunk, 0.0).sum(axis=0)
            count = count + seen.sum(axis=0)
        else:
            total = total + w @ np.where(seen, chunk, 0.0)
            count = count + w @ seen
    return total / np.where(count > 0, count, 1.0), count


class PatternParameters:
    """Per pattern and component, what the missing-value pass needs (the precision factor
    of Sigma_oo, the map B = Sigma_mo Sigma_oo^-1 for full and tied, the log normaliser)
    and the conditional covariance C = Sigma_mm - B Sigma_om of the missing entries (their
    variances for diag and spherical), in flat arrays with per-pattern starts; the entries
    of pattern p, component k begin at ``start[p] + k * size_p``."""

    def __init__(self, params, columns, dtype, *, n_threads=1):
        ct = params.covariance_type
        k, d = params.means.shape
        n_obs = columns.n_obs
        n_mis = d - n_obs
        if ct in ("full", "tied"):
            sizes = (n_obs * n_obs, n_mis * n_obs, n_mis * n_mis)
        else:
            sizes = (n_obs if ct == "diag" else np.ones_like(n_obs), 0 * n_obs, n_mis)
        self.factor_start, self.bmat_start, self.cond_start = (_starts(k * s) for s in sizes)
        self.factor = np.empty(self.factor_start[-1], dtype=dtype)
        self.bmat = np.empty(self.bmat_start[-1], dtype=dtype)
        self.cond = np.empty(self.cond_start[-1])
        self.log_norm = np.empty((len(columns), k))
        failed = np.zeros(len(columns), dtype=np.intc)
        cov = np.ascontiguousarray(params.covariances, dtype=np.float64).reshape(-1)
        _gaussian.missing_pattern_parameters(
            cov, COV_CODE[ct], columns.obs_start, columns.obs_idx, columns.mis_start,
            columns.mis_idx, self.factor, self.factor_start, self.bmat, self.bmat_start,
            self.cond, self.cond_start, self.log_norm, failed, d, n_threads)
        if failed.any():
            p = int(np.flatnonzero(failed)[0])
            raise _not_positive_definite(ct, int(failed[p]) - 1, columns.observed(p))
        with np.errstate(divide="ignore"):
            log_w = np.log(params.weights)
        self.log_norm += log_w          # log w_k + log|factor| - o/2 log(2 pi)
        self.log_norm -= (0.5 * n_obs * _LOG_2PI)[:, None]
        self.columns = columns
        self.shape = (k, d)
        self.covariance_type = ct

    def kernel_arguments(self):
        c = self.columns
        return (c.obs_start, c.obs_idx, c.mis_start, c.mis_idx, self.factor,
                self.factor_start, self.bmat, self.bmat_start, self.log_norm)

    def regression(self, p):
        """B of pattern p as (K, m, o), or None (diag, spherical)."""
        if self.covariance_type not in ("full", "tied"):
            return None
        k = self.shape[0]
        c = self.columns
        return self.bmat[self.bmat_start[p]:self.bmat_start[p + 1]].reshape(
            k, c.mis_start[p + 1] - c.mis_start[p], c.n_obs[p])

    def conditional_covariance(self, p):
        """C of pattern p as (K, m, m) (full, tied) or its variances (K, m)."""
        k = self.shape[0]
        c = self.columns
        m = c.mis_start[p + 1] - c.mis_start[p]
        shape = (k, m, m) if self.covariance_type in ("full", "tied") else (k, m)
        return self.cond[self.cond_start[p]:self.cond_start[p + 1]].reshape(shape)

    def add_conditional_covariances(self, s2, rsum):
        """s2 (flat, packed as the kernel's) += sum_p rsum[p, k] C_pk at the missing
        entries."""
        ct = self.covariance_type
        k, d = self.shape
        c = self.columns
        dense = ct in ("full", "tied")
        extra = np.zeros(k * d * d if dense else k * d)
        _gaussian.missing_conditional_moments(rsum, self.cond, self.cond_start, c.mis_start,
                                              c.mis_idx, COV_CODE[ct], d, extra)
        if dense:
            extra = extra.reshape(k, d, d)
            if ct == "tied":
                extra = extra.sum(axis=0)
            s2 += pack_upper(extra).reshape(-1)
        else:
            s2 += extra


def _not_positive_definite(covariance_type, component, observed):
    where = ("the tied covariance" if covariance_type == "tied"
             else f"the covariance of component {component}")
    return ValueError(
        f"Fitting the mixture model failed because {where}, restricted to the observed "
        f"columns {observed.tolist()} of some rows, is not positive definite. Try to "
        "decrease the number of components, increase reg_covar, or scale the input data.")


def missing_e_pass(X, sample_weight, params, patterns, *, n_threads, want_stats=False,
                   resp_out=None, lse_out=None):
    """The E pass for data with NaN: returns (loglik_sum, nk, s1, s2, shift).

    Statistics include the conditional covariances, so params_from_stats gives the exact
    EM update for the observed-data likelihood. Rows with nothing observed are skipped."""
    code = COV_CODE[params.covariance_type]
    k, d = params.means.shape
    means = np.ascontiguousarray(params.means, dtype=X.dtype)
    nk, s1, s2 = _zero_stats(code, k, d)
    loglik = 0.0
    empty2 = np.empty((0, 0))
    w = np.empty(0) if sample_weight is None else sample_weight
    for first, last in patterns.batches(k):
        pp = PatternParameters(params, patterns.columns.batch(first, last), X.dtype,
                               n_threads=n_threads)
        lo, hi = patterns.seg[first], patterns.seg[last]
        seg = np.ascontiguousarray(patterns.seg[first:last + 1] - lo)
        b_nk, b_s1, b_s2 = np.zeros(k), np.zeros((k, d)), np.zeros_like(s2)
        rsum = np.zeros((last - first, k))
        loglik += _gaussian.gaussian_missing_pass(
            X, w, patterns.order[lo:hi], seg, *pp.kernel_arguments(), means, code,
            empty2 if resp_out is None else resp_out,
            np.empty(0) if lse_out is None else lse_out,
            b_nk, b_s1, b_s2, rsum, want_stats, n_threads,
        )
        if want_stats:
            pp.add_conditional_covariances(b_s2, rsum)
            nk += b_nk
            s1 += b_s1
            s2 += b_s2
    if lse_out is not None:
        lse_out[patterns.empty_rows] = 0.0  # nothing observed: probability one
    if resp_out is not None:
        resp_out[patterns.empty_rows] = params.weights
    return loglik, nk, s1, s2, means.astype(np.float64)


def impute(X, params, resp, patterns, *, sample=False, random_state=None):
    """X with NaN replaced by the conditional expectation under the mixture (or a draw).

    resp are the posterior probabilities of the rows given their observed entries."""
    out = X.copy()
    k, d = params.means.shape
    masks = np.vstack([patterns.masks, np.ones((1, d), dtype=bool)])
    groups = [patterns.order[patterns.seg[p]:patterns.seg[p + 1]]
              for p in range(patterns.n_patterns)] + [patterns.empty_rows]
    pp = PatternParameters(params, PatternColumns(masks), np.float64)
    for p, rows in enumerate(groups):
        o, m = pp.columns.observed(p), pp.columns.missing(p)
        if len(m) == 0 or len(rows) == 0:
            continue
        b, cond = pp.regression(p), pp.conditional_covariance(p)
        x_o = X[rows][:, o].astype(np.float64)
        r = resp[rows]
        # conditional means per component: (K, rows, m)
        means = np.repeat(params.means[:, None, m], len(rows), axis=1)
        if b is not None:
            means = means + np.einsum("kmo,kro->krm", b, x_o[None] - params.means[:, None, o])
        if not sample:
            out[rows[:, None], m[None, :]] = np.einsum("rk,krm->rm", r, means)
            continue
        cum = np.cumsum(r, axis=1)
        u = random_state.uniform(size=len(rows)) * cum[:, -1]
        z = np.minimum((cum < u[:, None]).sum(axis=1), k - 1)
        draws = np.empty((len(rows), len(m)))
        for j in range(k):
            sel = np.flatnonzero(z == j)
            if len(sel) == 0:
                continue
            c = cond[j] if cond.ndim == 3 else np.diag(cond[j])
            noise = random_state.standard_normal(size=(len(sel), len(m)))
            draws[sel] = means[j, sel] + noise @ _matrix_root(c).T
        out[rows[:, None], m[None, :]] = draws
    return out


def _matrix_root(c):
    """A square root L with L L^T = c for a positive semi-definite c."""
    try:
        return np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(c)
        return vecs * np.sqrt(np.clip(vals, 0, None))
