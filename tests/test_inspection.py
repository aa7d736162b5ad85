"""Effective degrees of freedom and standard errors of fitted ridge models."""

import numpy as np
import pytest

from l2reg import InvalidParameterError, Ridge
from l2reg.inspection import coef_standard_errors, effective_degrees_of_freedom
from l2reg.model_selection import RidgeCV

#: Two float64 evaluations of the same closed form (eigenvalues vs explicit
#: hat matrix; pinv vs inv) on well-conditioned problems.
EXACT_RTOL = 1e-9
#: alpha = 1e-12 against OLS formulas: the penalty perturbs them by ~1e-12 * cond.
OLS_LIMIT_RTOL = 1e-8
#: Monte Carlo with 4,000 replications: the sample standard deviation has a
#: relative standard error of 1 / sqrt(2 * 4000) ~ 1.1%; 5% is > 4 sigma.
MONTE_CARLO_RTOL = 0.05


def _data(rng, n=50, p=3):
    X = rng.normal(size=(n, p)) + 1.0
    y = X @ np.arange(1.0, p + 1) + rng.normal(size=n) * (1 + np.abs(X[:, 0]))
    return X, y


@pytest.mark.parametrize(
    ("fit_intercept", "penalize_intercept"), [(True, False), (False, False), (True, True)]
)
def test_effective_df_is_the_trace_of_the_hat_matrix(rng, fit_intercept, penalize_intercept):
    X, y = _data(rng, n=12, p=4)
    w = rng.uniform(0.5, 2, 12)
    model = Ridge(alpha=0.2, fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    model.fit(X, y, sample_weight=w)
    hat = (
        Ridge(alpha=0.2, fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
        .fit(X, np.eye(12), sample_weight=w)
        .predict(X)
    )
    df = effective_degrees_of_freedom(model, X, sample_weight=w)
    assert df == pytest.approx(np.trace(hat), rel=EXACT_RTOL)


def test_effective_df_of_ridgecv_and_multi_target(rng):
    X, y = _data(rng)
    model = RidgeCV(alpha_per_target=True).fit(X, np.c_[y, -y + X[:, 1]])
    df = effective_degrees_of_freedom(model, X)
    assert df.shape == (2,)
    for t in range(2):
        single = Ridge(alpha=model.alpha_[t]).fit(X, y)
        assert df[t] == pytest.approx(effective_degrees_of_freedom(single, X), rel=EXACT_RTOL)


def test_standard_errors_reduce_to_ols_formulas(rng):
    X, y = _data(rng)
    n, p = X.shape
    model = Ridge(alpha=1e-12).fit(X, y)
    Z = np.c_[X, np.ones(n)]
    residual = y - model.predict(X)
    inverse = np.linalg.inv(Z.T @ Z)
    hc1 = inverse @ (Z.T * residual**2) @ Z @ inverse * n / (n - p - 1)
    classical = inverse * (residual @ residual) / (n - p - 1)
    for kind, covariance in [("sandwich", hc1), ("homoskedastic", classical)]:
        se = coef_standard_errors(model, X, y, kind=kind)
        expected = np.sqrt(np.diag(covariance))
        np.testing.assert_allclose(se.coef, expected[:p], rtol=OLS_LIMIT_RTOL)
        assert se.intercept == pytest.approx(expected[p], rel=OLS_LIMIT_RTOL)
        assert se.effective_df == pytest.approx(p + 1, rel=1e-9)


def test_homoskedastic_standard_errors_match_monte_carlo(rng):
    """Conditional on alpha, the formula is the spread of the estimate over noise draws."""
    n, alpha, sigma = 50, 0.5, 2.0
    X = rng.normal(size=(n, 3)) + 1.0
    w = rng.uniform(0.5, 1.5, n)
    noise = sigma / np.sqrt(w)[:, None] * rng.normal(size=(n, 4000))
    Y = (X @ [1.0, -1.0, 0.5] + 3.0)[:, None] + noise
    draws = Ridge(alpha=alpha).fit(X, Y, sample_weight=w)
    one = Ridge(alpha=alpha).fit(X, Y[:, 0], sample_weight=w)
    se = coef_standard_errors(one, X, Y[:, 0], sample_weight=w, kind="homoskedastic")
    # Replace the estimated sigma^2 by the true one to compare the formula itself.
    residual = Y[:, 0] - one.predict(X)
    scale = sigma / np.sqrt(w @ residual**2 / (n - se.effective_df))
    np.testing.assert_allclose(draws.coef_.std(axis=0), se.coef * scale, rtol=MONTE_CARLO_RTOL)
    assert draws.intercept_.std() == pytest.approx(se.intercept * scale, rel=MONTE_CARLO_RTOL)


def test_standard_errors_shrink_with_alpha(rng):
    X, y = _data(rng)
    small = coef_standard_errors(Ridge(alpha=1e-3).fit(X, y), X, y, kind="homoskedastic")
    large = coef_standard_errors(Ridge(alpha=10.0).fit(X, y), X, y, kind="homoskedastic")
    assert np.all(large.coef < small.coef)


def test_multi_target_and_no_intercept_shapes(rng):
    X, y = _data(rng)
    Y = np.c_[y, 2 * y]
    se = coef_standard_errors(Ridge(alpha=0.1, fit_intercept=False).fit(X, Y), X, Y)
    assert se.coef.shape == (2, 3) and np.all(se.intercept == 0)
    np.testing.assert_allclose(se.coef[1], 2 * se.coef[0], rtol=1e-10)


def test_bad_input(rng):
    X, y = _data(rng)
    model = Ridge().fit(X, y)
    with pytest.raises(InvalidParameterError, match="'kind'"):
        coef_standard_errors(model, X, y, kind="robust")
    with pytest.raises(InvalidParameterError, match="features"):
        effective_degrees_of_freedom(model, X[:, :2])
