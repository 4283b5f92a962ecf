import numpy as np
from numpy.typing import NDArray

FULL: int
TIED: int
DIAG: int
SPHERICAL: int

_Float = NDArray[np.float32] | NDArray[np.float64]
_F64 = NDArray[np.float64]
_Index = NDArray[np.intp]

def use_hand_vectorised(level: int) -> int: ...

def stats_size(cov_type: int, n_components: int, n_features: int) -> int: ...
def gaussian_pass(
    X: _Float,
    sample_weight: _F64,
    means: _Float,
    prec: _Float,
    log_norm: _F64,
    cov_type: int,
    resp_in: _F64,
    resp_out: _F64,
    lse_out: _F64,
    logp_out: _F64,
    nk: _F64,
    s1: _F64,
    s2: _F64,
    want_stats: bool,
    n_threads: int,
) -> float: ...
def labelled_stats(
    X: _Float,
    sample_weight: _F64,
    labels: NDArray[np.intc],
    means: _Float,
    cov_type: int,
    nk: _F64,
    s1: _F64,
    s2: _F64,
    n_threads: int,
) -> None: ...
def gaussian_missing_pass(
    X: _Float,
    sample_weight: _F64,
    order: _Index,
    seg: _Index,
    obs_start: _Index,
    obs_idx: _Index,
    mis_start: _Index,
    mis_idx: _Index,
    factor: _Float,
    factor_start: _Index,
    bmat: _Float,
    bmat_start: _Index,
    log_norm: _F64,
    means: _Float,
    cov_type: int,
    resp_out: _F64,
    lse_out: _F64,
    nk: _F64,
    s1: _F64,
    s2: _F64,
    rsum: _F64,
    want_stats: bool,
    n_threads: int,
) -> float: ...
def missing_pattern_parameters(
    cov: _F64,
    cov_type: int,
    obs_start: _Index,
    obs_idx: _Index,
    mis_start: _Index,
    mis_idx: _Index,
    factor: _Float,
    factor_start: _Index,
    bmat: _Float,
    bmat_start: _Index,
    cond: _F64,
    cond_start: _Index,
    log_det: _F64,
    failed: NDArray[np.intc],
    n_features: int,
    n_threads: int,
) -> None: ...
def missing_conditional_moments(
    rsum: _F64,
    cond: _F64,
    cond_start: _Index,
    mis_start: _Index,
    mis_idx: _Index,
    cov_type: int,
    n_features: int,
    extra: _F64,
) -> None: ...
