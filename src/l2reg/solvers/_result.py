"""The frozen records every solver returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Certificate", "SolverResult", "certificate_from_gradient"]


@dataclass(frozen=True)
class Certificate:
    """Evidence that the returned point minimizes the objective.

    Attributes
    ----------
    gradient_norm : float
        Euclidean (Frobenius, over targets) norm of the objective's gradient with
        respect to the coefficients and any fitted intercept.
    relative_gradient_norm : float
        ``gradient_norm`` divided by the sum of the norms of the gradient's
        terms (data term, cross term, penalty term).  It lies in [0, 1] and is
        independent of the scale of X, y and alpha; at the exact minimizer it is
        0, and a float64 direct solve reaches ~1e-15 times the problem's
        condition number.
    computed_from : str
        ``"sufficient statistics"`` (the Gram matrix the solver used) or
        ``"data"`` (residuals recomputed from X).
    duality_gap : float or None, default=None
        Non-smooth problems (the elastic net): the duality gap at the returned
        point, an upper bound on its distance to the minimum in objective
        value.  For them ``gradient_norm`` is the norm of the minimum-norm
        subgradient.  None for smooth problems, and in model files written
        before the field existed.
    """

    gradient_norm: float
    relative_gradient_norm: float
    computed_from: str
    duality_gap: float | None = None


def certificate_from_gradient(gradients, scales, computed_from: str) -> Certificate:
    """Build a :class:`Certificate` from gradient blocks and per-target term norms."""
    squared = sum(float(np.sum(np.square(g))) for g in gradients if g is not None)
    norm = float(np.sqrt(squared))
    scale = float(np.sqrt(np.sum(np.square(scales))))
    relative = norm / scale if scale > 0 else 0.0
    return Certificate(norm, relative, computed_from)


@dataclass(frozen=True)
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    coef : ndarray of shape (n_targets, n_features)
    intercept : ndarray of shape (n_targets,)
    objective : ndarray of shape (n_targets,)
        The objective ``J`` of each target at the solution.
    certificate : Certificate
    solver : str
        The solver that really produced the result (after any fallback).
    n_iter : int or None
        None for direct solvers.
    converged : bool
    message : str
        Why the solver stopped, or why it fell back.
    linear_predictor : ndarray or None
        GLM solvers: the linear predictor ``X~ params`` at the solution, shape
        (n,) or (n, K).  Paths combine these to start the next fit without a
        pass over X (:func:`l2reg.solvers.glm_path.solve_path`).
    """

    coef: np.ndarray
    intercept: np.ndarray
    objective: np.ndarray
    certificate: Certificate
    solver: str
    n_iter: int | None = None
    converged: bool = True
    message: str = ""
    linear_predictor: np.ndarray | None = None
