"""Model files: a zip of .npy arrays plus JSON metadata, checked against a schema per class.

A file holds the member ``__fastem_metadata__.npy`` (the UTF-8 bytes of a JSON object:
format, format_version, class, params, attributes, dims) and one ``.npy`` member per
array: ``attr:NAME`` for a fitted attribute, ``param:NAME`` for an array-valued
constructor parameter. Each class's schema below lists every member with its dtype and
its shape in terms of the dims (n_components, n_features, ...), and every JSON value
with its type and range.

``load`` checks the metadata, then every member's .npy header (read from at most 16 KB
of the member) against the schema and against the zip's declared size, and only then
reads the arrays (each into an array of the checked size) and checks their values. It
never unpickles anything and builds only the four classes below. Every problem with the
file's content raises ModelFileError naming the file and the member; a path that cannot
be opened raises the usual OSError (FileNotFoundError, ...).

Format version 2 adds ``dims`` to the metadata; version-1 files (no dims) still load,
the dims that version 1 did not record being read from the arrays' shapes.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import numbers
import os
import secrets
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, overload

import numpy as np
from numpy.lib import format as npy_format

from ._validation import SQUARED_NORM_LIMIT, interoperable, is_positive_definite
from .exceptions import ModelFileError, NotFittedError

if TYPE_CHECKING:
    from .cluster import KMeans
    from .hmm import CategoricalHMM, GaussianHMM
    from .mixture import GaussianMixture

#: What ``load`` returns: one of fastem's estimators.
Model = Union["GaussianMixture", "KMeans", "GaussianHMM", "CategoricalHMM"]
M = TypeVar("M", "GaussianMixture", "KMeans", "GaussianHMM", "CategoricalHMM")

FORMAT = "fastem-model"
FORMAT_VERSION = 2
_META = "__fastem_metadata__"
MAX_METADATA_BYTES = 16 << 20      # the JSON metadata (lower-bound histories included)
_HEADER_BYTES = 16 << 10           # a member's .npy header must fit in its first 16 KB
_MAX_MEMBERS = 64
_MAX_NAME_CHARS = 4096             # feature names
_INT32 = 2**31 - 1


class _Invalid(Exception):
    """A check failed; load and save add the file or the model to the message."""


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- JSON values ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Scalar:
    """A JSON value: ``ok(value)`` says whether it is allowed; ``describe`` says what is."""

    describe: str
    ok: Callable[[Any], bool]

    def __or__(self, other):
        return _Scalar(f"{self.describe} or {other.describe}",
                       lambda v: self.ok(v) or other.ok(v))

    def __call__(self, value, name):
        if not self.ok(value):
            raise _Invalid(f"{name} must be {self.describe}, got {_show(value)}")
        return value


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(minimum, maximum=_INT32):
    return _Scalar(f"an integer in [{minimum}, {maximum}]",
                   lambda v: _is_int(v) and minimum <= v <= maximum)


def _real(minimum=-math.inf, finite=True):
    what = "a finite real number" if finite else "a real number (not NaN)"
    if minimum > -math.inf:
        what += f" >= {minimum:g}"
    return _Scalar(what, lambda v: _is_real(v) and not math.isnan(v)
                   and (math.isfinite(v) or not finite) and v >= minimum)


def _option(*values):
    return _Scalar("one of " + ", ".join(map(repr, values)),
                   lambda v: (v is None or isinstance(v, str)) and v in values)


def _letters(alphabet):
    return _Scalar(f"a string of the letters {alphabet!r}",
                   lambda v: isinstance(v, str) and set(v) <= set(alphabet))


_NONE = _option(None)


@dataclass(frozen=True)
class _Optional:
    """A fitted attribute that files written before it existed lack."""

    check: Any
    optional: bool = True

    def __call__(self, value, name):
        return self.check(value, name)
_BOOL = _Scalar("true or false", lambda v: isinstance(v, bool))
_REALS = _Scalar("a list of real numbers (not NaN)",
                 lambda v: isinstance(v, list) and all(_real(finite=False).ok(x) for x in v))
_SEED = _NONE | _integer(0, 2**32 - 1)
_THREADS = _NONE | _Scalar(  # negative: counted from all the cores (see effective_n_threads)
    f"a non-zero integer in [-{_INT32}, {_INT32}]",
    lambda v: _is_int(v) and v != 0 and abs(v) <= _INT32)


@dataclass(frozen=True)
class _Record:
    """A JSON object with exactly these fields, stored for an object of a fastem class
    (an HMM's monitor_); ``build`` makes the object from the checked fields."""

    fields: dict[str, _Scalar]
    build: Callable[[dict], Any]

    def __call__(self, value, name):
        if not isinstance(value, dict) or value.keys() != self.fields.keys():
            raise _Invalid(f"{name} must be an object with the fields "
                           f"{', '.join(self.fields)}, got {_show(value)}")
        for key, check in self.fields.items():
            check(value[key], f"{name}.{key}")
        return value

    def encode(self, obj):
        return {key: _json_value(getattr(obj, key)) for key in self.fields}


def _nested_reals(v, depth):
    """A real number, or a list (depth 1) or list of lists (depth 2) of real numbers."""
    if _real().ok(v):
        return True
    return depth > 0 and isinstance(v, list) and all(_nested_reals(x, depth - 1) for x in v)


_PRIOR_VALUES = _NONE | _Scalar("a finite real number, or a (nested) list of them",
                                lambda v: _nested_reals(v, 2))
_PRIOR_FIELDS = ("shrinkage", "mean", "dof", "scale", "weights_concentration")


def _conjugate_prior(fields):
    from .mixture import ConjugatePrior

    return ConjugatePrior(**{key: np.asarray(value, dtype=np.float64)
                             if isinstance(value, list) else value
                             for key, value in fields.items()})


@dataclass(frozen=True)
class _Prior(_Record):
    """A GaussianMixture's ConjugatePrior, stored as its fields (JSON values)."""

    optional: bool = False

    def encode(self, obj):
        return obj._json()


_PRIOR_RECORD = _Prior(dict.fromkeys(_PRIOR_FIELDS, _PRIOR_VALUES), _conjugate_prior)
_PRIOR_PARAM = _option(None, "default") | _Scalar(
    "an object with the fields " + ", ".join(_PRIOR_FIELDS),
    lambda v: isinstance(v, dict) and v.keys() == set(_PRIOR_FIELDS)
    and all(_PRIOR_VALUES.ok(x) for x in v.values()))


def _monitor(fields):
    from .hmm import ConvergenceMonitor

    monitor = ConvergenceMonitor(fields["tol"], fields["n_iter"], fields["verbose"])
    monitor.history.extend(fields["history"])
    monitor.iter = fields["iter"]
    return monitor


# -- arrays: value checks (one per kind of constraint) --------------------------------
def _probabilities(arr, name, ctx):
    """Non-negative entries whose last axis sums to one (weights, stochastic rows)."""
    if (arr < 0).any():
        raise _Invalid(f"{name} holds a negative probability")
    sums = arr.sum(axis=-1)
    if arr.size and not np.allclose(sums, 1.0):
        what = "must sum to 1" if arr.ndim == 1 else "rows must sum to 1"
        bad = float(np.atleast_1d(sums)[~np.isclose(np.atleast_1d(sums), 1.0)][0])
        raise _Invalid(f"{name} {what} (one sums to {bad:.6g})")


def _matrices(arr, name, ctx):
    """The (k, d, d) stack of a full/tied array, or None for diag/spherical ones."""
    if ctx["covariance_type"] in ("diag", "spherical"):
        if not (arr > 0).all():
            raise _Invalid(f"{name} must be positive for covariance_type="
                           f"{ctx['covariance_type']!r}")
        return None
    return arr.reshape((-1,) + arr.shape[-2:])


def _cholesky_ok(matrix):
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def _definite(test):
    """A check that the matrices pass ``test`` (and are symmetric)."""
    def check(arr, name, ctx):
        stack = _matrices(arr, name, ctx)
        if stack is None:
            return
        if not np.allclose(stack, np.swapaxes(stack, 1, 2)):
            raise _Invalid(f"{name} must hold symmetric matrices")
        for k, matrix in enumerate(stack):     # one at a time: names the component
            if not test(matrix):
                where = "" if arr.ndim == 2 else f" (component {k})"
                raise _Invalid(f"{name}{where} is not positive definite (or too "
                               "ill-conditioned to tell)")
    return check


# A fitted mixture's matrices need a Cholesky factor (what its methods compute with);
# a GaussianHMM's covars_ and a mixture's precisions_init must pass the models' own
# validation, the shared test.
_positive_definite = _definite(_cholesky_ok)
_validated_positive_definite = _definite(is_positive_definite)


def _bounded_rows(arr, name, ctx):
    """Centers and means whose squared norms a fit could have produced: distances to
    them stay finite (see fastem.cluster._kmeans._centred)."""
    with np.errstate(over="ignore"):
        norms = np.square(arr, dtype=np.float64).sum(axis=-1)
    if not (norms <= SQUARED_NORM_LIMIT).all():
        raise _Invalid(f"{name} holds values too large for distances to them to be "
                       "computed (squared norms above about 1e306)")


def _cholesky_factor(arr, name, ctx):
    """Upper-triangular factors with a positive diagonal (how the mixture stores them)."""
    stack = _matrices(arr, name, ctx)
    if stack is None:
        return
    if np.tril(stack, -1).any():
        raise _Invalid(f"{name} must hold upper-triangular Cholesky factors")
    if not (np.diagonal(stack, axis1=1, axis2=2) > 0).all():
        raise _Invalid(f"{name} must hold Cholesky factors with a positive diagonal")


def _text(arr, name, ctx):
    """Unicode code points only: numpy turns others into broken Python strings."""
    codes = arr.view(np.uint32)
    if ((codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))).any():
        raise _Invalid(f"{name} holds characters that are not valid Unicode")


def _labels(dim):
    def check(arr, name, ctx):
        if arr.size and (arr.min() < 0 or arr.max() >= ctx[dim]):
            raise _Invalid(f"{name} must hold labels in [0, {dim}={ctx[dim]}), got "
                           f"{int(arr.min())} .. {int(arr.max())}")
    return check


# -- arrays: the schema ---------------------------------------------------------------
_DTYPES = {  # name -> (description, test on the header's dtype)
    "float64": ("float64", lambda dt: dt.kind == "f" and dt.itemsize == 8),
    "float": ("float32 or float64", lambda dt: dt.kind == "f" and dt.itemsize in (4, 8)),
    "int32": ("int32", lambda dt: dt.kind == "i" and dt.itemsize == 4),
    "real": ("a real numeric dtype", lambda dt: dt.kind in "iuf" and dt.itemsize <= 8),
    "str": ("a unicode string dtype", lambda dt: dt.kind == "U"
            and 0 < dt.itemsize <= 4 * _MAX_NAME_CHARS),
}


@dataclass(frozen=True)
class _Array:
    """A member: shape in dims (a tuple, or a function of the params giving one)."""

    shape: tuple | Callable[[dict], tuple]
    dtype: str = "float64"
    check: Callable | None = None
    required: bool = True
    broadcast: bool = False      # priors: any shape that broadcasts to ``shape``

    def dims(self, params):
        return self.shape(params) if callable(self.shape) else self.shape


_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_K, _D = "n_components", "n_features"
_COV = {"full": (_K, _D, _D), "tied": (_D, _D), "diag": (_K, _D), "spherical": (_K,)}


def _cov_shape(params):
    return _COV[params["covariance_type"]]


def _optional(shape, check=None, **kw):
    return _Array(shape, "real", check, required=False, **kw)


def _prior(shape):
    return _optional(shape, broadcast=True)


_NAMES = _Array((_D,), "str", _text, required=False)


@dataclass(frozen=True)
class _Schema:
    dims: dict[str, str | None]          # dim -> the param or attribute that holds it
    params: dict[str, _Scalar]           # JSON values of the constructor's parameters
    attributes: dict[str, Any]           # JSON fitted attributes (all required)
    arrays: dict[str, _Array] = field(default_factory=dict)


_COMMON = {"random_state": _SEED, "n_threads": _THREADS, "callback": _NONE}
_HMM_PARAMS = {
    "n_components": _integer(1), "startprob_prior": _real(), "transmat_prior": _real(),
    "algorithm": _option("viterbi", "map"), "random_state": _SEED, "n_iter": _integer(0),
    "tol": _real(finite=False), "verbose": _BOOL | _integer(0),
    "implementation": _option("log", "scaling"), "n_threads": _THREADS,
    "accelerate": _option(None, "squarem"),
}
_HMM_ATTRIBUTES = {"monitor_": _Record(
    {"tol": _real(finite=False), "n_iter": _integer(0), "verbose": _BOOL | _integer(0),
     "iter": _integer(0), "history": _REALS}, _monitor)}
_HMM_ARRAYS = {
    "attr:startprob_": _Array((_K,), check=_probabilities),
    "attr:transmat_": _Array((_K, _K), check=_probabilities),
    "param:startprob_prior": _prior((_K,)), "param:transmat_prior": _prior((_K, _K)),
}

SCHEMAS = {
    "GaussianMixture": _Schema(
        dims={_K: "n_components", _D: "n_features_in_"},
        params={**_COMMON, "n_components": _integer(1),
                "covariance_type": _option(*_COVARIANCE_TYPES), "tol": _real(0),
                "reg_covar": _real(0), "max_iter": _integer(0), "n_init": _integer(1),
                "init_params": _option("kmeans", "k-means++", "random", "random_from_data",
                                       "hierarchical", "auto"),
                "init_iter": _NONE | _integer(1),
                "weights_init": _NONE, "means_init": _NONE, "precisions_init": _NONE,
                "warm_start": _BOOL, "verbose": _integer(0), "verbose_interval": _integer(1),
                "prior": _PRIOR_PARAM, "accelerate": _option(None, "squarem"),
                "learning_decay": _real(0), "learning_offset": _real(0)},
        attributes={"converged_": _BOOL, "n_iter_": _integer(0),
                    "lower_bound_": _real(finite=False), "lower_bounds_": _REALS,
                    "n_features_in_": _integer(1),
                    "prior_": _Prior(_PRIOR_RECORD.fields, _conjugate_prior, optional=True),
                    "degenerate_": _Optional(_BOOL), "n_steps_": _Optional(_integer(1))},
        arrays={"attr:weights_": _Array((_K,), "float", check=_probabilities),
                "attr:means_": _Array((_K, _D), "float", check=_bounded_rows),
                "attr:precisions_cholesky_": _Array(_cov_shape, "float", check=_cholesky_factor),
                "attr:precisions_": _Array(_cov_shape, "float", check=_positive_definite),
                "attr:covariances_": _Array(_cov_shape, "float", check=_positive_definite),
                "attr:feature_names_in_": _NAMES,
                "param:weights_init": _optional((_K,), _probabilities),
                "param:means_init": _optional((_K, _D)),
                "param:precisions_init": _optional(_cov_shape, _validated_positive_definite)}),
    "KMeans": _Schema(
        dims={"n_clusters": "n_clusters", _D: "n_features_in_", "n_samples": None},
        params={**_COMMON, "n_clusters": _integer(1), "init": _option("k-means++", "random"),
                "n_init": _option("auto") | _integer(1), "max_iter": _integer(1),
                "tol": _real(0), "verbose": _integer(0), "copy_x": _BOOL,
                "algorithm": _option("lloyd")},
        attributes={"inertia_": _real(0), "n_iter_": _integer(0),
                    "n_features_in_": _integer(1), "n_steps_": _Optional(_integer(1))},
        arrays={"attr:cluster_centers_": _Array(("n_clusters", _D), "float",
                                                 check=_bounded_rows),
                "attr:labels_": _Array(("n_samples",), "int32", _labels("n_clusters")),
                "attr:feature_names_in_": _NAMES,
                "param:init": _optional(("n_clusters", _D))}),
    "GaussianHMM": _Schema(
        dims={_K: "n_components", _D: None},
        params={**_HMM_PARAMS, "covariance_type": _option(*_COVARIANCE_TYPES),
                "min_covar": _real(0), "means_prior": _real(), "means_weight": _real(),
                "covars_prior": _real(), "covars_weight": _real(),
                "params": _letters("stmc"), "init_params": _letters("stmc")},
        attributes=_HMM_ATTRIBUTES,
        arrays={**_HMM_ARRAYS, "attr:means_": _Array((_K, _D), check=_bounded_rows),
                "attr:_covars_": _Array(_cov_shape, check=_validated_positive_definite),
                "param:means_prior": _prior((_K, _D)), "param:means_weight": _prior((_K,)),
                "param:covars_prior": _prior(_cov_shape),
                "param:covars_weight": _prior(_cov_shape)}),
    "CategoricalHMM": _Schema(
        dims={_K: "n_components", _D: "n_features"},
        params={**_HMM_PARAMS, "emissionprob_prior": _real(), "n_features": _integer(1),
                "params": _letters("ste"), "init_params": _letters("ste")},
        attributes=_HMM_ATTRIBUTES,
        arrays={**_HMM_ARRAYS, "attr:emissionprob_": _Array((_K, _D), check=_probabilities),
                "param:emissionprob_prior": _prior((_K, _D))}),
}


def _registry():
    from .cluster import KMeans
    from .hmm import CategoricalHMM, GaussianHMM
    from .mixture import GaussianMixture

    return {"GaussianMixture": GaussianMixture, "KMeans": KMeans,
            "GaussianHMM": GaussianHMM, "CategoricalHMM": CategoricalHMM}


# -- checking a file's content (shared by load and save) -----------------------------
@dataclass(frozen=True)
class _Header:
    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass
class _Checked:
    cls: type
    schema: _Schema
    params: dict[str, Any]        # JSON params, checked
    attributes: dict[str, Any]    # JSON attributes, checked
    dims: dict[str, int]
    arrays: dict[str, np.ndarray]


_TOP_LEVEL = {"format", "format_version", "fastem_version", "class", "params",
              "attributes", "params_not_saved", "dims"}


def _check_metadata(meta):
    """The checked metadata: (class, schema, JSON params, arrays given as JSON lists,
    attributes, the params with their defaults, the dims the metadata gives)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Invalid("not a fastem model file (its metadata has no fastem format field)")
    version = meta.get("format_version")
    if _is_int(version) and version > FORMAT_VERSION:
        raise _Invalid(f"written by a newer fastem ({_show(meta.get('fastem_version'))}, "
                       f"format version {version}; this fastem reads up to "
                       f"{FORMAT_VERSION}); upgrade fastem to read it")
    if not _is_int(version) or version < 1:
        raise _Invalid(f"unknown format_version {_show(version)}")
    unknown = set(meta) - _TOP_LEVEL
    if unknown:
        raise _Invalid(f"metadata: unknown field {_show(sorted(unknown)[0])}")
    name = meta.get("class")
    if not isinstance(name, str) or name not in SCHEMAS:
        raise _Invalid(f"metadata: unknown model class {_show(name)}; a model file holds "
                       f"one of {', '.join(SCHEMAS)}")
    cls, schema = _registry()[name], SCHEMAS[name]
    if not isinstance(meta.get("fastem_version"), str):
        raise _Invalid("metadata: fastem_version must be a string")
    params, attributes = meta.get("params"), meta.get("attributes")
    for what, value in (("params", params), ("attributes", attributes)):
        if not isinstance(value, dict):
            raise _Invalid(f"metadata: {what} must be an object, got {_show(value)}")
    json_arrays = {}
    for key, value in params.items():
        if key not in schema.params:
            raise _Invalid(f"metadata: {key!r} is not a parameter of {name}")
        member = f"param:{key}"
        if isinstance(value, list) and member in schema.arrays:   # version 1 wrote these
            if not all(_is_real(v) for v in value):
                raise _Invalid(f"params.{key} must be a list of real numbers")
            json_arrays[member] = np.array(value, dtype=np.float64)
        else:
            schema.params[key](value, f"params.{key}")
    not_saved = meta.get("params_not_saved", [])
    if not isinstance(not_saved, list) or not all(
            isinstance(p, str) and p in params and params[p] is None for p in not_saved):
        raise _Invalid("metadata: params_not_saved must list parameters stored as null")
    required = {key for key, spec in schema.attributes.items()
                if not getattr(spec, "optional", False)}
    wrong = sorted((required - attributes.keys()) | (attributes.keys() - schema.attributes.keys()))
    if wrong:
        raise _Invalid(f"metadata: attribute {wrong[0]!r} is "
                       + ("missing" if wrong[0] in schema.attributes else f"unknown for {name}"))
    for key, value in attributes.items():
        schema.attributes[key](value, f"attributes.{key}")
    defaults = cls().get_params()
    settings = {**defaults, **{k: v for k, v in params.items() if k not in json_arrays}}
    dims = _known_dims(schema, settings, attributes, meta.get("dims"), version)
    return cls, schema, params, json_arrays, attributes, settings, dims


def _known_dims(schema, settings, attributes, stored, version):
    """Dims given by the metadata: their params/attributes, and (version 2) ``dims``."""
    if version >= 2:
        if not isinstance(stored, dict) or stored.keys() != schema.dims.keys():
            raise _Invalid(f"metadata: dims must give {', '.join(schema.dims)}, got "
                           f"{_show(stored)}")
    elif stored is not None:
        raise _Invalid("metadata: format version 1 has no dims")
    dims = {}
    for dim, source in schema.dims.items():
        value = settings.get(source, attributes.get(source)) if source else None
        if stored is not None:
            _integer(1, 2**63 - 1)(stored[dim], f"dims.{dim}")
            if value is not None and value != stored[dim]:
                raise _Invalid(f"metadata: dims.{dim} = {stored[dim]} but {source} = {value}")
            value = stored[dim]
        if value is not None:
            dims[dim] = value
    return dims


def _check_layout(schema, settings, dims, headers):
    """Every member known, every required one present, dtypes and shapes as the schema
    says; dims the metadata left open are taken from the first member that has them."""
    for name in headers:
        if name not in schema.arrays:
            raise _Invalid(f"member {name!r}: not part of a fastem model file")
    # exact shapes first: they fix the dims that broadcast shapes are checked against
    for name, spec in sorted(schema.arrays.items(), key=lambda item: item[1].broadcast):
        if name not in headers:
            if spec.required:
                raise _Invalid(f"member {name!r} is missing")
            continue
        header = headers[name]
        dt = header.dtype
        describe, allowed = _DTYPES[spec.dtype]
        if not allowed(dt):
            raise _Invalid(f"member {name!r}: dtype must be {describe}, got {dt}")
        wanted = spec.dims(settings)
        shape = header.shape
        if spec.broadcast:
            target = tuple(dims.get(d, -1) for d in wanted)
            if len(shape) > len(target) or any(
                    s not in (1, t) for s, t in zip(shape[::-1], target[::-1])):
                raise _Invalid(f"member {name!r}: shape {shape} does not broadcast to "
                               f"({', '.join(wanted)}) = {target}")
            continue
        if len(shape) != len(wanted):
            raise _Invalid(f"member {name!r}: shape {shape}, expected ({', '.join(wanted)})")
        for dim, size in zip(wanted, shape):
            if dim not in dims and size < 1:
                raise _Invalid(f"member {name!r}: shape {shape} gives {dim} = {size}")
            dims.setdefault(dim, size)
        expected = tuple(dims[d] for d in wanted)
        if shape != expected:
            where = ", ".join(f"{d}={dims[d]}" for d in dict.fromkeys(wanted))
            raise _Invalid(f"member {name!r}: shape {shape} does not match the model "
                           f"({where}): expected {expected}")


def _check(meta, headers, read):
    """The checked content, from the metadata, the members' headers and a reader."""
    cls, schema, params, json_arrays, attributes, settings, dims = _check_metadata(meta)
    for member in headers:
        kind, _, key = member.partition(":")
        if kind == "param" and key in params:
            raise _Invalid(f"member {member!r}: also given in the metadata's params")
    headers = {**headers, **{k: _Header(a.shape, a.dtype) for k, a in json_arrays.items()}}
    _check_layout(schema, settings, dims, headers)
    context = {**settings, **dims}
    arrays = {}
    for name, spec in schema.arrays.items():
        if name not in headers:
            continue
        arr = json_arrays[name] if name in json_arrays else read(name)
        native = np.dtype(arr.dtype).newbyteorder("=")
        arr = np.ascontiguousarray(arr, dtype=native)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise _Invalid(f"member {name!r} holds NaN or infinity")
        if spec.check is not None:
            spec.check(arr, f"member {name!r}", context)
        arrays[name] = arr
    return _Checked(cls, schema, params, attributes, dims, arrays)


# -- reading ---------------------------------------------------------------------------
def _unreadable(exc):
    """Whether ``exc``, raised while reading a file's content, means a bad file: every
    error of zipfile, zlib, numpy's header parser (ValueError, SyntaxError, tokenize's
    TokenError, ...), json and UTF-8 decoding does; running out of memory does not."""
    return isinstance(exc, Exception) and not isinstance(exc, (MemoryError, _Invalid))


def _members(archive, file_size):
    infos = archive.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise _Invalid(f"{len(infos)} members; a model file has at most {_MAX_MEMBERS}")
    members = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in members:
            raise _Invalid(f"member {info.filename!r}: "
                           + ("not a .npy member" if name == info.filename else "duplicated"))
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                              zipfile.ZIP_DEFLATED):
            raise _Invalid(f"member {name!r}: encrypted or compressed with an unsupported "
                           "method (a model file stores or deflates its members)")
        # a stored member holds its declared bytes, and every member's data is in the file
        if ((info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size)
                or info.header_offset + info.compress_size > file_size):
            raise _Invalid(f"member {name!r}: the zip's sizes for it are inconsistent "
                           "(truncated or edited file)")
        members[name] = info
    return members


@contextlib.contextmanager
def _member(name):
    """Errors of zipfile and numpy while reading a member, as _Invalid naming it."""
    try:
        yield
    except Exception as exc:
        if not _unreadable(exc):
            raise
        raise _Invalid(f"member {name!r} cannot be read ({type(exc).__name__}: "
                       f"{exc})") from exc


def _read_header(archive, name, info):
    """The member's .npy header, from its first bytes; refuses a header whose shape and
    dtype disagree with the size the zip declares for the member."""
    with _member(name), archive.open(info) as f:
        prefix = io.BytesIO(f.read(_HEADER_BYTES))
        version = npy_format.read_magic(prefix)
        if version not in ((1, 0), (2, 0)):
            raise _Invalid(f"member {name!r}: unsupported .npy format version {version}")
        read = (npy_format.read_array_header_1_0 if version == (1, 0)
                else npy_format.read_array_header_2_0)
        shape, _, dtype = read(prefix)
    if dtype.hasobject:      # its data is a pickle: never read
        raise _Invalid(f"member {name!r}: dtype object would need pickle to read "
                       "(allow_pickle), which fastem never does")
    if not all(_is_int(n) and n >= 0 for n in shape):
        raise _Invalid(f"member {name!r}: invalid shape {_show(shape)}")
    declared = prefix.tell() + math.prod(shape) * dtype.itemsize
    if info.file_size != declared:
        raise _Invalid(f"member {name!r}: its header describes {declared} bytes, the zip "
                       f"says it holds {info.file_size}")
    return _Header(tuple(shape), dtype)


def _read_member(archive, name, info):
    with _member(name), archive.open(info) as f:
        arr = npy_format.read_array(f, allow_pickle=False)
        if f.read(1):                      # at the end: the zip checks the CRC here
            raise _Invalid(f"member {name!r}: data after the array")
    return arr


def _read(fileobj):
    with zipfile.ZipFile(fileobj) as archive:
        members = _members(archive, os.fstat(fileobj.fileno()).st_size)
        if _META not in members:
            raise _Invalid("not a fastem model file (no metadata member)")
        info = members.pop(_META)
        header = _read_header(archive, _META, info)
        if (header.dtype != np.uint8 or len(header.shape) != 1
                or header.shape[0] > MAX_METADATA_BYTES):
            raise _Invalid(f"member {_META!r}: must be at most {MAX_METADATA_BYTES} uint8 "
                           f"bytes, got {header.dtype} of shape {header.shape}")
        with _member(_META):
            meta = json.loads(_read_member(archive, _META, info).tobytes().decode("utf-8"))
        headers = {name: _read_header(archive, name, i) for name, i in members.items()}
        return _check(meta, headers,
                      lambda name: _read_member(archive, name, members[name]))


@overload
def load(path: str | os.PathLike[str]) -> Model: ...


@overload
def load(path: str | os.PathLike[str], kind: type[M]) -> M: ...


def load(path: str | os.PathLike[str], kind: type[Any] | None = None) -> Any:
    """Load a model written by its ``save`` method.

    The file is checked against its class's schema before any array is read, and its
    values after; nothing is unpickled, and only fastem's own estimator classes are
    built. The model returned has the saved parameters (those that a file cannot hold,
    such as a callable ``callback``, are None) and every saved fitted attribute, so it
    predicts exactly as the saved model did.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    kind : type or None, default=None
        The class the file must hold: GaussianMixture, KMeans, GaussianHMM or
        CategoricalHMM (the class itself, not a subclass). None accepts any of them.

    Returns
    -------
    GaussianMixture, KMeans, GaussianHMM or CategoricalHMM
        The fitted model, of class ``kind`` when it is given.

    Raises
    ------
    ModelFileError
        If the file is not a valid fastem model file (corrupt, truncated, written by a
        newer fastem, or breaking its class's schema), or holds another class than
        ``kind``; the message names the file, the member and the problem.
        ModelFileError is a ValueError.
    OSError
        If the path cannot be opened (e.g. FileNotFoundError).

    See Also
    --------
    GaussianMixture.save : Save a fitted model (every estimator has this method).

    Examples
    --------
    >>> import fastem
    >>> from fastem import GaussianMixture, KMeans
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> path = GaussianMixture(n_components=2, random_state=0).fit(X).save("gm.npz")
    >>> gm = fastem.load(path, GaussianMixture)
    >>> gm
    GaussianMixture(n_components=2, random_state=0)
    >>> print(gm.means_.round(2))
    [[ 2.04 54.48]
     [ 4.29 79.97]]

    With ``kind``, a file holding another class is an error:

    >>> fastem.load(path, KMeans)
    Traceback (most recent call last):
    ...
    fastem.exceptions.ModelFileError: gm.npz: holds a GaussianMixture, not a KMeans
    """
    with open(path, "rb") as f:
        try:
            checked = _read(f)
        except _Invalid as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except Exception as exc:
            if not _unreadable(exc):
                raise
            raise ModelFileError(f"{path}: not a valid fastem model file "
                                 f"({type(exc).__name__}: {exc})") from exc
    if kind is not None and checked.cls is not kind:
        raise ModelFileError(f"{path}: holds a {checked.cls.__name__}, not a "
                             f"{getattr(kind, '__name__', kind)}")
    model = checked.cls(**{
        name: _conjugate_prior(value) if name == "prior" and isinstance(value, dict)
        else value for name, value in checked.params.items()})
    for name, arr in checked.arrays.items():
        kind, _, attr = name.partition(":")
        if checked.schema.arrays[name].dtype == "str":
            arr = arr.astype(object)     # names are str objects, as scikit-learn's
        setattr(model, attr, arr)
    for name, value in checked.attributes.items():
        spec = checked.schema.attributes[name]
        setattr(model, name, spec.build(value) if isinstance(spec, _Record) else value)
    return model


# -- writing ---------------------------------------------------------------------------
def _json_value(value):
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "_json"):      # a ConjugatePrior: its fields
        return value._json()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Sequence) and all(isinstance(v, numbers.Real) for v in value):
        return [float(v) for v in value]
    raise TypeError(f"{type(value).__name__} is not stored in a model file")


def _content(model):
    """(metadata, arrays) of a fitted model, checked as load will check them."""
    from . import __version__

    cls = type(model).__name__
    if _registry().get(cls) is not type(model):
        raise TypeError(f"save supports fastem's {', '.join(SCHEMAS)}, not {cls}")
    schema = SCHEMAS[cls]
    if not hasattr(model, next(iter(schema.arrays)).partition(":")[2]):
        raise interoperable(NotFittedError)(
            f"This {cls} instance is not fitted yet. Call 'fit' with appropriate arguments "
            "before saving it.")
    arrays, params, dropped = {}, {}, []
    for name, value in model.get_params().items():
        if f"param:{name}" in schema.arrays and isinstance(value, (np.ndarray, list, tuple)):
            arrays[f"param:{name}"] = np.asarray(value)
            continue
        try:
            params[name] = _json_value(value)
        except TypeError:
            params[name] = None   # callables and RandomState objects are not stored
            dropped.append(name)
    attributes = {}
    for name, spec in schema.attributes.items():
        if getattr(spec, "optional", False) and not hasattr(model, name):
            continue
        value = getattr(model, name)
        attributes[name] = spec.encode(value) if isinstance(spec, _Record) else (
            _json_value(value))
    for member in schema.arrays:
        kind, _, name = member.partition(":")
        if kind == "attr" and hasattr(model, name):
            arrays[member] = np.asarray(getattr(model, name))
            if schema.arrays[member].dtype == "str" and arrays[member].dtype == object:
                arrays[member] = arrays[member].astype(str)
    meta = {"format": FORMAT, "format_version": 1, "fastem_version": __version__,
            "class": cls, "params": params, "attributes": attributes,
            "params_not_saved": dropped}
    headers = {name: _Header(a.shape, a.dtype) for name, a in arrays.items()}
    try:
        checked = _check(meta, headers, arrays.__getitem__)   # version-1 rules: no dims
    except _Invalid as exc:
        raise ValueError(f"cannot save this {cls}: {exc}") from None
    meta.update(format_version=FORMAT_VERSION, dims=checked.dims)
    return meta, arrays


def save(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted fastem model to ``path`` (.npz); returns the path written.

    The file is written next to ``path`` under a temporary name and renamed into place,
    so an existing file is replaced only by a complete new one."""
    meta, arrays = _content(model)
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    target = Path(path)
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:   # os.open with 0o666 gives the new file the usual permissions (umask)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())    # the data is on disk before the name points to it
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
