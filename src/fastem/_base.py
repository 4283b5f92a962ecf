"""Parameter handling shared by the estimators (scikit-learn's conventions)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any


class ParamsMixin:
    """get_params / set_params / repr from the constructor's signature.

    The constructor stores its arguments unchanged; validation happens in fit.
    """

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(
            p.name for p in signature.parameters.values()
            if p.name != "self" and p.kind != p.VAR_KEYWORD
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as a dict name -> value."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set parameters by name; returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters are {valid}")
            setattr(self, name, value)
        return self

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted model to a portable, pickle-free .npz file (see fastem.load)."""
        from ._io import save

        return save(self, path)

    def __repr__(self):
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            same = value is default
            if not same:
                try:
                    same = bool(value == default)
                except (ValueError, TypeError):
                    same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def sklearn_tags(estimator, *, estimator_type, allow_nan=False, transformer=False):
    """scikit-learn's Tags for a fastem estimator (scikit-learn is imported only here)."""
    from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

    return Tags(
        estimator_type=estimator_type,
        target_tags=TargetTags(required=False),
        transformer_tags=TransformerTags() if transformer else None,
        input_tags=InputTags(allow_nan=allow_nan),
    )
