"""Direct (non-iterative) solvers of penalized least squares.

``cholesky``
    Primal normal equations ``(G + W alpha I) theta = c`` from the one-pass
    sufficient statistics (:mod:`l2reg.objective.gram`); its cost is one
    symmetric rank-k update over X plus a p x p Cholesky.  Natural for n >= p.
``kernel``
    Dual form for p > n: with ``A = sqrt(w) * (X - x_mean)`` and
    ``z = sqrt(w) * (y - y_mean)`` the primal solution is
    ``theta = A^T (A A^T + W alpha I)^{-1} z`` (push-through identity), so the
    cost is one rank-k update giving the n x n kernel
    (:mod:`l2reg.objective.kernel`) plus an n x n Cholesky.
``svd``
    Singular value decomposition of the (weighted, centered) data.  Backward
    stable, handles ``alpha=0`` and rank deficiency with the minimum-norm
    solution.  The fallback of the other two.

When the normal equations are trusted
-------------------------------------
Both systems are factored in equilibrated form, ``D H D`` with ``D`` the
powers of two nearest ``diag(H)^{-1/2}`` (so the scaling itself rounds
nothing), and LAPACK's condition estimate is taken of that matrix: by van der
Sluis' theorem it is the equilibrated condition, not the raw one, that
governs Cholesky's accuracy, so the units of the columns do not change the
solver.  The solution is kept when the centering loss of the statistics times
that condition number fits the accuracy budget of
:mod:`l2reg.objective.accuracy` (half of the digits of float64).  When only the
centering loss breaks it, the statistics (or the kernel) are recomputed
exactly centered, one more pass, and the budget checked again; when the
conditioning alone breaks it, ``svd`` takes over with a
:class:`~l2reg.exceptions.SolverFallbackWarning`.  float32 statistics are kept
under the same rule with float32's budget, and are otherwise recomputed in
float64.

Notation: ``W = sum(w)``; targets are columns (``theta`` is p x k) inside
this module and rows in the :class:`SolverResult`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import get_lapack_funcs

from l2reg._blas import matmul
from l2reg._row_split import single_threaded_after_split
from l2reg._validation import check_finite
from l2reg._warnings import user_stacklevel
from l2reg.exceptions import AccuracyWarning, IncompatibleOptionsError, SolverFallbackWarning
from l2reg.objective.accuracy import (
    CENTERING_SHARE,
    centering_loss,
    digits_lost,
    max_amplification,
    within_budget,
)
from l2reg.objective.gram import GramStats, gram_stats_about
from l2reg.objective.kernel import (
    PILOT_ROWS,
    design_kernel,
    exact_design_kernel,
    shifted_transpose_times,
)
from l2reg.objective.problem import Problem, evaluate_from_stats
from l2reg.solvers._equilibration import equilibrated_upper
from l2reg.solvers._registry import Capabilities, register
from l2reg.solvers._result import SolverResult, certificate_from_gradient
from l2reg.solvers.krylov import sparse_fallback
from l2reg.solvers.svd import SVDSolver

__all__ = ["CholeskySolver", "KernelSolver", "SVDSolver"]


def _cholesky_solve(
    H: np.ndarray,
    rhs: np.ndarray,
    shift: float = 0.0,
    *,
    enough: float = np.inf,
    rounding: float = 0.0,
):
    """Solve ``(H + shift I) x = rhs`` for symmetric positive definite H, in equilibrated form.

    ``x = D solve(D H D, D rhs)`` with ``D = 2^-round(log2(H_jj) / 2)``: the
    diagonal of ``D H D`` lies in [1/2, 2], so its condition number is within a
    factor 4 of the Jacobi-equilibrated one, and the power-of-two scaling is
    exact (the factor is that of H, scaled).  H is not modified
    (:func:`~l2reg.solvers._equilibration.equilibrated_upper` writes the scaled
    system into a fresh matrix).

    Returns ``(x, rcond)`` with LAPACK's estimate of the reciprocal 1-norm
    condition number of ``A = D (H + shift I) D``; ``(None, 0.0)`` when H is
    not numerically positive definite.  A zero (or negative, or non-finite)
    diagonal entry says so at once: a constant column without penalty is
    singular.

    The estimate (``?pocon``: about ten triangular solves, 30 ms at p = 2,000
    where the factorization takes 50-70 ms) is skipped when a proven lower
    bound of rcond already reaches ``enough`` (what the caller's budget asks),
    and that bound is returned instead (:func:`_rcond_lower_bound`).
    """
    system = equilibrated_upper(H, shift)
    if system is None:
        return None, 0.0
    A, scale, anorm = system
    potrf, pocon, potrs = get_lapack_funcs(("potrf", "pocon", "potrs"), (A,))
    factor, info = potrf(A, lower=0, clean=0, overwrite_a=1)
    if info != 0 or not np.all(np.isfinite(np.diag(factor))):
        return None, 0.0
    bound = _rcond_lower_bound(shift, scale, anorm, rounding)
    if bound >= enough:
        rcond = bound
    else:
        rcond, _ = pocon(factor, anorm)
    solution, info = potrs(factor, np.asfortranarray(rhs * scale[:, None]), lower=0)
    if info != 0:
        return None, 0.0
    return solution * scale[:, None], float(rcond)


def _rcond_lower_bound(shift: float, scale: np.ndarray, anorm: float, rounding: float) -> float:
    """A proven lower bound of rcond_1 of ``A = D (H + shift I) D``; 0 when it proves nothing.

    ``scale`` is the diagonal of D, ``anorm`` the 1-norm of A, and ``rounding``
    bounds how far rounding in forming H (positive semidefinite in exact
    arithmetic) may have moved the eigenvalues of ``D H D`` below zero.  Then
    ``lambda_min(A) >= shift min(D^2) - rounding``, ``||A^-1||_1 <= sqrt(p) /
    lambda_min(A)``, and ``rcond_1 >= lambda_min(A) / (sqrt(p) ||A||_1)``.
    """
    floor = shift * float(np.min(scale)) ** 2 - rounding
    if not (floor > 0 and anorm > 0):
        return 0.0
    return floor / (np.sqrt(scale.shape[0]) * anorm)


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
        stacklevel=user_stacklevel(),
    )


def _over_budget(matrix: str, loss: float, rcond: float) -> str:
    """Why ``svd`` takes over: the measured digits against the budget."""
    if not rcond > 0:
        return f"the penalized {matrix} matrix is not positive definite"
    budget = np.log10(max_amplification(np.float64))
    return (
        f"the penalized {matrix} matrix is ill-conditioned (equilibrated condition number "
        f"~{1 / rcond:.1e}, centering loss {loss:.3g}: {digits_lost(loss, rcond):.1f} "
        f"digits lost, over the budget of {budget:.1f})"
    )


def _normal_equations(stats: GramStats, problem: Problem, loss: float):
    """Solve the primal normal equations for every target; return (theta, b, min rcond).

    Unpenalized intercept: ``(G + W a I) theta = c`` with centered G, c and
    ``b = y_mean - x_mean.theta``.  No intercept: the same with uncentered
    moments.  Penalized intercept: minimizing ``(t - b)^2 + a b^2`` over b
    (``t = y_mean - x_mean.theta``) gives ``b = t / (1 + a)`` and leaves
    ``a t^2 / (1 + a)``, a rank-one term in theta:
    ``(G + W a I + W a/(1+a) x_mean x_mean^T) theta = c + W a/(1+a) x_mean y_mean``.
    The rcond is that of the equilibrated system (:func:`_cholesky_solve`); ``loss``
    is the statistics' centering loss (:func:`_centering_loss`).
    """
    W = stats.weight_sum
    G, c = stats.xx, stats.xy
    if not problem.fit_intercept:
        G = G + W * np.outer(stats.x_mean, stats.x_mean)
        c = c + W * np.outer(stats.x_mean, stats.y_mean)
    theta = np.empty((stats.n_features, stats.n_targets))
    intercept = np.zeros(stats.n_targets)
    min_rcond = np.inf
    # What the budget asks of rcond, and how far rounding in forming G can have
    # moved its equilibrated eigenvalues: each entry is a sum of n terms (error
    # <= n eps times their magnitudes, which the centering loss bounds relative
    # to the equilibrated diagonal), p entries a row.
    enough = loss / max_amplification(G.dtype)
    rounding = 2.0 * stats.n_features * max(stats.n_samples, 1) * np.finfo(G.dtype).eps * loss
    for a, targets in _groups_by_alpha(problem.alpha):
        H, rhs = G, c[:, targets]
        if problem.penalize_intercept:
            shrink = W * a / (1.0 + a)
            H = G + shrink * np.outer(stats.x_mean, stats.x_mean)
            rhs = rhs + shrink * np.outer(stats.x_mean, stats.y_mean[targets])
        solution, rcond = _cholesky_solve(H, rhs, W * a, enough=enough, rounding=rounding)
        min_rcond = min(min_rcond, rcond)
        if solution is None:
            return None, None, 0.0
        theta[:, targets] = solution
        if problem.fit_intercept:
            offset = stats.y_mean[targets] - stats.x_mean @ solution
            intercept[targets] = offset / (1.0 + a) if problem.penalize_intercept else offset
    return theta, intercept, min_rcond


def _centering_loss(stats: GramStats, problem: Problem) -> float:
    """The loss centering cost the system, relative to its penalized diagonal.

    1 without an intercept, whose uncentered moments ``xx + W m m^T``
    carry only their own rounding.  The smallest alpha's ridge is the
    conservative one.  The targets' loss is not counted: the Gram pass keeps
    it within its share, and a constant target has nothing to lose.
    """
    if not problem.fit_intercept:
        return 1.0
    return stats.centering_loss(stats.weight_sum * float(np.min(problem.alpha)), targets=False)


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
    capabilities = Capabilities(
        losses=("squared",),
        sparse=True,
        float32=True,
        shape="n >= p",
        penalties=("l2", "generalized_l2"),
    )

    def solve(self, problem: Problem) -> SolverResult:
        if problem.penalty is not None:  # the general quadratic penalty: its own module
            from l2reg.solvers.penalized import solve_generalized

            with single_threaded_after_split():
                return solve_generalized(problem, self.name)
        # The Gram pass may split X across cores; the small calls after it then
        # stay single-threaded too (see single_threaded_after_split).
        with single_threaded_after_split():
            result = self._solve_normal_equations(problem)
        if isinstance(result, SolverResult):
            return result
        if not problem.has_rows:
            return self._without_rows(problem, reason=result)
        if sp.issparse(problem.X):  # no SVD of a sparse X: the iterative solver
            return sparse_fallback(problem, self.name, reason=result)
        _warn_fallback(problem, self.name, reason=result)
        return SVDSolver().solve(problem, fallback_reason=result)

    def _without_rows(self, problem: Problem, reason: str) -> SolverResult:
        """Over budget with statistics alone: no SVD of the rows to fall back to.

        A positive definite system keeps its Cholesky solution, with an
        :class:`~l2reg.exceptions.AccuracyWarning` saying how many digits it
        may have lost (its certificate measures the rest); a singular one
        (``alpha = 0`` on collinear columns) has no solution from the moments
        alone, and raises.
        """
        result = self._solve_normal_equations(problem, budget=False)
        if result is None:
            raise IncompatibleOptionsError(
                f"{problem.owner}: {reason}, and without the rows there is no "
                "backward-stable 'svd' solution to fall back to. Use alpha > 0, or fit "
                "the rows themselves (fit(X, y)) for the minimum-norm solution."
            )
        warnings.warn(
            f"{problem.owner}: {reason}; the statistics alone allow no backward-stable "
            "'svd' solve, so the Cholesky solution is kept (certificate_ measures it). "
            "A larger alpha, or fit(X, y) on the rows, is more accurate.",
            AccuracyWarning,
            stacklevel=user_stacklevel(),
        )
        return result

    def _solve_normal_equations(self, problem: Problem, budget: bool = True):
        """The result, or why the SVD must take over.

        ``budget=False`` (statistics without rows, already over budget):
        the result whatever the budget, or None when the system is singular.
        """
        stats = problem.gram()
        _raise_if_not_finite(problem, np.concatenate([np.diag(stats.xx), stats.yy]))
        loss = _centering_loss(stats, problem)
        theta, intercept, rcond = _normal_equations(stats, problem, loss)
        if not budget and theta is None:
            return None
        if problem.X.dtype == np.float32 and not within_budget(loss, rcond, np.float32):
            stats = problem.gram(np.float64)
            loss = _centering_loss(stats, problem)
            theta, intercept, rcond = _normal_equations(stats, problem, loss)
        if (
            budget
            and problem.has_rows
            and not within_budget(loss, rcond)
            and loss > 1.0
            and within_budget(1.0, rcond)
        ):
            # Only the centering breaks the budget: one more pass, exactly centered.
            stats = gram_stats_about(
                problem.X,
                problem.Y,
                problem.sample_weight,
                (stats.x_mean, stats.y_mean),
                dtype=np.float64,
            )
            loss = _centering_loss(stats, problem)
            theta, intercept, rcond = _normal_equations(stats, problem, loss)
        if budget and not within_budget(loss, rcond):
            return _over_budget("Gram", loss, rcond)
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


def _design_transpose_times(problem, sqrt_weight, M, shift):
    """``(X - shift)^T (sqrt(w) * M)``, the column sums of ``sqrt(w) * M`` and the
    weighted column means of X minus ``shift``, in one pass over X (the means
    ride along as a column).

    ``shift`` None: X as it is, one product.  Otherwise the blocked shifted
    pass of :func:`l2reg.objective.kernel.shifted_transpose_times`, for X with
    large offsets.
    """
    weights = problem.weights
    scaled = M if sqrt_weight is None else M * sqrt_weight[:, None]
    columns = np.vstack([scaled.T, weights / weights.sum()]).astype(problem.X.dtype)
    if shift is None:
        # SciPy's BLAS, as the kernel's syrk just before it (see l2reg._blas).
        product = matmul(problem.X, columns.T, transpose_a=True)
    else:
        product = shifted_transpose_times(problem.X, shift, columns.T)
    return product[:, :-1].astype(np.float64), scaled.sum(axis=0), product[:, -1].astype(float)


@register
class KernelSolver:
    """Dual (kernel) normal equations for p > n; see the module docstring.

    The n x n kernel comes from :func:`l2reg.objective.kernel.design_kernel`:
    one ``?syrk`` over X as it is, centered after the fact when a pilot and
    then the kernel itself show that this is accurate, else the blocked
    exactly-centered pass.  One more pass over X (a matrix product with a few
    columns) gives the coefficients, the means and the certificate.

    A problem that carries its design's kernel
    (:meth:`~l2reg.objective.problem.Problem.with_kernel`: ``RidgeCV`` and
    ``ridge_path`` after their eigendecomposition) skips the kernel pass; the
    kernel's recorded centering loss enters the budget as a fresh one's
    would, and a read of X's row norms decides, as ``design_kernel`` would,
    whether the last product must be shifted.
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

        design = {
            "centered": centered,
            "ones_column": problem.penalize_intercept,
        }
        cached = problem.kernel
        if cached is not None and (cached.centered, cached.ones_column) != (
            centered,
            problem.penalize_intercept,
        ):
            cached = None  # formed for another design (the problem was changed since)
        if cached is None:
            # Offsets large enough for the exact kernel are large enough to
            # spoil X^T beta too: the last pass is then shifted as well.
            K, loss, exact = design_kernel(problem.X, problem.sample_weight, **design)
        else:
            # The caller's kernel (RidgeCV, ridge_path): no kernel pass, and
            # float64 whatever X's precision.  Whether the last pass must be
            # shifted is measured as design_kernel would.
            K, loss = cached.weighted(sqrt_weight), cached.loss
            exact = centered and self._large_offsets(problem.X, cached.matrix)
        _raise_if_not_finite(problem, np.diag(K))
        # A profiled intercept centers the design, so sqrt(w) spans the kernel's
        # null space (A^T sqrt(w) = 0) and z is orthogonal to it.
        null_direction = None
        if centered:
            root = np.ones(problem.n_samples) if sqrt_weight is None else sqrt_weight
            null_direction = root / np.linalg.norm(root)
        dual, min_rcond = self._solve_dual(K, Z, problem.alpha, W, null_direction)
        float32 = problem.X.dtype == np.float32 and cached is None
        if (float32 and not within_budget(loss, min_rcond, np.float32)) or (
            not within_budget(loss, min_rcond) and loss > 1.0 and within_budget(1.0, min_rcond)
        ):
            # float32 rounding, or only the centering, breaks the budget: the
            # exactly centered float64 kernel, one more pass.
            K = exact_design_kernel(problem.X, problem.sample_weight, **design)
            loss, exact = 1.0, True
            dual, min_rcond = self._solve_dual(K, Z, problem.alpha, W, null_direction)
        if not within_budget(loss, min_rcond):
            reason = _over_budget("kernel", loss, min_rcond)
            _warn_fallback(problem, self.name, reason)
            return SVDSolver().solve(problem, fallback_reason=reason)

        # theta = A^T beta; the primal gradient is (2/W) A^T r with the dual
        # residual r = K beta + W a beta - z, since
        # A^T (K beta - z) + W a A^T beta = A^T (K beta + W a beta - z).
        fitted = matmul(K, dual)  # = A theta
        residual = fitted + W * problem.alpha * dual - Z
        k = problem.n_targets
        # Any shift near the mean serves (the means column corrects it exactly):
        # that of the first rows costs no pass over X.
        shift = (
            np.mean(problem.X[:PILOT_ROWS], axis=0, dtype=np.float64)
            if centered and exact
            else None
        )
        product, column_sums, mean_offset = _design_transpose_times(
            problem, sqrt_weight, np.hstack([dual, residual, Z, fitted]), shift
        )
        x_mean = mean_offset if shift is None else shift + mean_offset
        if problem.penalize_intercept:
            products = np.vstack([product, column_sums[None, :]])
        elif centered:
            products = product - np.outer(mean_offset, column_sums)
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
    def _large_offsets(X, centered_kernel) -> bool:
        """Whether X's offsets would spoil an unshifted ``X^T M`` (centered designs).

        The measure of :func:`l2reg.objective.kernel.design_kernel`: the
        centering loss ``max_i ||x_i||^2 / K_ii`` of the after-the-fact kernel,
        against the share of the budget.  The squared row norms cost one read
        of X (~1/50 of the kernel's O(n^2 p) on 2,000 x 20,000); the shifted
        pass they can spare costs several.
        """
        with np.errstate(invalid="ignore", over="ignore"):
            row_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        return centering_loss(row_norms, np.diag(centered_kernel)) > CENTERING_SHARE

    @staticmethod
    def _solve_dual(K, Z, alpha, W, null_direction=None):
        """Solve ``(K + W a I) beta = z`` per alpha group; return (beta, min rcond).

        ``null_direction`` (unit u with ``K u = 0`` and ``u^T z = 0``: the
        centered design's ``sqrt(w)``) is deflated: ``H + d u u^T``, with d the
        mean diagonal of K, has the same solution (u is an eigenvector of H and
        z has no part along it), while H alone has the eigenvalue ``W a`` along
        u.  That eigenvalue would dominate the condition estimate at small
        alpha though it costs no accuracy (``theta = A^T beta`` and
        ``A^T u = 0``): on 2,000 x 20,000 at alpha 1e-3 it made the budget
        reject the one-product kernel and recompute it exactly (3x the time).
        """
        dual = np.empty_like(Z)
        min_rcond = np.inf
        deflation = 0.0
        if null_direction is not None:
            deflation = float(np.mean(np.diag(K)))
        for a, targets in _groups_by_alpha(alpha):
            H = K
            if deflation > 0:
                H = K + deflation * np.outer(null_direction, null_direction)
            solution, rcond = _cholesky_solve(H, Z[:, targets], shift=W * a)
            if solution is None:
                return dual, 0.0
            min_rcond = min(min_rcond, rcond)
            dual[:, targets] = solution
        return dual, min_rcond
