"""Choosing alpha: exact leave-one-out, GCV, k-fold, evidence, paths."""

from l2reg.model_selection._cv import RidgeCV
from l2reg.model_selection._folds import HashedKFold, hashed_folds
from l2reg.model_selection._glm_cv import LogisticRegressionCV, PoissonRegressionCV
from l2reg.model_selection._path import RidgePath, ridge_path

__all__: list[str] = [
    "RidgeCV",
    "RidgePath",
    "ridge_path",
    "LogisticRegressionCV",
    "PoissonRegressionCV",
    "HashedKFold",
    "hashed_folds",
]
