"""The statistics of a Gaussian mixture's E-step on one block of rows.

GaussianStats are the kernels' sums: the weighted log-likelihood, the rows' weight, and
per component the responsibility mass nk and the first and second moments s1, s2 about
``shift`` (the means the kernel saw). Statistics of blocks taken about different points
(online EM blends batches seen at different parameters) are moved to a common point
before they add (``align``), exactly: moments about c' follow from those about c, nk
and s1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._engine import Stats
from .._kernels._parallel import effective_n_threads
from ._gaussian import e_pass, pack_upper, unpack_symmetric
from ._missing import MissingPatterns, missing_e_pass


@dataclass
class GaussianStats(Stats):
    loglik: float
    weight: float
    nk: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    shift: np.ndarray
    covariance_type: str

    additive = ("loglik", "weight", "nk", "s1", "s2")

    def align(self, other):
        """``other`` with its moments about this one's shift."""
        if np.array_equal(other.shift, self.shift):
            return other
        return other.about(self.shift)

    def about(self, shift):
        """The same statistics with the moments about ``shift`` (k, d)."""
        k, d = self.s1.shape
        delta = self.shift - shift          # x - shift = (x - self.shift) + delta
        s1 = self.s1 + self.nk[:, None] * delta
        ct = self.covariance_type
        if ct in ("full", "tied"):
            cross = self.s1[:, :, None] * delta[:, None, :]
            extra = cross + np.swapaxes(cross, 1, 2) + (
                self.nk[:, None, None] * delta[:, :, None] * delta[:, None, :])
            if ct == "full":
                s2 = self.s2 + pack_upper(extra).reshape(-1)
            else:
                s2 = self.s2 + pack_upper(extra.sum(axis=0))
        else:
            s2 = self.s2 + (2.0 * self.s1 * delta + self.nk[:, None] * delta**2).reshape(-1)
        return GaussianStats(self.loglik, self.weight, self.nk.copy(), s1, s2,
                             np.array(shift, dtype=np.float64), ct)

    @classmethod
    def of_params(cls, params, weight, reg_covar=0.0):
        """The statistics that ``params`` are the M-step of, for ``weight`` rows (with
        ``reg_covar`` taken back out of the covariances): what a fitted model stands
        for when online EM continues from it."""
        ct = params.covariance_type
        k, d = params.means.shape
        nk = weight * np.asarray(params.weights, dtype=np.float64)
        cov = np.asarray(params.covariances, dtype=np.float64)
        if ct == "full":
            s2 = pack_upper((cov - reg_covar * np.eye(d)) * nk[:, None, None]).reshape(-1)
        elif ct == "tied":
            s2 = pack_upper((cov - reg_covar * np.eye(d)) * nk.sum())
        elif ct == "diag":
            s2 = ((cov - reg_covar) * nk[:, None]).reshape(-1)
        else:
            s2 = np.repeat((cov - reg_covar) * nk, d)
        return cls(0.0, float(weight), nk, np.zeros((k, d)), s2,
                   np.asarray(params.means, dtype=np.float64).copy(), ct)


def unpack_second(stats):
    """The second moments as matrices (full: (k, d, d), tied: (d, d)) or (k, d)."""
    k, d = stats.s1.shape
    if stats.covariance_type == "full":
        return unpack_symmetric(stats.s2.reshape(k, -1), d)
    if stats.covariance_type == "tied":
        return unpack_symmetric(stats.s2, d)
    return stats.s2.reshape(k, d)


def gaussian_e_step(block, params, *, n_threads=None):
    """GaussianStats of one block (a _sources.Block) at ``params``: the fused kernel
    pass, or the pass over missingness patterns when the block holds NaN (its patterns
    are cached in the block). Rows with nothing observed count for no weight."""
    threads = effective_n_threads(n_threads)
    X, sw = block.X, block.sample_weight
    if not block.missing:
        loglik, nk, s1, s2, shift = e_pass(X, sw, params, n_threads=threads,
                                           want_stats=True)
        return GaussianStats(loglik, block.weight, nk, s1, s2, shift,
                             params.covariance_type)
    patterns = block.cache.get("patterns")
    if patterns is None:
        patterns = block.cache["patterns"] = MissingPatterns(X, for_fit=False)
    weight = block.weight
    if len(patterns.empty_rows):
        dropped = patterns.empty_rows
        weight -= len(dropped) if sw is None else sw[dropped].sum()
    loglik, nk, s1, s2, shift = missing_e_pass(X, sw, params, patterns, n_threads=threads,
                                               want_stats=True)
    return GaussianStats(loglik, weight, nk, s1, s2, shift, params.covariance_type)
