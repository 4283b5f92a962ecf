"""Standard errors of a fitted Gaussian mixture: the observed and empirical information.

The parameter vector (documented in GaussianMixture.parameter_covariance) is: the K-1
free weights, the means row by row, then the unique covariance entries. The derivative
with respect to an off-diagonal covariance entry moves both symmetric entries.

For a row x with weight v, f_k = w_k N(x_o | mu_k, Sigma_k) on its observed entries o,
r_k its responsibilities and s_k = grad log f_k, the Hessian of log p(x) is

    sum_k r_k (grad^2 log f_k + s_k s_k^T) - S S^T,      S = sum_k r_k s_k.

So the observed information is J = A + B with
    A = -sum v r_k grad^2 log f_k, from sufficient statistics (N_k, moments of y = x - mu_k),
    B = -sum v [sum_k r_k s_k s_k^T - S S^T] = -sum v sum_{k<l} r_k r_l (s_k - s_l)(...)^T,
and the empirical information is E = sum v S S^T = sum v sum_{k,l} r_k r_l s_k s_l^T.
Every row term of B and E carries a responsibility product r_k r_l (k != l in B, any
pair in E). A term whose product is below RESPONSIBILITY_FLOOR is left out (but in the
weights' own block, which is cheap and kept whole), so a pair of components is only
visited on the rows they share, and B only on the rows whose component is in doubt.

s_k is non-zero only on the weights and on component k's own parameters (the shared
covariance, for 'tied'), so the information is stored by blocks: a "head" (the weights,
and the tied covariance) and one "body" per component (its mean, and its covariance when
not tied), with head-body blocks and body-body blocks for the pairs of components that
share rows. It is inverted by blocks: each connected group of bodies by Cholesky, then
the Schur complement of the head.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._kernels._parallel import effective_n_threads
from .._validation import check_option, check_sample_weight
from ..exceptions import SingularInformationWarning
from ._gaussian import (
    GaussianParams,
    e_pass,
    precision_cholesky_from_covariances,
    precisions_from_cholesky,
    unpack_symmetric,
)
from ._missing import MissingPatterns
from ._prior import resolve_prior

METHODS = ("observed", "empirical")
# A row's term r_ik r_il s_ik s_il^T (pairs k != l in both methods, k == l in the
# empirical one) is left out when r_ik r_il is below this: what is left out is at most
# 1e-12 |s_ik| |s_il| per row, against about N_k = sum_i w_i r_ik such products in a
# component's own block (so below 1e-12 n_samples / N_k of it, relatively).
RESPONSIBILITY_FLOOR = 1e-12
# The information is near-singular when some parameter's variance inflation
# J_ii (J^-1)_ii (1 / (1 - R_i^2), R_i its score's multiple correlation with the others)
# exceeds this: the diagonally scaled J then has a condition number at least as large,
# and rounding errors of J's own size (eps) change the variances by 1e-4 relative or more.
VARIANCE_INFLATION_LIMIT = 1e-4 / np.finfo(np.float64).eps
# A parameter carries no information when J_ii is at most this fraction of the sum of
# the magnitudes of the terms that make it (observed: complete-data information and
# missing information cancel): rounding errors then change it by 1e-4 relative or more.
INFORMATION_FLOOR = 1e4 * np.finfo(np.float64).eps
_CHUNK_CELLS = 1 << 20      # rows x max(n_components, n_features) per E pass
_FEATURE_CELLS = 1 << 21    # rows x scores of one component per batch of score rows
_QUEUED_ROWS = 1 << 21      # (row, pair) terms queued before their scores are computed
_FOLD_PATTERNS = 64         # patterns whose shift terms wait for one product


@dataclass(frozen=True)
class StandardErrors:
    """Standard errors of the parameters of a fitted GaussianMixture.

    Returned by :meth:`GaussianMixture.standard_errors`: one array per fitted parameter
    array, of its shape, from the square roots of the diagonal of
    :meth:`GaussianMixture.parameter_covariance`. It unpacks as a tuple:
    ``weights, means, covariances = gm.standard_errors(X)``.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        The standard errors of ``weights_``.
    means : ndarray of shape (n_components, n_features)
        The standard errors of ``means_``.
    covariances : ndarray
        The standard errors of ``covariances_``, of its shape.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        The standard errors of ``weights_``. The last weight is one minus the others,
        so its standard error comes from theirs by the delta method:
        ``sqrt(sum of their covariance matrix)``.
    means : ndarray of shape (n_components, n_features)
        The standard errors of ``means_``.
    covariances : ndarray
        The standard errors of ``covariances_``, of its shape (see
        ``GaussianMixture.covariances_``); symmetric for 'full' and 'tied': entry
        ``[a, b]`` and ``[b, a]`` are those of the one parameter ``covariances_[a, b]``.

    See Also
    --------
    GaussianMixture.standard_errors : Compute them.
    GaussianMixture.parameter_covariance : Their covariance matrix.

    Examples
    --------
    >>> from fastem import GaussianMixture
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> weights, means, covariances = gm.standard_errors(X)
    >>> print(means.round(3))
    [[0.027 0.592]
     [0.031 0.456]]
    """

    weights: NDArray[np.float64]
    means: NDArray[np.float64]
    covariances: NDArray[np.float64]

    def __iter__(self) -> Iterator[NDArray[np.float64]]:
        return iter((self.weights, self.means, self.covariances))


# -- layout ----------------------------------------------------------------------------
class _Layout:
    """Sizes of the head and the bodies, where they sit in the documented order, and the
    layout of one component's scores: its mean (d), then its covariance entries (c)."""

    def __init__(self, covariance_type, n_components, n_features):
        k, d = n_components, n_features
        ct = covariance_type
        self.ct, self.k, self.d = ct, k, d
        self.tied = ct == "tied"
        self.c = {"full": d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": d,
                  "spherical": 1}[ct]
        self.head_size = k - 1 + (self.c if self.tied else 0)
        self.body_size = d if self.tied else d + self.c
        cov0 = k - 1 + k * d
        self.n_parameters = cov0 + (self.c if self.tied else k * self.c)
        if self.tied:
            self.head_index = np.r_[np.arange(k - 1), cov0 + np.arange(self.c)]
        else:
            self.head_index = np.arange(k - 1)
        self.body_index = [
            np.r_[k - 1 + j * d + np.arange(d),
                  np.arange(0) if self.tied else cov0 + j * self.c + np.arange(self.c)]
            for j in range(k)]
        rows, cols = np.triu_indices(d)
        self.pairs = (rows, cols)
        self.vech = np.zeros((d, d), dtype=np.intp)
        self.vech[rows, cols] = np.arange(len(rows))
        # a component's scores: scale * (features - shift), the features being
        # z = Lambda (x - mu) and the products z_a z_b (a <= b; full, tied), the squares
        # (diag) or the sum of squares (spherical) of its entries
        self.n_features = d + self.c
        if ct in ("full", "tied"):
            cov_scale = np.where(rows == cols, 0.5, 1.0)
        else:
            cov_scale = np.full(self.c, 0.5)
        self.scale = np.r_[np.ones(d), cov_scale]
        # where the scores go: the body of the component, the tied covariance in the head
        self.n_body = self.body_size
        self.body_loc = np.arange(self.body_size)
        self.head_loc = k - 1 + np.arange(self.c) if self.tied else np.zeros(0, np.intp)

    def name(self, i):
        """The fitted attribute entry of documented parameter i, e.g. 'means_[1, 0]'."""
        k, d = self.k, self.d
        if i < k - 1:
            return f"weights_[{i}]"
        i -= k - 1
        if i < k * d:
            return f"means_[{i // d}, {i % d}]"
        i -= k * d
        if self.ct in ("full", "tied"):
            comp, j = divmod(i, self.c)
            a, b = (int(v[0]) for v in np.nonzero(self.vech == j))
            return f"covariances_[{comp}, {a}, {b}]" if self.ct == "full" else \
                f"covariances_[{a}, {b}]"
        if self.ct == "diag":
            return f"covariances_[{i // d}, {i % d}]"
        return f"covariances_[{i}]"


class _Pattern:
    """One pattern of observed entries o: the marginal mixture on o, and the score
    features of its rows (mean part on o, covariance part on the entries of o) with
    their positions ``loc`` in a component's score layout."""

    def __init__(self, lay, params, observed):
        ct, k, d = lay.ct, lay.k, lay.d
        o = np.asarray(observed, dtype=np.intp)
        m = len(o)
        self.o, self.m, self.complete = o, m, m == d
        cov = params.covariances
        if ct == "full":
            cov_o = cov[:, o[:, None], o[None, :]]
        elif ct == "tied":
            cov_o = cov[o[:, None], o[None, :]]
        elif ct == "diag":
            cov_o = cov[:, o]
        else:
            cov_o = cov
        prec_chol = precision_cholesky_from_covariances(cov_o, ct)
        self.params = GaussianParams(params.weights, np.ascontiguousarray(params.means[:, o]),
                                     cov_o, prec_chol, ct)
        self.means = self.params.means
        self.precision = precisions_from_cholesky(prec_chol, ct)   # Sigma_oo^-1
        if ct in ("full", "tied"):
            ra, ca = np.triu_indices(m)
            self.pairs = (ra, ca)
            cov_loc = lay.vech[o[ra], o[ca]]
            lam = self.precision if ct == "full" else np.broadcast_to(self.precision,
                                                                     (k, m, m))
            cov_shift = lam[:, ra, ca]
        elif ct == "diag":
            cov_loc, cov_shift = o, self.precision
        else:
            cov_loc, cov_shift = np.zeros(1, dtype=np.intp), (m * self.precision)[:, None]
        self.loc = np.r_[o, d + cov_loc]
        self.n_local = len(self.loc)
        self.shift = np.zeros((k, lay.n_features))
        self.shift[:, self.loc] = np.hstack([np.zeros((k, m)), cov_shift])
        self.n_features = lay.n_features

    def z(self, j, x):
        """Lambda_j (x - mu_j)^T, feature-major (m x rows), for rows x of the observed
        entries."""
        y = (x - self.means[j]).T
        ct = self.params.covariance_type
        if ct == "full":
            return self.precision[j] @ y
        if ct == "tied":
            return self.precision @ y
        if ct == "diag":
            return np.multiply(y, self.precision[j][:, None], order="C")
        return np.multiply(y, self.precision[j], order="C")

    def features(self, j, x, sq):
        """sq times the unshifted, unscaled score features of component j at rows x, in
        the component's score layout (zero where the pattern has none), feature-major
        (n_features x rows, so that every product runs along the rows)."""
        m = self.m
        root = np.sqrt(sq)
        z4 = self.z(j, x)
        z4 *= root
        local = np.empty((self.n_local, len(x)))
        np.multiply(z4, root, out=local[:m])
        ct = self.params.covariance_type
        if ct in ("full", "tied"):
            at = m
            for a in range(m):
                np.multiply(z4[a], z4[a:], out=local[at:at + m - a])
                at += m - a
        elif ct == "diag":
            np.multiply(z4, z4, out=local[m:])
        else:
            np.einsum("ji,ji->i", z4, z4, out=local[m])
        if self.complete:
            return local
        out = np.zeros((self.n_features, len(x)))
        out[self.loc] = local
        return out


# -- the information by blocks ------------------------------------------------------------
class _Blocks:
    """J as head (H x H), cross[j] = J[head, body_j], diag[j] = J[body_j, body_j] and
    off[(j, l)] = J[body_j, body_l] for j < l."""

    def __init__(self, lay):
        self.lay = lay
        h, p, k = lay.head_size, lay.body_size, lay.k
        self.head = np.zeros((h, h))
        self.cross = np.zeros((k, h, p))
        self.diag = np.zeros((k, p, p))
        self.off = {}     # (j, l) -> J[body_j, body_l], j < l
        # per parameter (documented order), the sum of the magnitudes of the terms
        # added to its diagonal entry: what rounding errors in J_ii are relative to
        self.scale = np.zeros(lay.n_parameters)

    def add_pair(self, j, i, g, pat):
        """J[I_j, I_i] += g (and J[I_i, I_j] += g^T for j != i), where I_j are the
        positions of component j's scores in the rows of pattern pat."""
        nb, bl, hl = pat.n_body, pat.body_loc, pat.head_loc
        if j == i:
            self.diag[j][np.ix_(bl, bl)] += g[:nb, :nb]
            self.scale[self.lay.body_index[j][bl]] += np.abs(np.diag(g)[:nb])
            if len(hl):
                self.cross[j][np.ix_(hl, bl)] += g[nb:, :nb]
                self.head[np.ix_(hl, hl)] += g[nb:, nb:]
                self.scale[self.lay.head_index[hl]] += np.abs(np.diag(g)[nb:])
            return
        if j > i:
            j, i, g = i, j, g.T
        block = self.off.get((j, i))
        if block is None:
            block = self.off[(j, i)] = np.zeros((self.lay.body_size,) * 2)
        block[np.ix_(bl, bl)] += g[:nb, :nb]
        if len(hl):
            self.cross[i][np.ix_(hl, bl)] += g[nb:, :nb]
            self.cross[j][np.ix_(hl, bl)] += g[:nb, nb:].T
            self.head[np.ix_(hl, hl)] += g[nb:, nb:] + g[nb:, nb:].T
            self.scale[self.lay.head_index[hl]] += 2 * np.abs(np.diag(g[nb:, nb:]))

    def add_weights(self, j, g, pat):
        """J[weights, I_j] += g (and its transpose)."""
        nb, bl, hl = pat.n_body, pat.body_loc, pat.head_loc
        wi = np.arange(self.lay.k - 1)
        self.cross[j][np.ix_(wi, bl)] += g[:, :nb]
        if len(hl):
            self.head[np.ix_(wi, hl)] += g[:, nb:]
            self.head[np.ix_(hl, wi)] += g[:, nb:].T

    def diagonal(self):
        lay = self.lay
        out = np.empty(lay.n_parameters)
        out[lay.head_index] = np.diag(self.head)
        for j in range(lay.k):
            out[lay.body_index[j]] = np.diag(self.diag[j])
        return out

    def dense(self):
        """J in the documented order."""
        lay = self.lay
        out = np.zeros((lay.n_parameters,) * 2)
        hi = lay.head_index
        out[np.ix_(hi, hi)] = self.head
        for j in range(lay.k):
            bi = lay.body_index[j]
            out[np.ix_(hi, bi)] = self.cross[j]
            out[np.ix_(bi, hi)] = self.cross[j].T
            out[np.ix_(bi, bi)] = self.diag[j]
        for (j, i), block in self.off.items():
            out[np.ix_(lay.body_index[j], lay.body_index[i])] = block
            out[np.ix_(lay.body_index[i], lay.body_index[j])] = block.T
        return out


class _CompleteData:
    """A = -sum_rows sum_k v r_k grad^2 log N(x_o | mu_k, Sigma_k) (but the weights'
    part), accumulated over the patterns from each one's weighted moments about the
    means, in the components' score layout.

    The covariance block is bilinear in each pattern's Lambda = Sigma_oo^-1 and
    M = Lambda S2 Lambda: for the patterns with missing entries it is accumulated as
    Q1 = sum N vec(Lambda) vec(Lambda)^T and Q2 = sum vec(Lambda) vec(M)^T (one product
    for _FOLD_PATTERNS patterns at a time), whose entries it then gathers."""

    def __init__(self, lay):
        self.lay = lay
        k, d, c = lay.k, lay.d, lay.c
        self.mm = np.zeros((k, d, d))
        self.mc = np.zeros((k, d, c))
        self.cc = np.zeros((c, c) if lay.tied else (k, c, c))
        self.nk = np.zeros(k)
        self.waiting = []               # (Lambda, M, N) of patterns with missing entries
        if lay.ct in ("full", "tied"):
            ra, ca = lay.pairs
            idx = {"ac": (ra, ra), "bd": (ca, ca), "ad": (ra, ca), "bc": (ca, ra)}
            self.flat = {key: a[:, None] * d + b[None, :] for key, (a, b) in idx.items()}

    def _sym(self, q1, q2):
        """The covariance block from Q1 and Q2 (see the class)."""
        fl, f = self.flat, self.lay.scale[self.lay.d:]
        sym = (-(q1[fl["bc"], fl["ad"]] + q1[fl["ac"], fl["bd"]])
               + q2[fl["bc"], fl["ad"]] + q2[fl["ad"], fl["bc"]]
               + q2[fl["ac"], fl["bd"]] + q2[fl["bd"], fl["ac"]])
        return f[:, None] * sym * f[None, :]

    def add(self, pat, nk, s1, s2):
        lay = self.lay
        ct, k, d, m, o = lay.ct, lay.k, lay.d, pat.m, pat.o
        self.nk += nk
        lam = pat.precision
        if ct in ("diag", "spherical"):
            second = s2.reshape(k, m)
            p = lam[:, None] if ct == "spherical" else lam
            self.mm[:, o, o] += nk[:, None] * p
            if ct == "diag":
                self.mc[:, o, o] += s1 * p * p
                self.cc[:, o, o] += -0.5 * nk[:, None] * p * p + second * p ** 3
            else:
                self.mc[:, o, 0] += s1 * p * p
                self.cc[:, 0, 0] += (-0.5 * nk * m * lam * lam
                                     + second.sum(axis=1) * lam ** 3)
            return
        second = unpack_symmetric(s2.reshape(-1) if ct == "tied" else s2.reshape(k, -1), m)
        if ct == "tied":
            lam = np.broadcast_to(lam, (k, m, m))
        # embedded in d x d (zero outside o x o)
        lam_e = np.zeros((k, d, d))
        lam_e[:, o[:, None], o[None, :]] = lam
        u = np.zeros((k, d))
        u[:, o] = np.einsum("kab,kb->ka", lam, s1)
        self.mm += nk[:, None, None] * lam_e
        ra, ca = lay.pairs
        self.mc += (lam_e[:, :, ra] * u[:, None, ca] + lam_e[:, :, ca] * u[:, None, ra]) * (
            lay.scale[d:])
        if ct == "full":
            mom = lam @ second @ lam
        else:
            mom = (lam[0] @ second @ lam[0])[None]
        mom_e = np.zeros((len(mom), d, d))
        mom_e[:, o[:, None], o[None, :]] = mom
        if pat.complete and ct == "full":
            self.cc += self._direct(nk, lam_e, mom_e)
        elif pat.complete:
            self.cc += self._direct(np.array([nk.sum()]), lam_e[:1], mom_e)[0]
        else:
            self.waiting.append((lam_e[:1] if ct == "tied" else lam_e, mom_e,
                                 np.array([nk.sum()]) if ct == "tied" else nk))
            if len(self.waiting) >= _FOLD_PATTERNS:
                self._fold()

    def add_prior(self, params, prior):
        """Minus the Hessian of the log density of a MAP fit's prior (a ResolvedPrior):
        it has the form of a complete-data term, with pseudo-counts and moments (the
        prior's log|Sigma| and trace terms, and kappa for the means). Returns the
        weights' pseudo-counts (concentration - 1), or None."""
        lay = self.lay
        ct, k, d = lay.ct, lay.k, lay.d
        kappa, nu = prior.shrinkage, prior.dof
        normal = 1.0 if kappa > 0 else 0.0
        diff = params.means - prior.mean
        first = -kappa * diff                    # the means' score is Lambda @ first
        lam = _Pattern(lay, params, np.arange(d)).precision
        diagonal = np.arange(d)
        if ct in ("diag", "spherical"):
            p = lam[:, None] if ct == "spherical" else lam
            self.mm[:, diagonal, diagonal] += kappa * p
            if ct == "diag":
                self.mc[:, diagonal, diagonal] += first * p * p
                counts, moments = nu + 2 + normal, prior.scale + kappa * diff**2
                self.cc[:, diagonal, diagonal] += -0.5 * counts * p * p + moments * p**3
            else:
                self.mc[:, diagonal, 0] += first * p * p
                counts = nu + 2 + d * normal
                moments = prior.scale + kappa * (diff**2).sum(axis=1)
                self.cc[:, 0, 0] += -0.5 * counts * lam * lam + moments * lam**3
        else:
            stack = lam if ct == "full" else np.broadcast_to(lam, (k, d, d))
            self.mm += kappa * stack
            u = np.einsum("kab,kb->ka", stack, first)
            ra, ca = lay.pairs
            self.mc += (stack[:, :, ra] * u[:, None, ca] + stack[:, :, ca] * u[:, None, ra]
                        ) * lay.scale[d:]
            outer = kappa * diff[:, :, None] * diff[:, None, :]
            if ct == "full":
                mom = lam @ (prior.scale + outer) @ lam
                self.cc += self._direct(np.full(k, nu + d + 1 + normal), lam, mom)
            else:
                mom = lam @ (prior.scale + outer.sum(axis=0)) @ lam
                self.cc += self._direct(np.array([nu + d + 1 + k * normal]), lam[None],
                                        mom[None])[0]
        return None if prior.concentration is None else prior.concentration - 1.0

    def _direct(self, n, lam, mom):
        """The covariance blocks of one pattern (a stack of components)."""
        lf, mf = lam.reshape(len(lam), -1), mom.reshape(len(mom), -1)
        fl, f = self.flat, self.lay.scale[self.lay.d:]
        la = {key: lf[:, at] for key, at in fl.items()}
        ma = {key: mf[:, at] for key, at in fl.items()}
        sym = (-n[:, None, None] * (la["bc"] * la["ad"] + la["ac"] * la["bd"])
               + la["bc"] * ma["ad"] + la["ad"] * ma["bc"] + la["ac"] * ma["bd"]
               + la["bd"] * ma["ac"])
        return f[:, None] * sym * f[None, :]

    def _fold(self):
        if not self.waiting:
            return
        lam = np.stack([w[0] for w in self.waiting], axis=1)     # (K or 1, P, d, d)
        mom = np.stack([w[1] for w in self.waiting], axis=1)
        n = np.stack([w[2] for w in self.waiting], axis=1)       # (K or 1, P)
        self.waiting = []
        for j in range(len(lam)):
            lf = lam[j].reshape(len(lam[j]), -1)
            q1 = (lf * n[j][:, None]).T @ lf
            q2 = lf.T @ mom[j].reshape(len(mom[j]), -1)
            if self.lay.tied:
                self.cc += self._sym(q1, q2)
            else:
                self.cc[j] += self._sym(q1, q2)

    def finish(self, blocks):
        """Add A to the blocks (the tied covariance's block with component 0's)."""
        self._fold()
        lay = self.lay
        for j in range(lay.k):
            cc = self.cc if not lay.tied else (self.cc if j == 0 else np.zeros_like(self.cc))
            g = np.block([[self.mm[j], self.mc[j]], [self.mc[j].T, cc if lay.tied else cc[j]]])
            blocks.add_pair(j, j, g, lay)


class _Sums:
    """B or E: weighted sums of the score features of the rows, per pair of components
    (j <= l), in the components' score layout, accumulated over the patterns.

    With F the features scaled by sqrt(c) (c a row's weight in the term) and mu0 a
    pattern's shift: sum c s_j s_l^T = scale * (F_j^T F_l - v_j mu0_l^T - mu0_j v_l^T
    + (sum c) mu0_j mu0_l^T) * scale, with v_j = F_j^T sqrt(c). The first term adds over
    the patterns; the shift terms are kept per pattern and added by products, for
    _FOLD_PATTERNS patterns at a time.

    Rows are queued per pair (their indices and weights, up to _QUEUED_ROWS in all) and
    their features computed at the end of their pattern, in batches of up to ``batch``
    rows: each product is then one large BLAS call, and the BLAS calls do not alternate
    with the E passes (whose OpenMP threads would compete with BLAS threads still
    spinning)."""

    def __init__(self, lay):
        self.lay = lay
        self.gram = {}      # (j, l) -> sum F_j F_l^T
        self.shifts = {}    # (j, l) -> [v_j, v_l, sum c, mu0_j, mu0_l] of each pattern
        self.totals = {}    # (j, l) -> [sum c s_j, sum c s_l] (unscaled)
        self.pending = {}
        self.queued = 0

    def start(self, pat, rows_of, batch):
        self.pat, self.rows_of, self.batch = pat, rows_of, batch

    def queue(self, key, rows, c):
        """Add the terms of the data rows ``rows`` (indices into X) with weights c."""
        if not len(rows):
            return
        waiting = self.pending.setdefault(key, [[], []])
        waiting[0].append(rows)
        waiting[1].append(c)
        self.queued += len(rows)
        if self.queued >= _QUEUED_ROWS:
            self.flush()

    def flush(self):
        """Compute the features of the queued rows (of the current pattern)."""
        pat = self.pat
        for key, (rows_list, c_list) in self.pending.items():
            rows, c = np.concatenate(rows_list), np.concatenate(c_list)
            vj = vl = 0.0
            for lo in range(0, len(rows), self.batch):
                x = self.rows_of(rows[lo:lo + self.batch])
                sq = np.sqrt(c[lo:lo + self.batch])
                fj = pat.features(key[0], x, sq)
                fl = fj if key[0] == key[1] else pat.features(key[1], x, sq)
                gram = fj @ fl.T
                if key in self.gram:
                    self.gram[key] += gram
                else:
                    self.gram[key] = gram
                vj, vl = vj + fj @ sq, vl + fl @ sq
            total = float(c.sum())
            m0j, m0l = pat.shift[key[0]], pat.shift[key[1]]
            record = self.shifts.setdefault(key, [[], [], [], [], []])
            for part, value in zip(record, (vj, vl, total, m0j, m0l)):
                part.append(value)
            sums = self.totals.setdefault(key, [0.0, 0.0])
            sums[0] = sums[0] + (vj - total * m0j)
            sums[1] = sums[1] + (vl - total * m0l)
            if len(record[0]) >= _FOLD_PATTERNS:
                self._fold(key)
        self.pending = {}
        self.queued = 0

    def _fold(self, key):
        vj, vl, total, m0j, m0l = (np.array(part) for part in self.shifts.pop(key))
        self.gram[key] += ((m0j * total[:, None]).T @ m0l - vj.T @ m0l - m0j.T @ vl)

    def finish(self, blocks, weight_scores, method):
        """Add the sums to the blocks, with the sign of B or E, and the weights' rows:
        sum_rows c (g_l - g_j) s_j^T over the pairs (observed), sum_rows c g_l s_j^T
        (empirical)."""
        lay = self.lay
        scale = lay.scale
        k = weight_scores.shape[0]
        weights = {}

        def add_weights(j, g, total):
            if k > 1:
                weights[j] = weights.get(j, 0.0) + np.outer(g, scale * total)

        for key in list(self.shifts):
            self._fold(key)
        for (j, i), gram in self.gram.items():
            g = gram * np.outer(scale, scale)
            sum_j, sum_i = self.totals[(j, i)]
            if j == i:
                if method == "observed":
                    g = -g
                else:
                    add_weights(j, weight_scores[j], sum_j)
            elif method == "observed":
                add_weights(j, weight_scores[i] - weight_scores[j], sum_j)
                add_weights(i, weight_scores[j] - weight_scores[i], sum_i)
            else:
                add_weights(j, weight_scores[i], sum_j)
                add_weights(i, weight_scores[j], sum_i)
            blocks.add_pair(j, i, g, lay)
        for j, g in weights.items():
            blocks.add_weights(j, g, lay)


def _one_minus(resp):
    """1 - r_ik, accurately for each row's largest r_ik too (the sum of the others)."""
    others = 1.0 - resp
    rows, big = np.arange(len(resp)), resp.argmax(axis=1)
    rest = resp.copy()
    rest[rows, big] = 0.0
    others[rows, big] = rest.sum(axis=1)
    return others


def _weights_part(resp, v, weight_scores, method):
    """The weights' block of B (observed; on the rows given) or E (empirical), from
    sums of squares so that nothing cancels: E = sum_i v_i G_i G_i^T with
    G_i = sum_k r_ik g_k, and B = -sum_i v_i sum_k r_ik (g_k - G_i)(g_k - G_i)^T (which
    is -sum_i v_i sum_{k<l} r_ik r_il (g_k - g_l)(g_k - g_l)^T)."""
    k = resp.shape[1]
    out = np.zeros((k - 1, k - 1))
    step = max(1, (1 << 18) // (k * (k if method == "observed" else 1)))
    for lo in range(0, len(resp), step):
        r, vv = resp[lo:lo + step], v[lo:lo + step]
        mixed = r @ weight_scores
        if method == "empirical":
            root = mixed * np.sqrt(vv)[:, None]
            out += root.T @ root
        else:
            spread = (weight_scores[None, :, :] - mixed[:, None, :]) * np.sqrt(
                vv[:, None] * r)[:, :, None]
            spread = spread.reshape(-1, k - 1)
            out -= spread.T @ spread
    return out


def _accumulate_rows(sums, rows, v, resp, weight_scores, method):
    """Queue the score terms of one chunk of rows (their indices into X), with weights v
    and responsibilities resp; returns their weights' block (of B or E).

    Every term is a row's r_j r_l (j != l) or r_j r_j (empirical only) times s_j s_l^T,
    kept when that product is at least RESPONSIBILITY_FLOOR. The observed method's
    diagonal blocks -sum_{l != j} r_j r_l s_j s_j^T take, per row, the sum of the r_l
    of the kept pairs. Only rows with sum_k r_k^2 < 1 - floor / 2 ("shared" rows) can
    have a product r_j r_l >= floor for j != l."""
    k = resp.shape[1]
    floor = RESPONSIBILITY_FLOOR

    def add(key, idx, c):
        sums.queue(key, rows[idx], c)

    used = v > 0
    # sum_k r_k^2 <= max_k r_k, and every term of a row is at most 1 - max_k r_k: a row
    # with a term above floor has sum_k r_k^2 <= 1 - floor
    alone = np.einsum("ij,ij->i", resp, resp) >= 1.0 - 0.5 * floor
    shared = np.flatnonzero(~alone & used)
    r, vs = resp[shared], v[shared]
    if k > 1:
        # (rows of weight 0 add nothing to E)
        weights = (_weights_part(r, vs, weight_scores, method) if method == "observed"
                   else _weights_part(resp, v, weight_scores, method))
    else:
        weights = np.zeros((0, 0))
    if method == "observed":
        others = _one_minus(r)
        for j in range(k):
            at = np.flatnonzero(r[:, j] * others[:, j] >= floor)
            if not len(at):
                continue
            rj = r[at]
            kept = np.where(rj * rj[:, j:j + 1] >= floor, rj, 0.0)
            kept[:, j] = 0.0
            c = vs[at] * rj[:, j] * kept.sum(axis=1)
            add((j, j), shared[at[c > 0]], c[c > 0])
    else:
        # a row that is not shared has one responsibility above 1 - floor / 2 and the
        # others below floor / 2: its only term is that component's r^2
        flat = np.flatnonzero(resp > 0.5)
        lone, labels = np.divmod(flat, k)
        keep = alone[lone] & used[lone]
        lone, labels = lone[keep], labels[keep].astype(np.uint8 if k < 256 else np.intp)
        c_alone = v[lone] * resp.ravel()[flat[keep]] ** 2
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(k + 1))
        for j in range(k):
            at = order[bounds[j]:bounds[j + 1]]
            add((j, j), lone[at], c_alone[at])
            at = np.flatnonzero(r[:, j] * r[:, j] >= floor)
            add((j, j), shared[at], vs[at] * r[at, j] ** 2)
    if k == 1 or not len(shared):
        return weights
    present = (r >= floor).astype(np.float64)
    pairs = present.T @ present
    for j in range(k):
        for i in range(j + 1, k):
            if pairs[j, i] == 0:
                continue
            at = np.flatnonzero(r[:, j] * r[:, i] >= floor)
            add((j, i), shared[at], vs[at] * r[at, j] * r[at, i])
    return weights


def _gather(X, observed, at):
    """Rows ``at`` of X (their ``observed`` entries, unless None) in float64."""
    x = X[at] if observed is None else X[at][:, observed]
    return x.astype(np.float64, copy=False)


def information_blocks(params, X, sample_weight, method, *, missing, n_threads, prior=None):
    """The observed or empirical information of the mixture ``params`` on X, by blocks;
    with a prior (a ResolvedPrior), plus minus the Hessian of its log density."""
    k, d = params.means.shape
    lay = _Layout(params.covariance_type, k, d)
    blocks = _Blocks(lay)
    w = params.weights
    weight_scores = np.zeros((k, k - 1))               # g_k = grad log w_k
    if k > 1:
        weight_scores[np.arange(k - 1), np.arange(k - 1)] = 1.0 / w[:-1]
        weight_scores[-1] = -1.0 / w[-1]
    if missing:
        patterns = MissingPatterns(X, for_fit=False)
        groups = [(~patterns.masks[p], patterns.order[patterns.seg[p]:patterns.seg[p + 1]])
                  for p in range(patterns.n_patterns)]
    else:
        groups = [(np.ones(d, dtype=bool), None)]
    step = max(256, _CHUNK_CELLS // max(k, d) // 256 * 256)
    complete_data = _CompleteData(lay)
    sums = _Sums(lay)
    head_weights = np.zeros((k - 1, k - 1))
    for observed, rows in groups:
        pat = _Pattern(lay, params, np.flatnonzero(observed))
        n_rows = X.shape[0] if rows is None else len(rows)
        nk, s1, s2 = 0.0, 0.0, 0.0
        rows_of = partial(_gather, X, None if rows is None else pat.o)
        sums.start(pat, rows_of, max(256, _FEATURE_CELLS // lay.n_features))
        resp_buffer = np.empty((min(step, n_rows), k))
        for lo in range(0, n_rows, step):
            hi = min(n_rows, lo + step)
            at = np.arange(lo, hi) if rows is None else rows[lo:hi]
            x = rows_of(slice(lo, hi) if rows is None else at)
            v = None if sample_weight is None else np.ascontiguousarray(sample_weight[at])
            resp = resp_buffer[:hi - lo]
            _, b_nk, b_s1, b_s2, _ = e_pass(np.ascontiguousarray(x), v, pat.params,
                                            n_threads=n_threads,
                                            want_stats=method == "observed", resp_out=resp)
            if method == "observed":
                nk, s1, s2 = nk + b_nk, s1 + b_s1, s2 + b_s2
            vv = np.ones(hi - lo) if v is None else v
            head_weights += _accumulate_rows(sums, at, vv, resp, weight_scores, method)
        sums.flush()
        if method == "observed" and n_rows:
            complete_data.add(pat, nk, s1, s2)
    counts = np.zeros(k) if method == "observed" else None
    if method == "observed":
        counts += complete_data.nk
    if prior is not None:
        pseudo = complete_data.add_prior(params, prior)
        if pseudo is not None:
            counts = pseudo if counts is None else counts + pseudo
    if method == "observed" or prior is not None:
        complete_data.finish(blocks)
    sums.finish(blocks, weight_scores, method)
    if k > 1:
        wi = np.arange(k - 1)
        blocks.scale[wi] += np.abs(np.diag(head_weights))
        if counts is not None:
            # -Hessian of sum_k counts_k log w_k, w_K = 1 - the others
            complete = np.diag(counts[:-1] / w[:-1] ** 2) + counts[-1] / w[-1] ** 2
            head_weights += complete
            blocks.scale[wi] += np.abs(np.diag(complete))
        blocks.head[np.ix_(wi, wi)] += head_weights
    # symmetric to rounding: make it exactly so
    blocks.head = 0.5 * (blocks.head + blocks.head.T)
    blocks.diag = 0.5 * (blocks.diag + np.swapaxes(blocks.diag, 1, 2))
    return blocks


# -- inversion ---------------------------------------------------------------------------
class _Singular(Exception):
    pass


def _lower_inverse(lower):
    """The inverse of a lower-triangular matrix, by halves (GEMM-rich, about n^3 / 3)."""
    n = lower.shape[0]
    if n <= 192:
        return np.tril(np.linalg.inv(lower))
    h = n // 2
    out = np.zeros_like(lower)
    top = _lower_inverse(lower[:h, :h])
    bottom = _lower_inverse(lower[h:, h:])
    out[:h, :h] = top
    out[h:, h:] = bottom
    out[h:, :h] = -bottom @ (lower[h:, :h] @ top)
    return out


def _cholesky_inverse(matrix, where):
    """The inverse of the lower Cholesky factor of a symmetric matrix, or _Singular."""
    try:
        lower = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise _Singular(f"is not positive definite ({where})") from None
    return _lower_inverse(lower)


def _groups(lay, off):
    """Components joined by shared rows (non-empty off-diagonal blocks), in order."""
    parent = list(range(lay.k))

    def root(j):
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        return j

    for j, i in off:
        a, b = root(j), root(i)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members = {}
    for j in range(lay.k):
        members.setdefault(root(j), []).append(j)
    return list(members.values())


def invert(blocks, *, full):
    """(the covariance in the documented order if full else None, its diagonal, the
    covariance of the head) from the information ``blocks``; raises _Singular."""
    lay = blocks.lay
    p, h = lay.body_size, lay.head_size
    diag_j = blocks.diagonal()
    if not np.all(np.isfinite(diag_j)):
        raise _Singular("has non-finite entries")
    bad = np.flatnonzero(diag_j < 0)
    if len(bad):
        raise _Singular(
            f"is not positive definite: the log-likelihood is not at a maximum in "
            f"{lay.name(bad[0])}")
    bad = np.flatnonzero(diag_j <= INFORMATION_FLOOR * blocks.scale)
    if len(bad):
        raise _Singular(f"is singular: the data carry no information about "
                        f"{lay.name(bad[0])} beyond rounding errors")
    schur = blocks.head.copy()
    parts = []      # (documented indices, inverse Cholesky factor, B^-1 C^T) per group
    groups = _groups(lay, blocks.off)
    alone = [g[0] for g in groups if len(g) == 1]
    if alone:
        # the components that share no rows with another: one batched factorisation
        try:
            lower = np.linalg.cholesky(blocks.diag[alone])
        except np.linalg.LinAlgError:
            for j in alone:
                _cholesky_inverse(blocks.diag[j], f"the block of component {j}")
            raise _Singular("is not positive definite (the blocks of the components "
                            "that share no rows)") from None
        inv_lower = np.tril(np.linalg.inv(lower))
        half = inv_lower @ np.swapaxes(blocks.cross[alone], 1, 2)     # L^-1 C^T
        flat = half.reshape(len(alone) * p, h)
        schur -= flat.T @ flat
        solved = np.swapaxes(inv_lower, 1, 2) @ half
        parts.extend((lay.body_index[j], inv_lower[i], solved[i]) for i, j in enumerate(alone))
    for group in (g for g in groups if len(g) > 1):
        size = len(group) * p
        body = np.zeros((size, size))
        for a, j in enumerate(group):
            body[a * p:(a + 1) * p, a * p:(a + 1) * p] = blocks.diag[j]
            for b in range(a + 1, len(group)):
                block = blocks.off.get((j, group[b]))
                if block is not None:
                    body[a * p:(a + 1) * p, b * p:(b + 1) * p] = block
                    body[b * p:(b + 1) * p, a * p:(a + 1) * p] = block.T
        where = "components " + ", ".join(str(j) for j in group)
        inv_lower = _cholesky_inverse(body, "the block of " + where)
        half = inv_lower @ np.hstack([blocks.cross[j] for j in group]).T
        schur -= half.T @ half
        index = np.concatenate([lay.body_index[j] for j in group])
        parts.append((index, inv_lower, inv_lower.T @ half))
    if h:
        inv_schur = _cholesky_inverse(schur, "the block of the weights" +
                                      (" and the tied covariance" if lay.tied else ""))
    else:
        inv_schur = np.zeros((0, 0))
    variances = np.empty(lay.n_parameters)
    hi = lay.head_index
    head_cov = inv_schur.T @ inv_schur
    variances[hi] = np.diag(head_cov)
    body_index = np.concatenate([index for index, _, _ in parts])
    w_all = inv_schur @ np.hstack([x.T for _, _, x in parts]) if h else np.zeros(
        (0, len(body_index)))
    variances[body_index] = (w_all * w_all).sum(axis=0)
    for index, inv_lower, _ in parts:
        variances[index] += (inv_lower * inv_lower).sum(axis=0)
    inflation = diag_j * variances
    worst = int(np.argmax(np.where(np.isfinite(inflation), inflation, np.inf)))
    if not inflation[worst] <= VARIANCE_INFLATION_LIMIT:
        raise _Singular(
            f"is near singular: the variance of {lay.name(worst)} is inflated by "
            f"{inflation[worst]:.3g} (more than {VARIANCE_INFLATION_LIMIT:.3g}) by its "
            "correlation with the other parameters")
    if not full:
        return None, variances, head_cov
    n = lay.n_parameters
    cov = np.empty((n, n))
    if lay.tied:
        cov[np.ix_(hi, hi)] = head_cov
        hb = -inv_schur.T @ w_all
        cov[np.ix_(hi, body_index)] = hb
        cov[np.ix_(body_index, hi)] = hb.T
        cov[np.ix_(body_index, body_index)] = w_all.T @ w_all
    else:
        # head = the weights (first), bodies = everything else: permute the columns
        order = np.empty(len(body_index), dtype=np.intp)
        order[body_index - h] = np.arange(len(body_index))
        w_doc = np.ascontiguousarray(w_all[:, order])
        cov[:h, :h] = head_cov
        cov[:h, h:] = -inv_schur.T @ w_doc
        cov[h:, :h] = cov[:h, h:].T
        cov[h:, h:] = w_doc.T @ w_doc
    for index, inv_lower, _ in parts:
        cov[np.ix_(index, index)] += inv_lower.T @ inv_lower
    return cov, variances, head_cov


# -- the estimator's methods -----------------------------------------------------------
def _information_of(estimator, X, method, sample_weight):
    check_option(method, "method", METHODS)
    X, missing = estimator._checked(X)
    sw = check_sample_weight(sample_weight, X.shape[0])
    params = estimator._params()
    k, _ = params.means.shape
    fitted_prior = getattr(estimator, "prior_", None)     # a MAP fit's, every value set
    prior = (None if fitted_prior is None
             else resolve_prior(fitted_prior, X, sw, k, params.covariance_type))
    return information_blocks(params, X, sw, method, missing=missing, prior=prior,
                              n_threads=effective_n_threads(estimator.n_threads))


def _warn(method, problem):
    warnings.warn(
        f"The {method} information matrix {problem}: its inverse is no reliable covariance "
        "of the estimates, so every entry returned is NaN. This happens at a fit that has "
        "not converged, with components that share their data (too many components), "
        "or where reg_covar holds a covariance away from singular (a component with "
        "fewer distinct points than features, duplicated features).",
        SingularInformationWarning, stacklevel=3)


def information_matrix(estimator, X, method="observed", sample_weight=None):
    """The P x P information matrix of a fitted estimator, in the documented order."""
    return _information_of(estimator, X, method, sample_weight).dense()


class InformationMixin:
    """GaussianMixture's standard errors (kept apart from the estimator's module)."""

    def parameter_covariance(self, X: ArrayLike, method: str = "observed",
                             sample_weight: ArrayLike | None = None) -> NDArray[np.float64]:
        """Compute the covariance matrix of the fitted parameters: the inverse information.

        The inverse of the observed or the empirical information matrix of X at the
        fitted parameters: the asymptotic covariance of the maximum-likelihood estimates
        when X is the data of the fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, normally the data the model was fitted to. A row with NaN
            contributes the score of its observed entries (of their marginal density);
            a row with nothing observed contributes nothing.

        method : {'observed', 'empirical'}, default='observed'
            'observed': the observed information, minus the Hessian of the
            log-likelihood ``sum_i w_i log p(x_i)`` at the fitted parameters, computed
            analytically. 'empirical': the sum ``sum_i w_i S_i S_i^T`` of the outer
            products of the per-sample scores ``S_i`` (the gradients of
            ``log p(x_i)``), the outer-product-of-gradients estimate. The two agree for
            large samples from the model.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Frequency weights ``w_i``: each row's contribution is multiplied by its
            weight, so an integer weight counts the row that many times, as in ``fit``.
            None gives every row weight 1.

        Returns
        -------
        ndarray of shape (n_parameters, n_parameters), dtype float64
            The covariance matrix of the parameters, in the order given in the Notes.
            Every entry is NaN (with a SingularInformationWarning) when the
            information matrix is not positive definite or is near singular.

        Warns
        -----
        SingularInformationWarning
            If the information matrix is not positive definite (the fit is not a strict
            local maximum of the log-likelihood) or is near singular (some parameter's
            variance is inflated more than 1e-4 / eps, about 4.5e11 times, by its
            correlation with the others).

        See Also
        --------
        standard_errors : The square roots of its diagonal, shaped like the fitted
            arrays (cheaper: it needs only the diagonal).

        Notes
        -----
        The ``n_parameters`` free parameters (as counted by ``bic``), in this order:

        1. the first ``n_components - 1`` weights (the last one is one minus their
           sum);
        2. the means, ``means_.ravel()`` (component by component);
        3. the distinct covariance entries: for 'full', the upper triangle of each
           component's covariance row by row, ``covariances_[k][np.triu_indices(d)]``
           for k = 0, 1, ...; for 'tied', the upper triangle of the one covariance; for
           'diag', ``covariances_.ravel()``; for 'spherical', the ``n_components``
           variances.

        An off-diagonal covariance entry is one parameter for the two symmetric entries
        ``[a, b]`` and ``[b, a]``: a derivative with respect to it moves both.

        With ``r_ik`` the responsibilities and ``s_ik`` the gradient of
        ``log(weights_[k] N(x_i | means_[k], covariances_[k]))``, the observed
        information is the complete-data information given the responsibilities
        (exact, from weighted sufficient statistics) minus
        ``sum_i w_i sum_{k<l} r_ik r_il (s_ik - s_il)(s_ik - s_il)^T``, and the
        empirical information is
        ``sum_i w_i sum_{k,l} r_ik r_il s_ik s_il^T``. A row's term whose
        responsibility product ``r_ik r_il`` is below 1e-12 is left out (each is at most
        1e-12 times the product of the two scores' norms, against about
        ``N_k = sum_i w_i r_ik`` such products in a component's own information): a
        pair of components is visited only on the rows they share. The rows are
        processed in chunks of bounded size, and the matrix is inverted by blocks (the
        components that share rows together, then the weights). ``reg_covar`` is not
        accounted for.

        For a fit with a ``prior`` (MAP estimation), minus the Hessian of the log prior
        density (with the values of ``prior_``) is added to either information: the
        covariance is then the Laplace approximation of the posterior's.

        The observed information is taken at the fitted parameters, so the fit should
        have reached the maximum: EM moves slowly where components overlap, and the
        default ``tol=1e-3`` can stop it well before, where the log-likelihood may not
        curve downwards in every direction yet (a SingularInformationWarning). Fit with
        a smaller ``tol`` (such as 1e-8) before computing standard errors.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> cov = gm.parameter_covariance(X)
        >>> cov.shape           # 1 weight, 2 x 2 means, 2 x 3 covariance entries
        (11, 11)
        >>> print(np.sqrt(np.diag(cov))[:5].round(3))   # the weight, then the means
        [0.029 0.027 0.592 0.031 0.456]
        """
        blocks = _information_of(self, X, method, sample_weight)
        try:
            cov, _, _ = invert(blocks, full=True)
        except _Singular as exc:
            _warn(method, str(exc))
            n = blocks.lay.n_parameters
            return np.full((n, n), np.nan)
        return cov

    def standard_errors(self, X: ArrayLike, method: str = "observed",
                        sample_weight: ArrayLike | None = None) -> StandardErrors:
        """Compute the standard errors of the fitted weights, means and covariances.

        The square roots of the diagonal of ``parameter_covariance(X, method,
        sample_weight)``, shaped like ``weights_``, ``means_`` and ``covariances_``.
        Only the diagonal of the inverse information is computed, so this is cheaper
        than ``parameter_covariance`` when there are many parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, normally the data the model was fitted to. A row with NaN
            contributes the score of its observed entries (of their marginal density);
            a row with nothing observed contributes nothing.

        method : {'observed', 'empirical'}, default='observed'
            'observed': the observed information, minus the Hessian of the
            log-likelihood ``sum_i w_i log p(x_i)`` at the fitted parameters, computed
            analytically. 'empirical': the sum ``sum_i w_i S_i S_i^T`` of the outer
            products of the per-sample scores ``S_i`` (the gradients of
            ``log p(x_i)``), the outer-product-of-gradients estimate. The two agree for
            large samples from the model.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Frequency weights ``w_i``: each row's contribution is multiplied by its
            weight, so an integer weight counts the row that many times, as in ``fit``.
            None gives every row weight 1.

        Returns
        -------
        StandardErrors
            A frozen dataclass of float64 arrays that unpacks as a tuple: ``weights``
            of shape (n_components,), ``means`` of shape (n_components, n_features) and
            ``covariances`` of the shape of ``covariances_`` (symmetric for 'full' and
            'tied'). The last weight is one minus the others: its standard error comes
            from their covariance by the delta method. Every entry is NaN (with a
            SingularInformationWarning) when the information matrix is not positive
            definite or is near singular.

        Warns
        -----
        SingularInformationWarning
            If the information matrix is not positive definite or is near singular (see
            ``parameter_covariance``).

        See Also
        --------
        parameter_covariance : The covariance matrix of all the parameters, with the
            details of the computation.
        StandardErrors : The result.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> se = gm.standard_errors(X)
        >>> print(se.weights.round(4))
        [0.0291 0.0291]
        >>> print(se.means.round(3))
        [[0.027 0.592]
         [0.031 0.456]]
        >>> print(se.covariances[1].round(3))
        [[0.019 0.21 ]
         [0.21  3.92 ]]

        The outer product of the scores gives similar values:

        >>> weights, means, covariances = gm.standard_errors(X, method="empirical")
        >>> print(means.round(3))
        [[0.035 0.629]
         [0.033 0.471]]
        """
        blocks = _information_of(self, X, method, sample_weight)
        lay = blocks.lay
        k, d, c = lay.k, lay.d, lay.c
        try:
            _, variances, head_cov = invert(blocks, full=False)
            se = np.sqrt(variances)
            # the last weight is 1 minus the others: its variance is the sum of theirs
            se_weights = np.r_[se[:k - 1], np.sqrt(head_cov[:k - 1, :k - 1].sum())]
        except _Singular as exc:
            _warn(method, str(exc))
            se = np.full(lay.n_parameters, np.nan)
            se_weights = np.full(k, np.nan)
        cov0 = k - 1 + k * d
        means = se[k - 1:cov0].reshape(k, d)
        if lay.ct in ("full", "tied"):
            covariances = unpack_symmetric(se[cov0:].reshape(-1, c), d)
            if lay.tied:
                covariances = covariances[0]
        elif lay.ct == "diag":
            covariances = se[cov0:].reshape(k, d)
        else:
            covariances = se[cov0:].copy()
        return StandardErrors(se_weights, means, covariances)
