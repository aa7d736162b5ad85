"""Mixed precision for the ``cholesky`` solver: a float32 Gram refined to float64 accuracy.

The cost of a tall ridge fit is one symmetric rank-k product over X.  In
float32 that product runs about twice as fast, so ``Ridge(precision="mixed")``
forms the Gram matrix in float32 blocks from the float64 X
(:func:`l2reg._mixed_passes.float32_gram`: no float32 copy of X) and uses its
Cholesky factor as the preconditioner of **iterative refinement** whose
residuals are computed in float64 from X:

* ``theta_0 = M^-1 c``, with ``M = G32 + W alpha I`` (``G32`` the centered
  float32-rounded Gram, factored in float64 in equilibrated form) and ``c`` the
  exact float64 ``Xc^T W yc`` from the same pass;
* each pass over X (:func:`l2reg._mixed_passes.residual_products`) gives the
  exact residual of the normal equations ``rho = Xc^T W (yc - Xc theta) -
  W alpha theta``, i.e. ``-W/2`` times the objective's gradient, and the
  correction ``delta = M^-1 rho``.

The error contracts by about ``||I - M^-1 H|| ~ eps32 * cond_eq(H)`` per pass
(eps32 = 6e-8), so a well-conditioned problem needs two or three passes and
one with an equilibrated condition of 1e4 about four or five; each pass reads
X once (~0.06x the float64 Gram's time at 500 columns).

When it stops
-------------
On the certificate of the float64 solver, computed from the data: the
relative gradient norm at the returned point is at most
:data:`GRADIENT_TOL` (or the ``cond_eq * eps`` level a float64 solve itself
reaches, :data:`FLOAT64_EPS`), *and* that pass's correction, an estimate of
the returned coefficients' relative error, is at most :data:`STEP_TOL` (or
that same level).  The correction is then not applied: the certificate is of
the point returned.

When it falls back to float64
-----------------------------
The contraction needs ``eps32 * cond_eq`` well below 1.  Beyond
:data:`MAX_CONDITION` refinement would need so many passes that the float64
fit is faster, and close to ``1 / eps32`` it would not converge:

* a **pilot** of evenly spaced row blocks (about 2% of the rows of a
  200,000 x 500 X) estimates the equilibrated condition before any pass, so a
  problem far over the limit costs only the pilot before the float64 fit;
* the factor of the full float32 Gram measures it again (LAPACK's estimate),
  and a refinement that stops contracting falls back too.

A fallback runs the float64 ``cholesky`` solver and says so in ``solver_``
(``"cholesky (mixed precision fell back to double: ...)"``); with
``precision="mixed"`` it also warns (:class:`~l2reg.SolverFallbackWarning`),
with ``precision="auto"`` it does not (the choice was l2reg's).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace

import numpy as np
from scipy.linalg.blas import get_blas_funcs
from scipy.linalg.lapack import get_lapack_funcs

from l2reg._mixed_passes import float32_gram, residual_products
from l2reg._row_split import single_threaded_after_split
from l2reg._threads import scipy_blas_controller, single_blas_thread
from l2reg._warnings import user_stacklevel
from l2reg.exceptions import SolverFallbackWarning
from l2reg.objective.problem import Problem
from l2reg.solvers._result import SolverResult, certificate_from_gradient
from l2reg.solvers.direct import CholeskySolver

__all__ = [
    "PRECISIONS",
    "MIXED_SOLVER",
    "solve_with_precision",
    "mixed_precision_pays",
    "MAX_CONDITION",
]

#: The values of Ridge's ``precision`` parameter.
PRECISIONS = ("double", "mixed", "auto")
#: ``solver_`` of a mixed-precision fit.
MIXED_SOLVER = "cholesky (mixed precision)"
#: Largest equilibrated condition number refined from float32: there the
#: contraction per pass is about ``eps32 * cond = 0.06`` (measured: 0.02-0.1),
#: ten passes or more, and the float64 fit is faster; beyond ``1 / eps32``
#: refinement would not converge at all.
MAX_CONDITION = 1e6
#: A pilot of fewer rows than ``PILOT_MIN_RATIO * p`` cannot estimate the
#: condition (a random n x p sample's Gram is ``((1 + sqrt(p/n)) / (1 -
#: sqrt(p/n)))^2`` times worse conditioned than the population's: 4.3x at
#: n = 8p), so the screen is skipped and only the full Gram decides.
PILOT_MIN_RATIO = 8
#: The pilot's allowance for that inflation: it rejects only problems whose
#: estimate exceeds ``PILOT_SLACK * MAX_CONDITION``.
PILOT_SLACK = 5.0
#: Rows of the pilot: ``PILOT_MIN_RATIO * p``, at least this many, at most
#: ``1 / PILOT_MAX_SHARE`` of X, in :data:`PILOT_BLOCKS` evenly spaced blocks
#: (sorted data: the first rows alone may not represent X).
PILOT_MIN_ROWS = 2048
PILOT_MAX_SHARE = 1 / 16
PILOT_BLOCKS = 8
#: The certificate: a float64 direct solve reaches a relative gradient of
#: ~1e-15 to 1e-14; 1e-12 leaves room for the sum over n rows of the pass.
GRADIENT_TOL = 1e-12
#: The last correction (an estimate of the relative error of the returned
#: coefficients) must be this small, or at the ``cond * eps`` level.
STEP_TOL = 1e-12
FLOAT64_EPS = float(np.finfo(np.float64).eps)
FLOAT32_EPS = float(np.finfo(np.float32).eps)
#: A pass whose relative gradient is not below this fraction of the previous
#: one has stopped contracting (the float64 rounding floor, or divergence).
STALL_RATIO = 0.5
MAX_PASSES = 30
#: ``precision="auto"`` uses mixed precision from this many columns: below
#: it each refinement pass (O(n p)) is too large a share of the float32
#: Gram's saving (O(n p^2)) (benchmarks/ridge.py).
AUTO_MIN_FEATURES = 256
#: ... and from this many multiply-adds of the Gram (n p^2 / 2), where the
#: threads and the pilot are a negligible share of the fit.
AUTO_MIN_WORK = 5e9


_log = logging.getLogger(__name__)


class _FallbackError(Exception):
    """Mixed precision cannot reach float64 accuracy here; the message says why."""


def mixed_precision_pays(problem: Problem) -> str:
    """``""`` when mixed precision applies to ``problem`` and pays, else why not."""
    reason = _not_applicable(problem)
    if reason:
        return reason
    n, p = problem.X.shape
    if p < AUTO_MIN_FEATURES or n * p * p / 2 < AUTO_MIN_WORK:
        return f"{n} x {p} is too small for the float32 Gram to pay"
    return ""


def _not_applicable(problem: Problem) -> str:
    X = problem.X
    if not isinstance(X, np.ndarray) or X.dtype != np.float64:
        return "X is not a dense float64 array"
    if problem.penalize_intercept:
        return "penalize_intercept=True is solved in double precision"
    if problem.penalty is not None:
        return "a generalized L2 penalty is solved in double precision"
    if X.shape[0] < X.shape[1]:
        return "p > n"
    return ""


def solve_with_precision(solver, problem: Problem, precision: str) -> SolverResult:
    """``solver.solve(problem)``, in mixed precision where ``precision`` asks for it.

    Parameters
    ----------
    solver : solver instance
        The solver the registry chose; only ``cholesky`` has a mixed form.
    problem : Problem
    precision : {"double", "mixed", "auto"}
        ``"double"``: the solver as it is.  ``"mixed"``: mixed precision for
        every float64 problem it applies to (dense float64 X, n >= p, an
        unpenalized or no intercept), with a warning when it falls back.
        ``"auto"``: mixed precision where it pays (:func:`mixed_precision_pays`),
        silently falling back.
    """
    if precision == "double" or solver.name != CholeskySolver.name:
        return solver.solve(problem)
    skip = _not_applicable(problem) if precision == "mixed" else mixed_precision_pays(problem)
    if skip:
        return solver.solve(problem)
    try:
        with single_threaded_after_split():
            return _MixedRefinement(problem).solve()
    except _FallbackError as fallback:
        reason = str(fallback)
    if precision == "mixed":
        warnings.warn(
            f"{problem.owner}: mixed precision fell back to double precision because {reason}. "
            "Pass precision='double' to choose it directly and silence this warning.",
            SolverFallbackWarning,
            stacklevel=user_stacklevel(),
        )
    result = solver.solve(problem)
    return replace(
        result,
        solver=f"{result.solver} (mixed precision fell back to double: {reason})",
        message=f"mixed precision fell back to double: {reason}; {result.message}".rstrip("; "),
    )


class _Factor:
    """Cholesky of ``H`` in equilibrated form (powers of two), float64, reused per pass."""

    def __init__(self, H: np.ndarray):
        diagonal = np.diag(H).copy()
        if not (np.all(diagonal > 0) and np.all(np.isfinite(diagonal))):
            raise _FallbackError("the float32 Gram matrix is not positive definite")
        self.scale = np.exp2(-np.round(np.log2(diagonal) / 2))
        H = H * self.scale[:, None] * self.scale[None, :]
        potrf, pocon, self._potrs = get_lapack_funcs(("potrf", "pocon", "potrs"), (H,))
        anorm = float(np.abs(H).sum(axis=0).max())
        self.factor, info = potrf(np.asfortranarray(H), lower=0, clean=0, overwrite_a=1)
        if info != 0:
            raise _FallbackError("the float32 Gram matrix is not positive definite")
        rcond, _ = pocon(self.factor, anorm)
        self.condition = 1.0 / rcond if rcond > 0 else np.inf

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        solution, _ = self._potrs(self.factor, np.asfortranarray(rhs * self.scale[:, None]))
        return solution * self.scale[:, None]


def _condition_over(condition: float, limit: float, what: str) -> None:
    if not condition <= limit:
        raise _FallbackError(
            f"the {what} equilibrated condition number ~{condition:.1e} exceeds {limit:.0e}, "
            "the limit of float32 refinement"
        )


def _pilot_rows(n: int, p: int) -> np.ndarray | None:
    """Indices of the pilot's evenly spaced row blocks, or None when too few rows can go."""
    rows = min(max(PILOT_MIN_RATIO * p, PILOT_MIN_ROWS), int(n * PILOT_MAX_SHARE))
    if rows < PILOT_MIN_RATIO * p:
        return None
    length = -(-rows // PILOT_BLOCKS)
    starts = np.linspace(0, n - length, PILOT_BLOCKS).astype(np.intp)
    return (starts[:, None] + np.arange(length)).ravel()


class _MixedRefinement:
    """One mixed-precision solve; the module docstring gives the method."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.W = problem.weight_sum
        self.centered = problem.fit_intercept

    def _pilot(self):
        """The shift of the float32 pass, after screening the condition on a pilot."""
        problem, X = self.problem, self.problem.X
        n, p = X.shape
        rows = _pilot_rows(n, p)
        if rows is None:
            return X[: min(n, PILOT_MIN_ROWS)].mean(axis=0) if self.centered else np.zeros(p)
        block = X[rows]  # a copy of ~1/16 of X at most
        weights = None if problem.sample_weight is None else problem.sample_weight[rows]
        w = np.ones(len(rows)) if weights is None else weights
        total = w.sum()
        # einsum and SciPy's syrk, not NumPy's BLAS: its threads would still
        # spin when the Cholesky and the split passes start (see l2reg._blas).
        if not total > 0:
            return np.zeros(p)
        shift = np.einsum("i,ij->j", w, block) / total if self.centered else np.zeros(p)
        block -= shift
        block *= np.sqrt(w)[:, None]
        gram = get_blas_funcs("syrk", (block,))(self.W / total, block.T, trans=0, lower=0)
        gram = np.triu(gram) + np.triu(gram, 1).T
        gram[np.diag_indices(p)] += self.W * float(np.min(problem.alpha))
        # One BLAS thread: a threaded 300 x 300 Cholesky took 1.1 s instead of
        # 1 ms on the loaded 2-core machine (its workers fight for the cores).
        with single_blas_thread(scipy_blas_controller()):
            try:
                condition = _Factor(gram).condition
            except _FallbackError:
                return shift  # a degenerate pilot says nothing: the full Gram decides
        _condition_over(condition, PILOT_SLACK * MAX_CONDITION, "pilot's estimated")
        return shift

    def solve(self) -> SolverResult:
        problem, X, W = self.problem, self.problem.X, self.W
        shift = self._pilot()
        lower, cross = float32_gram(X, problem.Y, problem.sample_weight, shift)
        if not (np.all(np.isfinite(np.diag(lower))) and np.all(np.isfinite(cross))):
            raise _FallbackError("X holds non-finite values or its squares overflow float32")
        gram = lower + np.tril(lower, -1).T
        weights = problem.weights
        x_mean = cross[:, -1] / W
        y_mean = np.einsum("i,ij->j", weights, problem.Y) / W  # no BLAS: see _pilot
        if self.centered:
            # sum w (x - m)(x - m)^T = sum w (x - s)(x - s)^T - W (m - s)(m - s)^T
            offset = x_mean - shift
            gram -= W * np.outer(offset, offset)
            c = cross[:, :-1] - W * np.outer(x_mean, y_mean)
            yc = problem.Y - y_mean
        else:
            c = cross[:, :-1]
            yc = problem.Y
        yy = np.einsum("i,ij,ij->j", weights, yc, yc)
        groups = []
        for a in np.unique(problem.alpha):
            H = gram.copy()
            H[np.diag_indices_from(H)] += W * a
            factor = _Factor(H)
            _condition_over(factor.condition, MAX_CONDITION, "float32 Gram's")
            groups.append((a, np.flatnonzero(problem.alpha == a), factor))
        return self._refine(groups, c, x_mean, y_mean, yy)

    def _correct(self, groups, rhs):
        correction = np.empty_like(rhs)
        for _, targets, factor in groups:
            correction[:, targets] = factor.solve(rhs[:, targets])
        return correction

    def _refine(self, groups, c, x_mean, y_mean, yy) -> SolverResult:
        problem, W, alpha = self.problem, self.W, self.problem.alpha
        condition = max(factor.condition for *_, factor in groups)
        floor = FLOAT64_EPS * condition
        theta = self._correct(groups, c)
        previous = np.inf
        for passes in range(1, MAX_PASSES + 1):
            offset = y_mean - x_mean @ theta if self.centered else np.zeros_like(y_mean)
            data = residual_products(problem.X, problem.Y, theta, offset, problem.sample_weight)
            residual = data - W * alpha * theta  # -W/2 times the gradient
            scale = 2 * (np.linalg.norm(c - data, axis=0) + np.linalg.norm(c, axis=0)) / W
            scale = scale + 2 * alpha * np.linalg.norm(theta, axis=0)
            certificate = certificate_from_gradient([-2 * residual / W], scale, "data")
            relative = certificate.relative_gradient_norm
            correction = self._correct(groups, residual)
            step = np.linalg.norm(correction) / max(np.linalg.norm(theta), np.finfo(float).tiny)
            _log.debug("pass %d: relative gradient %.2e, step %.2e", passes, relative, step)
            if relative <= max(GRADIENT_TOL, floor) and step <= max(STEP_TOL, floor):
                break
            if step > STALL_RATIO * previous:  # no longer contracting
                raise _FallbackError(
                    f"refinement stopped contracting at relative gradient {relative:.1e} "
                    f"(correction {step:.1e}) after {passes} passes"
                )
            previous = step
            theta = theta + correction
        else:
            raise _FallbackError(f"refinement did not converge in {MAX_PASSES} passes")
        intercept = offset if self.centered else np.zeros(problem.n_targets)
        # J = (yy - 2 theta.c + theta.G theta) / W + alpha ||theta||^2, with G theta = c - data.
        objective = (yy - np.sum(theta * (c + data), axis=0)) / W + alpha * np.sum(theta**2, axis=0)
        return SolverResult(
            coef=np.ascontiguousarray(theta.T),
            intercept=np.asarray(intercept, dtype=np.float64),
            objective=objective,
            certificate=certificate,
            solver=MIXED_SOLVER,
            n_iter=passes,
            message=(
                f"float32 Gram (equilibrated condition ~{condition:.1e}) refined in {passes} "
                "float64 residual passes"
            ),
        )
