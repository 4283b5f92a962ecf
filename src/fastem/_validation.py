"""Input checks: user data in, C-contiguous float32/float64 arrays out, or a clear error.

The caller's arrays are never written to: a conversion copies, and the kernels only read.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np

from .exceptions import NotFittedError

_FINITE_CHUNK = 1 << 16


def check_array(X, name="X", *, ensure_min_samples=1, allow_nan=False, return_missing=False):
    """Return X as a 2-D C-contiguous native-endian float32 or float64 array.

    With return_missing (which allows NaN) return (X, whether X holds a NaN), found by the
    same pass that checks for infinity.

    float32 stays float32; every other real numeric dtype becomes float64. Raises
    TypeError for complex, string or object data that is not numeric and ValueError for
    wrong dimensions, too few rows, or non-finite values.
    """
    if getattr(X, "_read_in_chunks", False):
        raise TypeError(f"{name} is Chunks, which fit and partial_fit read; this method "
                        "takes an array (or an np.memmap) of rows")
    if hasattr(X, "tocsr") or hasattr(X, "tocoo"):
        raise TypeError(f"Sparse data was passed for {name}, but dense data is required. "
                        "Use '.toarray()' to convert to a dense numpy array.")
    if hasattr(X, "dtype") and hasattr(X, "shape"):
        arr = np.asarray(X)
    else:
        try:
            arr = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported: {name} has dtype {arr.dtype}; fastem "
                         "needs real numbers")
    if kind in "OUSV" or kind == "M" or kind == "m":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{name} must be numeric, got an array of dtype {arr.dtype} "
                f"that cannot be converted to float ({exc})"
            ) from None
    elif kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = (" Reshape your data either using X.reshape(-1, 1) if your data has a single "
                "feature or X.reshape(1, -1) if it contains a single sample."
                if arr.ndim == 1 else "")
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got "
                         f"{arr.ndim}-D with shape {arr.shape}.{hint}")
    if arr.shape[0] < ensure_min_samples:
        raise ValueError(f"{name} has {arr.shape[0]} sample(s) (shape={arr.shape}) while a "
                         f"minimum of {ensure_min_samples} is required.")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 "
                         "is required.")
    # any float32, whatever its byte order (">f4" is not == np.float32), stays float32
    dtype = np.float32 if arr.dtype.kind == "f" and arr.dtype.itemsize == 4 else np.float64
    arr = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("="))
    missing = _check_finite(arr, name, allow_nan=allow_nan or return_missing)
    return (arr, missing) if return_missing else arr


def _check_finite(arr, name, *, allow_nan=False):
    """Reject inf (and NaN unless allowed); return whether a NaN was seen.

    One summing pass, without an n x d temporary, in the common all-finite case."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(arr, dtype=np.float64)
    if np.isfinite(total):
        return False
    # Something is non-finite, or the sum overflowed: look chunk by chunk.
    flat = arr.reshape(-1)
    seen_nan = False
    for start in range(0, flat.size, _FINITE_CHUNK):
        chunk = flat[start:start + _FINITE_CHUNK]
        if np.isinf(chunk).any():
            raise ValueError(f"{name} contains infinity; all values must be finite.")
        if not seen_nan and np.isnan(chunk).any():
            if not allow_nan:
                raise ValueError(f"{name} contains NaN; this needs complete data "
                                 "(GaussianMixture fits with missing values and can impute "
                                 "them).")
            seen_nan = True
    return seen_nan


def check_sample_weight(sample_weight, n_samples, *, name="sample_weight", whole=True):
    """None for unit weights, else a float64 array of n_samples non-negative finite values.

    ``name`` names the weights in the messages; ``whole=False`` checks the weights of one
    block of rows, which may sum to zero (check_weight_total checks the whole)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sw = np.full(n_samples, float(sample_weight))
    else:
        sw = np.asarray(sample_weight)
        if sw.dtype.kind == "c":
            raise TypeError(f"{name} has complex dtype; it must be real")
        if sw.dtype.kind not in "biuf":
            try:
                sw = sw.astype(np.float64)
            except (ValueError, TypeError):
                raise TypeError(f"{name} must be numeric, got dtype {sw.dtype}") from None
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},) to match X, "
                         f"got {sw.shape}")
    sw = np.ascontiguousarray(sw, dtype=np.dtype(np.float64).newbyteorder("="))
    if not np.isfinite(sw).all():
        raise ValueError(f"{name} contains NaN or infinity; weights must be finite")
    if (sw < 0).any():
        raise ValueError(f"{name} contains negative values; weights must be >= 0")
    if whole:
        with np.errstate(over="ignore"):
            check_weight_total(sw.sum())
    return sw


def check_weight_total(total):
    """The total of the sample weights is finite and positive."""
    if not np.isfinite(total):
        raise ValueError("sample_weight sums to infinity; scale the weights down (only "
                         "their ratios matter)")
    if not total > 0:
        raise ValueError("sample_weight sums to zero; at least one weight must be positive")


def check_random_state(seed):
    """A numpy RandomState from None (numpy's global one), an int, or a RandomState."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {seed!r}")


def check_int(value, name, *, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(value, name, *, minimum):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value}")
    return float(value)


def check_option(value, name, options):
    if not isinstance(value, str) or value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


# Squared distances (norms, sums of them over the rows) may reach this much before the
# kernels' arithmetic could overflow float64: data beyond it is rejected.
SQUARED_NORM_LIMIT = float(np.finfo(np.float64).max) / 64


def is_positive_definite(matrix):
    """Whether a symmetric matrix (its lower triangle is read) is positive definite to
    working precision, so that everything fastem does with it succeeds.

    The one test for covariances and precisions, user-given or from an M-step: finite,
    a Cholesky factor exists (what the kernels and sampling use), and the correlation
    matrix C = D^-1/2 A D^-1/2 (D = diag A) has 20 d^1.5 u cond(C) < 1 (u = eps / 2):
    the condition under which Cholesky provably succeeds in floating point, whatever the
    order of the rows (Higham, Accuracy and Stability of Numerical Algorithms, Thm 10.7).
    This makes the verdict robust to rounding (a matrix within rounding of singular is
    rejected rather than passing or failing by the luck of the last bit) and independent
    of the scale of each feature."""
    m = np.asarray(matrix, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        return False
    diag = np.diagonal(m)
    if not np.all(diag > 0):
        return False
    try:
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return False
    scale = 1.0 / np.sqrt(diag)
    eigenvalues = np.linalg.eigvalsh(m * scale[:, None] * scale[None, :])
    margin = 10 * m.shape[0] ** 1.5 * np.finfo(np.float64).eps
    return bool(eigenvalues[0] > margin * eigenvalues[-1])


def positive_variances(values):
    """Elementwise: finite and > 0 (the test for diagonal and spherical variances and
    precisions, user-given or from an M-step)."""
    v = np.asarray(values, dtype=np.float64)
    return np.isfinite(v) & (v > 0)


def check_positive_definite(matrices, name, unit=None):
    """ValueError naming ``name`` (and the ``unit`` index, for a stack) unless every
    matrix is symmetric and positive definite (is_positive_definite)."""
    stack = matrices if unit is not None else matrices[None]
    for k, m in enumerate(stack):
        where = f" ({unit} {k})" if unit is not None else ""
        if not np.allclose(m, m.T):
            raise ValueError(f"{name}{where} must be symmetric")
        if not is_positive_definite(m):
            raise ValueError(f"{name}{where} must be positive definite (to working "
                             "precision: finite, not singular or nearly singular)")


# without a way to ask the system (no sysconf), memory checks assume this much
_FALLBACK_MEMORY = 1 << 40


def physical_memory():
    """Bytes of physical memory of this machine (_FALLBACK_MEMORY when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return _FALLBACK_MEMORY


# A fit holds several arrays the size of its largest parameter at once (the parameters,
# the new ones, the statistics and the M-step's temporaries): memory checks count this many.
PARAMETER_COPIES = 8


def check_memory(n_bytes, what, advice):
    """ValueError when ``what`` would need more than the machine's physical memory.

    n_bytes is a Python int (exact, no overflow); call this before allocating."""
    limit = physical_memory()
    if n_bytes > limit:
        raise ValueError(f"{what} would need about {n_bytes / 2**30:.3g} GiB, more than "
                         f"this machine's physical memory ({limit / 2**30:.3g} GiB); "
                         f"{advice}")


def check_is_fitted(estimator, attribute):
    if not hasattr(estimator, attribute):
        raise interoperable(NotFittedError)(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator.")


def feature_names(X):
    """The column names of a DataFrame-like X when they are all strings, else None
    (scikit-learn's rule; names of mixed types are an error)."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray) or not hasattr(X, "shape"):
        return None
    names = np.asarray(list(columns), dtype=object)
    is_str = [isinstance(name, str) for name in names]
    if names.size and all(is_str):
        return names
    if any(is_str):
        kinds = sorted({type(name).__name__ for name in names})
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {kinds} as feature name / column name types. If you "
            "want feature names to be stored and validated, you must convert them all to "
            "strings, by using X.columns = X.columns.astype(str) for example. Otherwise "
            "you can remove feature / column names from your input data, or convert them "
            "all to a non-string data type.")
    return None


ABSENT = object()   # a value for commit(): remove this attribute


def fitted_features(raw, X):
    """n_features_in_ and feature_names_in_ (ABSENT without names) for commit, from
    the caller's X (raw) and its validated array X."""
    names = feature_names(raw)
    return {"n_features_in_": X.shape[1],
            "feature_names_in_": ABSENT if names is None else names}


def _check_feature_names(estimator, raw):
    fitted = getattr(estimator, "feature_names_in_", None)
    names = feature_names(raw)
    cls = type(estimator).__name__
    if fitted is None and names is None:
        return
    if fitted is None:
        warnings.warn(f"X has feature names, but {cls} was fitted without feature names",
                      UserWarning, stacklevel=4)
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {cls} was fitted with "
                      "feature names", UserWarning, stacklevel=4)
        return
    if len(fitted) == len(names) and np.all(fitted == names):
        return
    message = "The feature names should match those that were passed during fit.\n"
    fitted_set, names_set = set(fitted), set(names)
    unseen = [name for name in names if name not in fitted_set]
    gone = [name for name in fitted if name not in names_set]
    for title, group in (("Feature names unseen at fit time:", unseen),
                         ("Feature names seen at fit time, yet now missing:", gone)):
        if group:
            shown = [f"- {name}" for name in group[:5]] + (["- ..."] if len(group) > 5 else [])
            message += title + "\n" + "\n".join(shown) + "\n"
    if not unseen and not gone:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def check_n_features(estimator, X, raw=None):
    """X (validated) has the fitted number of features, and the caller's X (raw) the
    fitted feature names (a warning when only one of them has names)."""
    _check_feature_names(estimator, X if raw is None else raw)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input.")


_BRIDGED: dict[type, type] = {}


def interoperable(cls):
    """cls, or a subclass of both cls and scikit-learn's class of the same name when
    scikit-learn is already imported, so that its except clauses and warning filters
    catch fastem's errors and warnings too. fastem never imports scikit-learn itself."""
    module = sys.modules.get("sklearn.exceptions")
    other = getattr(module, cls.__name__, None) if module is not None else None
    if other is None:
        return cls
    if cls not in _BRIDGED:
        _BRIDGED[cls] = type(cls.__name__, (cls, other), {"__module__": cls.__module__})
    return _BRIDGED[cls]
