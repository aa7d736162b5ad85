"""GLM solvers: agreement, certificates, sparse input, warm starts, paths, weights, intercepts."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.special import expit, logsumexp
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.linear_model import PoissonRegressor
from tests.glm._glm_data import binary_data, count_data, multiclass_data

from l2reg.conventions import (
    to_sklearn_glm_alpha,
    to_sklearn_logistic_C,
    to_sklearn_multinomial_C,
)
from l2reg.exceptions import IncompatibleOptionsError
from l2reg.linear_model import LogisticRegression, PoissonRegression, glm_path
from l2reg.solvers import registered_solvers
from l2reg.solvers._registry import resolve_solver
from l2reg.solvers.glm_path import extrapolated_start

SOLVERS = registered_solvers("logistic")
#: l2reg at a relative gradient norm of 1e-10 and scikit-learn at tol=1e-12 on a
#: well-conditioned problem (condition number < 1e2): coefficients agree to ~1e-8.
SOLVER_AGREEMENT = 1e-7
#: The relative gradient norm recomputed independently at l2reg's solution: its
#: certificate (<= TIGHT_TOL) plus the rounding of a sum of n = 120 terms.
OPTIMALITY = 1e-9
#: Exact identities (integer weights vs repeated rows, weight scaling) solved
#: to tol=1e-10 on both sides.
IDENTITY = 1e-7
TIGHT_TOL = 1e-10


def _estimator_and_data(rng, family):
    if family == "binary":
        X, y = binary_data(rng, n=120)
        return LogisticRegression, X, y
    if family == "multinomial":
        X, y = multiclass_data(rng, n=120)
        return LogisticRegression, X, y
    X, y = count_data(rng, n=120)
    return PoissonRegression, X, y


FAMILIES = ["binary", "multinomial", "poisson"]


def _sklearn_reference(family, X, y, weights, alpha):
    """scikit-learn's solution of the same objective (alpha converted), tightly converged."""
    if family == "poisson":
        reference = PoissonRegressor(
            alpha=to_sklearn_glm_alpha(alpha), solver="newton-cholesky", tol=1e-12, max_iter=1000
        )
    else:
        to_c = to_sklearn_logistic_C if family == "binary" else to_sklearn_multinomial_C
        reference = SklearnLogisticRegression(
            C=to_c(alpha, sample_weight=weights), solver="newton-cholesky", tol=1e-12, max_iter=1000
        )
    reference.fit(X, y, sample_weight=weights)
    return reference.coef_, reference.intercept_


def _relative_gradient_norm(family, X, y, weights, alpha, coef, intercept):
    """``||grad J||`` over the sum of the norms of its terms, written from the likelihoods.

    ``J = sum_i w_i loss_i / W + alpha ||coef||^2`` with the loss the negative
    log-likelihood, whose gradient in the linear predictor is ``mu - t`` (mu
    the sigmoid, softmax or exp, t the label, one-hot code or count).  The
    terms are ``X~^T s mu``, ``X~^T s t`` and ``2 alpha coef`` (``s = w / W``,
    ``X~ = [X, 1]``), as ``certificate_`` documents; nothing here is l2reg's code.
    """
    coef = np.atleast_2d(coef)
    raw = X @ coef.T + np.asarray(intercept)
    if family == "binary":
        mean, target = expit(raw), (y == np.max(y))[:, None]
    elif family == "multinomial":
        mean = np.exp(raw - logsumexp(raw, axis=1, keepdims=True))
        target = y[:, None] == np.unique(y)[None, :]
    else:
        mean, target = np.exp(raw), y[:, None]
    design = np.hstack([X, np.ones((X.shape[0], 1))])
    share = weights / weights.sum()
    mean_term = (design.T @ (share[:, None] * mean)).T  # (K, p + 1)
    target_term = (design.T @ (share[:, None] * target)).T
    penalty = np.hstack([2 * alpha * coef, np.zeros((coef.shape[0], 1))])
    gradient = mean_term - target_term + penalty
    terms = [np.linalg.norm(term) for term in (mean_term, target_term, penalty)]
    return np.linalg.norm(gradient) / sum(terms)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("sparse", [False, True])
def test_solvers_match_sklearn_and_certify(rng, family, solver, sparse):
    Estimator, X, y = _estimator_and_data(rng, family)
    w = rng.uniform(0.5, 2.0, X.shape[0])
    coef, intercept = _sklearn_reference(family, X, y, w, 0.02)
    data = sp.csr_matrix(X) if sparse else X
    model = Estimator(alpha=0.02, solver=solver, tol=TIGHT_TOL).fit(data, y, sample_weight=w)
    assert_allclose(model.coef_, coef, rtol=SOLVER_AGREEMENT, atol=SOLVER_AGREEMENT)
    assert_allclose(model.intercept_, intercept, rtol=SOLVER_AGREEMENT, atol=SOLVER_AGREEMENT)
    optimality = _relative_gradient_norm(family, X, y, w, 0.02, model.coef_, model.intercept_)
    assert optimality <= OPTIMALITY
    assert model.certificate_.relative_gradient_norm <= TIGHT_TOL
    assert model.solver_.split("+")[0] == solver
    assert model.n_iter_ >= 1


@pytest.mark.parametrize("family", FAMILIES)
def test_integer_weights_equal_repeated_rows_and_scale_free(rng, family):
    Estimator, X, y = _estimator_and_data(rng, family)
    counts = rng.integers(0, 3, X.shape[0])
    counts[:3] = 1  # keep every class present
    weighted = Estimator(alpha=0.05, tol=TIGHT_TOL).fit(X, y, sample_weight=counts)
    repeated = Estimator(alpha=0.05, tol=TIGHT_TOL).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts)
    )
    scaled = Estimator(alpha=0.05, tol=TIGHT_TOL).fit(X, y, sample_weight=7.5 * counts)
    assert_allclose(weighted.coef_, repeated.coef_, rtol=IDENTITY, atol=IDENTITY)
    assert_allclose(weighted.coef_, scaled.coef_, rtol=IDENTITY, atol=IDENTITY)


@pytest.mark.parametrize("family", ["binary", "poisson"])
def test_penalized_intercept_equals_column_of_ones(rng, family):
    Estimator, X, y = _estimator_and_data(rng, family)
    model = Estimator(alpha=0.1, penalize_intercept=True, tol=TIGHT_TOL).fit(X, y)
    augmented = Estimator(alpha=0.1, fit_intercept=False, tol=TIGHT_TOL).fit(
        np.hstack([X, np.ones((X.shape[0], 1))]), y
    )
    assert_allclose(np.ravel(model.coef_), np.ravel(augmented.coef_)[:-1], rtol=IDENTITY)
    assert_allclose(np.ravel(model.intercept_), np.ravel(augmented.coef_)[-1:], rtol=IDENTITY)


def test_no_intercept(rng):
    X, y = binary_data(rng, n=100)
    model = LogisticRegression(alpha=0.1, fit_intercept=False).fit(X, y)
    assert_allclose(model.intercept_, [0.0])
    assert model.certificate_.relative_gradient_norm <= 1e-8
    with pytest.raises(IncompatibleOptionsError, match="penalize_intercept=True requires"):
        LogisticRegression(fit_intercept=False, penalize_intercept=True).fit(X, y)


def test_multinomial_intercepts_sum_to_zero(rng):
    X, y = multiclass_data(rng, n=100)
    for solver in SOLVERS:
        model = LogisticRegression(alpha=0.1, solver=solver).fit(X, y)
        assert abs(model.intercept_.sum()) < 1e-10
        assert_allclose(model.coef_.sum(axis=0), 0.0, atol=1e-7)  # the penalty's optimality


def test_warm_start_reuses_the_solution(rng):
    X, y = binary_data(rng, n=300)
    model = LogisticRegression(alpha=0.01, warm_start=True).fit(X, y)
    first = model.n_iter_
    model.set_params(alpha=0.012).fit(X, y)
    assert model.n_iter_ < first
    model.fit(X, y)
    assert model.n_iter_ == 0  # already optimal


@pytest.mark.parametrize("family", FAMILIES)
def test_path_matches_independent_fits(rng, family):
    Estimator, X, y = _estimator_and_data(rng, family)
    alphas = np.geomspace(1.0, 1e-3, 6)
    path = glm_path(Estimator(tol=TIGHT_TOL), X, y, alphas)
    assert_allclose(path["alphas"], alphas)
    for alpha, coef, intercept in zip(path["alphas"], path["coef"], path["intercept"], strict=True):
        single = Estimator(alpha=alpha, tol=TIGHT_TOL).fit(X, y)
        assert_allclose(
            coef.reshape(np.shape(single.coef_)),
            single.coef_,
            rtol=SOLVER_AGREEMENT,
            atol=SOLVER_AGREEMENT,
        )
        assert_allclose(
            np.ravel(intercept),
            np.ravel(single.intercept_),
            rtol=SOLVER_AGREEMENT,
            atol=SOLVER_AGREEMENT,
        )
    assert np.all(path["relative_gradient_norm"] <= TIGHT_TOL)
    norms = np.linalg.norm(path["coef"].reshape(len(alphas), -1), axis=1)
    assert np.all(np.diff(norms) > 0)  # ||theta|| grows as alpha decreases


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("solver", SOLVERS)
def test_path_starts_carry_the_linear_predictor_of_their_start(rng, family, solver):
    # A path starts each fit from a combination of earlier solutions and the same
    # combination of their linear predictors (no pass over X): the solvers'
    # predictors and the combination must both match X~ params.  (A wrong start
    # predictor inside solve_path would also break test_path_matches_independent_fits.)
    Estimator, X, y = _estimator_and_data(rng, family)
    model = Estimator(solver=solver, tol=TIGHT_TOL)
    model._check_params()
    X, y, weights = model._validate_training_data(X, y, None)
    target = model._training_target(y, weights)
    solutions = []
    for alpha in np.geomspace(1.0, 1e-2, 5):
        problem = model._make_problem(X, target, weights, alpha)
        result = model._make_solver(problem).solve(problem)
        params = problem.pack(result.coef, result.intercept)
        assert_allclose(result.linear_predictor, problem.matvec(params), atol=1e-12)
        solutions = [*solutions[-2:], (np.log(alpha), params, result.linear_predictor)]
        start, start_raw = extrapolated_start(solutions, alpha / 2)
        assert_allclose(start_raw, problem.matvec(start), atol=1e-10)


def test_auto_rule():
    common = {"owner": "T", "n_samples": 1000, "alpha": [1.0]}
    assert resolve_solver("auto", loss="logistic", n_features=300, **common) == "newton"
    assert resolve_solver("auto", loss="logistic", n_features=5000, **common) == "newton-cg"
    assert resolve_solver("auto", loss="poisson", n_features=50000, **common) == "lbfgs"
    assert resolve_solver("auto", loss="logistic", n_features=5000, sparse=True, **common) == (
        "lbfgs"
    )
    assert resolve_solver("auto", loss="logistic", n_features=50, sparse=True, **common) == (
        "newton"
    )
    assert (
        resolve_solver("auto", loss="multinomial", n_features=1500, n_outputs=3, **common)
        == "newton-cg"
    )
    with pytest.raises(IncompatibleOptionsError, match="does not support the logistic loss"):
        resolve_solver("cholesky", loss="logistic", n_features=3, **common)


def test_max_iter_warns(rng):
    from l2reg import ConvergenceWarning

    X, y = binary_data(rng, n=100)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        model = LogisticRegression(alpha=1e-3, max_iter=1).fit(X, y)
    assert model.n_iter_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(alpha=1e-3).fit(X, y)
