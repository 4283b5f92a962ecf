"""Hidden Markov model with categorical emissions (hmmlearn's CategoricalHMM)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._kernels import _hmm
from .._validation import check_int, check_random_state
from ._base import BaseHMM, _check_stochastic, _normalize_rows, required


class CategoricalHMM(BaseHMM[np.int_]):
    """Hidden Markov model with categorical (discrete) emissions, fitted by Baum-Welch.

    X is an integer array of shape (n_samples, 1) with symbols in [0, n_features). The
    parameters, attributes and methods are hmmlearn's ``hmm.CategoricalHMM``: switch by
    changing the import. When n_features is None it is set from the data at the first
    fit, as hmmlearn does. ``n_threads`` (None: all usable cores) is fastem's addition.

    Attributes: startprob_ (K,), transmat_ (K, K), emissionprob_ (K, n_features),
    monitor_.
    """

    _emission_letters = "e"
    _emission_attributes = ("emissionprob_",)

    # fitted attribute (besides BaseHMM's); fit also sets n_features when it is None
    emissionprob_: NDArray[np.float64]

    def __init__(self, n_components: int = 1, startprob_prior: ArrayLike = 1.0,
                 transmat_prior: ArrayLike = 1.0, *, emissionprob_prior: ArrayLike = 1.0,
                 n_features: int | None = None, algorithm: str = "viterbi",
                 random_state: int | np.random.RandomState | None = None, n_iter: int = 10,
                 tol: float = 1e-2, verbose: bool = False, params: str = "ste",
                 init_params: str = "ste", implementation: str = "log",
                 n_threads: int | None = None) -> None:
        super().__init__(n_components, startprob_prior, transmat_prior, algorithm,
                         random_state, n_iter, tol, verbose, params, init_params,
                         implementation, n_threads)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _validate_settings(self):
        super()._validate_settings()
        check_int(self.n_features, "n_features", minimum=1, allow_none=True)

    def _known_n_features(self, fitting):
        """n_features when set, or given by an emissionprob_ the fit keeps; else None."""
        if self.n_features is not None:
            return self.n_features
        if hasattr(self, "emissionprob_") and not (fitting and "e" in self.init_params):
            return np.shape(np.atleast_2d(self.emissionprob_))[1]
        return None

    def _validate_X(self, X, fitting):
        arr = np.asarray(X)
        if arr.ndim == 1:
            raise ValueError("X must be a 2-D array of shape (n_samples, 1) holding symbols; "
                             "reshape it with X.reshape(-1, 1)")
        if arr.ndim != 2 or arr.shape[1] != 1:
            raise ValueError(f"X must have shape (n_samples, 1), got {arr.shape}")
        if arr.shape[0] < 1:
            raise ValueError("X has 0 samples; at least one is required")
        if arr.dtype.kind not in "iu":
            raise ValueError(f"X must hold integer symbols, got dtype {arr.dtype}")
        symbols = np.ascontiguousarray(arr[:, 0], dtype=np.intp)
        low, high = int(symbols.min()), int(symbols.max())
        if low < 0:
            raise ValueError(f"X holds the symbol {low}; symbols must be >= 0")
        n_features = self._known_n_features(fitting)
        if n_features is not None and high >= n_features:
            raise ValueError(f"X holds the symbol {high}, but the model emits symbols "
                             f"0 .. {n_features - 1} only (n_features={n_features})")
        return symbols

    def _fit_n_features(self, X):
        # when unknown, n_features comes from the data (as hmmlearn); fit sets it
        known = self._known_n_features(fitting=True)
        return known if known is not None else int(X.max()) + 1

    def _emission_sizes(self, n_features):
        return {"emissionprob_": (self.n_components * n_features,
                                  "n_components x n_features")}

    def _initial_emission(self, X, starts, n_features):
        emission = getattr(self, "emissionprob_", None)
        if self._initializes("e", "emissionprob_"):
            # hmmlearn draws the emissions from a fresh generator of the same seed
            rs = check_random_state(self.random_state)
            emission = rs.rand(self.n_components, n_features)
            emission /= emission.sum(axis=1, keepdims=True)
        return {"emissionprob_": emission}

    def _checked_emission(self, values):
        emission = required(values["emissionprob_"], "emissionprob_", "e")
        emission = np.atleast_2d(emission)
        n_features = self.n_features if self.n_features is not None else emission.shape[1]
        return _check_stochastic(emission, "emissionprob_", (self.n_components, n_features))

    def _emission_state(self, emission):
        state = {"emissionprob_": emission}
        if self.n_features is None:
            state["n_features"] = emission.shape[1]
        return state

    def _fitted_n_features(self, emission):
        return emission.shape[1]

    def _log_emission(self, X, emission, out, n_threads):
        with np.errstate(divide="ignore"):
            log_emission = np.ascontiguousarray(np.log(emission).T)   # (n_features, K)
        # symbols are validated: "clip" writes straight into out (mode "raise" buffers)
        np.take(log_emission, X, axis=0, out=out, mode="clip")

    def _emission_stats_begin(self, emission):
        return np.zeros((emission.shape[1], self.n_components))

    def _emission_stats_add(self, stats, X, post, emission, n_threads):
        if "e" in self.params:
            part = np.empty_like(stats)
            _hmm.symbol_counts(X, post, part, n_threads)
            stats += part

    def _emission_mstep(self, stats, emission):
        if "e" not in self.params:
            return emission
        counts = np.maximum(self.emissionprob_prior - 1 + stats.T, 0)
        return _normalize_rows(counts, emission)

    def _sample_emission(self, states, emission, rs):
        cdf = np.cumsum(emission, axis=1)
        cdf[:, -1] = 1.0
        u = rs.random_sample(states.shape[0])
        symbols = np.empty(states.shape[0], dtype=int)
        for k in range(self.n_components):
            rows = np.flatnonzero(states == k)
            if rows.size:
                symbols[rows] = np.searchsorted(cdf[k], u[rows], side="right")
        return symbols[:, None]

    def _n_emission_scalars(self, n_features):
        return {"e": self.n_components * (n_features - 1)}
