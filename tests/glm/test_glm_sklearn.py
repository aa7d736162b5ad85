"""LogisticRegression and PoissonRegression against scikit-learn and glum with converted alphas.

Each reference runs at a tight tolerance; the l2reg fit also at tol=1e-10.
"""

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.linear_model import PoissonRegressor
from tests.glm._glm_data import binary_data, count_data, multiclass_data, weights_for

from l2reg.conventions import (
    to_glum_glm_alpha,
    to_sklearn_glm_alpha,
    to_sklearn_logistic_C,
    to_sklearn_multinomial_C,
)
from l2reg.linear_model import LogisticRegression, PoissonRegression

#: Coefficients of two tightly converged fits of a well-conditioned problem:
#: each is within ~1e-9 of the minimizer, the issue asks for 1e-6.
COEF_RTOL = 1e-6
#: Absolute slack for coefficients near zero (same origin).
COEF_ATOL = 1e-8
#: The l2reg solution's objective may exceed a reference's only by rounding:
#: a few ulps of an O(1) sum of n terms.
OBJECTIVE_SLACK = 1e-13
#: l2reg's own tolerance (relative gradient norm) in these comparisons.
TIGHT_TOL = 1e-10


def _objective_at(model, X, y, weights, coef, intercept):
    """l2reg's objective J evaluated at someone else's coefficients."""
    other = copy.copy(model)
    other.coef_ = np.asarray(coef, dtype=float).reshape(np.shape(model.coef_))
    other.intercept_ = (
        np.asarray(intercept, dtype=float).reshape(np.shape(model.intercept_))
        if np.ndim(model.intercept_)
        else float(intercept)
    )
    return other.objective(X, y, sample_weight=weights)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("alpha", [1e-3, 0.1])
def test_logistic_matches_sklearn(rng, weighted, kind, alpha):
    if kind == "binary":
        X, y = binary_data(rng)
        to_c = to_sklearn_logistic_C
    else:
        X, y = multiclass_data(rng)
        to_c = to_sklearn_multinomial_C
    w = weights_for(rng, X.shape[0], weighted)
    C = to_c(alpha, n_samples=X.shape[0], sample_weight=w)
    ours = LogisticRegression(alpha=alpha, tol=TIGHT_TOL).fit(X, y, sample_weight=w)
    theirs = SklearnLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(
        X, y, sample_weight=w
    )
    assert_allclose(ours.coef_, theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=COEF_RTOL, atol=COEF_ATOL)
    assert ours.certificate_.relative_gradient_norm <= TIGHT_TOL
    mine = ours.objective(X, y, sample_weight=w)
    reference = _objective_at(ours, X, y, w, theirs.coef_, theirs.intercept_)
    assert mine <= reference + OBJECTIVE_SLACK


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [1e-3, 0.1])
def test_poisson_matches_sklearn(rng, weighted, alpha):
    X, y = count_data(rng)
    w = weights_for(rng, X.shape[0], weighted)
    ours = PoissonRegression(alpha=alpha, tol=TIGHT_TOL).fit(X, y, sample_weight=w)
    theirs = PoissonRegressor(
        alpha=to_sklearn_glm_alpha(alpha), solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
    assert_allclose(ours.intercept_, theirs.intercept_, rtol=COEF_RTOL, atol=COEF_ATOL)
    assert ours.certificate_.relative_gradient_norm <= TIGHT_TOL
    reference = _objective_at(ours, X, y, w, theirs.coef_, theirs.intercept_)
    assert ours.objective(X, y, sample_weight=w) <= reference + OBJECTIVE_SLACK


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_matches_glum(rng, weighted, family):
    glum = pytest.importorskip("glum")
    alpha = 0.01
    if family == "poisson":
        X, y = count_data(rng)
        ours = PoissonRegression(alpha=alpha, tol=TIGHT_TOL)
    else:
        X, y = binary_data(rng)
        ours = LogisticRegression(alpha=alpha, tol=TIGHT_TOL)
    w = weights_for(rng, X.shape[0], weighted)
    ours.fit(X, y, sample_weight=w)
    theirs = glum.GeneralizedLinearRegressor(
        family=family,
        alpha=to_glum_glm_alpha(alpha, family),
        l1_ratio=0.0,
        gradient_tol=1e-12,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    assert_allclose(np.ravel(ours.coef_), theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
    assert_allclose(np.ravel(ours.intercept_), theirs.intercept_, rtol=COEF_RTOL, atol=COEF_ATOL)
    reference = _objective_at(ours, X, y, w, theirs.coef_, theirs.intercept_)
    assert ours.objective(X, y, sample_weight=w) <= reference + OBJECTIVE_SLACK


@pytest.mark.parametrize("solver", ["newton", "newton-cg", "lbfgs"])
def test_sklearn_match_for_every_solver(rng, solver):
    X, y = multiclass_data(rng, n=150)
    w = weights_for(rng, X.shape[0], True)
    ours = LogisticRegression(alpha=0.01, solver=solver, tol=TIGHT_TOL).fit(X, y, sample_weight=w)
    theirs = SklearnLogisticRegression(
        C=to_sklearn_multinomial_C(0.01, sample_weight=w),
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
    ).fit(X, y, sample_weight=w)
    assert_allclose(ours.coef_, theirs.coef_, rtol=COEF_RTOL, atol=COEF_ATOL)
    assert ours.solver_.startswith(solver)
