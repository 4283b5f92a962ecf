"""Parameter handling shared by the estimators (scikit-learn's conventions)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np


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
        """Get the parameters of this estimator.

        The parameters are the constructor's arguments, as stored by the constructor or
        by set_params (validation happens in fit).

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn compatibility and ignored: fastem's estimators hold
            no sub-estimators, so deep and shallow parameters are the same.

        Returns
        -------
        dict
            Parameter names, in alphabetical order, mapped to their values (the stored
            objects themselves, not copies).

        See Also
        --------
        set_params : Set the parameters of this estimator.
        sklearn.base.BaseEstimator.get_params : The scikit-learn method of the same name.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> gm = GaussianMixture(n_components=3, covariance_type="diag")
        >>> params = gm.get_params()
        >>> params["n_components"], params["covariance_type"]
        (3, 'diag')
        >>> list(params)[:4]
        ['accelerate', 'callback', 'covariance_type', 'init_iter']
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set the parameters of this estimator.

        Each value is stored unchanged, as the constructor stores it; it is validated by
        the next fit. Setting a parameter does not change a fitted model until it is
        fitted again.

        Parameters
        ----------
        **params : dict
            Parameter names (those of the constructor) mapped to their new values.

        Returns
        -------
        object
            This estimator (self), with its parameters set.

        Raises
        ------
        ValueError
            If a name is not a parameter of this estimator. The names are set in order,
            so those before the invalid name are set already (as in scikit-learn).

        See Also
        --------
        get_params : Get the parameters of this estimator.
        sklearn.base.BaseEstimator.set_params : The scikit-learn method of the same name.

        Examples
        --------
        >>> from fastem import GaussianMixture
        >>> gm = GaussianMixture().set_params(n_components=2, covariance_type="diag")
        >>> gm
        GaussianMixture(covariance_type='diag', n_components=2)
        >>> gm.set_params(n_component=3)
        Traceback (most recent call last):
        ...
        ValueError: Invalid parameter 'n_component' for GaussianMixture; valid parameters
        are ['accelerate', 'callback', ...]
        """
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters are {valid}")
            setattr(self, name, value)
        return self

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted model to a portable, pickle-free .npz file.

        The file is a zip of ``.npy`` arrays plus JSON metadata: the class, the
        parameters and every fitted attribute (``feature_names_in_`` included), checked
        as ``fastem.load`` will check them. It holds no pickle: loading it runs no code
        from the file, on any platform. Parameters that
        a file cannot hold (a callable ``callback``, a RandomState ``random_state``) are
        saved as None. The file is written next to ``path`` under a temporary name and
        then renamed to ``path``, so an existing file is replaced only by a complete new
        one.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write, used as given (no ``.npz`` suffix is added).

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        ValueError
            If the model is not fitted, or if its parameters or fitted attributes would
            not pass the checks of ``fastem.load``.
        TypeError
            If the model is not an instance of one of fastem's estimator classes
            themselves (a subclass cannot be saved).

        See Also
        --------
        load : Read a model file written by save.

        Examples
        --------
        >>> import numpy as np
        >>> from fastem import GaussianMixture, load
        >>> from fastem.datasets import load_faithful
        >>> X = load_faithful()
        >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
        >>> path = gm.save("faithful.npz")
        >>> print(path)
        faithful.npz
        >>> loaded = load(path, GaussianMixture)
        >>> loaded
        GaussianMixture(n_components=2, random_state=0)
        >>> np.array_equal(loaded.means_, gm.means_)
        True
        >>> np.array_equal(loaded.predict_proba(X), gm.predict_proba(X))
        True
        """
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


def information_criteria(log_likelihood, n_parameters, n_samples):
    """(BIC, AIC) of a fit with total log-likelihood log_likelihood and n_parameters
    free scalars on n_samples rows: -2 log L + p log n and -2 log L + 2 p, smaller is
    better (scikit-learn's sign; mclust's BIC is minus this one)."""
    return (float(-2 * log_likelihood + n_parameters * np.log(n_samples)),
            float(-2 * log_likelihood + 2 * n_parameters))
