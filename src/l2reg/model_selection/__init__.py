"""Choosing alpha: exact leave-one-out, GCV, k-fold, evidence, paths."""

from l2reg.model_selection._cv import RidgeCV
from l2reg.model_selection._enet_cv import ElasticNetCV
from l2reg.model_selection._enet_path import ElasticNetPath, elastic_net_path
from l2reg.model_selection._glm_cv import LogisticRegressionCV, PoissonRegressionCV
from l2reg.model_selection._path import RidgePath, ridge_path

__all__: list[str] = [
    "RidgeCV",
    "RidgePath",
    "ridge_path",
    "ElasticNetCV",
    "ElasticNetPath",
    "elastic_net_path",
    "LogisticRegressionCV",
    "PoissonRegressionCV",
]
