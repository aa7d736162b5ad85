"""scikit-learn compatible estimators built on the shared fit pipeline."""

from l2reg.linear_model._elastic_net import ElasticNet
from l2reg.linear_model._glm import LogisticRegression, PoissonRegression, glm_path
from l2reg.linear_model._multitask import MultiTaskElasticNet
from l2reg.linear_model._ridge import Ridge

__all__ = [
    "ElasticNet",
    "LogisticRegression",
    "MultiTaskElasticNet",
    "PoissonRegression",
    "Ridge",
    "glm_path",
]
