"""Fit on a Dask cluster: the E-step runs on the Dask workers, the M-step on the client.

``GaussianMixture().fit(X)`` and ``KMeans().fit(X)`` take a 2-D ``dask.array.Array``
as they take a NumPy array, and ``GaussianHMM().fit(bag)`` and ``CategoricalHMM().fit(
bag)`` a ``dask.bag.Bag`` of sequences (this module is imported for them; it needs the
optional extra, ``pip install "fastem[dask]"``). Each row chunk of X (each partition of
a bag) is one block: every EM iteration maps the fused kernel over the blocks where they
live, sums the statistics (a few arrays of size k x d^2) by a pairwise tree in block
order, and brings only that sum to the client, which does the M-step and sends the new
parameters back (once per iteration, not once per block). Nothing of size n_samples is
sent either way during the iterations.

The computation runs on the current scheduler: a ``distributed.Client`` when one is
active, else Dask's default (threads), or whatever ``dask.config.set(scheduler=...)``
says. On a worker the kernels use as many threads as the worker allows
(``OMP_NUM_THREADS``, which distributed's nanny sets to the worker's thread count).

Persist the data first (``X = X.persist()``): each iteration computes X's chunks again
otherwise, from its source (files, random generators, other arrays). For the same
reason give X its columns as one chunk (``X.rechunk({1: -1}).persist()``); a fit
rechunks it so, but an unpersisted rechunk is redone each iteration.

Results: for given data, chunking and ``random_state`` the fit is bitwise the same for
any number of workers and threads (blocks and their sum are in a fixed order), and it
equals the fit of the same rows in memory to rounding (the sums are taken by blocks).
With at most 100,000 rows the initialisation uses all of them, as in memory; with more
it uses a uniform sample of 100,000, gathered from the workers.

The other passes of a fit run on the workers too (validation; KMeans' column moments,
final labels and inertia, and the rows it relocates an empty cluster to), and bring
back per-block results: KMeans' ``labels_`` is an array of n_samples integers on the
client. A GaussianMixture prior's data moments are computed on the client, one chunk
at a time.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np

from ._sources import (
    Block,
    SequenceBlock,
    SequenceSource,
    Source,
    _block_facts,
    _check_block,
    _check_total,
    checked_sequences,
    joined,
    sample_rows,
    sequence_item,
)
from ._validation import check_sample_weight

__all__ = ["DaskSource"]


class DaskSource(Source):
    """The rows of a Dask array, validated, as blocks (its row chunks) for the EM driver.

    ``GaussianMixture.fit`` and ``KMeans.fit`` build one from a dask array; there is no
    need to build it yourself. Construction validates the data with one computation on
    the workers (dimensions, finite values, NaN only where allowed, the weights) and
    records the facts a model needs; :meth:`reduce` then runs an E-step on the workers
    and returns the sum of its statistics.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The data. Its row chunks are the blocks; its columns are rechunked into one
        chunk if they are not already. float32 data is computed in float32, any other
        real numeric data in float64. Chunk sizes must be known (call
        ``X.compute_chunk_sizes()`` after boolean indexing). X is never modified.
    sample_weight : dask.array.Array or array-like of shape (n_samples,) or float, \
default=None
        Weights of the rows (None: 1 each), rechunked to X's row chunks; a NumPy array
        is sent to the workers once.
    allow_nan : bool
        Whether NaN (missing values) are allowed; infinity never is.

    Attributes
    ----------
    X : dask.array.Array
        The data with its columns in one chunk (X itself when they already were).
    n_samples, n_features : int
        The shape of X.
    dtype : numpy.dtype
        float32 or float64: the dtype the blocks are computed in.
    missing : bool
        Whether some value is NaN.
    total_weight : float
        The rows' total weight.

    See Also
    --------
    fastem.GaussianMixture.fit : Fits a dask array through this source.
    fastem.KMeans.fit : Fits a dask array through this source.

    Notes
    -----
    :meth:`blocks` and :meth:`sample` read rows on the client: ``blocks()`` computes
    the chunks one at a time and sends each to the client, ``sample(size, rs)`` sends
    all rows when there are at most ``size`` of them, else ``size`` rows drawn as
    ``Source.sample`` draws them (the same random numbers), gathered from the workers.

    Examples
    --------
    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> from fastem import GaussianMixture, KMeans
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> dX = da.from_array(X, chunks=(100, 2))
    >>> with dask.config.set(scheduler="synchronous"):   # or a distributed.Client
    ...     gm = GaussianMixture(n_components=2, random_state=0).fit(dX)
    ...     km = KMeans(n_clusters=2, random_state=0).fit(dX)
    >>> in_memory = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> bool(np.allclose(gm.means_, in_memory.means_, rtol=1e-10))
    True
    >>> km.labels_.shape
    (272,)
    """

    def __init__(self, X: da.Array, sample_weight: Any = None, *, allow_nan: bool) -> None:
        X = _two_dimensional(X)
        if X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        self.X = X
        n, d = int(X.shape[0]), int(X.shape[1])
        self.n_features = d
        # check_array's rule: any float32 stays float32, every other dtype is float64
        self.dtype = np.dtype(np.float32 if X.dtype.kind == "f" and X.dtype.itemsize == 4
                              else np.float64)
        self.sample_weight = _aligned_weights(sample_weight, X)
        rows = X.chunks[0]
        starts = np.concatenate([[0], np.cumsum(rows)]).astype(int).tolist()
        pieces = X.to_delayed().ravel()
        weights = (self.sample_weight.to_delayed().ravel()
                   if isinstance(self.sample_weight, da.Array)
                   else [self.sample_weight] * len(rows))
        # empty chunks (e.g. left by slicing) are no blocks
        self._parts = [(x, w, lo, size) for x, w, lo, size
                       in zip(pieces, weights, starts, rows) if size > 0]
        if not self._parts:
            raise ValueError(f"X has 0 sample(s) (shape={(n, d)}) while a minimum of 1 is "
                             "required.")
        checks = [dask.delayed(_checked_facts, pure=False)(
            x, w, lo, (size, d), allow_nan, self.dtype) for x, w, lo, size in self._parts]
        facts = dask.compute(*checks)
        self.flags = [f[5] for f in facts]
        self._record(facts)
        if sample_weight is not None:
            _check_total(self)

    def blocks(self) -> Iterator[Block]:
        """The blocks in row order, each computed and sent to the client in turn.

        Yields
        ------
        Block
            One row chunk: X in the source's dtype, its weights (or None) and whether
            it holds NaN.
        """
        for (x, w, lo, _), missing in zip(self._parts, self.flags):
            x, w = dask.compute(x, w)
            yield _block(x, w, missing, lo, self.dtype)

    def reduce(self, e_step: Callable[..., Any], params: Any) -> Any:
        """The sum of ``e_step(block, params)`` over the blocks, computed on the workers.

        Parameters
        ----------
        e_step : callable
            A picklable function of (Block, params) returning additive statistics
            (an ``_engine.Stats``), with an ``n_threads`` keyword: it is called with
            ``n_threads=None``, resolved on the worker.
        params : object
            The parameters, sent to the workers once.

        Returns
        -------
        Stats
            The statistics of the blocks, summed by a pairwise tree in block order.
        """
        job = dask.delayed(_EStep(functools.partial(e_step, n_threads=None), params),
                           pure=False, traverse=False)
        stats = [dask.delayed(_block_stats, pure=False)(job, x, w, missing, lo, self.dtype)
                 for (x, w, lo, _), missing in zip(self._parts, self.flags)]
        (total,) = dask.compute(_tree_sum(stats))
        return total

    def map(self, fn: Callable[..., Any], params: Any) -> list[Any]:
        """``fn(block, params)`` for every block, computed on the workers, in block order.

        Parameters
        ----------
        fn : callable
            A picklable function of (Block, params) with an ``n_threads`` keyword
            (called with ``n_threads=None``, resolved on the worker), whose result is
            small: it is sent to the client.
        params : object
            Sent to the workers once.

        Returns
        -------
        list
            The results, one per block.
        """
        job = dask.delayed(_EStep(functools.partial(fn, n_threads=None), params),
                           pure=False, traverse=False)
        parts = [dask.delayed(_block_stats, pure=False)(job, x, w, missing, lo, self.dtype)
                 for (x, w, lo, _), missing in zip(self._parts, self.flags)]
        return list(dask.compute(*parts))

    def sample(self, size: int, rs: np.random.RandomState) -> tuple[np.ndarray,
                                                                    np.ndarray | None]:
        """Rows to initialise from, gathered on the client.

        Parameters
        ----------
        size : int
            At most this many rows.
        rs : numpy.random.RandomState
            Draws the rows when there are more than ``size`` (as ``Source.sample``).

        Returns
        -------
        X : ndarray of shape (min(n_samples, size), n_features)
            Every row in order when there are at most ``size``; else ``size`` rows
            drawn uniformly without replacement, in order.
        sample_weight : ndarray of shape (len(X),) or None
            Their weights.
        """
        n = self.n_samples
        rows = None if n <= size else sample_rows(n, size, rs)
        sw = self.sample_weight
        if rows is None:
            X, sw = dask.compute(self.X, sw)
        else:
            X, sw = dask.compute(self.X[rows], sw[rows] if isinstance(sw, da.Array) else sw)
        X = np.ascontiguousarray(X, dtype=self.dtype.newbyteorder("="))
        return X, _weights(sw, X.shape[0])


class _EStep:
    """An E-step bound to its parameters: what one reduce sends to the workers."""

    __slots__ = ("e_step", "params")

    def __init__(self, e_step, params):
        self.e_step = e_step
        self.params = params


def _two_dimensional(X):
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got {X.ndim}-D "
                         f"with shape {X.shape}.")
    if any(np.isnan(size) for size in X.shape):
        raise ValueError(f"X has unknown chunk sizes (shape {X.shape}), e.g. after boolean "
                         "indexing; call X.compute_chunk_sizes() (or X.persist() and then "
                         "compute_chunk_sizes) before fitting")
    return X


def _aligned_weights(sample_weight, X):
    """None, a float, or a 1-D dask array with X's row chunks."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        return float(sample_weight)
    n = int(X.shape[0])
    if isinstance(sample_weight, da.Array):
        if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
            raise ValueError(f"sample_weight must have shape ({n},) to match X, got "
                             f"{sample_weight.shape}")
        return sample_weight.rechunk((X.chunks[0],))
    sw = check_sample_weight(sample_weight, n)      # in memory: checked here, as in memory
    (sw,) = dask.persist(da.from_array(sw, chunks=(X.chunks[0],)))   # sent once
    return sw


def _weights(sw, n):
    """A block's weights as float64 (None: 1 each)."""
    if sw is None:
        return None
    if isinstance(sw, numbers.Number):
        return np.full(n, float(sw))
    return np.ascontiguousarray(sw, dtype=np.float64)


def _block(x, sw, missing, start, dtype):
    x = np.ascontiguousarray(x, dtype=np.dtype(dtype).newbyteorder("="))
    return Block(x, _weights(sw, x.shape[0]), missing, start)


def _checked_facts(x, sw, start, shape, allow_nan, dtype):
    """One chunk's validation facts (see _sources._block_facts), on a worker."""
    name = f"X[{start}:{start + shape[0]}]"
    x, sw, missing = _check_block(x, sw, name, allow_nan, dtype)
    if x.shape != shape:
        raise ValueError(f"{name} computed to shape {x.shape}, but its chunk has shape "
                         f"{shape}; the dask array's chunks do not describe its data")
    return _block_facts(x, sw, missing)


def _block_stats(job, x, sw, missing, start, dtype):
    return job.e_step(_block(x, sw, missing, start, dtype), job.params)


# statistics summed by one task: a power of 2, so that the tasks' sums are the subtrees
# of one pairwise tree over all the blocks
FAN_IN = 16


def _tree_sum(parts: Sequence[Any]) -> Any:
    """The sum of the blocks' delayed statistics by a pairwise tree in block order (the
    tree's shape depends only on the number of blocks, and so does the rounding), log2
    FAN_IN levels of it in a task: each sums FAN_IN consecutive statistics."""
    parts = list(parts)
    while len(parts) > 1:
        parts = [dask.delayed(_pairwise_sum, pure=False)(*parts[lo:lo + FAN_IN])
                 if len(parts[lo:lo + FAN_IN]) > 1 else parts[lo]
                 for lo in range(0, len(parts), FAN_IN)]
    return parts[0]


def _pairwise_sum(*stats):
    """((s0 + s1) + (s2 + s3)) + ...: pairs in order, an odd last one carried up."""
    items = list(stats)
    while len(items) > 1:
        paired = [a + b for a, b in zip(items[0::2], items[1::2])]
        items = paired + items[len(paired) * 2:]
    return items[0]


# -- sequences: a hidden Markov model's fit on a dask bag --------------------------------
class DaskSequenceSource(SequenceSource):
    """A ``dask.bag.Bag`` of sequences for a hidden Markov model's fit: each element one
    sequence (an array of its rows) or an (array, lengths) pair of several, as the items
    of ``fastem.Chunks`` of a function; each partition of the bag is one block of whole
    sequences, built where the partition lives.

    ``GaussianHMM().fit(bag)`` and ``CategoricalHMM().fit(bag)`` use it: every EM
    iteration runs forward-backward on each partition on the workers (the model's
    validation of every sequence included) and sums the expected counts and emission
    statistics by a pairwise tree in partition order; only the sum comes to the client.
    Persist the bag first (``bag.persist()``).

    Parameters
    ----------
    bag : dask.bag.Bag
        The sequences.
    check : callable
        The model's validation of one item's X, ``check(X, name=...)``: picklable (it
        runs on the workers).
    n_features_of : callable
        The model's number of features of a validated X (picklable).

    See Also
    --------
    DaskSource : A dask array's rows for GaussianMixture and KMeans.
    fastem.Chunks : Sequences from a function, read on the client.

    Examples
    --------
    >>> import dask
    >>> import dask.bag as db
    >>> import numpy as np
    >>> from fastem import GaussianHMM
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> bag = db.from_sequence([X[lo:lo + 68] for lo in range(0, 272, 68)],
    ...                        npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):   # or a distributed.Client
    ...     hmm = GaussianHMM(n_components=2, random_state=0).fit(bag)
    >>> same = GaussianHMM(n_components=2, random_state=0).fit(X, lengths=[68] * 4)
    >>> bool(np.allclose(hmm.transmat_, same.transmat_, rtol=1e-10))
    True
    """

    def __init__(self, bag: Any, check: Callable[..., Any],
                 n_features_of: Callable[[Any], int]) -> None:
        self.check = check
        self._parts = list(bag.to_delayed())
        every = dask.compute(*[dask.delayed(_sequence_facts, pure=False)(
            part, p, check, n_features_of) for p, part in enumerate(self._parts)])
        self._kept = [p for p, f in enumerate(every) if f is not None]   # not empty
        facts = [every[p] for p in self._kept]
        if not facts:
            raise ValueError("the bag holds no sequences; it needs at least one")
        columns = {f["columns"] for f in facts}
        if len(columns) > 1:
            raise ValueError("the sequences of the bag have different numbers of "
                             f"features: {sorted(c[0] if c else 1 for c in columns)}")
        self.block_starts = [f["starts"] for f in facts]
        self._first = np.concatenate([[0], np.cumsum([f["rows"] for f in facts])]).astype(
            np.int64).tolist()
        self._sequences = np.concatenate([[0], np.cumsum(
            [f["starts"].size - 1 for f in facts])]).astype(np.int64).tolist()
        self.n_samples = self.total_weight = int(self._first[-1])
        self.n_values = int(sum(f["values"] for f in facts))
        self.n_sequences = int(self._sequences[-1])
        self.n_features = max(f["n_features"] for f in facts)
        self.dtype = facts[0]["dtype"]

    def _jobs(self, fn, params):
        job = dask.delayed(_EStep(functools.partial(fn, n_threads=None), params),
                           pure=False, traverse=False)
        return [dask.delayed(_sequence_stats, pure=False)(
            job, self._parts[p], self.check, self._first[i], self._sequences[i],
            self.block_starts[i]) for i, p in enumerate(self._kept)]

    def reduce(self, e_step: Callable[..., Any], params: Any) -> Any:
        """The sum of ``e_step(block, params)`` over the partitions, on the workers.

        Parameters
        ----------
        e_step : callable
            A picklable function of (SequenceBlock, params) returning additive
            statistics, with an ``n_threads`` keyword (called with None).
        params : object
            The parameters, sent to the workers once.

        Returns
        -------
        Stats
            The statistics summed by a pairwise tree in partition order.
        """
        (total,) = dask.compute(_tree_sum(self._jobs(e_step, params)))
        return total

    def map(self, fn: Callable[..., Any], params: Any) -> list[Any]:
        """``fn(block, params)`` for every partition, on the workers, in order.

        Parameters
        ----------
        fn : callable
            As ``e_step`` in ``reduce``, with a small result.
        params : object
            Sent to the workers once.

        Returns
        -------
        list
            One result per (non-empty) partition.
        """
        return list(dask.compute(*self._jobs(fn, params)))

    def blocks(self) -> Iterator[SequenceBlock]:
        """The partitions' blocks, each computed and sent to the client in turn.

        Yields
        ------
        SequenceBlock
            One partition's sequences, joined.
        """
        for i, p in enumerate(self._kept):
            (items,) = dask.compute(self._parts[p])
            yield _sequence_block(items, self.check, self._first[i], self._sequences[i],
                                  self.block_starts[i])

    def sample(self, size: int, rs: np.random.RandomState) -> tuple[np.ndarray, None]:
        """Rows to initialise from, gathered from the workers.

        Parameters
        ----------
        size : int
            At most this many rows.
        rs : numpy.random.RandomState
            Draws the rows when there are more than ``size``.

        Returns
        -------
        X : ndarray
            Every row in order when there are at most ``size``; else ``size`` rows
            drawn uniformly without replacement, in order.
        sample_weight : None
            Sequences have no weights.
        """
        n = self.n_samples
        rows = None if n <= size else sample_rows(n, size, rs)
        picks = []
        for i, lo in enumerate(self._first[:-1]):
            hi = self._first[i + 1]
            picks.append(None if rows is None else
                         rows[np.searchsorted(rows, lo):np.searchsorted(rows, hi)] - lo)
        parts = self.map(_rows_of, None) if rows is None else list(dask.compute(*[
            dask.delayed(_picked_rows, pure=False)(
                self._parts[p], self.check, self._first[i], self._sequences[i],
                self.block_starts[i], picks[i]) for i, p in enumerate(self._kept)]))
        return np.ascontiguousarray(np.concatenate(parts)), None


def _sequence_facts(items, partition, check, n_features_of):
    """A partition's facts, validated on a worker (None when it is empty)."""
    if len(items) == 0:
        return None
    pending, columns, n_features = [], None, 0
    for i, item in enumerate(items):
        X, lengths = sequence_item(item)
        X, starts = checked_sequences(X, lengths, check,
                                      f"item {i} of partition {partition} of the bag")
        if columns is None:
            columns = X.shape[1:]
        elif X.shape[1:] != columns:
            raise ValueError(f"item {i} of partition {partition} of the bag has "
                             f"{X.shape[1]} feature(s), expected {columns[0]} as its first")
        n_features = max(n_features, n_features_of(X))
        pending.append((X, starts))
    block = joined(pending, 0, 0)
    return {"rows": block.X.shape[0], "values": block.X.size, "starts": block.starts,
            "columns": columns, "n_features": n_features, "dtype": block.X.dtype}


def _sequence_block(items, check, row, sequence, starts):
    """The partition's SequenceBlock, its items validated again (the kernels never see
    unchecked data) and their layout compared with the validation pass's."""
    pending = []
    for i, item in enumerate(items):
        X, lengths = sequence_item(item)
        pending.append(checked_sequences(X, lengths, check, f"item {i} of the bag's "
                                         f"partition from sequence {sequence}"))
    block = joined(pending, row, sequence)
    if not np.array_equal(block.starts, starts):
        raise ValueError(f"the bag's partition from sequence {sequence} changed between "
                         "passes; persist the bag (bag.persist()) so that every pass sees "
                         "the same sequences")
    return block


def _sequence_stats(job, items, check, row, sequence, starts):
    return job.e_step(_sequence_block(items, check, row, sequence, starts), job.params)


def _rows_of(block, _, *, n_threads=None):
    return block.X


def _picked_rows(items, check, row, sequence, starts, local):
    return _sequence_block(items, check, row, sequence, starts).X[local]
