"""LogisticRegression (binary) and PoissonRegression on Dask: Newton, one pass per step.

Each Newton iteration is one distributed pass: every block task builds the
in-memory :class:`~l2reg.objective.glm_problem.GLMProblem` of its rows (with
no penalty) and returns its weighted loss sum, gradient ``X~^T (w g)`` and
Hessian ``X~^T diag(w h) X~`` (the blocked weighted ``?syrk`` of
:func:`~l2reg.objective.glm_problem.weighted_gram`); those are tree-reduced,
and the client adds the penalty, takes the step ``-H^{-1} grad`` and judges
it.  The pass for a step evaluates the trial point and its Hessian at once,
so an accepted full step (the rule near the solution) costs exactly one
pass; a rejected one halves the step (Armijo, as
:class:`~l2reg.solvers.newton.NewtonSolver`) at one pass per halving.

The stopping rule and ``certificate_`` are the in-memory ones: the relative
gradient norm ``||grad J|| / (||X~^T s mu|| + ||X~^T s t|| + ||P theta||)``
(:attr:`~l2reg.objective.glm_problem.GLMEvaluation.relative_gradient_norm`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import dask
import numpy as np
import scipy.linalg

from l2reg.dask._collections import (
    RowBlocks,
    check_block_weights,
    compute,
    raise_not_finite,
    row_blocks,
    tree_reduce,
)
from l2reg.exceptions import (
    ConvergenceWarning,
    IncompatibleOptionsError,
    InvalidParameterError,
)
from l2reg.objective.glm_problem import GLMProblem, weighted_gram
from l2reg.objective.losses import LogisticLoss, PoissonLoss
from l2reg.solvers._result import Certificate, SolverResult
from l2reg.solvers.newton import ARMIJO, MAX_HALVINGS

__all__ = ["fit_glm"]

#: Newton steps when ``max_iter`` is None, as the in-memory ``newton`` solver.
DEFAULT_MAX_ITER = 100


# ------------------------------------------------------------------ the first pass


@dataclass(frozen=True)
class TargetSummary:
    """What the client needs of y before the first Newton step.

    ``labels`` and ``label_weights``: the distinct values of y with their
    total weight (classification), else None; ``weight`` and
    ``weighted_sum``: ``sum w`` and ``sum w y`` (regression).
    """

    labels: np.ndarray | None
    label_weights: np.ndarray | None
    weight: float
    weighted_sum: float

    @staticmethod
    def merge_all(parts: list[TargetSummary]) -> TargetSummary:
        weight = sum(p.weight for p in parts)
        weighted_sum = sum(p.weighted_sum for p in parts)
        if parts[0].labels is None:
            return TargetSummary(None, None, weight, weighted_sum)
        labels, inverse = np.unique(np.concatenate([p.labels for p in parts]), return_inverse=True)
        totals = np.bincount(inverse, weights=np.concatenate([p.label_weights for p in parts]))
        return TargetSummary(labels, totals, weight, weighted_sum)


def _block_summary(X, y, weights, index, start, owner, classification):
    """Check one block's y and weights and summarize its target (a worker task).

    X is not read here: a NaN or infinity in X shows in the first Newton
    pass's gradient, which then names the block.
    """
    y = np.asarray(y).ravel()
    weights = check_block_weights(owner, weights, index, start)
    w = np.ones(y.shape[0]) if weights is None else weights
    if classification:
        labels, inverse = np.unique(y, return_inverse=True)
        return TargetSummary(labels, np.bincount(inverse, weights=w), float(w.sum()), 0.0)
    y = y.astype(np.float64)
    if not np.isfinite(y).all():
        raise_not_finite(owner, index, start, [("y", y)])
    if np.any(y < 0):
        row = int(np.argmin(y))
        raise InvalidParameterError(
            f"{owner}: y must be non-negative (counts or rates); got {float(y[row])!r} at row "
            f"{start + row} (block {index}). The Poisson deviance is undefined for negative "
            "values."
        )
    return TargetSummary(None, None, float(w.sum()), float(w @ y))


# ------------------------------------------------------------------ the Newton passes


@dataclass(frozen=True)
class NewtonTerms:
    """Weighted sums over rows at one point (unscaled: divide by ``weight``).

    ``objective = sum w loss``, ``gradient = X~^T (w g)``, ``target = X~^T (w t)``
    (the first pass only, else None), ``hessian = X~^T diag(w h) X~``, ``noise`` the
    weighted sum of the loss terms' magnitudes (for the line search's
    rounding test), ``separates``: every positive-weight row is strictly
    classified correctly.
    """

    weight: float
    objective: float
    gradient: np.ndarray
    target: np.ndarray
    hessian: np.ndarray
    noise: float
    separates: bool

    @staticmethod
    def merge_all(parts: list[NewtonTerms]) -> NewtonTerms:
        hessian = sum(p.hessian for p in parts[1:]) + parts[0].hessian
        return NewtonTerms(
            sum(p.weight for p in parts),
            sum(p.objective for p in parts),
            sum(p.gradient for p in parts[1:]) + parts[0].gradient,
            None if parts[0].target is None else sum(p.target for p in parts[1:]) + parts[0].target,
            hessian,
            sum(p.noise for p in parts),
            all(p.separates for p in parts),
        )


def _block_terms(X, y, weights, index, start, recipe, params, first):
    """:class:`NewtonTerms` of one block at ``params`` (a worker task).

    The pieces of :meth:`GLMProblem.evaluate` and :meth:`GLMProblem.data_hessian`
    with weights ``w`` instead of ``w / W`` (sums add across blocks; the client
    divides by the total weight): ``X d`` and ``X~^T (w g)``, one pass each,
    and the Hessian's blocked weighted ``?syrk`` (float64: the distributed
    Newton refreshes it every step, so its steps are exact Newton steps).  The
    constant target term ``X~^T (w t)`` and the check for NaN/inf in X (from
    the gradient) come with the ``first`` pass only.
    """
    loss, fit_intercept, positive_class, owner = recipe
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).ravel()
    target = (y == positive_class).astype(np.float64) if positive_class is not None else y
    target = np.asarray(target, dtype=np.float64)
    w = np.ones(y.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    q = X.shape[1] + int(fit_intercept)
    block_weight = float(w.sum())
    if not block_weight > 0:
        zeros = np.zeros(q)
        return NewtonTerms(0.0, 0.0, zeros, zeros if first else None, np.zeros((q, q)), 0.0, True)
    problem = GLMProblem(
        X=X, y=target, weights=w, alpha=0.0, loss=loss, fit_intercept=fit_intercept, owner=owner
    )
    raw = problem.matvec(params)
    with np.errstate(over="ignore", invalid="ignore"):
        pointwise, derivative, second = loss.derivatives(target, raw)
        objective = float(w @ pointwise)
        noise = float(w @ loss.rounding_scale(target, raw))
    gradient = problem.rmatvec(w * derivative)
    if first and not np.all(np.isfinite(gradient)):
        raise_not_finite(owner, index, start, [("X", X)])
    return NewtonTerms(
        weight=block_weight,
        objective=objective,
        gradient=gradient,
        target=problem.rmatvec(w * target) if first else None,
        hessian=weighted_gram(X, w * second, fit_intercept),
        noise=noise,
        separates=bool(loss.is_classification and loss.separates(target, raw, w)),
    )


@dataclass(frozen=True)
class _Point:
    """The client's view of one point: objective, gradient and certificate."""

    params: np.ndarray
    terms: NewtonTerms
    objective: float
    gradient: np.ndarray
    scale: float

    @property
    def relative(self) -> float:
        return float(np.linalg.norm(self.gradient) / self.scale) if self.scale > 0 else 0.0


class _DistributedNewton:
    """Newton's method over the row blocks; see the module docstring."""

    def __init__(self, blocks: RowBlocks, recipe, penalty: np.ndarray, owner: str):
        self.blocks = blocks
        self.recipe = recipe
        self.penalty = penalty
        self.owner = owner
        self.target = None  # X~^T s t, from the first pass

    def point(self, params: np.ndarray) -> _Point:
        """One distributed pass: the sums at ``params``, Hessian included."""
        shared = dask.delayed(params, traverse=False)
        first = self.target is None
        parts = self.blocks.tasks(_block_terms, self.recipe, shared, first, position=True)
        (terms,) = compute(tree_reduce(parts, NewtonTerms.merge_all))
        W = terms.weight
        if first:
            self.target = terms.target / W  # X~^T s t: the same at every point
        penalty_gradient = self.penalty * params
        data_gradient = terms.gradient / W
        target = self.target
        # The terms of the in-memory certificate: X~^T s mu = data gradient + X~^T s t.
        scale = (
            float(np.linalg.norm(data_gradient + target))
            + float(np.linalg.norm(target))
            + float(np.linalg.norm(penalty_gradient))
        )
        objective = terms.objective / W + 0.5 * float(params @ penalty_gradient)
        return _Point(params, terms, objective, data_gradient + penalty_gradient, scale)

    def direction(self, point: _Point) -> np.ndarray:
        H = point.terms.hessian / point.terms.weight
        H[np.diag_indices_from(H)] += self.penalty
        base = float(np.max(np.abs(np.diag(H)))) or 1.0
        shift = 0.0
        for _ in range(8):  # a shift only where alpha = 0 leaves H singular
            try:
                factor = scipy.linalg.cho_factor(H + shift * np.eye(H.shape[0]), check_finite=False)
                return -scipy.linalg.cho_solve(factor, point.gradient, check_finite=False)
            except np.linalg.LinAlgError:
                shift = 1e-12 * base if shift == 0 else shift * 100
        raise np.linalg.LinAlgError("the Hessian is not positive definite even after shifting.")

    def solve(self, params: np.ndarray, tol: float, max_iter: int, alpha: float):
        point = self.point(params)
        n_iter, message = 0, ""
        converged = point.relative <= tol
        while not converged and n_iter < max_iter:
            direction = self.direction(point)
            slope = float(point.gradient @ direction)
            if not slope < 0:
                message = "the Newton direction is not a descent direction (rounding)"
                break
            accepted = self._line_search(point, direction, slope)
            if accepted is None:
                message = "the line search found no decrease (rounding)"
                break
            point = accepted
            n_iter += 1
            if alpha == 0 and point.terms.separates:
                raise InvalidParameterError(
                    f"{self.owner}: no finite minimizer exists for alpha=0: the classes are "
                    f"linearly separable (the coefficients reached at iteration {n_iter} "
                    "classify every training sample correctly). Use alpha > 0."
                )
            converged = point.relative <= tol
        return point, n_iter, converged, message

    def _line_search(self, point: _Point, direction, slope):
        start = point.objective
        # GLMProblem.objective_noise: 16 eps times the magnitude of the summed terms.
        magnitude = point.terms.noise / point.terms.weight
        magnitude += 0.5 * float(point.params @ (self.penalty * point.params))
        noise = 16.0 * np.finfo(np.float64).eps * magnitude
        gradient_norm = np.linalg.norm(point.gradient)
        step = 1.0
        for _ in range(MAX_HALVINGS):
            trial = self.point(point.params + step * direction)
            value = trial.objective
            if np.isfinite(value):
                if value <= start + ARMIJO * step * slope:
                    return trial
                if value - start <= noise and np.linalg.norm(trial.gradient) < gradient_norm:
                    return trial
            step *= 0.5
        return None


def fit_glm(estimator, X, y, sample_weight=None):
    """``LogisticRegression.fit`` (two classes) and ``PoissonRegression.fit`` on Dask."""
    owner = type(estimator).__name__
    estimator._check_params()
    if estimator.solver not in ("auto", "newton"):
        raise IncompatibleOptionsError(
            f"{owner}: on Dask collections the solver is 'newton' (one distributed pass per "
            f"step); got solver={estimator.solver!r}. Use solver='auto' or 'newton'."
        )
    if estimator.standardize or any(
        getattr(estimator, name, None) is not None
        for name in ("penalty_factor", "penalty_matrix", "prior_mean")
    ):
        raise IncompatibleOptionsError(
            f"{owner}: the penalty options (standardize, penalty_factor, penalty_matrix, "
            "prior_mean) are not supported on Dask collections yet; fit in memory "
            "(X.compute()) or drop them."
        )
    classification = estimator._is_classifier
    blocks = row_blocks(owner, X, y, sample_weight, float32_ok=False, y_dtype=object)
    if blocks.n_targets != 1:
        raise InvalidParameterError(f"{owner}: y must be 1-D; got {blocks.n_targets} columns.")
    if blocks.n_features + 1 > blocks.n_samples:
        raise InvalidParameterError(
            f"{owner}: on Dask collections n_samples must exceed n_features (got "
            f"{blocks.n_samples} x {blocks.n_features}); fit in memory (X.compute())."
        )
    summary = _summarize(blocks, owner, classification)
    if not summary.weight > 0:
        raise InvalidParameterError(
            f"{owner}: sample_weight must have a positive sum; all weights are zero."
        )
    fit_intercept = estimator.fit_intercept
    if classification:
        loss, positive_class, mean = _binary_classes(estimator, summary, owner)
    else:
        loss, positive_class = PoissonLoss(), None
        mean = summary.weighted_sum / summary.weight
        if fit_intercept and not estimator.penalize_intercept and not mean > 0:
            raise InvalidParameterError(
                f"{owner}: every (positively weighted) target is 0, so the unpenalized "
                "intercept's minimizer is -infinity; pass penalize_intercept=True or data "
                "with some positive counts."
            )
    # The penalty vector, packing and start of the in-memory problem (no rows needed).
    layout = GLMProblem(
        X=np.empty((0, blocks.n_features)),
        y=np.empty(0),
        weights=np.empty(0),
        alpha=float(estimator.alpha),
        loss=loss,
        fit_intercept=fit_intercept,
        penalize_intercept=estimator.penalize_intercept,
        owner=owner,
    )
    params = np.zeros(layout.n_params)
    if fit_intercept:
        # The intercept-only optimum depends on the weighted mean of y alone.
        params[-1] = loss.intercept_only_raw(np.array([mean]), np.array([1.0]))
    warm = estimator._warm_params(layout)
    if warm is not None:
        params = warm
    newton = _DistributedNewton(
        blocks, (loss, fit_intercept, positive_class, owner), layout.penalty(), owner
    )
    max_iter = DEFAULT_MAX_ITER if estimator.max_iter is None else estimator.max_iter
    point, n_iter, converged, message = newton.solve(
        params, estimator.tol, max_iter, float(estimator.alpha)
    )
    if not converged:
        warnings.warn(
            f"{owner}: solver 'newton' stopped after {n_iter} iterations "
            f"({message or 'max_iter reached'}) with relative gradient norm "
            f"{point.relative:.2e} > tol={estimator.tol:.1e}. Increase max_iter, loosen tol, "
            "or scale the features.",
            ConvergenceWarning,
            stacklevel=3,
        )
    coef, intercept = layout.split(point.params)
    result = SolverResult(
        coef=np.array(coef, dtype=np.float64),
        intercept=np.array(intercept, dtype=np.float64),
        objective=np.array([point.objective]),
        certificate=Certificate(float(np.linalg.norm(point.gradient)), point.relative, "data"),
        solver="newton",
        n_iter=n_iter,
        converged=converged,
        message=message,
    )
    blocks.set_feature_attributes(estimator)
    estimator._store(result)
    return estimator


def _summarize(blocks: RowBlocks, owner: str, classification: bool) -> TargetSummary:
    parts = blocks.tasks(_block_summary, owner, classification, position=True)
    (summary,) = compute(tree_reduce(parts, TargetSummary.merge_all))
    return summary


def _binary_classes(estimator, summary: TargetSummary, owner: str):
    """Set ``classes_``; the loss, the positive class and the weighted share of it."""
    classes = summary.labels
    if classes.dtype.kind == "f" and not np.all(classes == np.round(classes)):
        raise InvalidParameterError(
            f"{owner}: y holds continuous values ({classes[:3].tolist()}, ...); a classifier "
            "needs class labels."
        )
    if len(classes) < 2:
        raise InvalidParameterError(
            f"{owner} needs samples of at least 2 classes; the data contain only one class: "
            f"{classes[0]!r}."
        )
    if len(classes) > 2:
        raise IncompatibleOptionsError(
            f"{owner}: on Dask collections only two classes are supported (the multinomial "
            f"Hessian is not distributed yet); got {len(classes)} classes. Fit in memory, or "
            "one-vs-rest with one binary model per class."
        )
    if np.any(summary.label_weights <= 0):
        empty = classes[summary.label_weights <= 0][0]
        raise InvalidParameterError(
            f"{owner}: class {empty!r} has zero total sample weight, so its unpenalized "
            "intercept would be -infinity; give its samples positive weight."
        )
    estimator.classes_ = classes
    return LogisticLoss(), classes[1], float(summary.label_weights[1] / summary.weight)
