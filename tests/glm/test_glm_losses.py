"""The GLM losses: derivatives against finite differences, stability, parameters, problem pieces."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.optimize import check_grad
from sklearn.base import clone

from l2reg.objective.glm_problem import GLMProblem
from l2reg.objective.losses import LogisticLoss, MultinomialLoss, PoissonLoss

#: Central finite differences in float64 with h ~ 1e-6: truncation ~h^2 and
#: rounding ~eps/h leave about 1e-8 relative; 1e-6 keeps a margin.
FINITE_DIFFERENCE = 1e-6
#: Two float64 evaluations of the same closed form.
SAME_FORMULA = 1e-12
#: The same sums accumulated in a different order (Hessian-vector product
#: against the explicit Hessian times the vector).  The multinomial Hessian
#: is formed as blockdiag(X^T diag(s p_k) X) - U^T U, a difference of terms
#: up to ~1/min(p(1-p)) larger than the result, hence 1e-9 rather than 1e-12.
REORDERED = 1e-9


def _problem(rng, family, n=30, p=4, fit_intercept=True, penalize_intercept=False, sparse=False):
    X = rng.standard_normal((n, p))
    w = rng.uniform(0.5, 2.0, n)
    if family == "logistic":
        y, loss, k = (rng.random(n) < 0.5).astype(float), LogisticLoss(), 1
    elif family == "multinomial":
        y, loss, k = rng.integers(0, 3, n), MultinomialLoss(), 3
    else:
        y, loss, k = rng.poisson(2.0, n).astype(float), PoissonLoss(), 1
    return GLMProblem(
        X=sp.csr_matrix(X) if sparse else X,
        y=y,
        weights=w,
        alpha=0.05,
        loss=loss,
        n_outputs=k,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
    )


FAMILIES = ["logistic", "multinomial", "poisson"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("intercept", [(True, False), (True, True), (False, False)])
def test_gradient_matches_finite_differences(rng, family, intercept):
    problem = _problem(rng, family, fit_intercept=intercept[0], penalize_intercept=intercept[1])
    point = 0.3 * rng.standard_normal(problem.n_params)
    error = check_grad(
        lambda v: problem.evaluate(v).objective, lambda v: problem.evaluate(v).gradient, point
    )
    assert error <= FINITE_DIFFERENCE * max(1.0, np.linalg.norm(problem.evaluate(point).gradient))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("sparse", [False, True])
def test_hessian_matches_finite_differences_and_products(rng, family, sparse):
    problem = _problem(rng, family, sparse=sparse)
    point = 0.3 * rng.standard_normal(problem.n_params)
    evaluation = problem.evaluate(point)
    H = problem.hessian(evaluation)
    step = 1e-6
    numeric = np.column_stack(
        [
            (
                problem.evaluate(point + step * e).gradient
                - problem.evaluate(point - step * e).gradient
            )
            / (2 * step)
            for e in np.eye(problem.n_params)
        ]
    )
    shift = 0.0
    index = np.arange(problem.n_outputs) * problem.width + problem.width - 1
    if problem.has_free_intercept_direction:  # H carries c e e^T on the intercepts on purpose
        shift = H[index[0], index[1]] - numeric[index[0], index[1]]
        numeric[np.ix_(index, index)] += shift
    assert_allclose(H, numeric, atol=FINITE_DIFFERENCE * np.abs(H).max())
    vector = rng.standard_normal(problem.n_params)
    product = problem.hessian_vector(evaluation, vector)
    exact = H @ vector
    if problem.has_free_intercept_direction:
        exact[index] -= shift * vector[index].sum()
    assert_allclose(product, exact, rtol=REORDERED, atol=REORDERED * np.abs(exact).max())


@pytest.mark.parametrize("loss", [LogisticLoss(), MultinomialLoss(), PoissonLoss()])
def test_params_and_clone(loss):
    assert loss.get_params() == {}
    assert loss.set_params() is loss
    with pytest.raises(ValueError, match="no parameters"):
        loss.set_params(alpha=1.0)
    assert type(clone(loss, safe=False)) is type(loss)
    assert isinstance(loss.is_classification, bool)
    assert loss.canonical_link in ("logit", "softmax", "log")


def test_losses_are_stable_for_huge_raw_predictions():
    raw = np.array([-1e300, -800.0, 0.0, 800.0, 1e300])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, first, second = LogisticLoss().derivatives(y, raw)
    assert np.all(np.isfinite(first)) and np.all(np.isfinite(second))
    assert loss[1] == 0.0 and loss[3] == 0.0 and loss[0] == 1e300 and loss[4] == 1e300
    raw_k = np.array([[1e300, 0.0, -1e300], [800.0, 799.0, -5.0]])
    labels = np.array([0, 1])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, first, probability = MultinomialLoss().derivatives(labels, raw_k)
    assert_allclose(loss, [0.0, 1.0 + np.log1p(np.exp(-1.0))], rtol=SAME_FORMULA)
    assert_allclose(probability.sum(axis=1), 1.0, rtol=SAME_FORMULA)


def test_logistic_loss_closed_form(rng):
    raw = rng.standard_normal(20) * 5
    y = (rng.random(20) < 0.5).astype(float)
    p = 1 / (1 + np.exp(-raw))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert_allclose(LogisticLoss().pointwise(y, raw), expected, rtol=1e-10)


def test_poisson_loss_is_half_deviance(rng):
    y = rng.poisson(3.0, 50).astype(float)
    raw = rng.standard_normal(50)
    mu = np.exp(raw)
    with np.errstate(divide="ignore", invalid="ignore"):
        half_deviance = np.where(y > 0, y * np.log(y / mu), 0.0) - y + mu
    assert_allclose(PoissonLoss().pointwise(y, raw), half_deviance, rtol=1e-12, atol=1e-14)
    assert np.all(PoissonLoss().pointwise(y, np.log(np.maximum(y, 1e-300))) < 1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("layout", ["C", "F", "sparse"])
def test_step_evaluation_equals_a_fresh_evaluation(rng, family, fit_intercept, layout):
    # The line search's incremental evaluation (raw + X d) must give what a
    # fresh evaluation at the new point gives, whatever X's layout.
    problem = _problem(rng, family, n=30, p=4, fit_intercept=fit_intercept)
    if layout == "F":
        problem.X = np.asfortranarray(problem.X)
    elif layout == "sparse":
        problem.X = sp.csr_matrix(problem.X)
    params = 0.3 * rng.standard_normal(problem.n_params)
    direction = 0.2 * rng.standard_normal(problem.n_params)
    stepped, raw_step = problem.evaluate_step(params, problem.evaluate(params), direction)
    fresh = problem.evaluate(params + direction)
    assert_allclose(raw_step, problem.matvec(direction), atol=1e-13)
    assert_allclose(stepped.raw, fresh.raw, rtol=SAME_FORMULA, atol=1e-13)
    assert_allclose(stepped.objective, fresh.objective, rtol=SAME_FORMULA)
    assert_allclose(stepped.gradient, fresh.gradient, rtol=SAME_FORMULA, atol=1e-13)
    assert_allclose(stepped.gradient_scale, fresh.gradient_scale, rtol=SAME_FORMULA)
    assert_allclose(stepped.first, fresh.first, rtol=SAME_FORMULA, atol=1e-13)
    assert_allclose(stepped.second, fresh.second, rtol=SAME_FORMULA, atol=1e-13)
