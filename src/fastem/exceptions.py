"""Warnings and errors raised by fastem."""


class ConvergenceWarning(UserWarning):
    """EM stopped at max_iter before the change in lower bound fell below tol."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before fit."""


class ModelFileError(ValueError):
    """A model file that fastem.load cannot accept: corrupt, truncated, not a fastem
    model, written by a newer fastem, or with members or values that break the schema
    of its class. The message names the file, the member and the problem."""
