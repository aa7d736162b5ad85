"""scikit-learn's estimator checks for the GLM estimators and their CV versions."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from l2reg.linear_model import LogisticRegression, PoissonRegression
from l2reg.model_selection import LogisticRegressionCV, PoissonRegressionCV

ESTIMATORS = [
    LogisticRegression(),
    PoissonRegression(),
    # Small grids keep the checks fast; both CV modes are exercised.
    LogisticRegressionCV(alphas=5, cv=3),
    PoissonRegressionCV(alphas=5, cv="alo"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
