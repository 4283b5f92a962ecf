"""Saving fitted models to a portable, pickle-free file: .npz arrays + JSON metadata.

Loading uses np.load(allow_pickle=False) and builds only the classes listed here, so a
model file cannot execute code.
"""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "fastem-model"
FORMAT_VERSION = 1
_META = "__fastem_metadata__"


def _registry():
    from .cluster import KMeans
    from .hmm import CategoricalHMM, GaussianHMM
    from .mixture import GaussianMixture

    return {"GaussianMixture": GaussianMixture, "KMeans": KMeans,
            "GaussianHMM": GaussianHMM, "CategoricalHMM": CategoricalHMM}


def _json_value(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, numbers.Real) for v in value):
        return [float(v) for v in value]
    raise TypeError


def save(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted fastem model to ``path`` (.npz); returns the path written."""
    from . import __version__

    cls = type(model).__name__
    if _registry().get(cls) is not type(model):
        raise TypeError(f"save supports fastem's GaussianMixture, KMeans, GaussianHMM and "
                        f"CategoricalHMM, not {cls}")
    if not hasattr(model, getattr(model, "_fitted_attribute", "n_features_in_")):
        raise ValueError(f"This {cls} instance is not fitted yet; fit it before saving")
    arrays: dict[str, Any] = {}
    params: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in model.get_params().items():
        if isinstance(value, np.ndarray) or (isinstance(value, list) and value
                                             and isinstance(value[0], (list, np.ndarray))):
            arrays[f"param:{name}"] = np.asarray(value)
            continue
        try:
            params[name] = _json_value(value)
        except TypeError:
            params[name] = None  # callables and RandomState objects are not stored
            dropped.append(name)
    saved_private = getattr(model, "_saved_private", ())
    for name, value in vars(model).items():
        if not name.endswith("_") or (name.startswith("_") and name not in saved_private):
            continue
        if hasattr(value, "history") and hasattr(value, "n_iter"):   # an HMM's monitor_
            attributes[name] = {"tol": float(value.tol), "n_iter": int(value.n_iter),
                                "verbose": bool(value.verbose), "iter": int(value.iter),
                                "history": [float(v) for v in value.history]}
        elif isinstance(value, np.ndarray):
            arrays[f"attr:{name}"] = value
        else:
            attributes[name] = _json_value(value)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "fastem_version": __version__,
            "class": cls, "params": params, "attributes": attributes,
            "params_not_saved": dropped}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    target = Path(path)
    with open(target, "wb") as f:
        np.savez(f, **arrays)
    return target


def load(path: str | os.PathLike[str]) -> Any:
    """Read a model written by ``model.save(path)``; never unpickles anything."""
    with np.load(path, allow_pickle=False) as data:
        if _META not in data.files:
            raise ValueError(f"{path} is not a fastem model file (no metadata)")
        meta = json.loads(bytes(data[_META]).decode("utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a fastem model file")
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer fastem "
                             f"({meta.get('fastem_version')}); upgrade fastem to read it")
        cls = _registry().get(meta.get("class"))
        if cls is None:
            raise ValueError(f"{path} holds an unknown model class {meta.get('class')!r}")
        params = dict(meta["params"])
        for key in data.files:
            if key.startswith("param:"):
                params[key[len("param:"):]] = data[key]
        model = cls(**params)
        for key in data.files:
            if key.startswith("attr:"):
                setattr(model, key[len("attr:"):], data[key])
        for name, value in meta["attributes"].items():
            if name == "monitor_" and isinstance(value, dict):
                from .hmm import ConvergenceMonitor

                monitor = ConvergenceMonitor(value["tol"], value["n_iter"], value["verbose"])
                monitor.history.extend(value["history"])
                monitor.iter = value["iter"]
                value = monitor
            setattr(model, name, value)
    return model
