"""Where the rows come from: data sources that feed the EM driver blocks of rows.

Every model's E-step is a function of one block of rows that returns additive
statistics (see _engine.Stats); a source hands the driver its blocks and sums the
statistics in block order, so that for a given source and chunking the result is
bitwise the same whatever the number of threads.

    ArraySource     one in-memory array, one block (the path of ``fit(ndarray)``)
    ChunkedSource   row slices of anything with ``shape`` and slicing: np.memmap,
                    h5py and zarr datasets; a block's memory is one chunk
    StreamSource    a factory called once per pass, yielding arrays or (X, weights)
    DaskSource      a dask array (fastem.dask): blocks mapped on the workers, tree-summed

and, for the hidden Markov models, sources of whole sequences (a block never cuts one):

    SequenceArraySource  one in-memory array and its sequences, one block (the path of
                         ``fit(X, lengths)``)
    SequenceStream       a factory called once per pass, yielding sequences or
                         (X, lengths) pairs of several, joined into blocks of whole ones

A source is validated once, by one pass before the fit: dimensions, dtypes, finite
values (NaN only where the model takes missing values), the weights, and the facts a
model needs (rows, total weight, the rows and columns with an observed entry).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ._validation import check_array, check_sample_weight, check_weight_total

# default chunk: about this many bytes of float64 rows
CHUNK_BYTES = 1 << 24
# rows drawn from a source that is not in memory to initialise a fit
INIT_SAMPLE_ROWS = 100_000


def sample_rows(n, size, rs):
    """``size`` distinct row indices in [0, n), sorted, uniformly drawn from ``rs``, in
    memory proportional to ``size`` (RandomState.choice without replacement permutes
    all n). Draws with replacement and keeps the distinct values, drawing more until
    there are enough: the set is exchangeable, so a uniform subset of it is a uniform
    subset of [0, n)."""
    if 4 * size >= n:
        return np.sort(rs.choice(n, size=size, replace=False))
    chosen = np.unique(rs.randint(0, n, size=size + size // 8 + 16))
    while len(chosen) < size:
        chosen = np.union1d(chosen, rs.randint(0, n, size=size - len(chosen) + 16))
    if len(chosen) > size:
        chosen = np.sort(rs.choice(chosen, size=size, replace=False))
    return chosen


class Block:
    """Some consecutive rows: X (validated, C-contiguous), their weights (None: 1 each),
    whether X holds NaN, and a cache a model may fill (it lives as long as the block;
    an in-memory source keeps its one block, and so its cache, for the whole fit)."""

    __slots__ = ("X", "sample_weight", "missing", "cache", "start")

    def __init__(self, X, sample_weight=None, missing=False, start=0):
        self.X = X
        self.sample_weight = sample_weight
        self.missing = missing
        self.cache: dict[str, Any] = {}
        self.start = start

    @property
    def weight(self):
        """The rows' total weight."""
        return self.X.shape[0] if self.sample_weight is None else self.sample_weight.sum()


class Source:
    """Blocks of rows, validated. Subclasses define ``blocks()``; the facts below are
    set by ``validate``."""

    in_memory = False
    n_samples: int
    n_features: int
    dtype: np.dtype
    missing: bool            # some value is NaN
    total_weight: float
    observed_rows: int       # rows with an observed entry (all of them without NaN)
    observed_weight: float   # their total weight
    observed_columns: np.ndarray   # per column: some row observes it

    @property
    def shape(self):
        return self.n_samples, self.n_features

    def blocks(self) -> Iterator[Block]:
        raise NotImplementedError

    def reduce(self, e_step, params):
        """The sum, in block order, of ``e_step(block, params)`` over the blocks."""
        total = None
        for block in self.blocks():
            stats = e_step(block, params)
            total = stats if total is None else total + stats
        return total

    def map(self, fn, params):
        """``[fn(block, params) for block in blocks()]``: small per-block results, in
        block order (a Dask source computes them on the workers)."""
        return [fn(block, params) for block in self.blocks()]

    def _record(self, facts):
        """Set the validation facts from per-block (rows, weight, observed rows,
        observed weight, observed columns, missing)."""
        self.n_samples = int(sum(f[0] for f in facts))
        self.total_weight = sum(f[1] for f in facts)
        self.observed_rows = int(sum(f[2] for f in facts))
        self.observed_weight = sum(f[3] for f in facts)
        self.observed_columns = np.logical_or.reduce([f[4] for f in facts])
        self.missing = any(f[5] for f in facts)

    def sample(self, size, rs):
        """(rows, their weights or None): every row, in order, when there are at most
        ``size``; else ``size`` rows drawn without replacement (in order)."""
        n = self.n_samples
        chosen = None if n <= size else sample_rows(n, size, rs)
        parts, weights = [], []
        for block in self.blocks():
            lo, hi = block.start, block.start + block.X.shape[0]
            local = (slice(None) if chosen is None else
                     chosen[np.searchsorted(chosen, lo):np.searchsorted(chosen, hi)] - lo)
            parts.append(block.X[local])
            weights.append(None if block.sample_weight is None
                           else block.sample_weight[local])
        X = np.ascontiguousarray(np.concatenate(parts))
        if all(w is None for w in weights):
            return X, None
        sw = np.concatenate([np.ones(len(p)) if w is None else w
                             for p, w in zip(parts, weights)])
        return X, sw


def _block_facts(X, sw, missing):
    """(rows, weight, observed rows, observed weight, observed columns, missing), in
    pieces of rows (no temporary of X's size)."""
    n = X.shape[0]
    weight = n if sw is None else float(sw.sum())
    if not missing:
        return n, weight, n, weight, np.ones(X.shape[1], dtype=bool), False
    rows, observed_weight = 0, 0.0
    columns = np.zeros(X.shape[1], dtype=bool)
    for lo in range(0, n, 1 << 14):
        nan = np.isnan(X[lo:lo + (1 << 14)])
        seen = ~nan.all(axis=1)
        rows += int(seen.sum())
        observed_weight += int(seen.sum()) if sw is None else float(sw[lo:lo + (1 << 14)][
            seen].sum())
        columns |= ~nan.all(axis=0)
    return n, weight, rows, observed_weight, columns, True


class ArraySource(Source):
    """One validated in-memory array: a single block, kept for the whole fit."""

    in_memory = True

    def __init__(self, X, sample_weight=None, missing=False, **cache):
        self.X = X
        self.sample_weight = sample_weight
        self.dtype = X.dtype
        self.n_features = X.shape[1]
        self.block = Block(X, sample_weight, missing)
        self.block.cache.update(cache)     # what a model computed once for the fit
        self._record([_block_facts(X, sample_weight, missing)])

    def blocks(self):
        yield self.block

    def sample(self, size, rs):
        n = self.n_samples
        if n <= size:
            return self.X, self.sample_weight
        rows = sample_rows(n, size, rs)
        sw = None if self.sample_weight is None else self.sample_weight[rows]
        return np.ascontiguousarray(self.X[rows]), sw


def _check_block(X, sw, name, allow_nan, dtype=None):
    """(X, weights or None, missing) for one block, validated like a whole array."""
    X, missing = check_array(X, name, return_missing=True)
    if missing and not allow_nan:
        raise ValueError(f"{name} contains NaN; this needs complete data (GaussianMixture "
                         "fits with missing values and can impute them).")
    if dtype is not None and X.dtype != dtype:
        X = X.astype(dtype)
    if sw is not None:
        sw = _check_block_weights(sw, X.shape[0], name)
    return X, sw, missing


def _check_block_weights(sw, n, name):
    """One block's weights (they may sum to zero; the source checks its total)."""
    return check_sample_weight(sw, n, name=f"the sample weights of {name}", whole=False)


def _check_total(source):
    check_weight_total(source.total_weight)


class ChunkedSource(Source):
    """Row slices ``data[lo:hi]`` of an array-like with ``shape`` (n, d)."""

    def __init__(self, data, chunk_size, sample_weight, allow_nan):
        self.data = data
        self.sw = sample_weight
        n, d = _shape_of(data)
        self.n_features = d
        self.chunk_size = chunk_size or default_chunk_rows(d)
        self.bounds = [(lo, min(n, lo + self.chunk_size))
                       for lo in range(0, n, self.chunk_size)]
        if not self.bounds:
            raise ValueError(f"X has 0 sample(s) (shape={(n, d)}) while a minimum of 1 is "
                             "required.")
        if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
            self.sw = float(check_sample_weight(sample_weight, 1)[0])
        elif sample_weight is not None and tuple(np.shape(sample_weight)) != (n,):
            raise ValueError(f"sample_weight must have shape ({n},) to match X, got "
                             f"{tuple(np.shape(sample_weight))}")
        facts, flags = [], []
        self.dtype = None
        for lo, hi in self.bounds:
            X, sw, missing = _check_block(data[lo:hi], self._weights(lo, hi), f"X[{lo}:{hi}]",
                                          allow_nan, self.dtype)
            self.dtype = X.dtype if self.dtype is None else self.dtype
            if X.shape[1] != d:
                raise ValueError(f"X[{lo}:{hi}] has {X.shape[1]} feature(s), expected {d}")
            facts.append(_block_facts(X, sw, missing))
            flags.append(missing)
        self.flags = flags
        self._record(facts)
        if sample_weight is not None:
            _check_total(self)

    def _weights(self, lo, hi):
        if self.sw is None:
            return None
        if isinstance(self.sw, numbers.Number):
            return self.sw
        return self.sw[lo:hi]

    def blocks(self):
        for (lo, hi), missing in zip(self.bounds, self.flags):
            X = np.ascontiguousarray(self.data[lo:hi])
            if X.dtype != self.dtype or not X.dtype.isnative:
                X = X.astype(np.dtype(self.dtype).newbyteorder("="))
            sw = self._weights(lo, hi)
            if sw is not None:
                sw = (np.full(hi - lo, float(sw)) if isinstance(sw, numbers.Number)
                      else np.ascontiguousarray(sw, dtype=np.float64))
            yield Block(X.reshape(hi - lo, self.n_features), sw, missing, lo)


class StreamSource(Source):
    """Blocks from ``factory()``, called once per pass over the data: an iterable of
    arrays, or of (array, weights) pairs. Every pass must yield the same blocks."""

    def __init__(self, factory, allow_nan):
        self.factory = factory
        facts, self.sizes, self.flags = [], [], []
        self.dtype, self.n_features = None, None
        for i, (X, sw) in enumerate(self._raw()):
            name = f"block {i} of X"
            X, sw, missing = _check_block(X, sw, name, allow_nan, self.dtype)
            if self.dtype is None:
                self.dtype, self.n_features = X.dtype, X.shape[1]
            elif X.shape[1] != self.n_features:
                raise ValueError(f"{name} has {X.shape[1]} feature(s), expected "
                                 f"{self.n_features} as the first block")
            facts.append(_block_facts(X, sw, missing))
            self.sizes.append(X.shape[0])
            self.flags.append(missing)
        if not facts:
            raise ValueError("X yielded no blocks; it needs at least one row")
        self._record(facts)
        _check_total(self)

    def _raw(self):
        blocks = self.factory()
        if not isinstance(blocks, Iterable):
            raise TypeError("the factory of Chunks must return an iterable of arrays or of "
                            f"(array, weights) pairs, got {type(blocks).__name__}")
        for item in blocks:
            if isinstance(item, tuple):
                if len(item) != 2:
                    raise ValueError("a block of Chunks is an array or an (array, weights) "
                                     f"pair, got a tuple of {len(item)}")
                yield item
            else:
                yield item, None

    def blocks(self):
        start, i = 0, -1
        for i, (X, sw) in enumerate(self._raw()):
            if i >= len(self.sizes):
                raise ValueError("the factory of Chunks yielded more blocks than on its "
                                 "first pass; every pass must yield the same data")
            X = np.ascontiguousarray(X, dtype=np.dtype(self.dtype).newbyteorder("="))
            if X.ndim != 2 or X.shape != (self.sizes[i], self.n_features):
                raise ValueError(f"block {i} of X changed shape between passes, to "
                                 f"{X.shape}; every pass must yield the same data")
            if sw is not None:
                sw = _check_block_weights(sw, X.shape[0], f"block {i} of X")
            yield Block(X, sw, self.flags[i], start)
            start += X.shape[0]
        if i + 1 != len(self.sizes):
            raise ValueError("the factory of Chunks yielded fewer blocks than on its first "
                             "pass; every pass must yield the same data")


def default_chunk_rows(n_features):
    """Rows per chunk: about CHUNK_BYTES of float64, a multiple of 256."""
    return max(256, CHUNK_BYTES // (8 * max(1, n_features)) // 256 * 256)


def _shape_of(data):
    shape = getattr(data, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError("X must be 2-D (n_samples, n_features); got "
                         f"{'no shape' if shape is None else f'shape {tuple(shape)}'}")
    return int(shape[0]), int(shape[1])


class Chunks:
    """Data read in chunks of rows: for data that does not fit in memory.

    Estimators' ``fit`` accept a Chunks wherever they accept an array, and read it
    one chunk at a time on every pass over the data: memory holds one chunk (and a
    sample of at most 100,000 rows to initialise). An ``np.memmap`` passed to ``fit``
    is read in chunks without wrapping it.

    The hidden Markov models (GaussianHMM, CategoricalHMM) fit Chunks of a callable
    whose items are whole sequences: each an array of one sequence's rows, or an
    (array, lengths) pair of several. Consecutive items are joined into blocks of at
    most ``chunk_size`` rows (an item longer than that is a block alone), and a block
    is never cut inside a sequence. An array or a memmap of sequences they fit as it
    is, with its ``lengths``.

    Parameters
    ----------
    data : array-like with ``shape`` (n_samples, n_features), or callable
        Anything whose row slices ``data[lo:hi]`` are arrays: an ``np.memmap``, an
        h5py or zarr dataset, an array. Or a function of no arguments that returns an
        iterable of blocks, each an array of rows or an (array, sample weights)
        pair; it is called once per pass and must yield the same blocks each time
        (a generator function that reads a file, for example).
    chunk_size : int, default=None
        Rows per chunk when ``data`` is sliced; by default about 16 MB of float64
        rows. Ignored for a callable (its blocks are the chunks), except by the
        hidden Markov models, which join its sequences into blocks of at most this
        many rows (by default the same 16 MB).
    sample_weight : array-like of shape (n_samples,) or float, default=None
        Weights of the rows of sliced ``data`` (sliced with it, so it may be a
        memmap too); for a callable, give weights in its blocks.

    See Also
    --------
    GaussianMixture.fit : Takes Chunks as X.
    KMeans.fit : Takes Chunks as X.
    GaussianMixture.partial_fit : Online EM, one batch at a time.
    GaussianHMM.fit : Takes Chunks of a callable that yields sequences.

    Notes
    -----
    The fit is the same as on the whole array in memory (to rounding: sums are taken
    chunk by chunk), and for given data and ``chunk_size`` it is bitwise the same for
    any number of threads. Initialisation uses the rows themselves when there are at
    most 100,000 of them, else a uniform sample of 100,000 rows.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import Chunks, GaussianMixture
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> in_memory = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> chunked = GaussianMixture(n_components=2, random_state=0).fit(
    ...     Chunks(X, chunk_size=50))
    >>> bool(np.allclose(chunked.means_, in_memory.means_, rtol=1e-10))
    True

    A generator function that yields the blocks:

    >>> def blocks():
    ...     for lo in range(0, len(X), 100):
    ...         yield X[lo:lo + 100]
    >>> streamed = GaussianMixture(n_components=2, random_state=0).fit(Chunks(blocks))
    >>> bool(np.allclose(streamed.means_, in_memory.means_, rtol=1e-10))
    True

    Sequences for a hidden Markov model, one per item:

    >>> from fastem import GaussianHMM
    >>> def sequences():
    ...     for lo in range(0, len(X), 68):
    ...         yield X[lo:lo + 68]
    >>> hmm = GaussianHMM(n_components=2, random_state=0).fit(Chunks(sequences))
    >>> same = GaussianHMM(n_components=2, random_state=0).fit(X, lengths=[68] * 4)
    >>> bool(np.allclose(hmm.transmat_, same.transmat_, rtol=1e-10))
    True
    """

    _read_in_chunks = True     # check_array refuses it with a clear message

    def __init__(self, data: Any | Callable[[], Iterable[Any]], *,
                 chunk_size: int | None = None, sample_weight: Any = None) -> None:
        self.data = data
        self.chunk_size = chunk_size
        self.sample_weight = sample_weight

    def __repr__(self) -> str:
        what = getattr(self.data, "__name__", None) or type(self.data).__name__
        return f"Chunks({what}, chunk_size={self.chunk_size})"

    def _source(self, allow_nan, sample_weight=None):
        if sample_weight is not None and self.sample_weight is not None:
            raise ValueError("sample_weight was given both to Chunks and to fit; give it "
                             "once")
        sw = self.sample_weight if sample_weight is None else sample_weight
        if callable(self.data) and not hasattr(self.data, "shape"):
            if sw is not None:
                raise ValueError("Chunks of a callable take their weights in its blocks, "
                                 "as (array, weights) pairs; not sample_weight")
            return StreamSource(self.data, allow_nan)
        return ChunkedSource(self.data, _check_chunk_size(self.chunk_size), sw, allow_nan)

    def _sequences(self, check, n_features_of, lengths=None):
        """The SequenceStream of a hidden Markov model's fit (see SequenceStream)."""
        if not callable(self.data) or hasattr(self.data, "shape"):
            raise TypeError("a hidden Markov model fits Chunks of a function that yields "
                            "sequences (arrays) or (array, lengths) pairs; an array or a "
                            "memmap is fitted as it is, with its lengths: fit(X, lengths)")
        if lengths is not None:
            raise ValueError("lengths is for an array of sequences; Chunks give the "
                             "lengths in their items, as (array, lengths) pairs")
        if self.sample_weight is not None:
            raise ValueError("hidden Markov models take no sample weights; Chunks for "
                             "them must have sample_weight=None")
        return SequenceStream(self.data, check, n_features_of,
                              _check_chunk_size(self.chunk_size))


def _check_chunk_size(size):
    if size is not None and (isinstance(size, bool) or not isinstance(
            size, numbers.Integral) or size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {size!r}")
    return None if size is None else int(size)


# -- sequences: the hidden Markov models' sources ----------------------------------------
def sequence_starts(lengths, n_samples):
    """(S + 1,) boundaries of the sequences in X from hmmlearn's ``lengths``.

    Checked exactly before any cumulative sum: every length positive and at most
    n_samples, and their sum (in Python integers) equal to n_samples. An int64 sum can
    wrap around (four lengths of about 2**62 "sum" to a small n), and boundaries from it
    would send the kernels far outside X."""
    if lengths is None:
        return np.array([0, n_samples], dtype=np.intp)
    try:
        arr = np.asarray(lengths)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"lengths must be a 1-D sequence of integers ({exc})") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence of integers, got shape "
                         f"{arr.shape}")
    kind = arr.dtype.kind
    integral = (kind in "iu"
                or (kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
                or (kind == "O" and all(isinstance(v, numbers.Integral)
                                        and not isinstance(v, bool) for v in arr)))
    if not integral:
        raise TypeError(f"lengths must hold integers, got dtype {arr.dtype}")
    for bad, rule in ((arr <= 0, "must be positive"),
                      (arr > n_samples, f"must be at most the {n_samples} samples of X")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"lengths {rule}: lengths[{i}] = {arr[i]}")
    arr = arr.astype(np.intp)          # safe now: every value is in [1, n_samples]
    total = sum(arr.tolist())          # exact
    if total != n_samples:
        raise ValueError(f"lengths sum to {total}, but X has {n_samples} samples; "
                         "they must be equal")
    starts = np.zeros(arr.size + 1, dtype=np.intp)
    np.cumsum(arr, out=starts[1:])
    return starts


class SequenceBlock(Block):
    """Whole sequences: their rows X, validated by the model (2-D rows, or 1-D symbols),
    and ``starts``, the (S + 1,) offsets of the sequences in X (0 first, X's length
    last). ``start`` is X's first row and ``first`` its first sequence in the source."""

    __slots__ = ("starts", "first")

    def __init__(self, X, starts, start=0, first=0):
        super().__init__(X, None, False, start)
        self.starts = starts
        self.first = first


class SequenceSource(Source):
    """Blocks of whole sequences. The facts: n_samples, n_values (X's values: rows times
    columns), n_sequences, n_features (the model's, from its ``n_features_of`` of every
    block: the largest), and block_starts (each block's ``starts``, in order)."""

    missing = False
    n_values: int
    n_sequences: int
    block_starts: list


class SequenceArraySource(SequenceSource):
    """One validated in-memory array of sequences: a single block, kept for the fit."""

    in_memory = True

    def __init__(self, X, starts, n_features):
        self.X = X
        self.starts = starts
        self.block = SequenceBlock(X, starts)
        self.n_samples = self.total_weight = X.shape[0]
        self.n_values = X.size
        self.n_sequences = starts.size - 1
        self.n_features = n_features
        self.dtype = X.dtype
        self.block_starts = [starts]

    def blocks(self):
        yield self.block

    def sample(self, size, rs):
        n = self.n_samples
        if n <= size:
            return self.X, None
        return np.ascontiguousarray(self.X[sample_rows(n, size, rs)]), None


class SequenceStream(SequenceSource):
    """Sequences from ``factory()``, called once per pass over the data: an iterable of
    items, each one sequence (an array of its rows) or an (X, lengths) pair of several
    (``lengths`` None: X is one). ``check(X, name=...)`` validates and converts an item's X
    (the model's validation, on every pass: a kernel never sees unchecked data), and
    ``n_features_of(X)`` gives the model's number of features of it.

    Consecutive items are joined into blocks of at most ``chunk_size`` rows (by default
    about CHUNK_BYTES of float64 rows), so that a block is many short sequences (the
    kernels run one thread per sequence); an item longer than that is a block alone, so
    memory holds one block (and its concatenation). Every pass must yield the same
    sequences."""

    def __init__(self, factory, check, n_features_of, chunk_size=None):
        self.factory = factory
        self.check = check
        self.chunk_size = chunk_size
        self.items: list[np.ndarray] = []       # the starts of each item, first pass
        self.block_starts = []
        self.n_samples = self.n_values = self.n_sequences = 0
        self.n_features, self.columns = 0, None
        for block in self._blocks(first_pass=True, n_features_of=n_features_of):
            self.block_starts.append(block.starts)
            self.n_samples += block.X.shape[0]
            self.n_values += block.X.size
            self.n_sequences += block.starts.size - 1
        if not self.items:
            raise ValueError("the factory of Chunks yielded no sequences; it needs at "
                             "least one")
        self.total_weight = self.n_samples

    def blocks(self):
        return self._blocks(first_pass=False)

    def _raw(self):
        items = self.factory()
        if not isinstance(items, Iterable) or isinstance(items, np.ndarray):
            raise TypeError("the factory of Chunks must return an iterable of sequences "
                            "(arrays) or of (array, lengths) pairs, got "
                            f"{type(items).__name__}")
        for item in items:
            yield sequence_item(item)

    def _items(self, first_pass, n_features_of=None):
        """(validated X, its starts) per item of one call of the factory."""
        sequence = i = 0
        for i, (X, lengths) in enumerate(self._raw()):
            if not first_pass and i >= len(self.items):
                raise ValueError("the factory of Chunks yielded more items than on its "
                                 "first pass; every pass must yield the same sequences")
            name = (f"sequence {sequence} of X" if lengths is None else
                    f"item {i} of X (from sequence {sequence})")
            X, starts = checked_sequences(X, lengths, self.check, name)
            if first_pass:
                if self.columns is None:
                    self.columns = X.shape[1:]
                elif X.shape[1:] != self.columns:
                    raise ValueError(f"{name} has {X.shape[1]} feature(s), expected "
                                     f"{self.columns[0]} as the first item of X")
                self.n_features = max(self.n_features, n_features_of(X))
                self.items.append(starts)
            elif not np.array_equal(starts, self.items[i]):
                raise ValueError(f"{name} changed between passes, from "
                                 f"{self.items[i][-1]} rows in {self.items[i].size - 1} "
                                 f"sequence(s) to {starts[-1]} in {starts.size - 1}; every "
                                 "pass must yield the same sequences")
            sequence += starts.size - 1
            yield X, starts
        if not first_pass and i + 1 != len(self.items):
            raise ValueError("the factory of Chunks yielded fewer items than on its first "
                             "pass; every pass must yield the same sequences")

    def _blocks(self, first_pass, n_features_of=None):
        """The items joined into blocks of at most chunk_size rows (or one item)."""
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        rows = row = sequence = 0
        budget = self.chunk_size
        for X, starts in self._items(first_pass, n_features_of):
            if budget is None:
                budget = default_chunk_rows(int(np.prod(X.shape[1:], dtype=np.int64)))
            if pending and rows + X.shape[0] > budget:
                block = joined(pending, row, sequence)
                yield block
                row, sequence = row + rows, sequence + block.starts.size - 1
                pending, rows = [], 0
            pending.append((X, starts))
            rows += X.shape[0]
        if pending:
            yield joined(pending, row, sequence)


def sequence_item(item):
    """(X, lengths or None) of an item of sequences: an array, or an (X, lengths) pair."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError("an item of sequences for a hidden Markov model is a sequence "
                             "(an array) or an (array, lengths) pair, got a tuple of "
                             f"{len(item)}")
        return item
    return item, None


def checked_sequences(X, lengths, check, name):
    """(X validated by the model's ``check``, the starts of its sequences)."""
    if hasattr(X, "__len__") and len(X) == 0:
        raise ValueError(f"{name} is empty: every sequence needs at least one observation")
    X = check(X, name=name)
    try:
        starts = sequence_starts(lengths, X.shape[0])
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"the lengths of {name}: {exc}") from None
    return X, starts


def joined(pending, row, sequence):
    """One SequenceBlock of the items (X, starts) in ``pending``."""
    if len(pending) == 1:
        X, starts = pending[0]
        return SequenceBlock(X, starts, row, sequence)
    X = np.concatenate([part for part, _ in pending])
    offsets = np.cumsum([0] + [part.shape[0] for part, _ in pending[:-1]])
    starts = np.concatenate([s[:-1] + offset for (_, s), offset in zip(pending, offsets)]
                            + [[X.shape[0]]]).astype(np.intp)
    return SequenceBlock(X, starts, row, sequence)


def is_dask_array(X):
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks")


def is_dask_bag(X):
    return type(X).__module__.startswith("dask.bag") and hasattr(X, "npartitions")


def as_source(X, sample_weight=None, *, allow_nan):
    """A Source for X, or None when X is an ordinary array-like (the caller validates
    it in memory): Chunks, an np.memmap (read in chunks) and dask arrays have one."""
    if isinstance(X, Source):
        return X
    if isinstance(X, Chunks):
        return X._source(allow_nan, sample_weight)
    if isinstance(X, np.memmap):
        return ChunkedSource(X, None, sample_weight, allow_nan)
    if is_dask_array(X):
        from .dask import DaskSource

        return DaskSource(X, sample_weight, allow_nan=allow_nan)
    return None


def row_pieces(data, sample_weight=None, rows=1 << 14):
    """(float64 rows, their weights or None), at most ``rows`` at a time, of an array
    (with ``sample_weight``) or of a Source's blocks: passes over the data without a
    temporary of its size."""
    blocks = (data.blocks() if isinstance(data, Source)
              else [Block(data, sample_weight)])
    for block in blocks:
        X, sw = block.X, block.sample_weight
        for lo in range(0, X.shape[0], rows):
            yield (X[lo:lo + rows].astype(np.float64),
                   None if sw is None else sw[lo:lo + rows])
