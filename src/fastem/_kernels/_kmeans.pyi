import numpy as np
from numpy.typing import NDArray

_Float = NDArray[np.float32] | NDArray[np.float64]
_F64 = NDArray[np.float64]

def use_hand_vectorised(level: int) -> int: ...
def lloyd_pass(
    X: _Float,
    sample_weight: _F64,
    centers: _Float,
    labels: NDArray[np.intc],
    sums: _F64,
    weight_in_clusters: _F64,
    dist_out: _F64,
    want_sums: bool,
    n_threads: int,
    shift: _Float | None = ...,
) -> float: ...
def sq_distances(X: _Float, centers: _Float, out: _Float, n_threads: int) -> None: ...
def column_sums(
    X: _Float, sample_weight: _F64, shift: _F64, n_threads: int
) -> tuple[_F64, _F64, float]: ...
_I32 = NDArray[np.int32]
_Kept = tuple[_F64, _I32, _I32]

def kpp_gains(
    X: _Float,
    sample_weight: _F64,
    closest: _F64,
    candidates: _Float,
    gains: _F64,
    xx: _F64,
    n_threads: int,
    shift: _Float | None = ...,
    labels: _I32 | None = ...,
    gaps: _F64 | None = ...,
    slack: _F64 | None = ...,
    kept: _Kept | None = ...,
) -> None: ...
def kpp_update_closest(
    X: _Float,
    sample_weight: _F64,
    closest: _F64,
    center: _Float,
    xx: _F64,
    n_threads: int,
    xx_out: _F64 | None = ...,
    shift: _Float | None = ...,
    block_sums: _F64 | None = ...,
    labels: _I32 | None = ...,
    gaps: _F64 | None = ...,
    slack: _F64 | None = ...,
    new_label: int = ...,
    block_norms: _F64 | None = ...,
) -> float: ...
def kpp_gaps(centers: _Float, candidates: _Float, out: _F64) -> float: ...
def kpp_slack(
    block_norms: _F64, center_norms: float, d: int, single: bool, out: _F64
) -> None: ...
def n_blocks(n: int) -> int: ...
def kpp_fold(
    kept: _Kept,
    column: int,
    sample_weight: _F64,
    closest: _F64,
    block_sums: _F64,
    n_threads: int,
    labels: _I32 | None = ...,
    new_label: int = ...,
) -> float: ...
def weighted_search(
    sample_weight: _F64,
    closest: _F64,
    n: int,
    targets: _F64,
    out: NDArray[np.intp],
    block_sums: _F64 | None = ...,
) -> None: ...
