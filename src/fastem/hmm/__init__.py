"""Hidden Markov models fitted by Baum-Welch, with hmmlearn's API."""

from .._selection import SelectionResult
from ._base import ConvergenceMonitor
from ._categorical_hmm import CategoricalHMM
from ._gaussian_hmm import GaussianHMM
from ._select import select

__all__ = ["CategoricalHMM", "ConvergenceMonitor", "GaussianHMM", "SelectionResult", "select"]
