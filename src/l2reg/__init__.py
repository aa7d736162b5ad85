"""l2reg: exact, fast and easy-to-get-right L2 regularization.

Every estimator minimizes the weighted mean loss plus ``alpha * ||theta||^2``
(see :mod:`l2reg.conventions`).
"""

from l2reg import conventions, penalties
from l2reg._files import fit_files
from l2reg.exceptions import (
    AccuracyWarning,
    ConvergenceWarning,
    DataFileError,
    IncompatibleOptionsError,
    InvalidParameterError,
    L2RegError,
    SolverFallbackWarning,
)
from l2reg.io import ModelFileError, load, save
from l2reg.linear_model import (
    ElasticNet,
    LogisticRegression,
    MultiTaskElasticNet,
    PoissonRegression,
    Ridge,
)
from l2reg.model_selection import (
    ElasticNetCV,
    ElasticNetPath,
    LogisticRegressionCV,
    PoissonRegressionCV,
    RidgeCV,
    RidgePath,
    elastic_net_path,
    ridge_path,
)
from l2reg.objective.gram import GramStats

__version__ = "0.1.0.dev0"

__all__ = [
    "Ridge",
    "RidgeCV",
    "ElasticNet",
    "ElasticNetCV",
    "MultiTaskElasticNet",
    "ElasticNetPath",
    "elastic_net_path",
    "RidgePath",
    "ridge_path",
    "GramStats",
    "LogisticRegression",
    "LogisticRegressionCV",
    "PoissonRegression",
    "PoissonRegressionCV",
    "fit_files",
    "conventions",
    "penalties",
    "load",
    "save",
    "AccuracyWarning",
    "ConvergenceWarning",
    "DataFileError",
    "IncompatibleOptionsError",
    "InvalidParameterError",
    "L2RegError",
    "ModelFileError",
    "SolverFallbackWarning",
    "__version__",
]
