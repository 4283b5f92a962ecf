"""Mixture models fitted by EM, and the choice of their number of components."""

from .._selection import SelectionResult, select
from ._gaussian_mixture import GaussianMixture

__all__ = ["GaussianMixture", "SelectionResult", "select"]
