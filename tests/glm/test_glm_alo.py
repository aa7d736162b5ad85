"""Approximate leave-one-out against brute-force leave-one-out refits.

ALO is one Newton step from the full fit towards each leave-one-out fit, so
its error is that of the step: it shrinks fast with n for a fixed number of
features (Rad & Maleki, 2018).  The bounds below are the method's accuracy on
these designs (measured errors are 3-10x smaller), not rounding tolerances.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from tests.glm._glm_data import binary_data, count_data, multiclass_data

from l2reg.model_selection._alo import alo_raw_predictions
from l2reg.objective.glm_problem import GLMProblem
from l2reg.objective.losses import LogisticLoss, MultinomialLoss, PoissonLoss
from l2reg.solvers.newton import NewtonSolver

#: Relative error of the mean leave-one-out loss, by n (p = 5 features).
MEAN_LOSS_RTOL = {50: 0.05, 200: 0.005}
#: Largest error of one ALO linear predictor relative to the largest
#: leave-one-out shift |eta_{-i} - eta_i|, by n.
PREDICTOR_RTOL = {50: 0.3, 200: 0.1}
TIGHT_TOL = 1e-12


def _problem(rng, family, n, penalize_intercept=False):
    if family == "logistic":
        X, y = binary_data(rng, n=n)
        loss, k, y = LogisticLoss(), 1, y.astype(float)
    elif family == "multinomial":
        X, y = multiclass_data(rng, n=n)
        loss, k = MultinomialLoss(), 3
    else:
        X, y = count_data(rng, n=n)
        loss, k = PoissonLoss(), 1
    w = rng.uniform(0.5, 2.0, n)
    return GLMProblem(
        X=X,
        y=y,
        weights=w,
        alpha=0.01,
        loss=loss,
        n_outputs=k,
        penalize_intercept=penalize_intercept,
    )


def _subproblem(problem, keep):
    return GLMProblem(
        X=problem.X[keep],
        y=problem.y[keep],
        weights=problem.weights[keep],
        alpha=problem.alpha,
        loss=problem.loss,
        n_outputs=problem.n_outputs,
        fit_intercept=problem.fit_intercept,
        penalize_intercept=problem.penalize_intercept,
    )


def _brute_force(problem, params):
    solver = NewtonSolver(tol=TIGHT_TOL)
    exact = []
    for i in range(problem.n_samples):
        keep = np.arange(problem.n_samples) != i
        result = solver.solve(_subproblem(problem, keep), init=params)
        exact.append(problem.X[i] @ result.coef.T + result.intercept)
    exact = np.array(exact)
    return exact[:, 0] if problem.n_outputs == 1 else exact


@pytest.mark.parametrize("family", ["logistic", "multinomial", "poisson"])
@pytest.mark.parametrize("n", [50, 200])
def test_alo_matches_brute_force_loo(rng, family, n):
    problem = _problem(rng, family, n)
    result = NewtonSolver(tol=TIGHT_TOL).solve(problem)
    params = problem.pack(result.coef, result.intercept)
    approximate = alo_raw_predictions(problem, params)
    exact = _brute_force(problem, params)
    full = problem.matvec(params)
    shift = np.abs(exact - full).max()
    assert np.abs(approximate - exact).max() <= PREDICTOR_RTOL[n] * shift
    w = problem.weights
    exact_loss = w @ problem.loss.pointwise(problem.y, exact) / w.sum()
    alo_loss = w @ problem.loss.pointwise(problem.y, approximate) / w.sum()
    assert_allclose(alo_loss, exact_loss, rtol=MEAN_LOSS_RTOL[n])
    # ALO must be much closer to LOO than the naive in-sample predictions are.
    assert np.abs(approximate - exact).max() < 0.5 * shift


def test_alo_with_penalized_intercept_and_zero_weight(rng):
    problem = _problem(rng, "logistic", 80, penalize_intercept=True)
    problem.weights[3] = 0.0  # a zero-weight sample is already "left out"
    result = NewtonSolver(tol=TIGHT_TOL).solve(problem)
    params = problem.pack(result.coef, result.intercept)
    approximate = alo_raw_predictions(problem, params)
    full = problem.matvec(params)
    assert approximate[3] == full[3]
    exact = _brute_force(problem, params)
    assert np.abs(approximate - exact).max() <= PREDICTOR_RTOL[50] * np.abs(exact - full).max()
