"""The GLM alpha conversions, each checked against the real library."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.linear_model import PoissonRegressor, TweedieRegressor
from tests.glm._glm_data import binary_data, count_data, multiclass_data

from l2reg import conventions
from l2reg.linear_model import LogisticRegression, PoissonRegression, Ridge

#: Two tightly converged fits of a well-conditioned problem (see test_glm_sklearn).
CROSS_LIBRARY = 1e-6
#: Round trips of closed-form conversions.
ROUND_TRIP = 1e-14


@pytest.mark.parametrize("multiclass", [False, True])
def test_sklearn_C_binary_and_multinomial_with_weights(rng, multiclass):
    X, y = multiclass_data(rng, n=120) if multiclass else binary_data(rng, n=120)
    w = rng.uniform(0.2, 5.0, 120)
    alpha = 0.03
    to_c = conventions.to_sklearn_multinomial_C if multiclass else conventions.to_sklearn_logistic_C
    C = to_c(alpha, sample_weight=w)
    # newton-cholesky: scikit-learn's lbfgs at tol=1e-12 still stops ~3e-8 away.
    theirs = SklearnLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(
        X, y, sample_weight=w
    )
    ours = LogisticRegression(alpha=alpha, tol=1e-10).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, rtol=CROSS_LIBRARY, atol=1e-8)
    back = conventions.from_sklearn_multinomial_C(C, sample_weight=w)
    assert_allclose(back, alpha, rtol=ROUND_TRIP)


def test_sklearn_poisson_and_normal_glm_alpha(rng):
    X, y = count_data(rng, n=150)
    w = rng.uniform(0.2, 5.0, 150)
    alpha = 0.02
    theirs = PoissonRegressor(
        alpha=conventions.to_sklearn_glm_alpha(alpha), solver="newton-cholesky", tol=1e-12
    ).fit(X, y, sample_weight=w)
    ours = PoissonRegression(alpha=alpha, tol=1e-10).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, rtol=CROSS_LIBRARY, atol=1e-8)
    normal = TweedieRegressor(
        power=0,
        alpha=conventions.to_sklearn_glm_alpha(alpha, "normal"),
        tol=1e-12,
        solver="newton-cholesky",
    ).fit(X, y, sample_weight=w)
    ridge = Ridge(alpha=alpha).fit(X, y, sample_weight=w)
    assert_allclose(ridge.coef_, normal.coef_, rtol=CROSS_LIBRARY, atol=1e-8)
    assert_allclose(conventions.from_sklearn_glm_alpha(2 * alpha), alpha, rtol=ROUND_TRIP)
    with pytest.raises(ValueError, match="family must be one of"):
        conventions.to_sklearn_glm_alpha(alpha, "binomial")


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_glum_glm_alpha(rng, family):
    glum = pytest.importorskip("glum")
    X, y = count_data(rng, n=150) if family == "poisson" else binary_data(rng, n=150)
    w = rng.uniform(0.2, 5.0, 150)
    alpha = 0.02
    theirs = glum.GeneralizedLinearRegressor(
        family=family,
        alpha=conventions.to_glum_glm_alpha(alpha, family),
        l1_ratio=0.0,
        gradient_tol=1e-12,
    ).fit(X, y, sample_weight=w)
    Estimator = PoissonRegression if family == "poisson" else LogisticRegression
    ours = Estimator(alpha=alpha, tol=1e-10).fit(X, y, sample_weight=w)
    assert_allclose(np.ravel(ours.coef_), theirs.coef_, rtol=CROSS_LIBRARY, atol=1e-8)
    back = conventions.from_glum_glm_alpha(conventions.to_glum_glm_alpha(alpha, family), family)
    assert_allclose(back, alpha, rtol=ROUND_TRIP)
    assert conventions.to_glum_glm_alpha(alpha, "normal") == conventions.to_glum_alpha(alpha)
