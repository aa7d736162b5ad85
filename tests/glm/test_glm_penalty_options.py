"""The GLMs under generalized L2 penalties against a brute-force Newton solve.

The reference is a plain NumPy Newton iteration on the full parameter vector
``[theta, b]`` with the penalty ``alpha (theta - theta0)^T P (theta - theta0)``
written out as a dense matrix: gradient ``X~^T s (mu - y) + 2 alpha P~ (params -
params0)``, Hessian ``X~^T S D X~ + 2 alpha P~`` — none of the library's
parameter layout, blocked passes or penalty methods.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from l2reg import (
    InvalidParameterError,
    LogisticRegression,
    LogisticRegressionCV,
    PoissonRegression,
    PoissonRegressionCV,
)
from l2reg.penalties import difference_matrix

#: Newton converged to a relative gradient of 1e-12 on both sides, on
#: well-conditioned problems: the solutions agree to about that times cond(H).
NEWTON = 1e-8


def _reference(X, y, w, alpha, P, theta0, family, fit_intercept=True):
    n, p = X.shape
    Z = np.column_stack([X, np.ones(n)]) if fit_intercept else X
    q = Z.shape[1]
    P_aug = np.zeros((q, q))
    P_aug[:p, :p] = P
    params0 = np.zeros(q)
    params0[:p] = theta0
    s = w / w.sum()
    params = np.zeros(q)
    for _ in range(100):
        eta = Z @ params
        if family == "logistic":
            mu = 1.0 / (1.0 + np.exp(-eta))
            d = mu * (1.0 - mu)
        else:
            mu = np.exp(eta)
            d = mu
        gradient = Z.T @ (s * (mu - y)) + 2 * alpha * P_aug @ (params - params0)
        H = Z.T @ (Z * (s * d)[:, None]) + 2 * alpha * P_aug
        step = np.linalg.solve(H, gradient)
        params -= step
        if np.linalg.norm(step) < 1e-14 * (1 + np.linalg.norm(params)):
            break
    return params[:p], (params[p] if fit_intercept else 0.0)


def _data(family, seed=0, n=150, p=6):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.linspace(0.5, 2.0, p)
    eta = 0.3 + X @ (np.sin(np.arange(p)) / p)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    w = rng.uniform(0.5, 2.0, size=n)
    return X, y, w


def _weighted_sd(X, w):
    mean = np.average(X, axis=0, weights=w)
    return np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))


CASES = {
    "factors": lambda X, w: (
        {"penalty_factor": np.r_[0.0, np.linspace(0.5, 2, X.shape[1] - 1)]},
        np.diag(np.r_[0.0, np.linspace(0.5, 2, X.shape[1] - 1)]),
        np.zeros(X.shape[1]),
    ),
    "standardize": lambda X, w: (
        {"standardize": True},
        np.diag(_weighted_sd(X, w) ** 2),
        np.zeros(X.shape[1]),
    ),
    "difference_prior": lambda X, w: (
        {
            "penalty_matrix": difference_matrix(X.shape[1], 2),
            "prior_mean": np.full(X.shape[1], 0.2),
        },
        difference_matrix(X.shape[1], 2).T @ difference_matrix(X.shape[1], 2),
        np.full(X.shape[1], 0.2),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("solver", ["newton", "newton-cg", "lbfgs"])
@pytest.mark.parametrize(
    ("estimator", "family"), [(LogisticRegression, "logistic"), (PoissonRegression, "poisson")]
)
def test_glm_matches_brute_force_newton(case, solver, estimator, family):
    X, y, w = _data(family)
    options, P, theta0 = CASES[case](X, w)
    model = estimator(alpha=0.05, solver=solver, tol=1e-12, **options).fit(X, y, w)
    coef, intercept = _reference(X, y, w, 0.05, P, theta0, family)
    assert_allclose(np.ravel(model.coef_), coef, rtol=NEWTON, atol=1e-10)
    assert_allclose(np.ravel(model.intercept_)[0], intercept, rtol=NEWTON)
    if family == "logistic":  # the reported objective is the penalized one
        eta = X @ coef + intercept
        loss = np.log1p(np.exp(eta)) - y * eta
        expected = np.average(loss, weights=w) + 0.05 * (coef - theta0) @ P @ (coef - theta0)
        assert model.objective(X, y, w) == pytest.approx(expected, rel=1e-10)


def test_multinomial_gradient_is_zero_under_a_tikhonov_penalty():
    """Each class's coefficients carry the same penalty; at the solution the gradient of
    the written-out objective vanishes (an independent optimality check)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 5))
    y = np.digitize(X[:, 0] + 0.5 * rng.normal(size=200), [-0.5, 0.5])
    gamma = difference_matrix(5, 1)
    theta0 = np.array([np.zeros(5), np.ones(5), -np.ones(5)])
    alpha = 0.1
    model = LogisticRegression(alpha=alpha, penalty_matrix=gamma, prior_mean=theta0, tol=1e-12)
    model.fit(X, y)
    eta = X @ model.coef_.T + model.intercept_
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    grad_coef = (prob - onehot).T @ X / len(y) + 2 * alpha * (
        model.coef_ - theta0
    ) @ gamma.T @ gamma
    grad_intercept = (prob - onehot).mean(axis=0)
    assert np.max(np.abs(grad_coef)) < 1e-9
    assert np.max(np.abs(grad_intercept)) < 1e-9


def test_identity_matrix_is_the_plain_glm():
    X, y, w = _data("logistic", 4)
    plain = LogisticRegression(alpha=0.1, tol=1e-12).fit(X, y, w)
    gamma = LogisticRegression(alpha=0.1, tol=1e-12, penalty_matrix=np.eye(6)).fit(X, y, w)
    assert_allclose(gamma.coef_, plain.coef_, rtol=1e-10)


def test_cv_estimators_take_the_options():
    X, y, w = _data("poisson", 5)
    options = {"penalty_matrix": difference_matrix(6, 2)}
    for cv in ["alo", 3]:
        model = PoissonRegressionCV(alphas=5, cv=cv, **options).fit(X, y, w)
        refit = PoissonRegression(alpha=model.alpha_, **options).fit(X, y, w)
        # Both stop at tol=1e-8 (relative gradient): coefficients agree to ~1e-7.
        assert_allclose(model.coef_, refit.coef_, rtol=1e-6)
    X, y, w = _data("logistic", 6)
    model = LogisticRegressionCV(alphas=4, cv=3, standardize=True).fit(X, y, w)
    refit = LogisticRegression(alpha=model.alpha_, standardize=True).fit(X, y, w)
    assert_allclose(model.coef_, refit.coef_, rtol=1e-6)


def test_bad_options_are_refused():
    X, y, w = _data("logistic")
    with pytest.raises(InvalidParameterError, match="penalty_factor"):
        LogisticRegression(penalty_factor=[1, 2]).fit(X, y)
    with pytest.raises(InvalidParameterError, match="prior_mean"):
        LogisticRegression(prior_mean=np.ones(3)).fit(X, y)
