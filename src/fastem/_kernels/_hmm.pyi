import numpy as np
from numpy.typing import NDArray

_F64 = NDArray[np.float64]
_Index = NDArray[np.intp]

def forward_backward(
    frame: _F64,
    starts: _Index,
    order: _Index,
    startprob: _F64,
    transmat: _F64,
    post: _F64,
    xi: _F64,
    loglik: _F64,
    n_threads: int,
) -> None: ...
def viterbi(
    frame: _F64,
    starts: _Index,
    order: _Index,
    log_startprob: _F64,
    log_transmat: _F64,
    back: NDArray[np.intc],
    path: _Index,
    logprob: _F64,
    n_threads: int,
) -> None: ...
def symbol_counts(symbols: _Index, post: _F64, out: _F64, n_threads: int) -> None: ...
def sample_chain(
    start_cdf: _F64, trans_cdf: _F64, uniforms: _F64, first: int, states: _Index
) -> None: ...
