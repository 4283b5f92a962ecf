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
from ._gaussian import _LOG_2PI, COV_CODE, _upper_factor_of_inverse, _zero_stats, pack_upper

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
        self.order = np.ascontiguousarray(order, dtype=np.intp)
        self.seg = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        self.n_features = d

    @property
    def n_patterns(self):
        return len(self.masks)

    def batches(self):
        """Contiguous ranges of patterns whose parameters fit one kernel call."""
        d = self.n_features
        start, cells = 0, 0
        for p in range(self.n_patterns):
            cells += d * d
            if cells > _BATCH_CELLS and p > start:
                yield start, p
                start, cells = p, d * d
        yield start, self.n_patterns


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


def _covariance_stack(params):
    """Per-component covariances as a (K, d, d) stack or (K, d) variances."""
    ct = params.covariance_type
    k, d = params.means.shape
    cov = params.covariances
    if ct == "tied":
        return np.broadcast_to(cov, (k, d, d))
    if ct == "spherical":
        return np.repeat(cov[:, None], d, axis=1)
    return cov


def pattern_parameters(params, masks, dtype):
    """Kernel arguments for patterns ``masks`` (P, d), plus the conditional covariances."""
    ct = params.covariance_type
    k, d = params.means.shape
    dense = ct in ("full", "tied")
    cov = _covariance_stack(params)
    with np.errstate(divide="ignore"):
        log_w = np.log(params.weights)
    n_pat = len(masks)
    obs_list = [np.flatnonzero(~missing) for missing in masks]
    mis_list = [np.flatnonzero(missing) for missing in masks]
    factors: list = [None] * n_pat
    bmats: list = [None] * n_pat
    cond_covs: list = [None] * n_pat
    log_norm = np.empty((n_pat, k))
    if dense:
        # patterns with the same number of observed entries are factorised together
        n_obs = np.array([len(o) for o in obs_list], dtype=np.intp)
        for count in np.unique(n_obs):
            group = np.flatnonzero(n_obs == count)
            oi = np.array([obs_list[p] for p in group], dtype=np.intp).reshape(
                len(group), count)
            mi = np.array([mis_list[p] for p in group], dtype=np.intp).reshape(
                len(group), d - count)
            s_mm = np.swapaxes(cov[:, mi[:, :, None], mi[:, None, :]], 0, 1)   # (G, k, m, m)
            if count == 0:
                factor = np.empty((len(group), k, 0, 0))
                log_det = np.zeros((len(group), k))
                b = np.zeros((len(group), k, d, 0))
                cond = np.array(s_mm)
            else:
                s_oo = np.swapaxes(cov[:, oi[:, :, None], oi[:, None, :]], 0, 1)
                factor = _upper_factor_of_inverse(s_oo)
                log_det = np.log(np.diagonal(factor, axis1=-2, axis2=-1)).sum(axis=-1)
                s_mo = np.swapaxes(cov[:, mi[:, :, None], oi[:, None, :]], 0, 1)
                b = s_mo @ (factor @ np.swapaxes(factor, -1, -2))
                cond = s_mm - b @ np.swapaxes(s_mo, -1, -2)
            for g, p in enumerate(group):
                factors[p] = np.asarray(factor[g], dtype=dtype).reshape(-1)
                bmats[p] = b[g]
                cond_covs[p] = cond[g]
                log_norm[p] = log_w + log_det[g] - 0.5 * count * _LOG_2PI
    else:
        for p, (o, m) in enumerate(zip(obs_list, mis_list)):
            var = cov
            if ct == "spherical":
                factor = 1.0 / np.sqrt(var[:, :1])
                log_det = len(o) * np.log(factor[:, 0])
            else:
                factor = 1.0 / np.sqrt(var[:, o])
                log_det = np.log(factor).sum(axis=1)
            factors[p] = np.asarray(factor, dtype=dtype).reshape(-1)
            cond_covs[p] = var[:, m]
            log_norm[p] = log_w + log_det - 0.5 * len(o) * _LOG_2PI

    def flat(parts, dt):
        starts = np.concatenate([[0], np.cumsum([len(x) for x in parts])]).astype(np.intp)
        data = np.concatenate(parts).astype(dt) if starts[-1] else np.empty(0, dtype=dt)
        return np.ascontiguousarray(data), starts

    obs_idx, obs_start = flat(obs_list, np.intp)
    mis_idx, mis_start = flat(mis_list, np.intp)
    factor, factor_start = flat(factors, dtype)
    bmat, bmat_start = flat([np.empty(0) if b is None else b.reshape(-1) for b in bmats],
                            dtype)
    args = dict(obs_idx=obs_idx, obs_start=obs_start, mis_idx=mis_idx, mis_start=mis_start,
                factor=factor, factor_start=factor_start, bmat=bmat, bmat_start=bmat_start,
                log_norm=log_norm)
    return args, (obs_list, mis_list, bmats, cond_covs)


def missing_e_pass(X, sample_weight, params, patterns, *, n_threads, want_stats=False,
                   resp_out=None, lse_out=None):
    """The E pass for data with NaN: returns (loglik_sum, nk, s1, s2, shift).

    Statistics include the conditional covariances, so params_from_stats gives the exact
    EM update for the observed-data likelihood. Rows with nothing observed are skipped."""
    ct = params.covariance_type
    code = COV_CODE[ct]
    k, d = params.means.shape
    means = np.ascontiguousarray(params.means, dtype=X.dtype)
    nk, s1, s2 = _zero_stats(code, k, d)
    loglik = 0.0
    empty2 = np.empty((0, 0))
    w = np.empty(0) if sample_weight is None else sample_weight
    for first, last in patterns.batches():
        args, (_, mis_list, _, cond_covs) = pattern_parameters(
            params, patterns.masks[first:last], X.dtype)
        lo, hi = patterns.seg[first], patterns.seg[last]
        seg = np.ascontiguousarray(patterns.seg[first:last + 1] - lo)
        b_nk, b_s1, b_s2 = np.zeros(k), np.zeros((k, d)), np.zeros_like(s2)
        rsum = np.zeros((last - first, k))
        loglik += _gaussian.gaussian_missing_pass(
            X, w, patterns.order[lo:hi], seg, args["obs_start"], args["obs_idx"],
            args["mis_start"], args["mis_idx"], args["factor"], args["factor_start"],
            args["bmat"], args["bmat_start"], args["log_norm"], means, code,
            empty2 if resp_out is None else resp_out,
            np.empty(0) if lse_out is None else lse_out,
            b_nk, b_s1, b_s2, rsum, want_stats, n_threads,
        )
        if want_stats:
            _add_conditional_covariances(b_s2, ct, k, d, rsum, mis_list, cond_covs)
            nk += b_nk
            s1 += b_s1
            s2 += b_s2
    if lse_out is not None:
        lse_out[patterns.empty_rows] = 0.0  # nothing observed: probability one
    if resp_out is not None:
        resp_out[patterns.empty_rows] = params.weights
    return loglik, nk, s1, s2, means.astype(np.float64)


def _add_conditional_covariances(s2, ct, k, d, rsum, mis_list, cond_covs):
    if ct in ("full", "tied"):
        extra = np.zeros((k, d, d))
        for p, (m, cond) in enumerate(zip(mis_list, cond_covs)):
            if len(m):
                extra[:, m[:, None], m[None, :]] += rsum[p][:, None, None] * cond
        if ct == "tied":
            extra = extra.sum(axis=0)
        s2 += pack_upper(extra).reshape(-1)
    else:
        extra = np.zeros((k, d))
        for p, (m, cond) in enumerate(zip(mis_list, cond_covs)):
            if len(m):
                extra[:, m] += rsum[p][:, None] * cond
        s2 += extra.reshape(-1)


def impute(X, params, resp, patterns, *, sample=False, random_state=None):
    """X with NaN replaced by the conditional expectation under the mixture (or a draw).

    resp are the posterior probabilities of the rows given their observed entries."""
    out = X.copy()
    k, d = params.means.shape
    masks = np.vstack([patterns.masks, np.ones((1, d), dtype=bool)])
    groups = [patterns.order[patterns.seg[p]:patterns.seg[p + 1]]
              for p in range(patterns.n_patterns)] + [patterns.empty_rows]
    _, (obs_list, mis_list, bmats, cond_covs) = pattern_parameters(params, masks, np.float64)
    for rows, o, m, b, cond in zip(groups, obs_list, mis_list, bmats, cond_covs):
        if len(m) == 0 or len(rows) == 0:
            continue
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
