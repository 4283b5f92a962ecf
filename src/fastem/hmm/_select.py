"""Choosing a hidden Markov model's number of states (and covariance type) by BIC or
AIC, on the grid loop of fastem._selection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._base import information_criteria
from .._selection import (
    SelectionResult,
    check_covariance_types,
    check_n_components,
    failed_row,
    finish,
    fixed_seed,
    plan_threads,
    run_grid,
)
from ._categorical_hmm import CategoricalHMM
from ._gaussian_hmm import GaussianHMM


def _hmm_row(model, X, lengths, k, ct, n_features):
    loglik, posteriors = model.score_samples(X, lengths)    # one forward-backward pass
    p = model._n_parameters()
    bic, aic = information_criteria(loglik, p, np.shape(X)[0])   # as BaseHMM.bic/aic
    occupancy = posteriors.sum(axis=0)
    # a Gaussian state needs n_features + 1 points for its covariance; a categorical one
    # at least one observation
    threshold = n_features + 1 if isinstance(model, GaussianHMM) else 1
    return {"n_components": k, "covariance_type": ct, "log_likelihood": float(loglik),
            "n_parameters": int(p), "bic": bic, "icl": None, "aic": aic,
            "n_iter": int(model.monitor_.iter),
            "converged": bool(model.monitor_.converged),
            "degenerate": bool(np.any(occupancy < threshold)), "error": None}


def _run_seeds(seed, n_init):
    """The random_state of each of n_init fits: the given one first."""
    if seed is None:
        return [None] * n_init
    derived = np.random.SeedSequence(int(seed)).spawn(n_init - 1)
    return [seed] + [int(child.generate_state(1)[0] >> 1) for child in derived]


def select(X: ArrayLike, lengths: ArrayLike | None = None,
           n_components: int | Iterable[int] = range(1, 6),
           model: GaussianHMM | CategoricalHMM | None = None,
           covariance_types: str | Iterable[str] | None = None,
           criterion: str = "bic", n_init: int = 1, *,
           n_jobs: int | None = None) -> SelectionResult:
    """Choose a hidden Markov model's number of states (and covariance type).

    Fit a copy of ``model`` (its parameters, with ``n_components`` and, for a
    GaussianHMM, ``covariance_type`` replaced) for every number of states and every
    covariance type, and compare the fits by BIC or AIC. Both criteria have
    scikit-learn's and hmmlearn's sign, smaller is better:
    BIC = -2 log-likelihood + (free parameters) log(n_samples), as ``bic``, and
    AIC = -2 log-likelihood + 2 (free parameters), as ``aic``.

    ICL is not computed for hidden Markov models (the rows' ``icl`` is None): the
    entropy it needs is that of the posterior distribution of the whole state path,
    which the state marginals of ``predict_proba`` do not give.

    A fit is degenerate when a state's expected number of observations (the sum of its
    posterior probabilities) is below ``n_features + 1`` for a GaussianHMM, or below 1
    for a CategoricalHMM; degenerate fits are flagged and never chosen, unless every
    fit is degenerate (then the best of them is chosen, with a warning). A fit that
    raises is recorded with its error and NaN criteria.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The observations of one or more sequences, one after the other (one column of
        integer symbols for a CategoricalHMM).
    lengths : array-like of int, default=None
        The lengths of the sequences in X. None takes X as one sequence.
    n_components : int or iterable of int, default=range(1, 6)
        The numbers of states to try.
    model : GaussianHMM or CategoricalHMM, default=None
        The template whose parameters every fit takes (``random_state``, ``n_iter``,
        ``tol``, priors, ``n_threads`` as the whole thread budget, ...). None means
        ``GaussianHMM()``. A RandomState as its ``random_state`` gives one int drawn
        from it, shared by every fit; an int is given to every fit, so that each cell
        equals the template's copy fitted alone.
    covariance_types : str or iterable of str, default=None
        The covariance types to try, for a GaussianHMM. None tries the template's.
    criterion : {'bic', 'aic'}, default='bic'
        The criterion that chooses ``best_estimator_``.
    n_init : int, default=1
        The number of fits of each cell, the one with the highest log-likelihood kept
        (the first of equal ones): Baum-Welch from one start often stops at a local
        optimum. The first fit has the template's ``random_state``; fit ``i`` > 0 an
        int derived from it and ``i`` by ``numpy.random.SeedSequence`` (None: numpy's
        global RandomState).
    n_jobs : int or None, default=None
        How many fits run at once, in threads; None chooses as in
        :func:`fastem.mixture.select`. The results do not depend on it.

    Returns
    -------
    SelectionResult
        The table, with ``best_estimator_`` the fitted best model and
        ``best_params_`` its ``n_components`` (and ``covariance_type``).

    Raises
    ------
    ValueError
        If an argument is invalid, or every fit failed.

    Warns
    -----
    ConvergenceWarning
        Once, if some fits did not converge.
    UserWarning
        If every fit is degenerate.

    See Also
    --------
    fastem.mixture.select : The same for Gaussian mixtures, with ICL.
    GaussianHMM.bic : The BIC of one fitted model.

    Examples
    --------
    >>> import numpy as np
    >>> from fastem.hmm import GaussianHMM, select
    >>> truth = GaussianHMM(n_components=3, random_state=0)
    >>> truth.startprob_ = np.array([1.0, 0.0, 0.0])
    >>> truth.transmat_ = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05],
    ...                             [0.05, 0.05, 0.9]])
    >>> truth.means_ = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    >>> truth.covars_ = np.ones((3, 2))
    >>> X, _ = truth.sample(1000)
    >>> result = select(X, model=GaussianHMM(n_iter=50, random_state=0))
    >>> result.best_params_
    {'n_components': 3, 'covariance_type': 'diag'}
    >>> result.bic.shape
    (5, 1)
    """
    template = GaussianHMM() if model is None else model
    if not isinstance(template, (GaussianHMM, CategoricalHMM)):
        raise TypeError(f"model must be a GaussianHMM or a CategoricalHMM, got "
                        f"{type(template).__name__}")
    if criterion not in ("bic", "aic"):
        extra = " (ICL is not computed for hidden Markov models)" if criterion == "icl" \
            else ""
        raise ValueError(f"criterion must be 'bic' or 'aic', got {criterion!r}{extra}")
    ks = check_n_components(n_components)
    gaussian = isinstance(template, GaussianHMM)
    if covariance_types is not None and not gaussian:
        raise ValueError("covariance_types is for a GaussianHMM model")
    if isinstance(n_init, bool) or not isinstance(n_init, int) or n_init < 1:
        raise ValueError(f"n_init must be a positive integer, got {n_init!r}")
    params = template.get_params()
    types: list[Any] = (check_covariance_types(covariance_types) if covariance_types
                        is not None else [params["covariance_type"]] if gaussian
                        else [None])
    params["random_state"] = fixed_seed(params["random_state"])
    shape = np.shape(X)
    n_features = shape[1] if gaussian and len(shape) == 2 else 1
    n_jobs, per_fit = plan_threads(params["n_threads"], len(ks) * len(types),
                                   int(np.prod(shape)), n_jobs)
    cells = [(k, ct) for ct in types for k in ks]

    seeds = _run_seeds(params["random_state"], n_init)

    def fit_cell(cell):
        k, ct = cell
        best, best_score = None, -np.inf
        try:
            for seed in seeds:
                fitted = type(template)(**params)
                fitted.set_params(n_components=k, n_threads=per_fit, random_state=seed,
                                  **({"covariance_type": ct} if gaussian else {}))
                fitted.fit(X, lengths)
                score = fitted.score(X, lengths)
                if best is None or score > best_score:
                    best, best_score = fitted, score
            return _hmm_row(best, X, lengths, k, ct, n_features), best
        except (ValueError, np.linalg.LinAlgError) as exc:
            return failed_row(k, ct, exc), None

    done = run_grid(cells, fit_cell, n_jobs)
    return finish([row for row, _ in done], [m for _, m in done], ks, types, criterion)
