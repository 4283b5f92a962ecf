"""What a transformer's output looks like (scikit-learn's conventions): the names of its
columns, and set_output's choice between numpy arrays and pandas DataFrames.

pandas is imported only when a DataFrame is asked for; scikit-learn only when it is
already imported (its global set_config(transform_output=...) then applies too).
"""

from __future__ import annotations

import sys
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import check_is_fitted

OUTPUTS = ("default", "pandas")

_Transformer = TypeVar("_Transformer", bound="TransformerOutputMixin")


class TransformerOutputMixin:
    """get_feature_names_out and set_output for a transformer whose output has one
    column per fitted unit (a k-means center), named ``<lowercase class name><i>``.

    The class says which fitted attribute counts the columns (``_output_units``: its
    first axis), and its transform methods return ``self._wrap_output(result, X)``.
    set_output's choice is kept where scikit-learn keeps it (``_sklearn_output_config``),
    so that scikit-learn's clone and meta-estimators carry it over.
    """

    _output_units: str
    n_features_in_: int

    def get_feature_names_out(self, input_features: ArrayLike | None = None,
                              ) -> NDArray[np.object_]:
        """Get the output feature names for transformation.

        The output columns of ``transform`` (one per fitted unit: for KMeans, one per
        center) are named by the lowercase class name and the column number, as in
        scikit-learn: kmeans0, kmeans1, ... for KMeans.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            The names of the input features; only checked, as scikit-learn does: they
            must number ``n_features_in_`` and, when the model was fitted on a
            DataFrame, equal ``feature_names_in_``. They do not change the output
            names.

        Returns
        -------
        ndarray of shape (n_clusters,), dtype object
            The output feature names, str objects.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If ``input_features`` does not match the input features seen in fit.

        See Also
        --------
        transform : Compute the output these names are the columns of.
        set_output : Get the output as DataFrames with these column names.

        Examples
        --------
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> km = KMeans(n_clusters=3, random_state=0).fit(load_faithful())
        >>> km.get_feature_names_out()
        array(['kmeans0', 'kmeans1', 'kmeans2'], dtype=object)
        >>> km.get_feature_names_out(["eruptions", "waiting"])
        array(['kmeans0', 'kmeans1', 'kmeans2'], dtype=object)
        """
        check_is_fitted(self, self._output_units)
        if input_features is not None:
            names = np.asarray(input_features, dtype=object).reshape(-1)
            seen = getattr(self, "feature_names_in_", None)
            if seen is not None and not np.array_equal(np.asarray(seen, dtype=object), names):
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(names) != self.n_features_in_:
                raise ValueError("input_features should have length equal to number of "
                                 f"features ({self.n_features_in_}), got {len(names)}")
        prefix = type(self).__name__.lower()
        count = np.shape(getattr(self, self._output_units))[0]
        return np.asarray([f"{prefix}{i}" for i in range(count)], dtype=object)

    def set_output(self: _Transformer, *, transform: str | None = None) -> _Transformer:
        """Set the output container of transform and fit_transform.

        The choice is kept where scikit-learn keeps it, so that scikit-learn's ``clone``
        copies it and its meta-estimators (a Pipeline's ``set_output``) can set it.
        Without a choice, scikit-learn's global ``set_config(transform_output=...)``
        applies when scikit-learn is imported, and numpy arrays otherwise. pandas is
        imported only when a DataFrame is made (an ImportError then if it is not
        installed).

        Parameters
        ----------
        transform : {'default', 'pandas'} or None, default=None
            'default': numpy arrays; 'pandas': pandas DataFrames with the columns of
            ``get_feature_names_out`` and, for DataFrame input, its index; None: the
            setting is left unchanged. 'polars' is not available.

        Returns
        -------
        object
            This estimator (self).

        Raises
        ------
        ValueError
            If ``transform`` is not one of 'default', 'pandas' or None.

        See Also
        --------
        transform : The method whose output this sets.
        get_feature_names_out : The column names of a DataFrame output.
        sklearn.base.TransformerMixin.set_output : The scikit-learn method of the same
            name.

        Examples
        --------
        >>> import pandas as pd
        >>> from fastem import KMeans
        >>> from fastem.datasets import load_faithful
        >>> X, columns = load_faithful(return_columns=True)
        >>> df = pd.DataFrame(X, columns=columns)
        >>> km = KMeans(n_clusters=2, random_state=0).set_output(transform="pandas")
        >>> km = km.fit(df)
        >>> print(km.transform(df.iloc[100:103]).round(2))
             kmeans0  kmeans1
        100     7.26    18.37
        101    33.33     7.72
        102     5.75    31.36
        >>> print(km.set_output(transform="default").transform(df.iloc[100:102]).round(2))
        [[ 7.26 18.37]
         [33.33  7.72]]
        """
        if transform is None:
            return self
        _check_output(transform, "transform")
        config = dict(getattr(self, "_sklearn_output_config", {}))
        config["transform"] = transform
        self._sklearn_output_config = config
        return self

    def _output_container(self):
        """'default' or 'pandas': set_output's choice, else scikit-learn's global
        transform_output setting (when scikit-learn is imported), else 'default'."""
        container = getattr(self, "_sklearn_output_config", {}).get("transform")
        if container is not None:
            return container
        sklearn = sys.modules.get("sklearn")
        if not hasattr(sklearn, "get_config"):
            return "default"
        container = sklearn.get_config().get("transform_output", "default")
        return _check_output(container, "scikit-learn's transform_output setting")

    def _wrap_output(self, data, X, container=None):
        """data (one row per row of X) in the container the estimator is set to give
        (container: already looked up by _output_container)."""
        if container is None:
            container = self._output_container()
        if container == "default":
            return data
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("set_output(transform='pandas') needs pandas, which is not "
                              "installed") from None
        index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
        return pd.DataFrame(data, index=index, columns=self.get_feature_names_out(),
                            copy=False)


def _check_output(value, name):
    if not isinstance(value, str) or value not in OUTPUTS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, OUTPUTS))} (fastem's "
                         f"transformers return numpy arrays or pandas DataFrames); got "
                         f"{value!r}")
    return value
