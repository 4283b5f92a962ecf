"""Warnings and errors raised by fastem."""


class ConvergenceWarning(UserWarning):
    """Warn that EM stopped before it converged.

    GaussianMixture.fit issues it when the best of its ``n_init`` runs stopped at
    ``max_iter`` (or was stopped by its ``callback``) before the change in lower bound
    fell below ``tol``; the fitted model is then that run's last parameters and
    ``converged_`` is False. When scikit-learn is already imported, the warning issued
    is of a subclass of both this class and ``sklearn.exceptions.ConvergenceWarning``,
    so that scikit-learn's warning filters catch it too.

    See Also
    --------
    GaussianMixture : Its fit issues this warning.
    sklearn.exceptions.ConvergenceWarning : The scikit-learn warning of the same name.

    Examples
    --------
    >>> import warnings
    >>> from fastem import ConvergenceWarning, GaussianMixture
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     gm = GaussianMixture(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> [issubclass(w.category, ConvergenceWarning) for w in caught]
    [True]
    >>> gm.converged_
    False
    """


class NotFittedError(ValueError, AttributeError):
    """Raise when a method that needs a fitted model is called before fit.

    It subclasses ValueError and AttributeError, as scikit-learn's. When scikit-learn is
    already imported, the error raised is of a subclass of both this class and
    ``sklearn.exceptions.NotFittedError``, so that ``except`` clauses for either catch it.

    See Also
    --------
    sklearn.exceptions.NotFittedError : The scikit-learn error of the same name.

    Examples
    --------
    >>> from fastem import GaussianMixture, NotFittedError
    >>> try:
    ...     GaussianMixture().predict([[1.0, 2.0]])
    ... except NotFittedError as exc:
    ...     print(exc)
    This GaussianMixture instance is not fitted yet. Call 'fit' with appropriate
    arguments before using this estimator.
    """


class ModelFileError(ValueError):
    """Raise when fastem.load cannot accept a model file.

    The file is corrupt, truncated, not a fastem model, written by a newer fastem, holds
    another class than the one asked for, or has members or values that break the
    schema of its class. The message names the file, the member and the problem. A path
    that cannot be opened raises the usual OSError (e.g. FileNotFoundError) instead.

    See Also
    --------
    load : Read a model file.

    Examples
    --------
    >>> from fastem import GaussianMixture, KMeans, ModelFileError, load
    >>> from fastem.datasets import load_faithful
    >>> path = GaussianMixture(n_components=2, random_state=0).fit(load_faithful()).save(
    ...     "faithful.npz")
    >>> try:
    ...     load(path, KMeans)
    ... except ModelFileError as exc:
    ...     print(exc)
    faithful.npz: holds a GaussianMixture, not a KMeans
    >>> with open("notes.npz", "w") as f:
    ...     _ = f.write("not a model")
    >>> try:
    ...     load("notes.npz")
    ... except ModelFileError as exc:
    ...     print(exc)
    notes.npz: not a valid fastem model file (BadZipFile: File is not a zip file)
    """


class SingularInformationWarning(UserWarning):
    """Warn that an information matrix cannot be inverted reliably.

    GaussianMixture.parameter_covariance and GaussianMixture.standard_errors issue it
    when the information matrix at the fitted parameters is not positive definite (the
    fit is not a strict local maximum of the log-likelihood: for instance a component
    whose covariance ``reg_covar`` holds away from singular, with fewer distinct points
    than features, or duplicated columns) or is near singular (some parameter's variance
    is inflated by more than about 4.5e11 by its correlation with the others). The
    message names the problem and the block or parameter; every returned value is then
    NaN.

    See Also
    --------
    GaussianMixture.standard_errors : Issues this warning.
    GaussianMixture.parameter_covariance : Issues this warning.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from fastem import GaussianMixture, SingularInformationWarning
    >>> from fastem.datasets import load_faithful
    >>> X = load_faithful()
    >>> X = np.hstack([X, X[:, :1]])                  # a duplicated column
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     se = gm.standard_errors(X)
    >>> [issubclass(w.category, SingularInformationWarning) for w in caught]
    [True]
    >>> bool(np.isnan(se.means).all())
    True
    """
