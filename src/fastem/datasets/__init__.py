"""Demo data shipped with fastem."""

from ._base import load_faithful

__all__ = ["load_faithful"]
