"""The ``cholesky`` solver under a generalized L2 penalty (:mod:`l2reg.objective.tikhonov`).

For one alpha the normal equations of

    J = sum_i w_i (y_i - x_i.theta - b)^2 / W + alpha (theta - theta0)^T P (theta - theta0)

are ``(G + W alpha P) theta = c + W alpha P theta0`` with the centered
statistics ``G``, ``c`` of the one Gram pass (uncentered moments without an
intercept; a penalized intercept adds the rank-one term of
:func:`l2reg.solvers.direct._normal_equations`).  This holds for every form of
``P``: diagonal (factors, standardize), square invertible or rank-deficient
``Gamma`` (whose null space is then unpenalized), so one equilibrated Cholesky
(the solver's own, judged by the same accuracy budget) serves them all; no
transformed copy of X is ever made.  The prior mean enters only the
right-hand side: ``X^T W (y - X theta0) = c - G theta0`` is ridge on the
shifted target, shifted back.

When the Cholesky fails, :func:`l2reg.objective.tikhonov.check_unique` tells
a singular problem (the null spaces of the penalty and of the data meet: an
error that says so) from a numerically ill-conditioned one.  There is no
``svd`` fallback under a general penalty (the SVD of the data does not
diagonalize the pair ``(G, P)``): an ill-conditioned system is still solved,
and a :class:`UserWarning` reports the digits it may have lost.
"""

from __future__ import annotations

import warnings

import numpy as np

from l2reg._warnings import user_stacklevel
from l2reg.objective.accuracy import digits_lost, within_budget
from l2reg.objective.gram import GramStats, gram_stats_about
from l2reg.objective.problem import Problem, evaluate_from_stats
from l2reg.objective.tikhonov import QuadraticPenalty, check_unique, resolve_penalty
from l2reg.solvers._result import SolverResult, certificate_from_gradient
from l2reg.solvers.direct import (
    _centering_loss,
    _cholesky_solve,
    _groups_by_alpha,
    _raise_if_not_finite,
    _result,
)

__all__ = ["solve_generalized", "penalized_moments", "penalized_certificate"]


def penalized_moments(stats: GramStats, problem: Problem):
    """``(G, c, penalty)``: the normal equations' design moments and the resolved penalty."""
    W = stats.weight_sum
    G, c = stats.xx, stats.xy
    if not problem.fit_intercept:
        G = G + W * np.outer(stats.x_mean, stats.x_mean)
        c = c + W * np.outer(stats.x_mean, stats.y_mean)
    penalty = resolve_penalty(
        problem.penalty, stats, fit_intercept=problem.fit_intercept, n_targets=stats.n_targets
    )
    return G, c, penalty


def _solve(stats: GramStats, problem: Problem):
    """``(theta, intercept, min rcond, G, penalty)``; theta None when a Cholesky failed."""
    W = stats.weight_sum
    G, c, penalty = penalized_moments(stats, problem)
    prior_term = penalty.times(penalty.offsets(stats.n_targets))
    theta = np.empty((stats.n_features, stats.n_targets))
    intercept = np.zeros(stats.n_targets)
    min_rcond = np.inf
    for a, targets in _groups_by_alpha(problem.alpha):
        H = G.copy(order="K")  # add_to writes in place; _cholesky_solve takes any order
        penalty.add_to(H, W * a)
        rhs = c[:, targets] + W * a * prior_term[:, targets]
        if problem.penalize_intercept:
            shrink = W * a / (1.0 + a)
            H += shrink * np.outer(stats.x_mean, stats.x_mean)
            rhs = rhs + shrink * np.outer(stats.x_mean, stats.y_mean[targets])
        solution, rcond = _cholesky_solve(H, rhs)
        if solution is None:
            return None, None, 0.0, G, penalty
        min_rcond = min(min_rcond, rcond)
        theta[:, targets] = solution
        if problem.fit_intercept:
            offset = stats.y_mean[targets] - stats.x_mean @ solution
            intercept[targets] = offset / (1.0 + a) if problem.penalize_intercept else offset
    return theta, intercept, min_rcond, G, penalty


def solve_generalized(problem: Problem, name: str) -> SolverResult:
    """Solve ``problem`` (which carries a :class:`GeneralizedL2`) by its normal equations."""
    # float64 statistics: the penalty's scales and Gamma are float64 and the
    # systems are small; a float32 X is still read in its own precision.
    stats = problem.gram(np.float64)
    _raise_if_not_finite(problem, np.concatenate([np.diag(stats.xx), stats.yy]))
    theta, intercept, rcond, G, penalty = _solve(stats, problem)
    loss = _centering_loss(stats, problem)
    redo = theta is not None and not within_budget(loss, rcond) and loss > 1.0
    if redo and problem.has_rows:  # statistics alone (fit_stats) have no rows to re-read
        # Only an exactly centered pass can tell centering loss from conditioning.
        stats = gram_stats_about(
            problem.X, problem.Y, problem.sample_weight, (stats.x_mean, stats.y_mean),
            dtype=np.float64,
        )  # fmt: skip
        theta, intercept, rcond, G, penalty = _solve(stats, problem)
        loss = 1.0
    if theta is None:
        check_unique(G, penalty, problem.owner)  # raises when the null spaces meet
        raise np.linalg.LinAlgError(
            f"{problem.owner}: the penalized normal equations are not numerically positive "
            "definite although the problem has a unique solution; rescale the features or "
            "increase alpha."
        )
    if not within_budget(loss, rcond):
        warnings.warn(
            f"{problem.owner}: the penalized Gram matrix is ill-conditioned (equilibrated "
            f"condition number ~{1 / rcond:.1e}): about {digits_lost(loss, rcond):.1f} digits "
            "of the coefficients may be lost. Increase alpha or rescale the penalty.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    objective, certificate = _certify(stats, problem, penalty, theta, intercept)
    return _result(problem, theta, intercept, objective, certificate, name)


def _certify(stats, problem, penalty: QuadraticPenalty, theta, intercept):
    """Objective and gradient-norm certificate at the solution, from the statistics."""
    alpha = problem.alpha
    evaluation = evaluate_from_stats(
        stats,
        theta,
        intercept,
        np.zeros_like(alpha),
        fit_intercept=problem.fit_intercept,
        penalize_intercept=False,
    )
    deviation = theta - penalty.offsets(theta.shape[1])
    pull = penalty.times(deviation)
    gradient_coef = evaluation.gradient_coef + 2 * alpha * pull
    objective = evaluation.objective + alpha * np.sum(deviation * pull, axis=0)
    scale = evaluation.gradient_scale + 2 * alpha * np.linalg.norm(pull, axis=0)
    gradient_intercept = evaluation.gradient_intercept
    if problem.penalize_intercept:
        gradient_intercept = gradient_intercept + 2 * alpha * intercept
        objective = objective + alpha * intercept**2
        scale = scale + 2 * alpha * np.abs(intercept)
    certificate = certificate_from_gradient(
        [gradient_coef, gradient_intercept], scale, "sufficient statistics"
    )
    return objective, certificate


def penalized_certificate(problem: Problem, coef: np.ndarray, intercept: np.ndarray):
    """The gradient certificate of ``problem`` (with its penalty) at given coefficients.

    ``coef`` of shape (n_targets, n_features), ``intercept`` (n_targets,): the
    rows of a :class:`SolverResult`.  For callers that obtained them another
    way (``ridge_path``'s spectral coefficients); from the cached statistics.
    """
    stats = problem.gram(np.float64)
    _, _, penalty = penalized_moments(stats, problem)
    theta = np.asarray(coef, dtype=np.float64).T
    return _certify(stats, problem, penalty, theta, np.asarray(intercept, dtype=np.float64))[1]
