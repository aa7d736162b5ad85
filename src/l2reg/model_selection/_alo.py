r"""Approximate leave-one-out (ALO) for L2-penalized GLMs, from one fit.

Rad & Maleki (2018, "A scalable estimate of the extra-sample prediction
error via approximate leave-one-out", arXiv:1801.10243) replace each of the n
leave-one-out refits by one Newton step from the full-data solution, which
the Sherman-Morrison-Woodbury identity turns into a per-sample correction of
the linear predictor.

Derivation in l2reg's convention
--------------------------------
Write ``c_i = w_i / W``, ``x~_i = [x_i, 1]``, ``g_i`` and ``L_i`` for the
first and second derivatives of the loss in the raw prediction
``eta_i`` (scalars; for the multinomial loss a K-vector ``p_i - e_{y_i}`` and
the K x K matrix ``diag(p_i) - p_i p_i^T``), ``P`` for the penalty's Hessian
(``2 alpha``, 0 on an unpenalized intercept) and ``H`` for the Hessian of
``J`` at the solution ``theta``.  Leaving sample i out and refitting with the
same alpha minimizes ``J_{-i}`` with ``W - w_i`` in the denominator;
multiplied by ``(W - w_i) / W`` it is ``J - c_i l_i - c_i theta^T P theta / 2``,
whose gradient at ``theta`` is ``-c_i (X_i^T g_i + P theta)`` (the full
gradient vanishes) and whose Hessian is ``H - c_i X_i^T L_i X_i - c_i P``,
where ``X_i`` maps parameters to ``eta_i``.  One Newton step, dropping the
``c_i P`` term of the Hessian (relative size 1/n; its effect on the step is
second order), gives

.. math::

    \tilde\eta_{-i} = \eta_i + (I - c_i A_i L_i)^{-1} c_i (A_i g_i + b_i),
    \qquad A_i = X_i H^{-1} X_i^\top,\; b_i = X_i H^{-1} P\theta

by the push-through identity ``X_i (H - c X_i^T L X_i)^{-1} = (I - c A_i L)^{-1} X_i H^{-1}``.
For the scalar families (logistic, Poisson) this is

.. math::

    \tilde\eta_{-i} = \eta_i + \frac{c_i (a_i g_i + b_i)}{1 - c_i a_i L_i},
    \qquad a_i = \tilde x_i^\top H^{-1} \tilde x_i

the form of Rad & Maleki's Theorem (their ``H_ii / (1 - H_ii l''_i)`` with
``H = X (X^T diag(l'') X + P)^{-1} X^T``), plus the ``b_i`` term from the mean
convention's 1/W (it vanishes when the loss is summed).  ``b_i`` is O(1/n).

Cost: one Hessian pass (a symmetric rank-k update over X), one Cholesky, and
the leverages ``a_i = ||U^{-T} x~_i||^2`` from a blocked triangular solve:
about three rank-k passes, whatever the number of samples left out.  The
multinomial case needs the K x K blocks ``A_i``: K products of X with
``H^{-1}``'s block rows.  The error of ALO against exact leave-one-out
vanishes as n grows (Rad & Maleki: ``O_p(polylog(n) / sqrt(n))`` uniformly in
the high-dimensional regime; much faster, O(1/n^2)-like, for fixed p).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from l2reg.objective.glm_problem import GLMProblem

__all__ = ["alo_raw_predictions", "alo_pointwise_loss"]

#: Rows per block of the leverage pass (same reasoning as the Hessian pass).
ALO_BLOCK_ROWS = 2048


def _design_blocks(problem: GLMProblem, block_rows: int = ALO_BLOCK_ROWS):
    """Yield ``(start, stop, X~ rows as a dense array)`` over blocks of rows."""
    X = problem.X.tocsr() if sp.issparse(problem.X) else problem.X
    n = problem.n_samples
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        rows = X[start:stop]
        rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
        if problem.fit_intercept:
            rows = np.hstack([rows, np.ones((stop - start, 1))])
        yield start, stop, rows


def alo_raw_predictions(problem: GLMProblem, params: np.ndarray) -> np.ndarray:
    """Approximate leave-one-out linear predictors at the solution ``params`` of ``problem``.

    Parameters
    ----------
    problem : GLMProblem
    params : ndarray of shape (problem.n_params,)
        The minimizer of ``problem``'s objective (the formula assumes a zero gradient).

    Returns
    -------
    ndarray of shape (n_samples,) or (n_samples, K)
        ``eta~_{-i}``: sample i's linear predictor from the fit without sample i.
    """
    evaluation = problem.evaluate(params)
    H = problem.hessian(evaluation)
    factor = scipy.linalg.cho_factor(H, lower=False, check_finite=False)
    c = problem.scaled_weights
    penalty_gradient = problem.penalty_gradient(params)
    b = problem.matvec(scipy.linalg.cho_solve(factor, penalty_gradient, check_finite=False))
    g = evaluation.first
    if problem.n_outputs == 1:
        a = np.empty(problem.n_samples)
        # a_i = ||x~_i^T U^{-1}||^2 with H = U^T U: one small triangular
        # inverse, then a matrix product per block (BLAS-3, unlike a
        # triangular solve with many right-hand sides in scipy).
        upper = np.triu(factor[0])
        inverse_factor = scipy.linalg.solve_triangular(
            upper, np.eye(upper.shape[0]), check_finite=False
        )
        for start, stop, rows in _design_blocks(problem):
            z = rows @ inverse_factor
            a[start:stop] = np.einsum("ij,ij->i", z, z)
        curvature = evaluation.second
        return evaluation.raw + c * (a * g + b) / (1.0 - c * a * curvature)

    K, q = problem.n_outputs, problem.width
    inverse = scipy.linalg.cho_solve(factor, np.eye(H.shape[0]), check_finite=False)
    A = np.empty((problem.n_samples, K, K))
    for start, stop, rows in _design_blocks(problem):
        for k in range(K):
            product = rows @ inverse[k * q : (k + 1) * q, :]  # (rows, K q)
            for m in range(K):
                A[start:stop, k, m] = np.einsum("ij,ij->i", product[:, m * q : (m + 1) * q], rows)
    probability = evaluation.second
    curvature = (
        probability[:, :, None] * np.eye(K) - probability[:, :, None] * probability[:, None, :]
    )
    system = np.eye(K) - c[:, None, None] * (A @ curvature)
    rhs = c[:, None] * (np.einsum("ikm,im->ik", A, g) + b)
    return evaluation.raw + np.linalg.solve(system, rhs[:, :, None])[:, :, 0]


def alo_pointwise_loss(problem: GLMProblem, params: np.ndarray) -> np.ndarray:
    """Each sample's loss at its approximate leave-one-out prediction, shape (n_samples,)."""
    raw = alo_raw_predictions(problem, params)
    with np.errstate(over="ignore"):
        return problem.loss.pointwise(problem.y, raw)
