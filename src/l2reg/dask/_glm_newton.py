"""Newton's method over the row blocks: one pass per step, a Hessian only where it pays.

Each step is one distributed pass at the trial point (the groups of
:mod:`l2reg.dask._groups` run :func:`~l2reg.dask._glm_passes.point_terms`,
their sums merged); the client adds the penalty and judges the step (Armijo, as
:class:`~l2reg.solvers.newton.NewtonSolver`, one more pass per halving).
The stopping rule and ``certificate_`` are the in-memory ones: the relative
gradient norm, from the float64 gradient of every pass.

Whether a pass also forms the Hessian at its point must be decided before
the pass (the alternative, a second pass at the same point, reads X again
and costs another round trip).  The Hessian only chooses the step, so two
economies of :class:`~l2reg.solvers.newton.NewtonSolver` carry over
without changing the fixed point:

* **float32 Hessians** (``ssyrk`` on rows rounded to float32) for at least
  64 parameters; a fresh float32 Hessian whose full step contracts the
  gradient less than 2-fold near the solution switches to float64.
* **Reuse**: a pass skips the Hessian when the step from its point can reuse
  the current factorization, corrected by the (step, gradient change) pairs
  of the reuse steps (L-BFGS two-loop, :func:`~l2reg.solvers.newton.corrected_solve`).
  The skip is predicted from the last contraction ratio ``r``: a Newton
  step from a fresh Hessian contracts by about ``r^2`` (quadratic
  convergence), a reused one by about ``r`` (twice the fresh step's ratio
  just after the Hessian was formed).  A pass skips the Hessian when its
  point is predicted to meet the tolerance, or when the reused factorization
  is predicted to reach it within :data:`REUSE_STEPS` more steps.

A wrong prediction costs one cheap step, never the certificate: every step
is judged on the exact gradient, and the next pass forms a Hessian again.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from l2reg._threads import blas_controller, single_blas_thread
from l2reg.dask._glm_passes import PointTerms, point_terms
from l2reg.dask._groups import BlockGroups
from l2reg.exceptions import InvalidParameterError
from l2reg.solvers.newton import (
    ARMIJO,
    LOCAL_PHASE,
    MAX_HALVINGS,
    MAX_PAIRS,
    REUSE_RATIO,
    cholesky_with_shift,
    corrected_solve,
)

__all__ = ["DistributedNewton", "Point", "FLOAT32_MIN_PARAMS", "client_blas"]

#: Float32 Hessians from this many parameters on (NewtonSolver's rule).
FLOAT32_MIN_PARAMS = 64
#: Steps with a reused factorization worth one Hessian.  Measured on the
#: 2-worker benchmark (400,000 x 200 in 8 blocks, one thread per worker,
#: machine lightly loaded): a pass with a float32 Hessian took 0.30-0.31 s,
#: one without 0.09-0.11 s (the ~0.03 s round trip included), so a Hessian
#: costs two reuse steps, and a fresh one then converges in about one:
#: three steps in all (NewtonSolver's ``REFRESH_COST + 1``).
REUSE_STEPS = 3.0


#: Up to this many parameters the client's q x q algebra runs on one BLAS
#: thread (as the ``svd`` solver's tall solves, ``SINGLE_THREAD_MAX_COLUMNS``).
CLIENT_SINGLE_THREAD_MAX_PARAMS = 1024


@contextmanager
def client_blas(n_params: int):
    """Hold the client's BLAS at one thread during a fit of up to 1,024 parameters.

    The client's work per step is a Cholesky and a few solves of size
    ``n_params``, too small for threads; but OpenBLAS's threads keep spinning
    after each call, and on a machine the client shares with its workers (a
    ``LocalCluster``) they take cores from the next pass.  Measured on the
    2-core benchmark machine (busy), round-robin, 4 fits each: 2.13-2.40 s
    with the client at one thread, 2.44-2.78 s at its default two.
    """
    if n_params > CLIENT_SINGLE_THREAD_MAX_PARAMS:
        yield False
        return
    with single_blas_thread(blas_controller()) as held:
        yield held


@dataclass(frozen=True)
class Point:
    """The client's view of one point.

    ``objective``, ``gradient`` (penalty included) and ``scale`` (the
    certificate's denominator) are normalized by the total weight;
    ``hessian`` is the data Hessian (None when the pass did not form it);
    ``noise`` bounds the objective's rounding error.
    """

    params: np.ndarray
    objective: float
    gradient: np.ndarray
    scale: float
    hessian: np.ndarray | None
    noise: float
    separates: bool

    @property
    def relative(self) -> float:
        """The certificate: the relative gradient norm."""
        return float(np.linalg.norm(self.gradient) / self.scale) if self.scale > 0 else 0.0


class DistributedNewton:
    """Newton's method over the row blocks; see the module docstring.

    Parameters
    ----------
    groups : BlockGroups
    recipe : tuple
        ``(loss, fit_intercept, positive_class, check_separation)`` for :func:`point_terms`.
    penalty : ndarray
        The penalty's diagonal (``2 alpha``, 0 for a free intercept).
    summary : StartTerms
        The first pass's sums: ``sum w``, the gradient's constant term
        ``X~^T w t`` (certificate) and the sums of ``c(t)`` (rounding test).
    precision : numpy dtype
        Of the Hessians' rank-k updates (float32 or float64).
    owner : str
    """

    def __init__(self, groups: BlockGroups, recipe, penalty, summary, precision, owner):
        self.groups = groups
        self.recipe = recipe
        self.penalty = penalty
        self.summary = summary
        self.weight = summary.weight
        self.target = summary.target_terms()[1] / summary.weight
        self.precision = np.dtype(precision)
        self.owner = owner

    # -- one pass ----------------------------------------------------------

    def point_from_terms(self, params, terms: PointTerms) -> Point:
        """Normalize the summed terms and add the penalty."""
        W = self.weight
        penalty_gradient = self.penalty * params
        data_gradient = terms.gradient / W
        # The in-memory certificate's terms: X~^T s mu = data gradient + X~^T s t.
        scale = (
            float(np.linalg.norm(data_gradient + self.target))
            + float(np.linalg.norm(self.target))
            + float(np.linalg.norm(penalty_gradient))
        )
        penalty_value = 0.5 * float(params @ penalty_gradient)
        magnitude = terms.noise(self.summary) / W + penalty_value
        return Point(
            params=params,
            objective=terms.objective / W + penalty_value,
            gradient=data_gradient + penalty_gradient,
            scale=scale,
            hessian=None if terms.hessian is None else terms.hessian / W,
            noise=16.0 * np.finfo(np.float64).eps * magnitude,  # GLMProblem.objective_noise
            separates=terms.separates,
        )

    def evaluate(self, params: np.ndarray, hessian: bool) -> Point:
        """One distributed pass at ``params``, with the Hessian when asked."""
        precision = self.precision if hessian else None
        terms = self.groups.reduce(
            point_terms, PointTerms.merge_all, self.recipe, params, precision
        )
        return self.point_from_terms(params, terms)

    # -- the iteration -----------------------------------------------------

    def solve(self, point: Point, tol: float, max_iter: int, alpha: float):
        """Newton from ``point`` (which must hold a Hessian).

        Returns ``(point, n_iter, converged, message)``.
        """
        plan = _Plan(tol)
        self._factorize(point)
        n_iter, message = 0, ""
        converged = point.relative <= tol
        while not converged and n_iter < max_iter:
            direction = -corrected_solve(self._factor, plan.pairs, point.gradient)
            slope = float(point.gradient @ direction)
            if not slope < 0:
                message = "the Newton direction is not a descent direction (rounding)"
                break
            accepted = self._line_search(point, direction, slope, plan.wants_hessian(point))
            if accepted is None:
                message = "the line search found no decrease (rounding)"
                break
            previous, (point, step) = point, accepted
            n_iter += 1
            if alpha == 0 and point.separates:
                raise InvalidParameterError(
                    f"{self.owner}: no finite minimizer exists for alpha=0: the classes are "
                    f"linearly separable (the coefficients reached at iteration {n_iter} "
                    "classify every training sample correctly). Use alpha > 0."
                )
            if plan.after_step(previous, point, step, self.precision == np.float32):
                self.precision = np.dtype(np.float64)  # float32 rounding limits the contraction
            if point.hessian is not None:
                self._factorize(point)
                plan.fresh_factor()
            converged = point.relative <= tol
        return point, n_iter, converged, message

    def _factorize(self, point: Point) -> None:
        H = point.hessian.copy()
        H[np.diag_indices_from(H)] += self.penalty
        if self.precision == np.float32:
            try:
                self._factor = scipy.linalg.cho_factor(H, check_finite=False)
                return
            except np.linalg.LinAlgError:
                pass
            # Rounding made the float32 Hessian indefinite: float64 from here
            # on, at the cost of one more Hessian pass at this point.
            self.precision = np.dtype(np.float64)
            H = self.evaluate(point.params, hessian=True).hessian.copy()
            H[np.diag_indices_from(H)] += self.penalty
        self._factor = cholesky_with_shift(H)

    def _line_search(self, point: Point, direction, slope, hessian: bool):
        """Backtracking from the full step; ``(point, step)`` or None.

        A halved step is outside Newton's local phase, so its pass forms the
        Hessian whatever the plan said.
        """
        gradient_norm = np.linalg.norm(point.gradient)
        step = 1.0
        for _ in range(MAX_HALVINGS):
            trial = self.evaluate(point.params + step * direction, hessian=hessian or step < 1)
            value = trial.objective
            if np.isfinite(value):
                if value <= point.objective + ARMIJO * step * slope:
                    return trial, step
                if (
                    value - point.objective <= point.noise
                    and np.linalg.norm(trial.gradient) < gradient_norm
                ):
                    return trial, step
            step *= 0.5
        return None


class _Plan:
    """Which passes form a Hessian, and the pairs that correct a reused one."""

    def __init__(self, tol: float):
        self.tol = tol
        self.pairs: list = []
        self.ratio = None  # gradient contraction of the last step
        self.full = False  # the last step was a full step
        self.fresh = True  # the factorization was formed at the current point
        self.exact = False  # the last step used a factorization fresh at its start
        self.refresh = False  # the next pass must form a Hessian (precision switch)

    def fresh_factor(self) -> None:
        self.pairs = []
        self.fresh = True

    def wants_hessian(self, point: Point) -> bool:
        """Whether the pass at the next point forms the Hessian (see the module docstring)."""
        if self.refresh or self.ratio is None or not self.full:
            return True
        # Newton from a fresh Hessian after a Newton step: quadratic, r -> r^2.
        expected = self.ratio**2 if self.fresh and self.exact else self.ratio
        predicted = point.relative * expected
        if predicted <= self.tol:
            return False  # the next point is expected to stop the iteration
        # Reusing the factorization from the next point contracts by about
        # twice a fresh step's ratio, and by the last ratio after a reuse.
        reused = 2.0 * expected if self.fresh else self.ratio
        if reused > REUSE_RATIO or reused <= 0:
            return True
        return np.log(self.tol / predicted) / np.log(reused) > REUSE_STEPS

    def after_step(self, previous: Point, point: Point, step: float, float32: bool) -> bool:
        """Record a step; True when the Hessians must switch to float64."""
        before = np.linalg.norm(previous.gradient)
        self.ratio = float(np.linalg.norm(point.gradient) / before) if before > 0 else 0.0
        self.full = step == 1.0
        self.exact = self.fresh
        change = point.params - previous.params
        self.pairs = [*self.pairs[-(MAX_PAIRS - 1) :], (change, point.gradient - previous.gradient)]
        self.refresh = (
            float32
            and self.exact
            and self.full
            and point.relative < LOCAL_PHASE
            and self.ratio > 0.5
        )
        self.fresh = False
        return self.refresh
