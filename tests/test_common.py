"""scikit-learn's estimator checks on every public estimator (STYLE.md §12)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from l2reg import ElasticNet, ElasticNetCV, MultiTaskElasticNet, Ridge

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
    # The sample-weight checks compare weighted and repeated fits to rtol 1e-7, where
    # a duality gap <= tol var(y) pins the coefficients only to about
    # sqrt(2 tol var(y) / (alpha (1 - l1_ratio))): a grid ending at 0.05 alpha_max
    # and tol=1e-14 put that below 1e-7 (at 1e-3 alpha_max and tol=1e-8 it is ~1e-4).
    ElasticNetCV(n_alphas=10, eps=0.05, tol=1e-14),
    ElasticNetCV(l1_ratio=[0.2, 1.0], cv=3, n_alphas=5, fit_intercept=False, positive=True),
    # tol=1e-14: the weighted-vs-repeated checks compare coefficients to rtol 1e-7.
    MultiTaskElasticNet(alpha=0.1, tol=1e-14),
    MultiTaskElasticNet(l1_ratio=1.0, fit_intercept=False),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)
