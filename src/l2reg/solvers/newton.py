"""Newton solvers of L2-penalized GLMs (logistic, multinomial, Poisson).

``newton``
    Newton's method with a backtracking (Armijo) line search.  Each step
    builds the Hessian ``X~^T D X~ + diag(penalty)`` with one blocked
    symmetric rank-k pass over X (:func:`l2reg.objective.glm_problem.weighted_gram`),
    factors it with a Cholesky and takes the step ``-H^{-1} g``.  Near the
    solution the convergence is quadratic, so the tight certificate
    (relative gradient norm <= 1e-8) costs one or two steps more than a loose one.
``newton-cg``
    The same outer loop with the step from truncated conjugate gradients on
    Hessian-vector products (two passes over X each): for many features,
    where forming the (K q)^2 Hessian would cost more than a few dozen passes.

Cost per step: one pass over X for ``X d`` (the line search then only
re-evaluates the loss on ``raw + t X d``), one for the gradient ``X~^T g`` and
the Hessian pass.  When a step changes the objective by less than its
rounding error (:meth:`GLMProblem.objective_noise`), Armijo's test is
meaningless and the step is judged by the gradient norm instead (as
scikit-learn's Newton solver does).  The stopping rule is the certificate itself:
``||grad J|| <= tol * (||grad L|| + ||grad penalty||)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from l2reg._warnings import user_stacklevel
from l2reg.exceptions import ConvergenceWarning, InvalidParameterError
from l2reg.objective.glm_problem import HESSIAN_BLOCK_ROWS, GLMEvaluation, GLMProblem
from l2reg.solvers._registry import Capabilities, register
from l2reg.solvers._result import Certificate, SolverResult

__all__ = [
    "NewtonSolver",
    "NewtonCGSolver",
    "glm_result",
    "check_separation",
    "cholesky_with_shift",
    "corrected_solve",
]

#: Armijo's sufficient-decrease constant; 1e-4 is the customary value
#: (Nocedal & Wright, 2006, §3.1): it accepts the full Newton step near the solution.
ARMIJO = 1e-4
#: Halvings of the step before the line search gives up (2^-40 ~ 1e-12).
MAX_HALVINGS = 40
#: Shift added to the diagonal when the Cholesky fails (possible only without
#: a penalty): a fraction of the largest diagonal entry, grown by 100x per retry.
INITIAL_SHIFT = 1e-12
#: A factorization is reused for the next step while each step cuts the
#: gradient norm at least this much: a chord step then costs two passes over
#: X instead of a Hessian pass, and 4x per step still reaches 1e-8 from 1e-4
#: in about 7 cheap steps.
REUSE_RATIO = 0.25
#: A float32 Hessian pass (n q^2 / 2 multiply-adds at BLAS-3 speed) measured
#: 3.4 reuse steps (two memory-bound passes over X plus the loss on n samples)
#: on two cores at n = 100,000, q = 301.  2 is used, a little lower, because a
#: fresh Hessian also serves the following steps (and alphas of a path): on
#: the benchmark path 2 beat 5 and 10 (fewer steps for a few more Hessians).
REFRESH_COST = 2.0
#: A path carries the last factorization to the next alpha when the last
#: step contracted the gradient at least this much (otherwise the next alpha
#: starts with a fresh Hessian at its predicted start, which on the benchmark
#: path cut the steps per alpha from ~4 to ~2).
CARRY_RATIO = 0.03
#: Correction pairs kept on top of a reused factorization (L-BFGS memory).
MAX_PAIRS = 10
#: Below this relative gradient norm a full step is in Newton's local
#: (quadratic) regime, where a poor contraction can only come from the
#: Hessian's precision.
LOCAL_PHASE = 1e-4


def glm_result(
    problem: GLMProblem,
    params,
    evaluation: GLMEvaluation,
    solver: str,
    n_iter: int,
    converged: bool,
    message: str = "",
) -> SolverResult:
    """The :class:`SolverResult` of a GLM solver; coef has shape (K, n_features)."""
    coef, intercept = problem.split(params)
    raw = evaluation.raw
    if problem.has_free_intercept_direction:
        # The objective is invariant to a common shift of the multinomial
        # intercepts; report the representative with zero sum (scikit-learn's).
        shift = intercept.mean()
        intercept, raw = intercept - shift, raw - shift
    certificate = Certificate(
        float(np.linalg.norm(evaluation.gradient)), evaluation.relative_gradient_norm, "data"
    )
    return SolverResult(
        coef=np.array(coef, dtype=np.float64),
        intercept=np.array(intercept, dtype=np.float64),
        objective=np.array([evaluation.objective]),
        certificate=certificate,
        solver=solver,
        n_iter=n_iter,
        converged=converged,
        message=message,
        linear_predictor=raw,
    )


def check_separation(problem: GLMProblem, raw: np.ndarray, n_iter: int) -> None:
    """Without a penalty, a strictly separating iterate proves that no finite minimizer exists."""
    if problem.alpha > 0 or not problem.loss.is_classification:
        return
    if problem.loss.separates(problem.y, raw, problem.weights):
        raise InvalidParameterError(
            f"{problem.owner}: no finite minimizer exists for alpha=0: the classes are "
            f"linearly separable (the coefficients reached at iteration {n_iter} classify every "
            "training sample correctly, and scaling them up lowers the log-loss towards 0). "
            "Use alpha > 0, which always has a unique finite solution."
        )


def warn_not_converged(
    problem: GLMProblem, solver: str, relative: float, tol: float, n_iter: int, reason: str
) -> None:
    warnings.warn(
        f"{problem.owner}: solver {solver!r} stopped after {n_iter} iterations ({reason}) with "
        f"relative gradient norm {relative:.2e} > tol={tol:.1e}. Increase max_iter, loosen tol, "
        "or scale the features.",
        ConvergenceWarning,
        stacklevel=user_stacklevel(),
    )


class _NewtonBase:
    """The outer loop: direction, one pass for ``X d``, backtracking on ``raw + t X d``."""

    name = ""

    def __init__(self, *, tol: float = 1e-8, max_iter: int = 100):
        self.tol = tol
        self.max_iter = max_iter

    def _start(self, problem: GLMProblem) -> None:
        """Reset per-solve state."""

    def _direction(self, problem: GLMProblem, evaluation: GLMEvaluation) -> np.ndarray:
        raise NotImplementedError

    def _after_step(self, problem, step, ratio, evaluation, pair) -> None:
        """Hook: step length, gradient-norm ratio, new evaluation, (step, loss-gradient change)."""

    def _finish(self, problem: GLMProblem) -> None:
        """Hook: the solve is over."""

    def solve(
        self, problem: GLMProblem, *, init=None, init_raw=None, callback=None
    ) -> SolverResult:
        """Minimize ``problem``'s objective from ``init`` (flat parameters) or the default start.

        ``init_raw``, the linear predictor at ``init`` when the caller knows it,
        saves the pass over X that would compute it.
        """
        params = problem.initial_params() if init is None else np.array(init, dtype=np.float64)
        self._start(problem)
        evaluation = problem.evaluate(params, None if init is None else init_raw)
        message = ""
        n_iter = 0
        converged = evaluation.relative_gradient_norm <= self.tol
        while not converged and n_iter < self.max_iter:
            direction = self._direction(problem, evaluation)
            slope = float(evaluation.gradient @ direction)
            if not slope < 0:  # not a descent direction: rounding has taken over
                message = "the Newton direction is not a descent direction (rounding)"
                break
            full_step, raw_step = problem.evaluate_step(params, evaluation, direction)
            accepted = self._line_search(
                problem, params, evaluation, direction, raw_step, slope, full_step
            )
            if accepted is None:
                message = "the line search found no decrease (rounding)"
                break
            previous_params, previous = params, evaluation
            params, evaluation, step = accepted
            n_iter += 1
            check_separation(problem, evaluation.raw, n_iter)
            ratio = float(np.linalg.norm(evaluation.gradient) / np.linalg.norm(previous.gradient))
            change = params - previous_params
            # Change of the loss gradient alone (the penalty's is added back with
            # the current alpha's penalty when the pair is used).
            data_change = evaluation.gradient - previous.gradient - problem.penalty_times(change)
            self._after_step(problem, step, ratio, evaluation, (change, data_change))
            converged = evaluation.relative_gradient_norm <= self.tol
            if callback is not None:
                try:
                    callback(glm_result(problem, params, evaluation, self.name, n_iter, converged))
                except StopIteration:
                    message = "stopped by the callback"
                    break
        self._finish(problem)
        if not converged and not message.startswith("stopped"):
            reason = message or "max_iter reached"
            warn_not_converged(
                problem, self.name, evaluation.relative_gradient_norm, self.tol, n_iter, reason
            )
        return glm_result(problem, params, evaluation, self.name, n_iter, converged, message)

    @staticmethod
    def _line_search(problem, params, evaluation, direction, raw_step, slope, full_step):
        """Backtracking from the full step (already evaluated: ``full_step``).

        Returns ``(params, evaluation, step)`` or None.
        """
        start = evaluation.objective
        gradient_norm = np.linalg.norm(evaluation.gradient)
        value = full_step.objective
        if np.isfinite(value) and value <= start + ARMIJO * slope:
            return params + direction, full_step, 1.0
        noise = problem.objective_noise(params, evaluation.raw)  # only needed from here on
        if (
            np.isfinite(value)
            and value - start <= noise
            and np.linalg.norm(full_step.gradient) < gradient_norm
        ):
            return params + direction, full_step, 1.0
        step = 0.5
        for _ in range(MAX_HALVINGS):
            trial = params + step * direction
            with np.errstate(over="ignore", invalid="ignore"):
                trial_raw = evaluation.raw + step * raw_step
            value = problem.objective_from_raw(trial, trial_raw)
            if np.isfinite(value):
                if value <= start + ARMIJO * step * slope:
                    return trial, problem.evaluate(trial, trial_raw), step
                if value - start <= noise:
                    candidate = problem.evaluate(trial, trial_raw)
                    if np.linalg.norm(candidate.gradient) < gradient_norm:
                        return trial, candidate, step
            step *= 0.5
        return None


@register
class NewtonSolver(_NewtonBase):
    """Newton with a Cholesky of the Hessian; see the module docstring.

    Two refinements keep the number of Hessian passes low without changing
    the fixed point (every step is still checked against the exact float64
    gradient, and the stopping rule is the certificate):

    * **reuse** (the chord method): after a full step that cut the gradient
      norm at least 4-fold, the next step reuses the same factorization, as
      long as the steps still needed at the observed rate cost less than a
      fresh Hessian (about ``REFRESH_COST + 1`` reuse steps); near the
      solution the contraction factor is the small relative change of the
      Hessian.  Each reuse step's (step, gradient change) pair then corrects
      the reused factorization by the L-BFGS two-loop recursion (the
      factorization is the initial matrix), which makes the reuse steps
      superlinear.  Across the fits of a path (same X and weights, the same
      solver object) the last data Hessian and pairs are carried over with the
      new alpha's penalty while they still contracted well (``CARRY_RATIO``).
    * **float32 Hessian passes** for dense X with at least 64 parameters:
      the rank-k updates run in single precision (about twice as fast), so
      the step is an inexact Newton step whose contraction factor is about
      ``cond(H) * 1e-7``.  A fresh float32 Hessian whose full step contracts
      the gradient less than 2-fold near the solution, or that is not
      positive definite, switches the solve to float64 Hessians.
    """

    name = "newton"
    capabilities = Capabilities(
        losses=("logistic", "multinomial", "poisson"),
        sparse=True,
        iterative=True,
        multi_target=False,
        shape="n >= p",
        penalties=("l2", "generalized_l2"),
    )

    def __init__(self, *, tol: float = 1e-8, max_iter: int = 100):
        super().__init__(tol=tol, max_iter=max_iter)
        self._memory = None  # data Hessian carried to the next solve (paths)

    def _start(self, problem):
        memory = self._memory
        same_data = (
            memory is not None
            and memory["X"] is problem.X
            and memory["weights"] is problem.weights
            and memory["data_hessian"].shape == (problem.n_params, problem.n_params)
        )
        self._data_hessian = memory["data_hessian"] if same_data else None
        self._pairs = list(memory["pairs"]) if same_data else []
        # Carry the factorization to the next alpha only while it still
        # contracts strongly: a stale one costs several extra steps per alpha.
        self._reuse = same_data and memory["ratio"] <= CARRY_RATIO
        self._last_ratio = 1.0
        self._factor = None
        self._fresh = False
        self.n_hessians_ = 0
        single_precision = (
            not problem.is_sparse and problem.n_outputs == 1 and problem.n_params >= 64
        )
        self._precision = np.float32 if single_precision else np.float64

    def _direction(self, problem, evaluation):
        if not self._reuse or self._data_hessian is None:
            self._data_hessian = problem.data_hessian(evaluation, dtype=self._precision)
            self.n_hessians_ += 1
            self._factor = None
            self._fresh = True
            self._pairs = []
        else:
            self._fresh = False
        if self._factor is None:
            H = problem.penalized(self._data_hessian)
            if self._precision == np.float32:
                try:
                    self._factor = scipy.linalg.cho_factor(H, check_finite=False)
                except np.linalg.LinAlgError:  # rounding made it indefinite: go to float64
                    self._precision = np.float64
                    self._reuse = False
                    return self._direction(problem, evaluation)
            else:
                self._factor = cholesky_with_shift(H)
        return -self._inverse_times(problem, evaluation.gradient)

    def _inverse_times(self, problem, vector):
        """Apply the quasi-Newton inverse: the factorization updated by the stored pairs."""
        pairs = [
            (change, data_change + problem.penalty_times(change))
            for change, data_change in self._pairs
        ]
        return corrected_solve(self._factor, pairs, vector)

    def _after_step(self, problem, step, ratio, evaluation, pair):
        self._pairs = [*self._pairs[-(MAX_PAIRS - 1) :], pair]
        self._last_ratio = ratio
        local = step == 1.0 and evaluation.relative_gradient_norm < LOCAL_PHASE
        if self._fresh and self._precision == np.float32 and local and ratio > 0.5:
            self._precision = np.float64  # float32 rounding limits the contraction
            self._reuse = False
            return
        self._reuse = step == 1.0 and ratio <= REUSE_RATIO
        if self._reuse and ratio > 0:
            # Steps the reused factorization would still need at this rate; a
            # fresh Hessian costs about REFRESH_COST of them and then converges
            # in one or two (quadratic convergence).
            target = self.tol * evaluation.gradient_scale
            remaining = np.log(target / max(np.linalg.norm(evaluation.gradient), 1e-300))
            remaining /= np.log(ratio)
            self._reuse = remaining <= REFRESH_COST + 1

    def _finish(self, problem):
        if self._data_hessian is not None:
            self._memory = {
                "X": problem.X,
                "weights": problem.weights,
                "data_hessian": self._data_hessian,
                "pairs": self._pairs,
                "ratio": self._last_ratio,
            }


def corrected_solve(factor, pairs, vector) -> np.ndarray:
    """``H^-1 vector`` for the Cholesky ``factor`` of H corrected by (step, gradient change) pairs.

    The L-BFGS two-loop recursion with the (possibly stale) Newton Hessian
    as initial matrix: each reuse step's pair corrects the factorization
    along the directions the iteration has explored, so reused
    factorizations contract superlinearly instead of linearly.  Pairs
    failing the curvature condition are skipped.
    """
    kept = []
    for change, gradient_change in pairs:
        curvature = float(change @ gradient_change)
        if curvature > 1e-12 * np.linalg.norm(change) * np.linalg.norm(gradient_change):
            kept.append((change, gradient_change, 1.0 / curvature))
    q = np.array(vector, dtype=np.float64)
    coefficients = []
    for change, gradient_change, rho in reversed(kept):
        a = rho * float(change @ q)
        q -= a * gradient_change
        coefficients.append(a)
    r = scipy.linalg.cho_solve(factor, q, check_finite=False)
    for (change, gradient_change, rho), a in zip(kept, reversed(coefficients), strict=True):
        b = rho * float(gradient_change @ r)
        r += (a - b) * change
    return r


def cholesky_with_shift(H):
    """Cholesky factor of H; if H is not numerically positive definite, shift its diagonal."""
    shift = 0.0
    base = float(np.max(np.abs(np.diag(H)))) or 1.0
    for _ in range(8):
        try:
            return scipy.linalg.cho_factor(
                H + shift * np.eye(H.shape[0]) if shift else H, lower=False, check_finite=False
            )
        except np.linalg.LinAlgError:
            shift = INITIAL_SHIFT * base if shift == 0 else shift * 100
    raise np.linalg.LinAlgError("the Hessian is not positive definite even after shifting.")


@register
class NewtonCGSolver(_NewtonBase):
    """Newton with truncated conjugate gradients on Hessian-vector products."""

    name = "newton-cg"
    capabilities = Capabilities(
        losses=("logistic", "multinomial", "poisson"),
        sparse=True,
        iterative=True,
        multi_target=False,
        shape="any",
        penalties=("l2", "generalized_l2"),
    )

    def _direction(self, problem, evaluation):
        gradient = evaluation.gradient
        norm = np.linalg.norm(gradient)
        # Forcing term of Eisenstat & Walker: solve to a relative residual of
        # min(0.5, sqrt(||g|| / scale)), so the outer convergence stays
        # superlinear while early steps are cheap.
        scale = evaluation.gradient_scale
        forcing = min(0.5, np.sqrt(norm / scale)) if scale > 0 else 0.5
        target = forcing * norm
        # Jacobi preconditioner: the diagonal of the Hessian is one cheap pass.
        diagonal = _hessian_diagonal(problem, evaluation)
        x = np.zeros_like(gradient)
        residual = -gradient
        z = residual / diagonal
        search = z.copy()
        rz = residual @ z
        for _ in range(max(20, 2 * problem.n_params)):
            product = problem.hessian_vector(evaluation, search)
            curvature = search @ product
            if curvature <= 0:
                break
            step = rz / curvature
            x += step * search
            residual -= step * product
            if np.linalg.norm(residual) <= target:
                break
            z = residual / diagonal
            rz_next = residual @ z
            search = z + (rz_next / rz) * search
            rz = rz_next
        return x if np.any(x) else -gradient / diagonal


def _hessian_diagonal(problem: GLMProblem, evaluation: GLMEvaluation) -> np.ndarray:
    """Diagonal of the Hessian (data part from squared columns) plus the penalty, floored > 0."""
    scale = problem.scaled_weights
    if problem.n_outputs == 1:
        d = (scale * evaluation.second)[:, None]
    else:
        probability = evaluation.second
        d = scale[:, None] * probability * (1.0 - probability)
    X = problem.X
    if hasattr(X, "multiply"):
        per_feature = np.asarray(X.multiply(X).T @ d).T  # (K, p)
    else:
        # Blocks of rows, so that no n x p temporary is allocated.
        per_feature = np.zeros((d.shape[1], X.shape[1]))
        for start in range(0, X.shape[0], HESSIAN_BLOCK_ROWS):
            block = X[start : start + HESSIAN_BLOCK_ROWS]
            per_feature += d[start : start + HESSIAN_BLOCK_ROWS].T @ (block * block)
    if problem.fit_intercept:
        per_feature = np.hstack([per_feature, d.sum(axis=0)[:, None]])
    diagonal = per_feature.ravel() + problem.penalty()
    return np.maximum(diagonal, 1e-12 * max(float(diagonal.max()), 1e-300))
