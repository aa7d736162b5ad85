"""The shared fit pipeline: validate -> Problem -> solver -> attributes.

Estimators are thin recipes over these helpers (STYLE.md §6): they choose the
loss, the penalty and defaults, never re-implement a step.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from l2reg._validation import check_sample_weight, check_target
from l2reg.linear_model._array_api import (
    check_same_namespace,
    dispatch_namespace,
    float_dtypes,
    to_namespace,
    to_numpy,
)
from l2reg.solvers._result import SolverResult

__all__ = ["validate_fit_data", "validate_predict_data", "store_result", "linear_predict"]


def validate_fit_data(estimator, X, y, sample_weight, *, check_finite_X: bool):
    """Validate training data.

    Returns ``(X, Y, sample_weight, single_target)`` with X float32/float64 in
    its own memory order (never copied when already floating point), Y 2-D in
    X's dtype and ``sample_weight`` None for unit weights.

    ``check_finite_X=False`` leaves the NaN/inf check of X to the solver's one
    pass over the data (a non-finite value shows on the Gram diagonal), which
    saves a full read of X.
    """
    owner = type(estimator).__name__
    X = validate_data(
        estimator,
        X,
        reset=True,
        accept_sparse=False,
        dtype=[np.float64, np.float32],
        ensure_all_finite=check_finite_X,
        ensure_min_samples=1,
        ensure_min_features=1,
    )
    Y = check_target(owner, y, X.shape[0], X.dtype)
    single_target = Y.ndim == 1
    if single_target:
        Y = Y[:, None]
    if sample_weight is not None:
        sample_weight = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
    return X, Y, sample_weight, single_target


def validate_predict_data(estimator, X):
    """Validate X at predict time against what was seen in ``fit``."""
    check_is_fitted(estimator)
    dispatch = dispatch_namespace(X)
    dtypes = [np.float64, np.float32] if dispatch is None else float_dtypes(dispatch[0])
    return validate_data(estimator, X, reset=False, accept_sparse=False, dtype=dtypes)


def store_result(estimator, result: SolverResult, single_target: bool) -> None:
    """Copy a :class:`SolverResult` into the estimator's fitted attributes."""
    if single_target:
        estimator.coef_ = result.coef[0]
        estimator.intercept_ = result.intercept[0].item()
    else:
        estimator.coef_ = result.coef
        estimator.intercept_ = result.intercept
    estimator.solver_ = result.solver
    estimator.certificate_ = result.certificate
    estimator.n_iter_ = result.n_iter


def linear_predict(estimator, X) -> np.ndarray:
    """``X @ coef_.T + intercept_`` after validating X."""
    X = validate_predict_data(estimator, X)
    check_same_namespace(estimator, X, "predict")
    intercept = estimator.intercept_  # a Python float (weak in NumPy's promotion) or an array
    dispatch = dispatch_namespace(X)
    if dispatch is None:
        intercept = intercept if isinstance(intercept, float) else to_numpy(intercept)
        return X @ to_numpy(estimator.coef_).T + intercept
    # Array-API input: the product on X's device (docs/array_api.md).
    xp, device = dispatch
    coef = to_namespace(estimator.coef_, xp, device, X.dtype)
    if not isinstance(intercept, float):
        intercept = to_namespace(intercept, xp, device, X.dtype)
    return (X @ coef if coef.ndim == 1 else X @ coef.T) + intercept
