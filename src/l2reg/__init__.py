"""l2reg: exact, fast and easy-to-get-right L2 regularization.

Every estimator minimizes the weighted mean loss plus ``alpha * ||theta||^2``
(see :mod:`l2reg.conventions`).

The public names are imported on first use (PEP 562), so that ``import l2reg``
and the command line's ``--help`` and usage errors do not pay for scikit-learn
and SciPy (about 3 s on the 2-core development VM) until a name needs them.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

__version__ = "0.1.0.dev0"

#: Public name -> the module that defines it.
_HOMES = {
    "Ridge": "l2reg.linear_model",
    "ElasticNet": "l2reg.linear_model",
    "MultiTaskElasticNet": "l2reg.linear_model",
    "LogisticRegression": "l2reg.linear_model",
    "PoissonRegression": "l2reg.linear_model",
    "RidgeCV": "l2reg.model_selection",
    "ElasticNetCV": "l2reg.model_selection",
    "ElasticNetPath": "l2reg.model_selection",
    "elastic_net_path": "l2reg.model_selection",
    "RidgePath": "l2reg.model_selection",
    "ridge_path": "l2reg.model_selection",
    "LogisticRegressionCV": "l2reg.model_selection",
    "PoissonRegressionCV": "l2reg.model_selection",
    "GramStats": "l2reg.objective.gram",
    "fit_files": "l2reg._files",
    "load": "l2reg.io",
    "save": "l2reg.io",
    "ModelFileError": "l2reg.io",
    "AccuracyWarning": "l2reg.exceptions",
    "ConvergenceWarning": "l2reg.exceptions",
    "DataFileError": "l2reg.exceptions",
    "IncompatibleOptionsError": "l2reg.exceptions",
    "InvalidParameterError": "l2reg.exceptions",
    "L2RegError": "l2reg.exceptions",
    "SolverFallbackWarning": "l2reg.exceptions",
}
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


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
        # A submodule (``l2reg.conventions``, ``l2reg.linear_model``, ...), as an
        # eager ``__init__`` would have left it after ``import l2reg``.
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'l2reg' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names for type checkers and IDEs
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
