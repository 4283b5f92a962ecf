"""k-means (Lloyd's algorithm) as hard-assignment EM on the shared driver."""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._base import ParamsMixin, sklearn_tags
from .._engine import IterationInfo, Report, Stats, commit, online_step, run_em
from .._kernels import _kmeans
from .._kernels._parallel import effective_n_threads
from .._output import TransformerOutputMixin
from .._sources import INIT_SAMPLE_ROWS, ArraySource, Source, as_source
from .._validation import (
    ABSENT,
    SQUARED_NORM_LIMIT,
    check_array,
    check_float,
    check_int,
    check_is_fitted,
    check_n_features,
    check_option,
    check_random_state,
    check_sample_weight,
    fitted_features,
    interoperable,
)
from ..exceptions import ConvergenceWarning


def _unit(sample_weight):
    return np.empty(0) if sample_weight is None else sample_weight



def _overflow_error(what):
    return ValueError(
        f"{what} too far apart to compute with in floating point: their squared "
        "distances overflow float64. Scale X first (e.g. divide it by its largest "
        "absolute value).")


def _centred(X, sample_weight, n_threads):
    """(data, shift, column variances) for k-means on X (an array, or a Source: then
    data is the dtype its blocks are computed in).

    Every kernel pass reads the rows as data - shift, shift being the weighted column
    means (scikit-learn centres X the same way), so that distances by expansion do not
    cancel for data far from zero. Data whose mean lies within two standard deviations
    of zero loses nothing to the expansion (at most a few ulps): its shift is zero, the
    kernels read it as stored (measured: the shifted copy of each block costs 15-20% of
    a Lloyd iteration), and one pass over X gives its moments; other data takes a second
    pass, about the mean. float32 data whose squared distances could overflow float32
    arithmetic is computed in float64; data whose squared distances (or their weighted
    sum) overflow float64 is rejected with a ValueError."""
    source = X if isinstance(X, Source) else ArraySource(X, sample_weight)
    total = source.total_weight
    scale = None       # the largest weight, when there are weights
    if source.in_memory and source.sample_weight is not None:
        scale = float(source.sample_weight.max())
    elif not source.in_memory and source.total_weight != source.n_samples:
        scale = max(source.map(_largest_weight, None))

    def moments(about):
        """Weighted (by weights scaled to at most 1: the sums cannot overflow)."""
        stats = source.reduce(functools.partial(column_e_step, n_threads=n_threads),
                              (about, scale))
        delta = stats.s1 / stats.weight
        with np.errstate(over="ignore", invalid="ignore"):   # overflow: refused below
            return (about + delta, np.maximum(stats.s2 / stats.weight - delta**2, 0.0),
                    stats.spread)

    shift = np.zeros(source.n_features)
    mean, variances, spread = moments(shift)
    if not (spread <= SQUARED_NORM_LIMIT and _shift_for(mean, variances.sum()) is None):
        shift = mean
        mean, variances, spread = moments(shift)
    if not spread <= SQUARED_NORM_LIMIT:
        raise _overflow_error("The rows of X are")
    if not float(variances.sum()) * total <= SQUARED_NORM_LIMIT:
        raise _overflow_error("The rows of X, weighted by sample_weight, are")
    dtype = source.dtype
    if dtype == np.float32 and not spread <= float(np.finfo(np.float32).max) / 64:
        # the same margin below the largest float32 as SQUARED_NORM_LIMIT for float64
        dtype = np.dtype(np.float64)
    if isinstance(X, Source):
        return dtype, shift.astype(dtype), variances
    return X.astype(dtype, copy=False), shift.astype(dtype), variances


def _shift_for(mean, spread):
    """mean, or None when it is within two standard deviations (spread: the sum of the
    variances) of zero, where distances by expansion lose nothing."""
    return mean if float(mean @ mean) > 4 * float(spread) else None


def kmeans_plusplus(X: ArrayLike, n_clusters: int, *, sample_weight: ArrayLike | None = None,
                    x_squared_norms: ArrayLike | None = None,
                    random_state: int | np.random.RandomState | None = None,
                    n_local_trials: int | None = None,
                    n_threads: int | None = None,
                    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
    """Choose n_clusters seeds by greedy k-means++ (Arthur & Vassilvitskii).

    The first center is a row drawn with probability proportional to its weight. Then,
    for each further center, ``n_local_trials`` candidate rows are drawn with
    probability proportional to weight times squared distance to the nearest chosen
    center, and the candidate that most reduces the potential (the weighted sum of
    those squared distances) is kept. The rule and the random draws are
    scikit-learn's, so with the same ``random_state`` it picks the same rows (unless
    two candidates tie to rounding error).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data to pick seeds from: finite real numbers, float32 kept as float32 and
        any other numeric data converted to float64. Data far from zero is centred, as
        in KMeans (see its Notes).

    n_clusters : int
        The number of seeds to choose, at most ``n_samples``.

    sample_weight : array-like of shape (n_samples,) or float, default=None
        Non-negative finite weights, not all zero: the probability of drawing a row is
        proportional to its weight (rows of weight zero are never chosen). None gives
        every row weight 1.

    x_squared_norms : array-like of shape (n_samples,), default=None
        Accepted for scikit-learn's signature and checked (finite, one per row), but not
        used: fastem computes distances between rows centred by their mean (so that they
        do not cancel), whose norms are not those of the rows of X.

    random_state : int, RandomState instance or None, default=None
        Controls the random draws. Pass an int for reproducible results across calls.
        None uses numpy's global RandomState.

    n_local_trials : int or None, default=None
        The number of candidates drawn for each center after the first. None gives
        ``2 + int(log(n_clusters))``, scikit-learn's default.

    n_threads : int or None, default=None
        The number of OpenMP threads, as in KMeans: None or -1 uses every usable core,
        -2 all but one, and so on. The result does not depend on it.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The chosen rows of X, ``X[indices]``, float32 for float32 X, else float64.
    indices : ndarray of shape (n_clusters,), dtype intp
        The indices of the chosen rows in X, in the order they were chosen.

    Raises
    ------
    ValueError
        If X has fewer rows than ``n_clusters``, if ``x_squared_norms`` does not have
        one finite value per row, or if the rows of X are too far apart for their
        squared distances to be computed in float64.

    See Also
    --------
    KMeans : K-means clustering, whose default initialization this is.

    Examples
    --------
    >>> from fastem import kmeans_plusplus
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> centers, indices = kmeans_plusplus(X, n_clusters=3, random_state=0)
    >>> print(centers)
    [[ 1.8   53.   ]
     [ 3.833 78.   ]
     [ 4.417 87.   ]]
    >>> print(indices)
    [149 163 119]
    """
    X = check_array(X)
    n = X.shape[0]
    n_clusters = check_int(n_clusters, "n_clusters", minimum=1)
    if n < n_clusters:
        raise ValueError(f"n_samples={n} should be >= n_clusters={n_clusters}")
    sw = check_sample_weight(sample_weight, n)
    rs = check_random_state(random_state)
    n_local_trials = check_int(n_local_trials, "n_local_trials", minimum=1, allow_none=True)
    if x_squared_norms is not None:
        norms = check_array(np.reshape(np.asarray(x_squared_norms), (-1, 1)),
                            "x_squared_norms")
        if np.ndim(x_squared_norms) != 1 or norms.shape[0] != n:
            raise ValueError(f"The length of x_squared_norms {norms.shape[0]} should be "
                             f"equal to the length of n_samples {n} (x_squared_norms must "
                             f"have shape ({n},), got {np.shape(x_squared_norms)})")
    indices = _kmeans_plusplus(X, n_clusters, sw, rs, n_local_trials,
                               effective_n_threads(n_threads))
    return X[indices], indices


def _kmeans_plusplus(X, n_clusters, sw, rs, n_local_trials, n_threads, shift=None,
                     prune=True):
    """The rows chosen by greedy k-means++. Distances are of the rows X - shift (shift
    None: X is centred here, see _centred). prune=False computes every row's distances
    (the same rows chosen, for the tests)."""
    if shift is None:
        X, shift, _ = _centred(X, sw, n_threads)
    n, d = X.shape
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    w = _unit(sw)
    centers = np.empty((n_clusters, d), dtype=X.dtype)   # shifted coordinates
    indices = np.empty(n_clusters, dtype=np.intp)
    # first center: a row drawn with probability w / sum(w), one uniform draw as in
    # RandomState.choice(n, p=w / sum(w)), without its n-sized cumulative sum
    total = float(n if sw is None else sw.sum())
    _kmeans.weighted_search(w, np.empty(0), n, np.array([rs.random_sample() * total]),
                            indices[:1])
    centers[0] = X[indices[0]] - shift
    # Distances by expansion. The rows' squared norms are kept (from the first pass) when
    # they take at most an eighth of the memory of X, else recomputed in each pass.
    closest = np.full(n, np.inf)
    xx = np.empty(n if n * 8 <= X.nbytes // 8 else 0)
    # each block's part of the potential: the draws find their block, then their row
    block_sums = np.empty(_kmeans.n_blocks(n))
    # Each row's nearest center so far: a candidate c whose distance to that center m is
    # at least twice the row's, |c - m| >= 2 |x - m|, cannot come nearer (triangle
    # inequality), so the passes skip such rows, with a margin for rounding (slack);
    # the gains and potentials are those of every row computed.
    labels = np.zeros(n, dtype=np.int32)
    block_norms = np.empty(_kmeans.n_blocks(n))
    potential = _kmeans.kpp_update_closest(X, w, closest, centers[:1], np.empty(0),
                                           n_threads, xx if len(xx) else None, shift=shift,
                                           block_sums=block_sums, labels=labels,
                                           block_norms=block_norms)
    center_norms = float(centers[0].astype(np.float64) @ centers[0]) * (1 + 1e-9)
    slack = np.empty_like(block_norms)
    found = np.empty(n_local_trials, dtype=np.intp)
    gains = np.empty(n_local_trials)
    # The gains pass lists, per block, the rows some candidate comes nearer to with
    # their distances, so that the chosen one updates `closest` without another pass
    # over X, when room for every row takes at most the memory of X (only the rows
    # listed are written); else a pass computes the chosen one's distances again.
    blocks, panels = _kmeans.n_blocks(n), -(-n_local_trials // 8)
    width = 4 if n_local_trials <= 4 else 8
    kept = None
    if blocks * panels * 256 * (8 * width + 4) <= X.nbytes:
        kept = (np.empty((blocks, panels, 256, width)),
                np.empty((blocks, panels, 256), np.int32), np.empty((blocks, panels), np.int32))
    for c in range(1, n_clusters):
        targets = rs.uniform(size=n_local_trials) * potential
        order = np.argsort(targets)
        _kmeans.weighted_search(w, closest, n, np.ascontiguousarray(targets[order]), found,
                                block_sums)
        candidate_ids = np.empty(n_local_trials, dtype=np.intp)
        candidate_ids[order] = found
        candidates = np.ascontiguousarray(X[candidate_ids] - shift)
        gap = np.empty((n_local_trials, c))   # lower bounds, center to candidate
        center_norms = max(center_norms, _kmeans.kpp_gaps(centers[:c], candidates, gap))
        _kmeans.kpp_slack(block_norms, center_norms, d, X.dtype == np.float32, slack)
        _kmeans.kpp_gains(X, w, closest, candidates, gains, xx, n_threads, shift=shift,
                          labels=labels, gaps=gap.min(axis=0) if prune else None,
                          slack=slack, kept=kept)
        # the candidate that most lowers the potential (the first of equal ones)
        best = int(np.argmin(potential - gains))
        indices[c] = candidate_ids[best]
        centers[c] = candidates[best]
        if kept is not None:
            potential = _kmeans.kpp_fold(kept, best, w, closest, block_sums, n_threads,
                                         labels=labels, new_label=c)
        else:
            potential = _kmeans.kpp_update_closest(
                X, w, closest, centers[c:c + 1], xx, n_threads, shift=shift,
                block_sums=block_sums, labels=labels, gaps=gap[best] if prune else None,
                slack=slack, new_label=c)
    return indices


_LABEL_CHUNK = 1 << 16   # rows of labels per step: temporaries stay small for any n


def _same_partition(labels, other, n_clusters):
    """Whether labels (in [0, n_clusters)) map onto other (each cluster of labels inside
    one of other's), the test scikit-learn uses between k-means restarts; in chunks of
    rows, so that it needs no n-sized temporaries."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    for lo in range(0, labels.shape[0], _LABEL_CHUNK):
        mine, theirs = labels[lo:lo + _LABEL_CHUNK], other[lo:lo + _LABEL_CHUNK]
        unseen = np.flatnonzero(mapping[mine] < 0)
        if unseen.size:       # clusters met for the first time: their image in other
            clusters, first = np.unique(mine[unseen], return_index=True)
            mapping[clusters] = theirs[unseen[first]]
        if not np.array_equal(mapping[mine], theirs):
            return False
    return True


def _distinct_clusters(labels, n_clusters):
    """How many of the n_clusters labels occur, counted in chunks of rows."""
    seen = np.zeros(n_clusters, dtype=bool)
    for lo in range(0, labels.shape[0], _LABEL_CHUNK):
        seen |= np.bincount(labels[lo:lo + _LABEL_CHUNK], minlength=n_clusters) > 0
    return int(np.count_nonzero(seen))


def _checked_inertia(inertia):
    if not np.isfinite(inertia):
        raise _overflow_error("The rows of X and the centers are")
    return float(inertia)


@dataclass
class LloydStats(Stats):
    """One block's Lloyd statistics: its inertia at the centers, and per cluster the
    weight and the sum of the rows (in the shifted coordinates) nearest to it."""

    inertia: float
    weight: np.ndarray
    sums: np.ndarray
    centers: np.ndarray        # context: where the block was assigned

    additive = ("inertia", "weight", "sums")


def lloyd_e_step(block, centers, *, shift, dtype, n_threads=None):
    """LloydStats of a block (a _sources.Block) at ``centers`` (shifted coordinates)."""
    X = block.X if block.X.dtype == dtype else block.X.astype(dtype)
    k, d = centers.shape
    sums, weight = np.zeros((k, d)), np.zeros(k)
    inertia = _kmeans.lloyd_pass(X, _unit(block.sample_weight), centers,
                                 np.empty(0, dtype=np.intc), sums, weight, np.empty(0), True,
                                 effective_n_threads(n_threads), shift=shift)
    return LloydStats(inertia, weight, sums, centers)


@dataclass
class ColumnStats(Stats):
    """A block's column sums about a point, its rows' squared distances to it, and its
    weight (the weights scaled as the sums were)."""

    s1: np.ndarray
    s2: np.ndarray
    spread: float
    weight: float

    additive = ("s1", "s2", "spread", "weight")


def _scaled_weights(block, scale):
    """The block's weights over ``scale`` (the largest), or empty for unit weights."""
    if scale is None:
        return np.empty(0)
    if block.sample_weight is None:
        return np.full(block.X.shape[0], 1.0 / scale)
    return block.sample_weight / scale


def column_e_step(block, about_scale, *, n_threads=None):
    """ColumnStats of a block about ``about``, weights divided by ``scale``."""
    about, scale = about_scale
    w = _scaled_weights(block, scale)
    s1, s2, spread = _kmeans.column_sums(block.X, w, about, effective_n_threads(n_threads))
    return ColumnStats(s1, s2, spread, float(block.X.shape[0] if scale is None else w.sum()))


def _largest_weight(block, _, *, n_threads=None):
    return 1.0 if block.sample_weight is None else float(block.sample_weight.max())


def lloyd_labels(block, job, *, n_threads=None, out=None):
    """(labels or an empty array, inertia, cluster weights or None) of a block at the
    centers: job = (centers, shift, dtype, want_labels); the labels are written to
    ``out`` when given."""
    centers, shift, dtype, want_labels = job
    X = block.X if block.X.dtype == dtype else block.X.astype(dtype)
    labels = out if out is not None else np.empty(X.shape[0] if want_labels else 0,
                                                  dtype=np.intc)
    inertia = _kmeans.lloyd_pass(X, _unit(block.sample_weight), centers, labels,
                                 np.empty((0, 0)), np.empty(0), np.empty(0), False,
                                 effective_n_threads(n_threads), shift=shift)
    weights = None
    if want_labels:       # in pieces: bincount would copy all the labels to intp
        weights = np.zeros(len(centers))
        sw = block.sample_weight
        for lo in range(0, labels.shape[0], _LABEL_CHUNK):
            weights += np.bincount(labels[lo:lo + _LABEL_CHUNK], minlength=len(centers),
                                   weights=None if sw is None else sw[lo:lo + _LABEL_CHUNK])
    return labels, inertia, weights


def farthest_rows(block, job, *, n_threads=None):
    """The ``m`` rows of the block farthest from their nearest center: (distances, rows
    in shifted coordinates as float64, weights, labels); job = (centers, shift, dtype,
    m)."""
    centers, shift, dtype, m = job
    X = block.X if block.X.dtype == dtype else block.X.astype(dtype)
    labels = np.empty(X.shape[0], dtype=np.intc)
    dist = np.empty(X.shape[0])
    _checked_inertia(_kmeans.lloyd_pass(
        X, _unit(block.sample_weight), centers, labels, np.empty((0, 0)), np.empty(0),
        dist, False, effective_n_threads(n_threads), shift=shift))
    far = (np.argpartition(dist, -m)[:-m - 1:-1] if len(dist) > m
           else np.arange(len(dist))[::-1])
    w = np.ones(len(far)) if block.sample_weight is None else block.sample_weight[far]
    return dist[far], (X[far] - shift).astype(np.float64), w, labels[far]


class _LloydEM:
    """Lloyd's algorithm as a driver problem: params are the centers (in ``dtype``), in
    the coordinates of the rows X - shift.

    It converges as scikit-learn's Lloyd loop: when an iteration assigns the rows as the
    one before (strict convergence), or moves the centers by a total squared distance of
    at most tol; empty clusters are relocated as there (see _relocate_empty). Instead
    of keeping the previous labels (n integers) it compares the iteration's cluster
    weights and sums with the previous ones: equal exactly when the assignment is (the
    reductions are deterministic), except that rows of weight zero may move unseen;
    those change no center, so the run still stops at the same iteration, as
    scikit-learn's by its tolerance.
    """

    objective_name = "-inertia"

    def __init__(self, source, n_clusters, init, tol, n_threads, shift, dtype):
        self.source = source
        self.X = source.X if source.in_memory else None
        self.sw = source.sample_weight if source.in_memory else None
        if self.X is not None and self.X.dtype != dtype:
            self.X = self.X.astype(dtype)
        self.dtype = dtype
        self.n_clusters = n_clusters
        self.init = init
        self.tol = tol
        self.n_threads = n_threads
        self.shift = shift
        self.e_step = functools.partial(lloyd_e_step, shift=shift, dtype=dtype,
                                        n_threads=n_threads)
        if self.X is not None and self.X is not source.X:   # computed in float64
            self.source = ArraySource(self.X, self.sw)
        self.best_labels = None
        self.best_inertia = None
        self.best_weights = None       # the best run's cluster weights
        self.last_weights = None
        self.previous = None          # the previous iteration's (weights, sums)
        self.strict = False           # the last iteration assigned as the one before
        self.center_shift = None      # its total squared center shift (not strict)
        self.sample = None            # rows to seed from, when X is not in memory
        self.report = _LloydReport(self)

    def initialize(self, rs):
        k = self.n_clusters
        self.previous = None
        if isinstance(self.init, np.ndarray):
            return np.ascontiguousarray(self.init.astype(self.dtype) - self.shift)
        if self.X is not None:
            X, sw = self.X, self.sw
        else:            # seeds from a sample of the rows (all of them, if few)
            if self.sample is None:
                X, sw = self.source.sample(max(INIT_SAMPLE_ROWS, 50 * k), rs)
                if sw is not None and not sw.sum() > 0:
                    sw = None
                self.sample = np.ascontiguousarray(X, dtype=self.dtype), sw
            X, sw = self.sample
        if self.init == "k-means++":
            rows = _kmeans_plusplus(X, k, sw, rs, None, self.n_threads, self.shift)
        else:
            p = None if sw is None else sw / sw.sum()
            rows = rs.choice(X.shape[0], size=k, replace=False, p=p)
        return np.ascontiguousarray(X[rows] - self.shift)

    def objective(self, centers, stats):
        return -_checked_inertia(stats.inertia)

    def m_step(self, stats):
        centers = stats.centers
        sums, weight = stats.sums, stats.weight
        previous, self.previous = self.previous, (weight.copy(), sums.copy())
        self.strict = previous is not None and all(
            np.array_equal(a, b) for a, b in zip(previous, self.previous))
        if (weight == 0).any():
            sums, weight = sums.copy(), weight.copy()
            self._relocate_empty(centers, sums, weight)
        new = centers.astype(np.float64, copy=True)
        filled = weight > 0
        new[filled] = sums[filled] / weight[filled, None]
        # clusters still empty go to the center of the heaviest one, as scikit-learn's
        new[~filled] = new[np.argmax(weight)]
        return new.astype(centers.dtype)

    def _relocate_empty(self, centers, sums, weight):
        """scikit-learn's relocation: the empty clusters take the rows farthest from
        their centers (by np.argpartition, as scikit-learn, so that ties go the same way),
        one each, with its weight; none when every row lies on its center. A cluster
        given a row of weight zero stays empty. Rows read in blocks: the farthest of
        each block's farthest rows."""
        empty = np.flatnonzero(weight == 0)
        m = len(empty)
        # (distances, rows (shifted, float64), weights, labels) per block
        found = self.source.map(farthest_rows, (centers, self.shift, self.dtype, m))
        dist, rows, w, labels = (np.concatenate(part) for part in zip(*found))
        if not dist.max() > 0:
            return
        if len(found) > 1:        # the farthest of the blocks' farthest
            far = np.argpartition(dist, -m)[:-m - 1:-1] if len(dist) > m else np.argsort(
                -dist, kind="stable")
            dist, rows, w, labels = dist[far], rows[far], w[far], labels[far]
        for new_id, x, wi, old_id in zip(empty, rows, w, labels):
            sums[old_id] -= wi * x
            weight[old_id] -= wi
            sums[new_id] = wi * x
            weight[new_id] = wi

    def converged(self, change, tol, old, new):
        if self.strict:
            return True
        self.center_shift = float(((new.astype(np.float64) - old) ** 2).sum())
        return self.center_shift <= self.tol

    def final_score(self, centers, objective):
        """-inertia of the run's centers; the labels and inertia of the best run so far
        are kept in best_labels / best_inertia. As scikit-learn, a later run replaces
        the best only with a lower inertia and a different partition: one that ends
        with the best's partition (it may have stopped on tol a little earlier or
        later) scores as the best does, and the driver keeps the first."""
        labels = np.empty(self.source.n_samples, dtype=np.intc)
        inertia = self.inertia(centers, labels)
        if self.best_labels is not None and _same_partition(labels, self.best_labels,
                                                            centers.shape[0]):
            return -self.best_inertia
        if self.best_labels is None or inertia < self.best_inertia:
            self.best_labels, self.best_inertia = labels, inertia
            self.best_weights = self.last_weights
        return -inertia

    def inertia(self, centers, labels=None):
        """The inertia at ``centers``, and each row's nearest center in ``labels`` (when
        given; then the clusters' weights are kept in last_weights), block by block."""
        want = labels is not None
        job = (centers, self.shift, self.dtype, want)
        if self.source.in_memory:      # the labels straight into the caller's array
            parts = [lloyd_labels(self.source.block, job, n_threads=self.n_threads,
                                  out=labels)]
        else:
            parts = self.source.map(lloyd_labels, job)
        total, at, weights = 0.0, 0, 0.0
        for part, inertia, w in parts:
            total += _checked_inertia(inertia)
            if want:
                labels[at:at + len(part)] = part
                at += len(part)
                weights = weights + w
        if want:
            self.last_weights = weights
        return total


class _LloydReport(Report):
    """scikit-learn's verbose lines for k-means (its iterations counted from 0)."""

    def __init__(self, problem):
        self.problem = problem

    def start(self, init):
        return None

    def initialized(self, init):
        return "Initialization complete"

    def iteration(self, init, n_iter, lower_bound, change, elapsed):
        return f"Iteration {n_iter - 1}, inertia {-lower_bound}."

    def end(self, init, converged, n_iter, lower_bound, elapsed):
        if not converged:
            return None
        if self.problem.strict:
            return f"Converged at iteration {n_iter - 1}: strict convergence."
        return (f"Converged at iteration {n_iter - 1}: center shift "
                f"{self.problem.center_shift} within tolerance {self.problem.tol}.")


def lloyd(X, sample_weight, n_clusters, *, init="k-means++", n_init=1, max_iter=300,
          tol=1e-4, random_state=None, n_threads=1, verbose=0, callback=None):
    """Run Lloyd's algorithm (validated inputs: X an array, or a Source with
    sample_weight None); returns (problem, the driver's best run), the run's centers in
    X's coordinates and dtype. The tolerance is scikit-learn's rule, tol times the mean
    of the per-feature variances of X (weighted by sample_weight, so that integer
    weights act as repeated rows)."""
    source = X if isinstance(X, Source) else ArraySource(X, sample_weight)
    dtype, shift, variances = _centred(source, None, n_threads)
    problem = _LloydEM(source, n_clusters, init,
                       float(np.mean(variances) * tol) if tol else 0.0, n_threads, shift,
                       dtype)
    result = run_em(problem, n_init=n_init, max_iter=max_iter, tol=tol,
                    random_state=random_state, verbose=verbose, verbose_interval=1,
                    callback=callback, warn=False)
    result.params = (result.params + shift).astype(source.dtype)
    return problem, result


def _nearest(X, sample_weight, centers, labels, n_threads):
    """Inertia of X against the fitted centers, labels (when not empty) its nearest
    center. Distances are of rows centred by the centers' mean; float32 data whose
    distances overflow float32 is done again in float64."""
    mean = centers.mean(axis=0, dtype=np.float64)
    mean = _shift_for(mean, ((centers - mean) ** 2).sum(axis=1).mean())
    if mean is None:
        mean = np.zeros(centers.shape[1])      # the kernels read the rows as stored
    for data in (X, X.astype(np.float64)) if X.dtype == np.float32 else (X,):
        shift = mean.astype(data.dtype)
        shifted = np.ascontiguousarray(centers.astype(data.dtype) - shift)
        inertia = _kmeans.lloyd_pass(data, _unit(sample_weight), shifted, labels,
                                     np.empty((0, 0)), np.empty(0), np.empty(0), False,
                                     n_threads, shift=shift)
        if np.isfinite(inertia):
            return float(inertia)
    return _checked_inertia(inertia)


# partial_fit moves centers whose count is below this fraction of the largest
# (scikit-learn's MiniBatchKMeans default reassignment_ratio)
REASSIGNMENT_RATIO = 0.01


class _Shape:
    """Only a shape (what parameter checks read of X)."""

    def __init__(self, *shape):
        self.shape = shape


def _reassign_small(centers, weight, source, rs, ratio, shift):
    """Move the centers (shifted coordinates, changed in place) whose weight is below
    ``ratio`` times the largest to rows of ``source`` drawn with probability
    proportional to their weight, at most half its rows (scikit-learn's mini-batch
    reassignment); return the weights, the moved centers' set to the smallest of the
    others'."""
    small = weight < ratio * weight.max()
    rows, sw = source.sample(INIT_SAMPLE_ROWS, rs)
    half = int(0.5 * rows.shape[0])
    if small.sum() > half:      # the lightest `half` of them
        small[np.argsort(weight, kind="stable")[half:]] = False
    count = int(small.sum())
    weight = weight.copy()
    if count:
        p = None if sw is None else sw / sw.sum()
        if p is not None and np.count_nonzero(p) < count:
            return weight
        chosen = rs.choice(rows.shape[0], size=count, replace=False, p=p)
        centers[small] = rows[chosen].astype(np.float64) - shift
        weight[small] = weight[~small].min()
    return weight


class KMeans(TransformerOutputMixin, ParamsMixin):
    """K-means clustering by Lloyd's algorithm on fused, deterministic OpenMP kernels.

    Partition the samples into ``n_clusters`` clusters by minimizing the inertia, the
    (weighted) sum of squared distances of the samples to their closest center: Lloyd's
    algorithm, hard-assignment EM, from k-means++, random or given seeds.

    Same parameters, attributes and methods as scikit-learn's KMeans: from the same
    initial centers the iterates, labels and inertia are scikit-learn's, to
    floating-point accuracy, and the choice between restarts is scikit-learn's.
    Additions: ``n_threads`` (results bitwise identical for any value), ``callback``
    and ``save``. Refused: ``algorithm='elkan'``, a callable ``init`` and sparse X.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form, and of centers to find. At most the number of
        samples.

    init : {'k-means++', 'random'} or array-like of shape (n_clusters, n_features), \
default='k-means++'
        The method of seeding each run:

        - 'k-means++': greedy k-means++ (see :func:`kmeans_plusplus`, with
          ``2 + int(log(n_clusters))`` local trials), with scikit-learn's rule and
          random draws; rows are drawn with probability proportional to
          ``sample_weight`` times their squared distance to the nearest chosen center.
        - 'random': ``n_clusters`` distinct rows drawn at random, with probability
          proportional to ``sample_weight``.
        - an array: the initial centers themselves (one run: see ``n_init``).

        A callable is refused (TypeError).

    n_init : 'auto' or int, default='auto'
        The number of runs, each from its own seeding; the run with the lowest inertia
        is kept. 'auto' is 10 for ``init='random'`` and 1 otherwise. With an array
        ``init`` every run would start from the same centers: an int other than 1 then
        gives a RuntimeWarning (as scikit-learn's) and one run.

    max_iter : int, default=300
        The maximum number of Lloyd iterations of each run (at least 1). A run that
        reaches it stops without a warning, as in scikit-learn.

    tol : float, default=1e-4
        Convergence tolerance, relative to the data (scikit-learn's rule): a run stops
        when the centers move by a total squared distance of at most ``tol`` times the
        mean of the (weighted) variances of the features. Independently of ``tol``, a
        run stops when an iteration assigns every sample as the one before (strict
        convergence); with ``tol=0`` a run stops only when the assignment or the
        centers no longer change.

    verbose : int, default=0
        0 prints nothing; any other value prints scikit-learn's lines:
        "Initialization complete", the inertia at every iteration (counted from 0) and
        how each run converged (strict convergence, or the center shift and the
        tolerance).

    random_state : int, RandomState instance or None, default=None
        Controls the random draws of the seeding. Pass an int for reproducible results
        across calls. None uses numpy's global RandomState.

    copy_x : bool, default=True
        Accepted for scikit-learn's signature (it must be a bool) and unused: fastem
        never writes to X, and reads the rows centred by their mean (see Notes) without
        making a centred copy, so True and False do the same.

    algorithm : {'lloyd'}, default='lloyd'
        Lloyd's algorithm, the only one fastem implements. 'elkan' is refused with a
        ValueError: it gives the same iterates as Lloyd's (it only skips distance
        computations), so ``algorithm='lloyd'`` gives its results.

    n_threads : int or None, default=None
        The number of OpenMP threads of the kernels. None uses every usable core
        (affinity mask and cgroup quota), limited by ``OMP_NUM_THREADS`` and
        threadpoolctl's ``threadpool_limits``; a negative value counts from all usable
        cores, as scikit-learn's ``n_jobs`` (-1: all, -2: all but one); without OpenMP
        the kernels run on one thread. Results do not depend on it: they are bitwise
        identical for any value.

    callback : callable or None, default=None
        Called after every Lloyd iteration of every run with an :class:`IterationInfo`
        (``init``, ``n_iter``, ``lower_bound``, ``change``, ``time``), whose
        ``lower_bound`` is minus the inertia at the centers the iteration started
        from. Returning True (the value True itself) stops that run.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centers of the best run, float32 for float32 X, else float64. A cluster
        left empty (e.g. with fewer distinct points than ``n_clusters``) has the center
        of the heaviest cluster.

    labels_ : ndarray of shape (n_samples,), dtype int32
        The index of the closest center of ``cluster_centers_`` for each sample.

    inertia_ : float
        The sum of the (weighted) squared distances of the samples to their closest
        center.

    n_iter_ : int
        The number of iterations of the best run.

    n_steps_ : int
        The number of batches ``partial_fit`` has taken (defined after it).

    n_features_in_ : int
        The number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        The names of the features seen during fit, str objects. Defined only when X
        was a DataFrame whose column names are all strings.

    See Also
    --------
    kmeans_plusplus : The k-means++ seeding, on its own.
    GaussianMixture : A Gaussian mixture, the soft-assignment generalization.
    sklearn.cluster.KMeans : The scikit-learn estimator with the same API.

    Notes
    -----
    Restarts: the best run is the one of lowest inertia, with scikit-learn's choice
    between runs: a later run replaces the best only with a lower inertia and a
    different partition (a run that ends with the best's partition, having stopped a
    little earlier or later on ``tol``, does not).

    Empty clusters: a cluster that an iteration leaves empty is relocated as in
    scikit-learn, to the sample farthest from its center (one sample for each empty
    cluster). If fewer distinct clusters than ``n_clusters`` remain (duplicate
    points), fit gives a ConvergenceWarning.

    Precision: float32 data is clustered in float32 kernels (sums accumulated in
    float64) and gives float32 ``cluster_centers_``, as in scikit-learn; any other
    numeric data is converted to float64. When the (weighted) mean of the rows is far
    from zero (beyond two standard deviations), the distances are computed on the rows
    centred by it, without a copy, so that such data (timestamps, coordinates) clusters
    as it would at zero. float32 data whose squared distances could overflow float32
    is computed in float64; data whose squared distances overflow float64 is refused
    with a ValueError.

    Output: ``transform`` and ``fit_transform`` return numpy arrays, or pandas
    DataFrames after ``set_output(transform="pandas")`` (columns from
    ``get_feature_names_out``: kmeans0, kmeans1, ...; the index of a DataFrame X), as
    scikit-learn's.

    Examples
    --------
    >>> from fastem import KMeans
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> print(km.cluster_centers_.round(2))
    [[ 2.09 54.75]
     [ 4.3  80.28]]
    >>> print(km.labels_[:8])
    [1 0 1 0 1 0 1 1]
    >>> round(km.inertia_, 1), km.n_iter_
    (8901.8, 3)
    >>> print(km.predict([[2.0, 50.0], [4.5, 85.0]]))
    [0 1]

    Data far from zero clusters as it would at zero:

    >>> far = KMeans(n_clusters=2, random_state=0).fit(X + 1e9)
    >>> print((far.cluster_centers_ - 1e9).round(2))
    [[ 2.09 54.75]
     [ 4.3  80.28]]
    """

    # fitted attributes: fit sets them all at once, at its end (see _engine.commit)
    cluster_centers_: NDArray[np.floating[Any]]   # float32 for float32 data, else float64
    labels_: NDArray[np.intc]
    inertia_: float
    n_iter_: int
    n_features_in_: int
    feature_names_in_: NDArray[np.object_]

    def __init__(self, n_clusters: int = 8, *, init: str | ArrayLike = "k-means++",
                 n_init: str | int = "auto", max_iter: int = 300, tol: float = 1e-4,
                 verbose: int = 0, random_state: int | np.random.RandomState | None = None,
                 copy_x: bool = True, algorithm: str = "lloyd",
                 n_threads: int | None = None,
                 callback: Callable[[IterationInfo], Any] | None = None) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.n_threads = n_threads
        self.callback = callback

    _output_units = "cluster_centers_"    # one output column per center

    def __sklearn_tags__(self):
        return sklearn_tags(self, estimator_type="clusterer", transformer=True)

    def _check_params(self, X):
        k = check_int(self.n_clusters, "n_clusters", minimum=1)
        if self.callback is not None and not callable(self.callback):
            raise TypeError("callback must be callable or None")
        if X.shape[0] < k:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}")
        if isinstance(self.init, str):
            if self.init not in ("k-means++", "random"):
                raise ValueError("init must be 'k-means++', 'random' or an array of shape "
                                 f"(n_clusters, n_features); got {self.init!r}")
            init = self.init
        elif callable(self.init):
            raise TypeError("init must be 'k-means++', 'random' or an array of shape "
                            "(n_clusters, n_features); fastem does not take a callable init")
        else:
            init = check_array(self.init, "init")
            # scikit-learn's messages, and what init must be
            for axis, size, what in ((0, k, "clusters"), (1, X.shape[1], "features of the data")):
                if init.shape[axis] != size:
                    raise ValueError(
                        f"The shape of the initial centers {init.shape} does not match the "
                        f"number of {what} {size}: init must have shape ({k}, "
                        f"{X.shape[1]}), that is (n_clusters, n_features)")
        if self.n_init == "auto":
            n_init = 10 if isinstance(init, str) and init == "random" else 1
        else:
            n_init = check_int(self.n_init, "n_init", minimum=1)
        if not isinstance(init, str) and n_init != 1:
            warnings.warn(  # scikit-learn's warning
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={n_init}.", RuntimeWarning,
                stacklevel=3)
            n_init = 1
        max_iter = check_int(self.max_iter, "max_iter", minimum=1)
        tol = check_float(self.tol, "tol", minimum=0.0)
        effective_n_threads(self.n_threads)   # validates it (TypeError, ValueError)
        if not isinstance(self.verbose, numbers.Integral):
            raise TypeError(f"verbose must be an integer, got {self.verbose!r}")
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise TypeError(f"copy_x must be True or False, got {self.copy_x!r}")
        if isinstance(self.algorithm, str) and self.algorithm == "elkan":
            raise ValueError("algorithm='elkan' is not available: fastem implements Lloyd's "
                             "algorithm only. Elkan's algorithm gives the same iterates (it "
                             "only skips distance computations): use algorithm='lloyd'.")
        check_option(self.algorithm, "algorithm", ("lloyd",))
        return k, init, n_init, max_iter, tol

    def fit(self, X: ArrayLike, y: Any = None,
            sample_weight: ArrayLike | None = None) -> KMeans:
        """Compute k-means clustering.

        The model is fitted ``n_init`` times (see its description) and the run of
        lowest inertia is kept (see the class's Notes for the choice between runs).
        Each run iterates Lloyd's algorithm (assign each sample to its closest center,
        move each center to the weighted mean of its samples) until strict
        convergence, or until the centers move by at most the tolerance (see
        ``tol``), or for ``max_iter`` iterations, or until ``callback`` returns True.
        A fit that raises or is interrupted (Ctrl-C) leaves the estimator as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one row per sample: finite real numbers (dense, no NaN). float32
            data gives float32 ``cluster_centers_``; any other numeric data is
            converted to float64. X is never written to. A dask array is fitted where
            it lives: the Lloyd iterations run on the Dask workers (see
            ``fastem.dask``; persist it first); a few passes, such as the one that
            finds ``labels_``, read its chunks on the client.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative finite weights, not all zero; a float gives every row that
            weight. The inertia is the weighted sum, the centers are weighted means, the
            seeding draws rows with probability proportional to their weight and the
            tolerance uses the weighted variances, so an integer weight counts its row
            that many times (the random draws of the seeding can differ from those of
            repeated rows). None gives every row weight 1.

        Returns
        -------
        KMeans
            The fitted estimator (self).

        Raises
        ------
        ValueError
            If a parameter is invalid (``algorithm='elkan'`` included), if X holds NaN
            or infinity or has fewer samples than ``n_clusters``, or if the rows of X
            are too far apart for their squared distances to be computed in float64
            (scale X first).
        TypeError
            If a parameter has the wrong type (a callable ``init`` included), or if X
            is not numeric or is sparse.

        Warns
        -----
        ConvergenceWarning
            If the best run has fewer distinct clusters than ``n_clusters`` (possibly
            because of duplicate points in X).
        RuntimeWarning
            If ``init`` is an array and ``n_init`` is an int other than 1 (one run is
            made).

        See Also
        --------
        fit_predict : Fit, then return the cluster of each sample.
        fit_transform : Fit, then return the distances of each sample to the centers.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> km = KMeans(n_clusters=3, init="random", random_state=0).fit(X)
        >>> print(km.cluster_centers_.round(2))
        [[ 2.06 54.05]
         [ 4.1  74.77]
         [ 4.38 84.49]]
        >>> round(km.inertia_, 1), km.n_iter_
        (5188.5, 5)

        Weighted rows, float32 data and given initial centers:

        >>> import numpy as np
        >>> weights = np.where(X[:, 0] > 3, 2.0, 1.0)
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X, sample_weight=weights)
        >>> print(km.cluster_centers_.round(2))
        [[ 4.3  80.31]
         [ 2.15 55.14]]
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X.astype(np.float32))
        >>> km.cluster_centers_.dtype
        dtype('float32')
        >>> init = np.array([[2.0, 50.0], [4.5, 85.0]])
        >>> km = KMeans(n_clusters=2, init=init).fit(X)
        >>> print(km.cluster_centers_.round(2))
        [[ 2.09 54.75]
         [ 4.3  80.28]]

        A callback sees minus the inertia at the centers each iteration starts from:

        >>> infos = []
        >>> km = KMeans(n_clusters=2, random_state=0, callback=infos.append).fit(X)
        >>> [round(info.lower_bound, 1) for info in infos]
        [-10024.6, -8924.6, -8901.8]
        >>> round(-km.inertia_, 1)
        -8901.8
        """
        raw = X
        source = as_source(X, sample_weight, allow_nan=False)
        if source is None:
            X = check_array(X)
            sw = check_sample_weight(sample_weight, X.shape[0])
        else:        # read in blocks (Chunks, a memmap, a dask array)
            X, sw = source, None
        k, init, n_init, max_iter, tol = self._check_params(X)
        n_threads = effective_n_threads(self.n_threads)
        problem, result = lloyd(
            X, sw, k, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
            random_state=check_random_state(self.random_state), n_threads=n_threads,
            verbose=self.verbose, callback=self.callback,
        )
        distinct = _distinct_clusters(problem.best_labels, k)
        if distinct < k:
            warnings.warn(  # scikit-learn's warning
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({k}). Possibly due to duplicate points in X.",
                interoperable(ConvergenceWarning), stacklevel=2)
        # the best run's labels and inertia, from its final scoring pass (finite: an
        # overflow raises); all the fitted attributes are set at once (a failed or
        # interrupted fit changes nothing)
        commit(self, {"inertia_": float(problem.best_inertia),
                      "cluster_centers_": result.params,
                      "labels_": problem.best_labels, "n_iter_": result.n_iter,
                      **fitted_features(raw, X),
                      # what partial_fit continues from
                      "_counts": problem.best_weights,
                      "n_steps_": ABSENT, "_random_state": ABSENT,
                      "_n_since_reassign": ABSENT})
        return self

    def _checked(self, X):
        check_is_fitted(self, "cluster_centers_")
        raw = X
        X = check_array(X)
        check_n_features(self, X, raw)
        centers = np.asarray(self.cluster_centers_)
        if X.dtype == np.float32 and not np.all(np.abs(centers) <= np.finfo(np.float32).max):
            X = X.astype(np.float64)    # centers beyond float32's range: work in float64
        return X, np.ascontiguousarray(centers, dtype=X.dtype)

    def predict(self, X: ArrayLike) -> NDArray[np.intc]:
        """Predict the closest cluster each sample in X belongs to.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row, with the features seen in fit.

        Returns
        -------
        ndarray of shape (n_samples,), dtype int32
            The index of the closest center of ``cluster_centers_`` for each row.

        See Also
        --------
        transform : Compute the distances of each sample to every center.
        fit_predict : Fit, then return the cluster of each training sample.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> km = KMeans(n_clusters=2, random_state=0).fit(load_faithful())
        >>> print(km.predict([[2.0, 50.0], [4.5, 85.0], [3.0, 70.0]]))
        [0 1 1]
        """
        X, centers = self._checked(X)
        labels = np.empty(X.shape[0], dtype=np.intc)
        _nearest(X, None, centers, labels, effective_n_threads(self.n_threads))
        return labels

    def partial_fit(self, X: ArrayLike, y: Any = None,
                    sample_weight: ArrayLike | None = None) -> KMeans:
        """Update the centers with one batch of rows: a mini-batch k-means step.

        As scikit-learn's ``MiniBatchKMeans.partial_fit``: each row of the batch is
        assigned to its nearest center, and each center moves to the weighted mean of
        every row assigned to it so far (its running count grows by the weight it
        received, so its step size is the batch's weight over that count). The first
        call seeds the centers from its batch (``init``); after ``fit`` the counts are
        the weights of the fitted clusters, so the steps continue from the fit. Every
        ``10 * n_clusters`` rows (and whenever a center has received nothing) the
        centers whose count is below 1% of the largest are moved to rows of the batch
        drawn with probability proportional to their weight (at most half the batch),
        as scikit-learn's default ``reassignment_ratio=0.01``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The batch, finite real numbers; it may be Chunks or a memmap. The first
            batch needs at least ``n_clusters`` rows.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the batch's rows, as in ``fit``.

        Returns
        -------
        KMeans
            The updated estimator (self). ``labels_`` and ``inertia_`` are the batch's,
            at the updated centers; ``n_steps_`` counts the batches.

        See Also
        --------
        fit : Lloyd's algorithm on all the data at once.
        sklearn.cluster.MiniBatchKMeans : The mini-batch k-means of scikit-learn.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> rows = np.random.default_rng(0).permutation(len(X))
        >>> km = KMeans(n_clusters=2, random_state=0)
        >>> for batch in np.array_split(X[rows], 10):
        ...     km = km.partial_fit(batch)
        >>> print(km.cluster_centers_.round(1))
        [[ 4.3 80.4]
         [ 2.1 54.9]]
        """
        raw = X
        source = as_source(X, sample_weight, allow_nan=False)
        if source is None:
            X = check_array(X)
            source = ArraySource(X, check_sample_weight(sample_weight, X.shape[0]))
        fitted = hasattr(self, "cluster_centers_")
        if fitted:
            check_n_features(self, source, raw)
        k, init, _, _, _ = self._check_params(
            _Shape(math.inf, source.n_features) if fitted else source)
        if fitted and len(self.cluster_centers_) != k:
            raise ValueError(f"partial_fit continues the model's {len(self.cluster_centers_)} "
                             f"clusters, but n_clusters is now {k}; set it back, or make a "
                             "new KMeans")
        n_threads = effective_n_threads(self.n_threads)
        rs = getattr(self, "_random_state", None) or check_random_state(self.random_state)
        dtype, shift, _ = _centred(source, None, n_threads)
        problem = _LloydEM(source, k, init, 0.0, n_threads, shift, dtype)
        if fitted:
            centers = np.ascontiguousarray(self.cluster_centers_.astype(dtype) - shift)
            counts = getattr(self, "_counts", None)
            if counts is None:
                counts = np.bincount(self.labels_, minlength=k).astype(np.float64)
        else:
            centers = problem.initialize(rs)
            counts = np.zeros(k)
        running = LloydStats(0.0, counts, counts[:, None] * centers.astype(np.float64), centers)
        since = getattr(self, "_n_since_reassign", 0) + source.n_samples
        reassign = bool((counts == 0).any() or since >= 10 * k)

        counts_after = []

        def m_step(stats):
            weight = stats.weight
            new = centers.astype(np.float64, copy=True)
            filled = weight > 0
            new[filled] = stats.sums[filled] / weight[filled, None]
            if reassign:
                weight = _reassign_small(new, weight, source, rs, REASSIGNMENT_RATIO, shift)
            counts_after.append(weight)
            return np.ascontiguousarray(new.astype(dtype))

        new, _, _ = online_step(problem, centers, running, 1.0, 1.0, m_step=m_step)
        labels = np.empty(source.n_samples, dtype=np.intc)
        inertia = problem.inertia(new, labels)
        commit(self, {
            "cluster_centers_": (new + shift).astype(source.dtype),
            "labels_": labels, "inertia_": float(inertia),
            "n_iter_": getattr(self, "n_iter_", 0),
            "n_steps_": getattr(self, "n_steps_", 0) + 1,
            "_counts": counts_after[0], "_random_state": rs,
            "_n_since_reassign": 0 if reassign else since,
            **fitted_features(raw, source),
        })
        return self

    def fit_predict(self, X: ArrayLike, y: Any = None,
                    sample_weight: ArrayLike | None = None) -> NDArray[np.intc]:
        """Compute the cluster centers and predict the cluster of each sample.

        The same as ``fit(X, sample_weight=sample_weight).labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one row per sample, as in ``fit``.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the rows, as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples,), dtype int32
            The index of the closest center for each row (``labels_``).

        See Also
        --------
        fit : Compute k-means clustering.
        predict : Predict the clusters of (new) data with the fitted model.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> labels = KMeans(n_clusters=2, random_state=0).fit_predict(X)
        >>> print(labels[:8])
        [1 0 1 0 1 0 1 1]
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """Transform X to a cluster-distance space.

        Each row becomes its Euclidean distances to every center of
        ``cluster_centers_``, as in scikit-learn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row, with the features seen in fit.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            The distances of each row to every center: float32 when X and
            ``cluster_centers_`` are float32 (a fit on float32 data), else float64, as
            scikit-learn's; the squares are summed in float64 either way. After
            ``set_output(transform="pandas")`` (or scikit-learn's global
            ``transform_output="pandas"``) a pandas DataFrame of these values, with the
            columns of ``get_feature_names_out`` and the index of a DataFrame X; the
            type annotation gives the default, the ndarray.

        See Also
        --------
        fit_transform : Fit, then transform the training data.
        predict : Predict the closest cluster of each sample.
        set_output : Choose between ndarray and DataFrame output.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> km = KMeans(n_clusters=2, random_state=0).fit(load_faithful())
        >>> print(km.transform([[2.0, 50.0], [4.5, 85.0]]).round(2))
        [[ 4.75 30.37]
         [30.35  4.72]]
        """
        return self._wrap_output(self._distances(X), X)

    def _distances(self, X):
        X, centers = self._checked(X)
        fitted = np.asarray(self.cluster_centers_)
        if X.dtype == np.float32 and fitted.dtype != np.float32:
            X, centers = X.astype(np.float64), np.ascontiguousarray(fitted, dtype=np.float64)
        out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
        _kmeans.sq_distances(X, centers, out, effective_n_threads(self.n_threads))
        return np.sqrt(out, out=out)

    def fit_transform(self, X: ArrayLike, y: Any = None,
                      sample_weight: ArrayLike | None = None) -> NDArray[np.floating[Any]]:
        """Compute clustering and transform X to cluster-distance space.

        The same as ``fit(X, sample_weight=sample_weight).transform(X)``. An invalid
        output setting (see ``set_output``) raises before the fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, one row per sample, as in ``fit``.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the rows, as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            The distances of each row to every fitted center, float32 for float32 X,
            else float64; a pandas DataFrame after ``set_output(transform="pandas")``,
            as for ``transform``.

        See Also
        --------
        fit : Compute k-means clustering.
        transform : Transform (new) data to cluster-distance space.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> distances = KMeans(n_clusters=2, random_state=0).fit_transform(X)
        >>> distances.shape
        (272, 2)
        >>> print(distances[:3].round(2))
        [[24.3   1.46]
         [ 0.81 26.4 ]
         [19.29  6.36]]
        """
        container = self._output_container()     # a bad setting fails before the fit
        return self._wrap_output(self.fit(X, sample_weight=sample_weight)._distances(X), X,
                                 container)

    def score(self, X: ArrayLike, y: Any = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Compute the opposite of the value of X on the k-means objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The samples, one per row, with the features seen in fit.

        y : Ignored
            Not used, present for API consistency by convention.

        sample_weight : array-like of shape (n_samples,) or float, default=None
            Non-negative weights of the rows: the squared distances are then weighted.
            None gives every row weight 1.

        Returns
        -------
        float
            Minus the (weighted) sum of the squared distances of the rows of X to their
            closest center of ``cluster_centers_``: ``-inertia_`` for the training data
            and weights.

        See Also
        --------
        transform : Compute the distances of each sample to every center.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
        >>> round(km.score(X), 1), round(-km.inertia_, 1)
        (-8901.8, -8901.8)
        >>> round(km.score([[2.0, 50.0], [4.5, 85.0]]), 2)
        -44.84
        """
        X, centers = self._checked(X)
        sw = check_sample_weight(sample_weight, X.shape[0])
        return -_nearest(X, sw, centers, np.empty(0, dtype=np.intc),
                         effective_n_threads(self.n_threads))
