"""Direct (non-iterative) solvers of penalized least squares.

``cholesky``
    Primal normal equations ``(G + W alpha I) theta = c`` from the one-pass
    sufficient statistics (:mod:`l2reg.objective.gram`); its cost is one
    symmetric rank-k update over X plus a p x p Cholesky.  Natural for n >= p.
``kernel``
    Dual form for p > n: with ``A = sqrt(w) * (X - x_mean)`` and
    ``z = sqrt(w) * (y - y_mean)`` the primal solution is
    ``theta = A^T (A A^T + W alpha I)^{-1} z`` (push-through identity), so the
    cost is one rank-k update giving the n x n kernel plus an n x n Cholesky.
``svd``
    Singular value decomposition of the (weighted, centered) data.  Backward
    stable, handles ``alpha=0`` and rank deficiency with the minimum-norm
    solution.  The fallback of the other two.

Notation: ``W = sum(w)``; targets are columns (``theta`` is p x k) inside
this module and rows in the :class:`SolverResult`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg.blas import get_blas_funcs
from scipy.linalg.lapack import get_lapack_funcs

from l2reg._blas import matmul
from l2reg._row_split import single_threaded_after_split
from l2reg._validation import check_finite
from l2reg.exceptions import SolverFallbackWarning
from l2reg.objective.gram import GramStats
from l2reg.objective.problem import Problem, evaluate_from_stats
from l2reg.solvers._registry import Capabilities, register
from l2reg.solvers._result import SolverResult, certificate_from_gradient
from l2reg.solvers.svd import SVDSolver

__all__ = ["CholeskySolver", "KernelSolver", "SVDSolver"]

# When to leave the normal equations.  Solving through a Gram (or kernel)
# matrix H loses about cond(H) * eps of relative accuracy, where a backward
# stable factorization of the data loses about sqrt(cond(H)) * eps.  Below a
# reciprocal condition of sqrt(eps) ~ 1.5e-8 the Gram route could no longer
# promise half of float64's digits, so the SVD of the data takes over.
FLOAT64_MIN_RCOND = float(np.sqrt(np.finfo(np.float64).eps))
# float32 Gram accumulation is kept only while cond(H) <= 1e3, i.e. while the
# float32 rounding of the statistics (~6e-8 relative) costs at most ~1e-4
# relative accuracy; otherwise the statistics are recomputed in float64.
FLOAT32_MIN_RCOND = 1e-3
# Rows (kernel: columns) per block of the buffered passes; see gram.py.
KERNEL_BLOCK_COLUMNS = 2048


def _cholesky_solve(H: np.ndarray, rhs: np.ndarray):
    """Solve ``H x = rhs`` for symmetric positive definite H.

    Returns ``(x, rcond)`` with LAPACK's estimate of the reciprocal 1-norm
    condition number; ``(None, 0.0)`` when H is not numerically positive definite.
    """
    potrf, pocon, potrs = get_lapack_funcs(("potrf", "pocon", "potrs"), (H,))
    anorm = float(np.abs(H).sum(axis=0).max())
    factor, info = potrf(H, lower=0, clean=0)
    if info != 0 or not np.all(np.isfinite(np.diag(factor))):
        return None, 0.0
    rcond, _ = pocon(factor, anorm)
    solution, info = potrs(factor, rhs, lower=0)
    if info != 0:
        return None, 0.0
    return solution, float(rcond)


def _groups_by_alpha(alpha: np.ndarray):
    """Yield ``(alpha_value, target_indices)``: targets sharing an alpha share a factorization."""
    values, inverse = np.unique(alpha, return_inverse=True)
    for index, value in enumerate(values):
        yield float(value), np.flatnonzero(inverse == index)


def _raise_if_not_finite(problem: Problem, diagonal_values) -> None:
    """A non-finite diagonal means a NaN/inf in the data: find it and say where."""
    if np.all(np.isfinite(diagonal_values)):
        return
    check_finite(problem.owner, "X", problem.X)
    check_finite(problem.owner, "y", problem.Y)
    raise FloatingPointError(  # the data are finite but their squares overflow
        f"{problem.owner}: the sums of squares of X or y overflow float; rescale the data."
    )


def _warn_fallback(problem: Problem, requested: str, reason: str) -> None:
    warnings.warn(
        f"{problem.owner}: solver {requested!r} fell back to 'svd' because {reason}; "
        "the result is the backward-stable (minimum-norm) solution. "
        "Pass solver='svd' to choose it directly and silence this warning.",
        SolverFallbackWarning,
        stacklevel=4,
    )


def _normal_equations(stats: GramStats, problem: Problem):
    """Solve the primal normal equations for every target; return (theta, b, min rcond).

    Unpenalized intercept: ``(G + W a I) theta = c`` with centered G, c and
    ``b = y_mean - x_mean.theta``.  No intercept: the same with uncentered
    moments.  Penalized intercept: minimizing ``(t - b)^2 + a b^2`` over b
    (``t = y_mean - x_mean.theta``) gives ``b = t / (1 + a)`` and leaves
    ``a t^2 / (1 + a)``, a rank-one term in theta:
    ``(G + W a I + W a/(1+a) x_mean x_mean^T) theta = c + W a/(1+a) x_mean y_mean``.
    """
    W = stats.weight_sum
    G, c = stats.xx, stats.xy
    if not problem.fit_intercept:
        G = G + W * np.outer(stats.x_mean, stats.x_mean)
        c = c + W * np.outer(stats.x_mean, stats.y_mean)
    theta = np.empty((stats.n_features, stats.n_targets))
    intercept = np.zeros(stats.n_targets)
    min_rcond = np.inf
    diagonal = np.diag_indices_from(G)
    for a, targets in _groups_by_alpha(problem.alpha):
        H = G.copy(order="F")
        H[diagonal] += W * a
        rhs = c[:, targets]
        if problem.penalize_intercept:
            shrink = W * a / (1.0 + a)
            H += shrink * np.outer(stats.x_mean, stats.x_mean)
            rhs = rhs + shrink * np.outer(stats.x_mean, stats.y_mean[targets])
        solution, rcond = _cholesky_solve(H, np.asfortranarray(rhs))
        min_rcond = min(min_rcond, rcond)
        if solution is None:
            return None, None, 0.0
        theta[:, targets] = solution
        if problem.fit_intercept:
            offset = stats.y_mean[targets] - stats.x_mean @ solution
            intercept[targets] = offset / (1.0 + a) if problem.penalize_intercept else offset
    return theta, intercept, min_rcond


def _result(problem, theta, intercept, objective, certificate, solver, message=""):
    dtype = problem.X.dtype
    return SolverResult(
        coef=np.ascontiguousarray(theta.T, dtype=dtype),
        intercept=intercept.astype(dtype),
        objective=objective,
        certificate=certificate,
        solver=solver,
        message=message,
    )


@register
class CholeskySolver:
    """Primal normal equations from one blocked pass over X; see the module docstring."""

    name = "cholesky"
    capabilities = Capabilities(losses=("squared",), float32=True, shape="n >= p")

    def solve(self, problem: Problem) -> SolverResult:
        # The Gram pass may split X across cores; the small calls after it then
        # stay single-threaded too (see single_threaded_after_split).
        with single_threaded_after_split():
            result = self._solve_normal_equations(problem)
        if isinstance(result, SolverResult):
            return result
        _warn_fallback(problem, self.name, reason=result)
        return SVDSolver().solve(problem, fallback_reason=result)

    def _solve_normal_equations(self, problem: Problem) -> SolverResult | str:
        """The result, or why the SVD must take over."""
        float32 = problem.X.dtype == np.float32
        stats = problem.gram()
        _raise_if_not_finite(problem, np.concatenate([np.diag(stats.xx), stats.yy]))
        theta, intercept, rcond = _normal_equations(stats, problem)
        if float32 and rcond < FLOAT32_MIN_RCOND:
            stats = problem.gram(np.float64)
            theta, intercept, rcond = _normal_equations(stats, problem)
        if rcond < FLOAT64_MIN_RCOND:
            return (
                "the penalized Gram matrix is not positive definite"
                if theta is None
                else f"the penalized Gram matrix is ill-conditioned (estimated reciprocal "
                f"condition number {rcond:.1e} < {FLOAT64_MIN_RCOND:.1e})"
            )
        evaluation = evaluate_from_stats(
            stats,
            theta,
            intercept,
            problem.alpha,
            fit_intercept=problem.fit_intercept,
            penalize_intercept=problem.penalize_intercept,
        )
        certificate = certificate_from_gradient(
            [evaluation.gradient_coef, evaluation.gradient_intercept],
            evaluation.gradient_scale,
            "sufficient statistics",
        )
        return _result(problem, theta, intercept, evaluation.objective, certificate, self.name)


# The kernel of a float64 X is centered after the fact (``K0 - v 1^T - 1 v^T +
# c 1 1^T``, all from ``K0`` itself) when that cancels at most 4 of float64's 16
# digits on every diagonal entry (``K0_ii / Kc_ii <= 1e4``); otherwise, and for
# float32, the blocked pass that centers each block exactly is used.
MAX_KERNEL_CANCELLATION = 1e4


def _design_transpose_times(problem, sqrt_weight, M):
    """``X^T (sqrt(w) * M)``, the column sums of ``sqrt(w) * M`` and the weighted
    column means of X, all in one pass over X (the means ride along as a column)."""
    weights = problem.weights
    scaled = M if sqrt_weight is None else M * sqrt_weight[:, None]
    columns = np.vstack([scaled.T, weights / weights.sum()]).astype(problem.X.dtype)
    # SciPy's BLAS, as the kernel's syrk just before it (see l2reg._blas).
    product = matmul(problem.X, columns.T, transpose_a=True)
    return product[:, :-1].astype(np.float64), scaled.sum(axis=0), product[:, -1].astype(float)


def _uncentered_kernel(X) -> np.ndarray:
    """``X X^T`` with one ``?syrk`` and no copy of X, symmetrized, float64.

    Not split across cores as the Gram pass is (:mod:`l2reg._row_split`): for
    the n x n product of a wide X, OpenBLAS's threaded ``?syrk`` was as fast
    (2,000 x 20,000: 0.79-0.84 s either way) and needs no per-core copy of K.
    """
    syrk = get_blas_funcs("syrk", dtype=X.dtype)
    if X.flags.f_contiguous and not X.flags.c_contiguous:
        upper = syrk(1.0, X, trans=0, lower=0)
    else:
        upper = syrk(1.0, np.ascontiguousarray(X).T, trans=1, lower=0)
    K = np.triu(upper).astype(np.float64)
    K += np.triu(K, 1).T
    return K


def _kernel_matrix(problem, x_mean, sqrt_weight, dtype):
    """``K = A A^T`` built from blocks of columns of X, centered exactly in a reused buffer.

    The rank-k updates run in ``dtype``; the returned K is float64.
    """
    X = problem.X
    n, p = X.shape
    fortran = X.flags.f_contiguous and not X.flags.c_contiguous
    columns = min(KERNEL_BLOCK_COLUMNS, p)
    buffer = np.empty((n, columns), dtype=dtype, order="F" if fortran else "C")
    syrk = get_blas_funcs("syrk", dtype=dtype)
    K = np.zeros((n, n), dtype=dtype, order="F")
    shift = x_mean.astype(dtype)
    scale = None if sqrt_weight is None else sqrt_weight[:, None].astype(dtype)
    # Non-finite input is reported by the caller from K's diagonal.
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, p, columns):
            stop = min(start + columns, p)
            block = buffer[:, : stop - start]
            np.subtract(X[:, start:stop], shift[start:stop], out=block)
            if scale is not None:
                block *= scale
            # K += block @ block.T without copies: see gram.py for the layouts.
            operand, trans = (block, 0) if fortran else (block.T, 1)
            if not operand.flags.f_contiguous:  # the last, narrower block of a C-ordered X
                operand = np.asfortranarray(operand)
            syrk(1.0, operand, beta=1.0, c=K, trans=trans, lower=0, overwrite_c=1)
        K = np.triu(K).astype(np.float64)
        K += np.triu(K, 1).T
    if problem.penalize_intercept:  # the ones column of the augmented design
        ones = np.ones(n) if sqrt_weight is None else sqrt_weight
        K += np.outer(ones, ones)
    return K


def _kernel_after_the_fact(problem, sqrt_weight):
    """``A A^T`` from one syrk over the uncentered X, or None when centering would cancel.

    With weighted means ``x_mean = X^T w / W``: ``v = X x_mean = K0 w / W`` and
    ``x_mean.x_mean = w^T K0 w / W^2``, so no further pass over X is needed.
    """
    if problem.X.dtype != np.float64:
        return None
    K0 = _uncentered_kernel(problem.X)
    weights = problem.weights
    if problem.fit_intercept and not problem.penalize_intercept:
        # Non-finite input is reported by the caller from K's diagonal.
        with np.errstate(invalid="ignore", over="ignore"):
            v = matmul(K0, weights) / weights.sum()
            c = weights @ v / weights.sum()
            K = K0 - v[:, None] - v[None, :] + c
            diagonal = np.diag(K)
            if np.any(diagonal <= 0) or np.max(np.diag(K0) / diagonal) > MAX_KERNEL_CANCELLATION:
                return None if np.all(np.isfinite(diagonal)) else K
    else:
        K = K0
    if sqrt_weight is not None:
        K *= sqrt_weight[:, None]
        K *= sqrt_weight[None, :]
    if problem.penalize_intercept:  # the ones column of the augmented design
        ones = np.ones(problem.n_samples) if sqrt_weight is None else sqrt_weight
        K += np.outer(ones, ones)
    return K


@register
class KernelSolver:
    """Dual (kernel) normal equations for p > n; see the module docstring.

    The n x n kernel comes from one ``?syrk`` over X as it is, centered after
    the fact when that is accurate, else from the blocked exactly-centered
    pass.  One more pass over X (a matrix product with a few columns) gives
    the coefficients, the means and the certificate.
    """

    name = "kernel"
    capabilities = Capabilities(losses=("squared",), float32=True, shape="p > n")

    def solve(self, problem: Problem) -> SolverResult:
        W = problem.weight_sum
        sqrt_weight = None if problem.sample_weight is None else np.sqrt(problem.sample_weight)
        # A penalized intercept is an ordinary (penalized) column of ones, so
        # X stays uncentered then; otherwise the intercept is profiled out.
        centered = problem.fit_intercept and not problem.penalize_intercept
        check_finite(problem.owner, "y", problem.Y)
        y_mean = problem.y_mean() if centered else np.zeros(problem.n_targets)
        Z = problem.Y - y_mean
        if sqrt_weight is not None:
            Z = Z * sqrt_weight[:, None]

        K = _kernel_after_the_fact(problem, sqrt_weight)
        if K is None:
            x_mean = problem.x_mean() if centered else np.zeros(problem.n_features)
            K = _kernel_matrix(problem, x_mean, sqrt_weight, problem.X.dtype)
        _raise_if_not_finite(problem, np.diag(K))
        dual, min_rcond = self._solve_dual(K, Z, problem.alpha, W)
        if problem.X.dtype == np.float32 and min_rcond < FLOAT32_MIN_RCOND:
            x_mean = problem.x_mean() if centered else np.zeros(problem.n_features)
            K = _kernel_matrix(problem, x_mean, sqrt_weight, np.float64)
            dual, min_rcond = self._solve_dual(K, Z, problem.alpha, W)
        if min_rcond < FLOAT64_MIN_RCOND:
            reason = (
                "the penalized kernel matrix is ill-conditioned or singular (estimated "
                f"reciprocal condition number {min_rcond:.1e} < {FLOAT64_MIN_RCOND:.1e})"
            )
            _warn_fallback(problem, self.name, reason)
            return SVDSolver().solve(problem, fallback_reason=reason)

        # theta = A^T beta; the primal gradient is (2/W) A^T r with the dual
        # residual r = K beta + W a beta - z, since
        # A^T (K beta - z) + W a A^T beta = A^T (K beta + W a beta - z).
        fitted = matmul(K, dual)  # = A theta
        residual = fitted + W * problem.alpha * dual - Z
        k = problem.n_targets
        product, column_sums, x_mean = _design_transpose_times(
            problem, sqrt_weight, np.hstack([dual, residual, Z, fitted])
        )
        if problem.penalize_intercept:
            products = np.vstack([product, column_sums[None, :]])
        elif centered:
            products = product - np.outer(x_mean, column_sums)
        else:
            products = product
        theta_augmented = products[:, :k]
        gradient = 2 * products[:, k : 2 * k] / W
        data_norms = np.linalg.norm(products[:, 2 * k : 3 * k], axis=0)
        cross_norms = np.linalg.norm(products[:, 3 * k :], axis=0)
        scale = 2 * (data_norms + cross_norms) / W + 2 * problem.alpha * np.linalg.norm(
            theta_augmented, axis=0
        )
        objective = np.sum((fitted - Z) ** 2, axis=0) / W + problem.alpha * np.sum(
            theta_augmented**2, axis=0
        )
        if problem.penalize_intercept:
            theta, intercept = theta_augmented[:-1], theta_augmented[-1]
        else:
            theta = theta_augmented
            intercept = y_mean - x_mean @ theta if centered else np.zeros(k)
        certificate = certificate_from_gradient([gradient], scale, "data")
        return _result(problem, theta, intercept, objective, certificate, self.name)

    @staticmethod
    def _solve_dual(K, Z, alpha, W):
        """Solve ``(K + W a I) beta = z`` per alpha group; return (beta, min rcond)."""
        dual = np.empty_like(Z)
        min_rcond = np.inf
        for a, targets in _groups_by_alpha(alpha):
            H = K.copy(order="F")
            H[np.diag_indices_from(H)] += W * a
            solution, rcond = _cholesky_solve(H, np.asfortranarray(Z[:, targets]))
            if solution is None:
                return dual, 0.0
            min_rcond = min(min_rcond, rcond)
            dual[:, targets] = solution
        return dual, min_rcond
