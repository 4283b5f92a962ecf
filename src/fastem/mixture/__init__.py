"""Mixture models fitted by EM, and the choice of their number of components."""

from .._selection import SelectionResult, select
from ._gaussian_mixture import GaussianMixture
from ._information import StandardErrors
from ._prior import ConjugatePrior

__all__ = ["ConjugatePrior", "GaussianMixture", "SelectionResult", "StandardErrors", "select"]
