"""Effective degrees of freedom, standard errors and the least-squares comparison."""

import numpy as np
import pytest
from sklearn.metrics import r2_score
from tests._oracles import ridge_reference

from l2reg import InvalidParameterError, Ridge
from l2reg.inspection import (
    coef_standard_errors,
    compare_with_least_squares,
    effective_degrees_of_freedom,
)
from l2reg.model_selection import RidgeCV

#: Two float64 evaluations of the same closed form (eigenvalues vs explicit
#: hat matrix; pinv vs inv) on well-conditioned problems.
EXACT_RTOL = 1e-9
#: alpha = 1e-12 against OLS formulas: the penalty perturbs them by ~1e-12 * cond.
OLS_LIMIT_RTOL = 1e-8
#: Monte Carlo with 4,000 replications: the sample standard deviation has a
#: relative standard error of 1 / sqrt(2 * 4000) ~ 1.1%; 5% is > 4 sigma.
MONTE_CARLO_RTOL = 0.05
#: A least-squares fit (the svd solver) of a design with cond < 1e2 against a
#: 50-digit or LAPACK reference: ~cond * eps each.
LEAST_SQUARES_RTOL = 1e-9


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


def _rank_deficient(rng, n=40):
    """Four random columns, two exact combinations of them and a 3-level one-hot.

    Rank by construction: 6 of X's 9 columns after centering (the combinations
    and the one-hot's sum, which is the constant column, add nothing), 7 for
    the uncentered X and for ``[X, 1]``.
    """
    base = rng.normal(size=(n, 4)) + 2.0
    levels = np.eye(3)[np.arange(n) % 3]
    X = np.c_[base, base[:, 0] + 2 * base[:, 1], 3 * base[:, 2], levels]
    y = base @ np.array([1.0, -2.0, 0.5, 3.0]) + levels @ np.array([1.0, 5.0, -2.0])
    return X, y + rng.normal(size=n)


@pytest.mark.parametrize(
    ("fit_intercept", "penalize_intercept", "rank"),
    [(True, False, 6 + 1), (False, False, 7), (True, True, 7)],
)
def test_effective_df_at_alpha_zero_is_the_rank(rng, fit_intercept, penalize_intercept, rank):
    """s / (s + 0) would count rounding-level eigenvalues (or give 0 / 0 = NaN)."""
    X, y = _rank_deficient(rng)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    model = Ridge(alpha=0.0, fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    model.fit(X, y, sample_weight=w)
    assert effective_degrees_of_freedom(model, X, sample_weight=w) == rank


def test_effective_df_at_alpha_zero_is_the_limit_for_full_rank(rng):
    X, y = _data(rng)
    least_squares = effective_degrees_of_freedom(Ridge(alpha=0.0).fit(X, y), X)
    assert least_squares == X.shape[1] + 1
    limit = effective_degrees_of_freedom(Ridge(alpha=1e-12).fit(X, y), X)
    assert limit == pytest.approx(least_squares, rel=OLS_LIMIT_RTOL)


def test_effective_df_mixes_zero_and_positive_alphas_per_target(rng):
    X, y = _rank_deficient(rng)
    Y = np.c_[y, -y]
    model = Ridge(alpha=[0.0, 0.3]).fit(X, Y)
    df = effective_degrees_of_freedom(model, X)
    assert df[0] == 7
    assert df[1] == pytest.approx(effective_degrees_of_freedom(Ridge(alpha=0.3).fit(X, y), X))


def _objective(X, y, w, coef, intercept, alpha, penalize_intercept=False):
    residual = y - X @ coef - intercept
    value = w @ residual**2 / w.sum() + alpha * coef @ coef
    return value + (alpha * intercept**2 if penalize_intercept else 0.0)


@pytest.mark.parametrize("penalize_intercept", [False, True])
def test_least_squares_comparison_matches_references(rng, penalize_intercept):
    X, y = _data(rng)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    model = Ridge(alpha=0.3, penalize_intercept=penalize_intercept).fit(X, y, sample_weight=w)
    comparison = compare_with_least_squares(model, X, y, sample_weight=w)
    assert list(comparison.models) == ["least squares", "ridge"]
    assert comparison.models["ridge"] is model
    ols = comparison.models["least squares"]
    coef, intercept = ridge_reference(X, y, 0.0, sample_weight=w)  # 50 digits
    np.testing.assert_allclose(ols.coef_, coef, rtol=LEAST_SQUARES_RTOL)
    assert ols.intercept_ == pytest.approx(intercept, rel=LEAST_SQUARES_RTOL)
    expected_objective = {
        "least squares": _objective(X, y, w, coef, intercept, 0.0),
        "ridge": _objective(
            X, y, w, model.coef_, model.intercept_, 0.3, penalize_intercept=penalize_intercept
        ),
    }
    for label, fitted in comparison.models.items():
        assert comparison.objective[label] == pytest.approx(
            expected_objective[label], rel=LEAST_SQUARES_RTOL
        )
        assert comparison.r2[label] == pytest.approx(
            r2_score(y, fitted.predict(X), sample_weight=w), rel=EXACT_RTOL
        )
        assert comparison.coef_norm[label] == pytest.approx(np.linalg.norm(fitted.coef_))
    # The penalty costs fit (R^2, the mean squared error) and buys a smaller norm.
    assert comparison.r2["ridge"] < comparison.r2["least squares"]
    assert comparison.coef_norm["ridge"] < comparison.coef_norm["least squares"]
    assert comparison.objective["ridge"] > comparison.objective["least squares"]


def test_least_squares_comparison_of_ridgecv_needs_no_refit(rng):
    """RidgeCV's objective is evaluated at its own coefficients and alpha_."""
    X, y = _data(rng)
    model = RidgeCV(cv=5).fit(X, y)
    comparison = compare_with_least_squares(model, X, y)
    w = np.ones(X.shape[0])
    expected = _objective(X, y, w, model.coef_, model.intercept_, model.alpha_)
    assert comparison.objective["ridge"] == pytest.approx(expected, rel=EXACT_RTOL)


def test_least_squares_comparison_is_minimum_norm_when_rank_deficient(rng):
    X, y = _rank_deficient(rng)
    comparison = compare_with_least_squares(Ridge(alpha=0.1).fit(X, y), X, y)
    ols = comparison.models["least squares"]
    centered = X - X.mean(axis=0)
    coef = np.linalg.lstsq(centered, y - y.mean(), rcond=None)[0]  # LAPACK's minimum norm
    np.testing.assert_allclose(ols.coef_, coef, rtol=1e-8, atol=1e-10)
    assert ols.intercept_ == pytest.approx(y.mean() - X.mean(axis=0) @ coef)


def test_least_squares_comparison_bad_input(rng):
    X, y = _data(rng)
    model = Ridge().fit(X, y)
    with pytest.raises(InvalidParameterError, match="target"):
        compare_with_least_squares(model, X, np.c_[y, y])
    with pytest.raises(InvalidParameterError, match="features"):
        compare_with_least_squares(model, X[:, :2], y)
