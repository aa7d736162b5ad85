"""scikit-learn's estimator checks on every public estimator (STYLE.md §12)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from l2reg import ElasticNet, ElasticNetCV, Ridge

# Expected failures: none.  Any entry added here needs a reason per check.
EXPECTED_FAILURES: dict = {}

ESTIMATORS = [
    Ridge(),
    Ridge(alpha=0.0),
    Ridge(penalize_intercept=True),
    Ridge(solver="kernel"),
    Ridge(solver="svd", fit_intercept=False),
    ElasticNet(),
    ElasticNet(l1_ratio=1.0, fit_intercept=False, positive=True),
    # tol 1e-16: the sample-weight check compares predictions to 1e-7, and its
    # chosen alpha (~2e-4, L2 part 1e-4) bounds the coefficients' error only by
    # sqrt(2 gap / 1e-4); at the default tol the gap certifies ~1e-2 there.
    ElasticNetCV(n_alphas=10, tol=1e-16),
    ElasticNetCV(l1_ratio=[0.2, 1.0], cv=3, n_alphas=5, fit_intercept=False, positive=True),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)
