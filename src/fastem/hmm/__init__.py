"""Hidden Markov models fitted by Baum-Welch, with hmmlearn's API."""

from ._base import ConvergenceMonitor
from ._categorical_hmm import CategoricalHMM
from ._gaussian_hmm import GaussianHMM

__all__ = ["CategoricalHMM", "ConvergenceMonitor", "GaussianHMM"]
