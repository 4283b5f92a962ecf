"""Warnings and errors raised by fastem."""


class ConvergenceWarning(UserWarning):
    """EM stopped at max_iter before the change in lower bound fell below tol."""


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before fit."""
