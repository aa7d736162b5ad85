"""l2reg: exact, fast and easy-to-get-right L2 regularization.

Every estimator minimizes the weighted mean loss plus ``alpha * ||theta||^2``
(see :mod:`l2reg.conventions`).
"""

from l2reg import conventions
from l2reg.exceptions import (
    AccuracyWarning,
    ConvergenceWarning,
    IncompatibleOptionsError,
    InvalidParameterError,
    L2RegError,
    SolverFallbackWarning,
)
from l2reg.io import ModelFileError, load, save
from l2reg.linear_model import ElasticNet, LogisticRegression, PoissonRegression, Ridge
from l2reg.model_selection import (
    LogisticRegressionCV,
    PoissonRegressionCV,
    RidgeCV,
    RidgePath,
    ridge_path,
)
from l2reg.objective.gram import GramStats

__version__ = "0.1.0.dev0"

__all__ = [
    "Ridge",
    "RidgeCV",
    "ElasticNet",
    "RidgePath",
    "ridge_path",
    "GramStats",
    "LogisticRegression",
    "LogisticRegressionCV",
    "PoissonRegression",
    "PoissonRegressionCV",
    "conventions",
    "load",
    "save",
    "AccuracyWarning",
    "ConvergenceWarning",
    "IncompatibleOptionsError",
    "InvalidParameterError",
    "L2RegError",
    "ModelFileError",
    "SolverFallbackWarning",
    "__version__",
]
