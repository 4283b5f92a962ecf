"""The E-step of Baum-Welch on one block of whole sequences, and its statistics.

The E-step of a block is a sequence of passes over batches of its sequences (emission
log-probabilities, then forward-backward with one OpenMP task per sequence, then the
emission statistics); the statistics of the batches are added in order, so a fit is
bitwise identical for any number of threads. Batches bound the memory: two (rows x
states) buffers of at most max(BATCH_ELEMENTS, longest sequence x states) values.

``hmm_e_step`` is a module-level function of (block, params) with the model's emission
settings bound by functools.partial (an EmissionPass: settings, no data), so that it
can be pickled and mapped over blocks of sequences anywhere; its HMMStats add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._engine import Stats
from .._kernels import _hmm
from .._kernels._parallel import effective_n_threads

# 2 MB per (rows x states) buffer: few enough batches that each kernel pass is large
# enough to run on every thread (measured: 2^15 made the small benchmark cases serial)
BATCH_ELEMENTS = 1 << 18


@dataclass
class HMMParams:
    startprob: np.ndarray
    transmat: np.ndarray
    emission: Any          # the model's own emission parameters


@dataclass
class NoStats(Stats):
    """The statistics of an emission whose parameters a fit does not update."""


@dataclass
class HMMStats(Stats):
    """Baum-Welch's statistics of some whole sequences, summed over them: the
    log-likelihood, the expected number of sequences starting in each state, the
    expected number of transitions between each pair of states (zeros when the
    transitions are not fitted) and the emission's statistics (the EmissionPass's: a
    Stats or an array, additive). ``params`` is context: the parameters the E-step ran
    at, which the M-step needs too (zeros stay zero, unvisited states keep theirs)."""

    loglik: float
    start: np.ndarray          # (K,)
    trans: np.ndarray          # (K, K)
    emission: Any
    params: HMMParams

    additive = ("loglik", "start", "trans", "emission")


class EmissionPass:
    """What the E-step needs of a model's emission: picklable settings (no data, no
    parameters). ``fitted`` is whether a fit updates the emission parameters (else its
    statistics are NoStats and the pass skips them)."""

    fitted = True

    def log_prob(self, X, emission, out, n_threads):
        """out[t, k] = log p(x_t | state k) for the rows of one batch."""
        raise NotImplementedError

    def stats(self, X, post, emission, n_threads):
        """One batch's emission statistics (additive) for posteriors ``post``."""
        raise NotImplementedError


def batches(starts, n_states):
    """(first, last) sequence ranges in order, each at most max(BATCH_ELEMENTS / n_states,
    one sequence) rows long; they depend only on the lengths."""
    budget = max(BATCH_ELEMENTS // n_states, 1)
    out = []
    first = 0
    S = starts.size - 1
    while first < S:
        last = first + 1
        while last < S and starts[last + 1] - starts[first] <= budget:
            last += 1
        out.append((first, last))
        first = last
    return out


def largest_batch(starts, n_states):
    """Rows of the largest batch: the size of the per-batch (rows x states) buffers."""
    return max(int(starts[b] - starts[a]) for a, b in batches(starts, n_states))


def emission_batches(emission, X, starts, params, n_threads):
    """Yield (first row, local sequence starts, task order, log emission probabilities)
    per batch of whole sequences; the emission buffer is reused from batch to batch."""
    K = params.startprob.shape[0]
    frame_buf = np.empty(largest_batch(starts, K) * K)
    for a, b in batches(starts, K):
        lo, hi = int(starts[a]), int(starts[b])
        local = np.ascontiguousarray(starts[a:b + 1] - lo)
        frame = frame_buf[:(hi - lo) * K].reshape(hi - lo, K)
        emission.log_prob(X[lo:hi], params.emission, frame, n_threads)
        order = np.argsort(-np.diff(local), kind="stable").astype(np.intp)
        yield lo, local, order, frame


def forward_backward(emission, X, starts, params, *, posteriors, transitions, n_threads):
    """Yield (first row, local starts, posteriors, xi, per-sequence log-likelihoods) per
    batch of sequences. The buffers are reused from batch to batch."""
    K = params.startprob.shape[0]
    post_buf = np.empty(largest_batch(starts, K) * K if posteriors else 0)
    for lo, local, order, frame in emission_batches(emission, X, starts, params, n_threads):
        n, S = frame.shape[0], local.size - 1
        post = post_buf[:n * K].reshape(n, K) if posteriors else np.empty((0, 0))
        xi = np.empty((S, K, K)) if transitions else np.empty((0, 0, 0))
        seq_ll = np.empty(S)
        _hmm.forward_backward(frame, local, order, params.startprob, params.transmat,
                              post, xi, seq_ll, n_threads)
        yield lo, local, post, xi, seq_ll


def hmm_e_step(block, params, *, emission, transitions, n_threads=None):
    """HMMStats of one block of whole sequences (a _sources.SequenceBlock: rows X and
    sequence starts) at ``params`` (HMMParams). ``emission`` is the model's
    EmissionPass; ``transitions`` whether to count the transitions (the fit updates
    them)."""
    threads = effective_n_threads(n_threads)
    X, starts = block.X, block.starts
    K = params.startprob.shape[0]
    start = np.zeros(K)
    trans = np.zeros((K, K))
    moments: Any = None if emission.fitted else NoStats()
    loglik = 0.0
    for lo, local, post, xi, seq_ll in forward_backward(
            emission, X, starts, params, posteriors=True, transitions=transitions,
            n_threads=threads):
        loglik += float(seq_ll.sum())
        start += post[local[:-1]].sum(axis=0)
        if xi.shape[0]:
            trans += xi.sum(axis=0)
        if emission.fitted:
            part = emission.stats(X[lo:lo + post.shape[0]], post, params.emission, threads)
            moments = part if moments is None else moments + part
    return HMMStats(loglik, start, trans, moments, params)
