"""Error and warning classes of l2reg."""

from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = [
    "L2RegError",
    "InvalidParameterError",
    "IncompatibleOptionsError",
    "ConvergenceWarning",
    "SolverFallbackWarning",
    "AccuracyWarning",
]


class L2RegError(Exception):
    """Base class of every error raised by l2reg."""


class InvalidParameterError(L2RegError, ValueError, TypeError):
    """A parameter or an input array has a wrong value, type or shape."""


class IncompatibleOptionsError(L2RegError, ValueError):
    """Options that are each valid cannot be used together."""


class ConvergenceWarning(_SklearnConvergenceWarning):
    """An iterative solver stopped before reaching its tolerance."""


class SolverFallbackWarning(UserWarning):
    """The requested or automatic solver was replaced by a more stable one."""


class AccuracyWarning(UserWarning):
    """A result may have lost more digits than the accuracy budget allows, with no stabler route."""
