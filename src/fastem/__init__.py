"""fastem: fast Expectation-Maximization for latent-variable models.

Gaussian mixtures and k-means with scikit-learn's API, and hidden Markov models with
hmmlearn's, fitted by fused Cython/OpenMP kernels; and fastem.em, the same EM driver for
any model given its E- and M-steps.
"""

__version__ = "0.1.0"

from ._bootstrap import BootstrapResult, bootstrap
from ._config import show_config
from ._engine import IterationInfo
from ._generic import EMFit, em
from ._io import load
from ._sources import Chunks
from .cluster import KMeans, kmeans_plusplus
from .exceptions import (
    ConvergenceWarning,
    ModelFileError,
    NotFittedError,
    SingularInformationWarning,
)
from .hmm import CategoricalHMM, GaussianHMM
from .mixture import GaussianMixture, SelectionResult, StandardErrors

__all__ = [
    "BootstrapResult",
    "CategoricalHMM",
    "Chunks",
    "ConvergenceWarning",
    "EMFit",
    "GaussianHMM",
    "GaussianMixture",
    "IterationInfo",
    "KMeans",
    "ModelFileError",
    "NotFittedError",
    "SelectionResult",
    "SingularInformationWarning",
    "StandardErrors",
    "bootstrap",
    "em",
    "kmeans_plusplus",
    "load",
    "show_config",
    "__version__",
]
