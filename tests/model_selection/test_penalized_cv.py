"""RidgeCV under generalized L2 penalties: every criterion against brute-force refits.

The spectral criteria come from one eigendecomposition of the penalty's
standard form; the references refit :class:`l2reg.Ridge` (the normal
equations, no spectrum) once per left-out sample or fold, or build the hat
matrix explicitly.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from l2reg import Ridge, RidgeCV
from l2reg.penalties import difference_matrix

#: Spectral criteria against refits by an independent route: both are exact up
#: to rounding amplified by the (modest) conditioning of these designs.
CRITERIA = 1e-9

ALPHAS = np.geomspace(1e-3, 10.0, 7)


def _data(seed=0, n=24, p=7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * np.linspace(0.5, 3.0, p) + rng.normal(size=p)
    y = X @ np.sin(np.arange(p) / 2.0) + 0.5 * rng.normal(size=n) + 1.0
    w = rng.uniform(0.3, 2.0, size=n)
    return X, y, w


def _weighted_sd(X, w, centered=True):
    """glmnet's standardization: about the weighted mean with an intercept, else about 0."""
    mean = np.average(X, axis=0, weights=w) if centered else 0.0
    return np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))


#: Options and their fixed-penalty equivalent (standardize's scales taken from all rows,
#: as leave-one-out keeps them), as functions of (X, w) and of (X, w, fit_intercept).
CASES = {
    "second_difference": (
        lambda X, w: {"penalty_matrix": difference_matrix(X.shape[1], 2)},
        lambda X, w, c: {"penalty_matrix": difference_matrix(X.shape[1], 2)},
    ),
    "first_difference_prior": (
        lambda X, w: {
            "penalty_matrix": difference_matrix(X.shape[1], 1),
            "prior_mean": np.linspace(-1, 1, X.shape[1]),
        },
        lambda X, w, c: {
            "penalty_matrix": difference_matrix(X.shape[1], 1),
            "prior_mean": np.linspace(-1, 1, X.shape[1]),
        },
    ),
    "factors_with_zero": (
        lambda X, w: {"penalty_factor": np.r_[0.0, np.linspace(0.5, 3.0, X.shape[1] - 1)]},
        lambda X, w, c: {"penalty_factor": np.r_[0.0, np.linspace(0.5, 3.0, X.shape[1] - 1)]},
    ),
    "standardize_invertible": (
        lambda X, w: {
            "standardize": True,
            "penalty_matrix": np.eye(X.shape[1]) + 0.2 * np.eye(X.shape[1], k=1),
        },
        lambda X, w, c: {
            "penalty_matrix": (np.eye(X.shape[1]) + 0.2 * np.eye(X.shape[1], k=1))
            * _weighted_sd(X, w, c)
        },
    ),
}


def _refit(X, y, w, alpha, options, fit_intercept=True):
    return Ridge(alpha=alpha, fit_intercept=fit_intercept, **options).fit(X, y, sample_weight=w)


def _loo_by_refits(X, y, w, options, error=np.square, **ridge_options):
    """Weighted mean LOO error of every alpha in ALPHAS, one Ridge refit per sample.

    LOO keeps lam = W alpha fixed (Sherman-Morrison), so the refit's alpha is
    alpha W / (W - w_i) (RidgeCV's docstring).
    """
    W = w.sum()
    expected = []
    for alpha in ALPHAS:
        errors = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            refit = Ridge(alpha=alpha * W / (W - w[i]), **options, **ridge_options)
            refit.fit(X[keep], y[keep], w[keep])
            errors.append(error(y[i] - refit.predict(X[i : i + 1])[0]))
        expected.append(np.average(errors, weights=w))
    return np.array(expected)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_leave_one_out_equals_refits(case, fit_intercept):
    X, y, w = _data(1)
    options, fixed = CASES[case][0](X, w), CASES[case][1](X, w, fit_intercept)
    model = RidgeCV(alphas=ALPHAS, fit_intercept=fit_intercept, **options).fit(X, y, w)
    expected = _loo_by_refits(X, y, w, fixed, fit_intercept=fit_intercept)
    assert_allclose(model.cv_results_["mean_error"], expected, rtol=CRITERIA)


def _hat_trace(X, w, alpha, P, fit_intercept=True):
    """Trace of the weighted hat matrix from the explicit (n + 1)-column design."""
    Z = np.column_stack([X, np.ones(len(w))]) if fit_intercept else X
    P_aug = np.zeros((Z.shape[1], Z.shape[1]))
    P_aug[: X.shape[1], : X.shape[1]] = P
    H = Z @ np.linalg.solve(Z.T @ (w[:, None] * Z) + w.sum() * alpha * P_aug, Z.T * w)
    return np.trace(H)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gcv_and_df_equal_the_explicit_hat_matrix(case):
    X, y, w = _data(2)
    options, fixed = CASES[case][0](X, w), CASES[case][1](X, w, True)
    model = RidgeCV(alphas=ALPHAS, cv="gcv", **options).fit(X, y, w)
    if "penalty_matrix" in fixed:
        P = fixed["penalty_matrix"].T @ fixed["penalty_matrix"]
    else:
        P = np.diag(fixed["penalty_factor"])
    gcv, df = [], []
    for alpha in ALPHAS:
        trace = _hat_trace(X, w, alpha, P)
        refit = _refit(X, y, w, alpha, fixed)
        rss = np.sum(w * (y - refit.predict(X)) ** 2)
        df.append(trace)
        gcv.append(rss / w.sum() / (1 - trace / len(y)) ** 2)
    assert_allclose(model.cv_results_["effective_df"], df, rtol=CRITERIA)
    assert_allclose(model.cv_results_["mean_error"], gcv, rtol=CRITERIA)


@pytest.mark.parametrize("cv", [4, "explicit"])
def test_kfold_equals_refits_with_per_fold_standardization(cv):
    """k-fold refits each training fold with Ridge's own options: standardize
    takes the fold's standard deviations (as cv.glmnet does)."""
    X, y, w = _data(3, n=30)
    options = {"standardize": True, "penalty_matrix": difference_matrix(X.shape[1], 2)}
    folds = [(np.setdiff1d(np.arange(30), t), t) for t in np.array_split(np.arange(30), 4)]
    splits = 4 if cv == 4 else list(folds)
    if cv == "explicit":  # not a partition: the per-fold decomposition route
        splits = [(train[:-1], test) for train, test in folds]
    model = RidgeCV(alphas=ALPHAS, cv=splits, **options).fit(X, y, w)
    used = folds if cv == 4 else [(train[:-1], test) for train, test in folds]
    expected = np.zeros(ALPHAS.size)
    for train, test in used:
        for a, alpha in enumerate(ALPHAS):
            refit = _refit(X[train], y[train], w[train], alpha, options)
            error = np.average((y[test] - refit.predict(X[test])) ** 2, weights=w[test])
            expected[a] += w[test].sum() * error
    expected /= sum(w[test].sum() for _, test in used)
    assert_allclose(model.cv_results_["mean_error"], expected, rtol=CRITERIA)


def test_identity_penalty_reduces_to_plain_ridge_cv():
    X, y, w = _data(4)
    for cv in [None, "gcv", "evidence", 3]:
        plain = RidgeCV(alphas=ALPHAS, cv=cv).fit(X, y, w)
        gamma = RidgeCV(alphas=ALPHAS, cv=cv, penalty_matrix=np.eye(X.shape[1])).fit(X, y, w)
        assert_allclose(gamma.cv_results_["mean_error"], plain.cv_results_["mean_error"], rtol=1e-9)
        assert gamma.alpha_ == plain.alpha_
        assert_allclose(gamma.coef_, plain.coef_, rtol=1e-10)


def test_chosen_model_is_ridge_with_the_options():
    X, y, w = _data(5)
    options = {"penalty_matrix": difference_matrix(X.shape[1], 2), "prior_mean": np.ones(7)}
    model = RidgeCV(alphas=ALPHAS, **options).fit(X, y, w)
    ridge = Ridge(alpha=model.alpha_, **options).fit(X, y, w)
    assert_allclose(model.coef_, ridge.coef_, rtol=1e-12)
    assert model.solver_ == "cholesky"


def test_evidence_with_unpenalized_directions_is_maximized_inside_the_grid():
    """The evidence under a rank-deficient Gamma (flat prior on its null space) picks a
    finite alpha on data drawn from a smooth profile with noise."""
    X, y, w = _data(6, n=200, p=12)
    model = RidgeCV(cv="evidence", penalty_matrix=difference_matrix(12, 2)).fit(X, y)
    alphas = model.cv_results_["alphas"]
    assert alphas[0] < model.alpha_ < alphas[-1]


def test_wide_problem_uses_the_primal_spectrum():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(10, 15))
    y = rng.normal(size=10)
    model = RidgeCV(alphas=ALPHAS, cv="gcv", penalty_factor=np.linspace(0.5, 2, 15)).fit(X, y)
    refit = Ridge(alpha=model.alpha_, penalty_factor=np.linspace(0.5, 2, 15)).fit(X, y)
    assert_allclose(model.coef_, refit.coef_, rtol=1e-10)


def test_leave_one_out_with_penalized_intercept_equals_refits():
    X, y, w = _data(8)
    options = {"penalty_matrix": difference_matrix(X.shape[1], 2), "prior_mean": np.ones(7)}
    model = RidgeCV(alphas=ALPHAS, penalize_intercept=True, **options).fit(X, y, w)
    expected = _loo_by_refits(X, y, w, options, penalize_intercept=True)
    assert_allclose(model.cv_results_["mean_error"], expected, rtol=CRITERIA)


def test_leave_one_out_predictions_with_a_prior_mean_feed_a_scorer():
    X, y, w = _data(9)
    options = {"penalty_factor": np.linspace(0.2, 2.0, 7), "prior_mean": np.full(7, 0.5)}
    mse = RidgeCV(alphas=ALPHAS, **options).fit(X, y, w)
    scored = RidgeCV(alphas=ALPHAS, scoring="neg_mean_absolute_error", **options).fit(X, y, w)
    expected = _loo_by_refits(X, y, w, options, error=np.abs)
    assert_allclose(scored.cv_results_["mean_error"], expected, rtol=CRITERIA)
    assert mse.cv_results_["mean_error"].shape == ALPHAS.shape


@pytest.mark.parametrize("case", sorted(CASES))
def test_ridge_path_equals_ridge_at_every_alpha(case):
    from l2reg.model_selection import ridge_path

    X, y, w = _data(10)
    options = CASES[case][0](X, w)
    path = ridge_path(X, y, ALPHAS, sample_weight=w, **options)
    for j, alpha in enumerate(ALPHAS):
        ridge = Ridge(alpha=alpha, **options).fit(X, y, w)
        assert_allclose(path.coefs[j], ridge.coef_, rtol=1e-9)
        assert_allclose(path.intercepts[j], ridge.intercept_, rtol=1e-9)
    assert np.all(path.relative_gradient_norms < 1e-10)
    assert np.all(np.diff(path.effective_df) < 0)


def test_ridge_path_resolves_ill_conditioned_alphas_with_the_penalty():
    from l2reg.model_selection import ridge_path

    X, y, w = _data(11)
    X[:, 1] = X[:, 0] + 1e-5 * X[:, 2]
    gamma = difference_matrix(X.shape[1], 2)
    path = ridge_path(X, y, [1e-8, 1.0], sample_weight=w, penalty_matrix=gamma)
    assert path.solvers[0] == "cholesky" and path.solvers[1] == "spectral"
    ridge = Ridge(alpha=1e-8, penalty_matrix=gamma).fit(X, y, w)
    assert_allclose(path.coefs[0], ridge.coef_, rtol=1e-12)
