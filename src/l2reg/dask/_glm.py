"""LogisticRegression (binary) and PoissonRegression on Dask: the estimators' entry point.

Validation and the classes here; the passes over the row blocks in
:mod:`l2reg.dask._glm_passes`, grouped one task per worker thread by
:mod:`l2reg.dask._groups`; Newton's method in :mod:`l2reg.dask._glm_newton`.

A fit is one first pass (y's summary, the target's sums and, at the usual
start, the weighted Gram that gives the first Newton step), then one pass per
Newton step.  The stopping rule and ``certificate_`` are the in-memory ones:
the relative gradient norm ``||grad J|| / (||X~^T s mu|| + ||X~^T s t|| +
||P theta||)``
(:attr:`~l2reg.objective.glm_problem.GLMEvaluation.relative_gradient_norm`).
"""

from __future__ import annotations

import warnings

import numpy as np

from l2reg._warnings import user_stacklevel
from l2reg.dask._collections import row_blocks
from l2reg.dask._glm_newton import FLOAT32_MIN_PARAMS, DistributedNewton, client_blas
from l2reg.dask._glm_passes import StartTerms, start_terms, terms_at_constant
from l2reg.dask._groups import group_blocks
from l2reg.exceptions import (
    ConvergenceWarning,
    IncompatibleOptionsError,
    InvalidParameterError,
)
from l2reg.objective.glm_problem import GLMProblem
from l2reg.objective.losses import LogisticLoss, PoissonLoss
from l2reg.solvers._result import Certificate, SolverResult

__all__ = ["fit_glm"]

#: Newton steps when ``max_iter`` is None, as the in-memory ``newton`` solver.
DEFAULT_MAX_ITER = 100


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
    fit_intercept = estimator.fit_intercept
    groups = group_blocks(blocks)
    # The penalty vector, packing and start of the in-memory problem (no rows needed).
    layout = GLMProblem(
        X=np.empty((0, blocks.n_features)),
        y=np.empty(0),
        weights=np.empty(0),
        alpha=float(estimator.alpha),
        loss=LogisticLoss() if classification else PoissonLoss(),
        fit_intercept=fit_intercept,
        penalize_intercept=estimator.penalize_intercept,
        owner=owner,
    )
    precision = np.float32 if layout.n_params >= FLOAT32_MIN_PARAMS else np.float64
    with client_blas(layout.n_params):
        point, n_iter, converged, message = _solve(
            estimator, groups, layout, classification, precision, owner
        )
    if not converged:
        warnings.warn(
            f"{owner}: solver 'newton' stopped after {n_iter} iterations "
            f"({message or 'max_iter reached'}) with relative gradient norm "
            f"{point.relative:.2e} > tol={estimator.tol:.1e}. Increase max_iter, loosen tol, "
            "or scale the features.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
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


def _solve(estimator, groups, layout, classification, precision, owner):
    """The first pass, the start point and Newton; ``(point, n_iter, converged, message)``."""
    fit_intercept = estimator.fit_intercept
    warm = estimator._warm_params(layout)
    # From a start where every linear predictor is the same number (zero
    # coefficients), the first pass gives the first Newton step too.
    constant_start = warm is None or not np.any(layout.split(warm)[0])
    summary = groups.reduce(
        start_terms,
        StartTerms.merge_all,
        owner,
        classification,
        fit_intercept,
        precision if constant_start else None,
    )
    if not summary.weight > 0:
        raise InvalidParameterError(
            f"{owner}: sample_weight must have a positive sum; all weights are zero."
        )
    if classification:
        loss, positive_class, mean = _binary_classes(estimator, summary, owner)
    else:
        loss, positive_class = layout.loss, None
        mean = summary.weighted_sum / summary.weight
        if fit_intercept and not estimator.penalize_intercept and not mean > 0:
            raise InvalidParameterError(
                f"{owner}: every (positively weighted) target is 0, so the unpenalized "
                "intercept's minimizer is -infinity; pass penalize_intercept=True or data "
                "with some positive counts."
            )
    params = np.zeros(layout.n_params)
    if fit_intercept:
        # The intercept-only optimum depends on the weighted mean of y alone.
        params[-1] = loss.intercept_only_raw(np.array([mean]), np.array([1.0]))
    if warm is not None:
        params = warm
    newton = DistributedNewton(
        groups,
        (loss, fit_intercept, positive_class, float(estimator.alpha) == 0),
        layout.penalty(),
        summary,
        precision,
        owner,
    )
    if constant_start:
        raw = float(params[-1]) if fit_intercept else 0.0
        terms = terms_at_constant(loss, summary, raw)
        point = newton.point_from_terms(params, terms)
    else:
        point = newton.evaluate(params, hessian=True)
    max_iter = DEFAULT_MAX_ITER if estimator.max_iter is None else estimator.max_iter
    point, n_iter, converged, message = newton.solve(
        point, estimator.tol, max_iter, float(estimator.alpha)
    )
    return point, n_iter, converged, message


def _binary_classes(estimator, summary: StartTerms, owner: str):
    """Set ``classes_``; the loss, the positive class and the weighted share of it."""
    classes = summary.keys
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
    if np.any(summary.key_weights <= 0):
        empty = classes[summary.key_weights <= 0][0]
        raise InvalidParameterError(
            f"{owner}: class {empty!r} has zero total sample weight, so its unpenalized "
            "intercept would be -infinity; give its samples positive weight."
        )
    estimator.classes_ = classes
    return LogisticLoss(), classes[1], float(summary.key_weights[1] / summary.weight)
