"""The shared fit pipeline: validate -> Problem -> solver -> attributes.

Estimators are thin recipes over these helpers (STYLE.md §6): they choose the
loss, the penalty and defaults, never re-implement a step.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, validate_data

from l2reg._validation import check_finite, check_sample_weight, check_target
from l2reg.exceptions import InvalidParameterError
from l2reg.linear_model._array_api import (
    check_same_namespace,
    dispatch_namespace,
    float_dtypes,
    to_namespace,
    to_numpy,
)
from l2reg.objective.problem import Problem
from l2reg.solvers import get_solver
from l2reg.solvers._result import SolverResult

__all__ = [
    "validate_fit_data",
    "validate_predict_data",
    "store_result",
    "linear_predict",
    "register_collection_handler",
    "collection_handler",
    "restored_on_error",
    "validate_chunk",
    "chunk_error",
    "forget_statistics",
    "solve_stats",
    "store_stats_fit",
]

# Optional integrations that take over a fit when the data are their collections:
# the top-level module of the collection's type -> the l2reg module that handles it.
# The integration is imported *by name*, only when such a collection arrives, so
# that linear_model has no static import of a later layer (docs/architecture.md)
# and ``import l2reg`` never imports dask.
COLLECTION_INTEGRATIONS = {"dask": "l2reg.dask"}
_HANDLERS: dict[tuple[str, str], object] = {}


def register_collection_handler(integration: str, task: str, handler) -> None:
    """Let ``integration`` (a key of COLLECTION_INTEGRATIONS) handle ``task`` (e.g. "Ridge.fit")."""
    _HANDLERS[integration, task] = handler


def collection_handler(task: str, *arrays):
    """The handler of ``task`` for the first of ``arrays`` that is an integration's
    collection (judged by its type's module name, which costs no import), or None
    for in-memory data."""
    for array in arrays:
        root = type(array).__module__.partition(".")[0]
        if root in COLLECTION_INTEGRATIONS:
            importlib.import_module(COLLECTION_INTEGRATIONS[root])
            handler = _HANDLERS.get((root, task))
            if handler is None:
                raise TypeError(
                    f"{task.split('.')[0]}: {root} collections are not supported by "
                    f"{task}; pass in-memory arrays (e.g. .compute())."
                )
            return handler
    return None


def validate_fit_data(
    estimator, X, y, sample_weight, *, check_finite_X: bool, accept_sparse: bool = False
):
    """Validate training data.

    Returns ``(X, Y, sample_weight, single_target)`` with X float32/float64 in
    its own memory order (never copied when already floating point), Y 2-D in
    X's dtype and ``sample_weight`` None for unit weights.

    ``check_finite_X=False`` leaves the NaN/inf check of X to the solver's one
    pass over the data (a non-finite value shows on the Gram diagonal), which
    saves a full read of X.  ``accept_sparse=True`` lets a CSR or CSC X through
    (other sparse formats become CSR); its stored values are checked for NaN
    and infinity here, a pass over nnz values that names the entry.
    """
    owner = type(estimator).__name__
    X = validate_data(
        estimator,
        X,
        reset=True,
        accept_sparse=("csr", "csc") if accept_sparse else False,
        dtype=[np.float64, np.float32],
        ensure_all_finite=check_finite_X,
        ensure_min_samples=1,
        ensure_min_features=1,
    )
    if sp.issparse(X):
        check_finite(owner, "X", X)
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
    if dispatch is not None:
        dtypes = float_dtypes(dispatch[0])
        return validate_data(estimator, X, reset=False, accept_sparse=False, dtype=dtypes)
    return validate_data(
        estimator, X, reset=False, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32]
    )


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
    """``X @ coef_.T + intercept_`` after validating X (lazily, per block, for a collection)."""
    handler = collection_handler("predict", X)
    if handler is not None:
        return handler(estimator, linear_predict, X)
    X = validate_predict_data(estimator, X)
    check_same_namespace(estimator, X, "predict")
    intercept = estimator.intercept_  # a Python float (weak in NumPy's promotion) or an array
    dispatch = dispatch_namespace(X)
    if dispatch is None:
        intercept = intercept if isinstance(intercept, float) else to_numpy(intercept)
        return np.asarray(X @ to_numpy(estimator.coef_).T) + intercept
    # Array-API input: the product on X's device (docs/array_api.md).
    xp, device = dispatch
    coef = to_namespace(estimator.coef_, xp, device, X.dtype)
    if not isinstance(intercept, float):
        intercept = to_namespace(intercept, xp, device, X.dtype)
    return (X @ coef if coef.ndim == 1 else X @ coef.T) + intercept


@contextmanager
def restored_on_error(estimator):
    """Undo every change to ``estimator``'s attributes if the block raises.

    ``partial_fit`` and ``fit_stats`` replace whole attributes (statistics are
    immutable, merges return new objects), so a shallow copy of the attribute
    dictionary restores the exact earlier state: a rejected chunk loses nothing.
    """
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def validate_chunk(estimator, X, *, first: bool):
    """X of one ``partial_fit`` chunk, validated as ``fit`` validates X.

    The first chunk sets ``n_features_in_`` (and ``feature_names_in_``); later
    ones are checked against them.  NaN and infinity are left to the Gram
    pass (:meth:`l2reg.objective.gram.GramStats.from_chunk`).
    """
    return validate_data(
        estimator,
        X,
        reset=first,
        accept_sparse=["csr", "csc"],
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,
        ensure_min_samples=1,
        ensure_min_features=1,
    )


def chunk_error(owner: str, index: int, error: Exception) -> InvalidParameterError:
    """The error of a rejected chunk: which chunk (counted from 0) and why."""
    return InvalidParameterError(
        f"{owner}.partial_fit: chunk {index} (chunks are counted from 0) was rejected and "
        f"the accumulated statistics are unchanged: {error}"
    )


def solve_stats(
    stats, alpha, *, fit_intercept: bool, penalize_intercept: bool, owner: str, penalty=None
):
    """``Ridge(alpha)``'s solution from statistics alone: the ``cholesky`` solver's result.

    The one route of every fit from :class:`~l2reg.objective.gram.GramStats`
    (``Ridge.fit_stats``, ``RidgeCV``'s refit, ``ridge_path``'s re-solves),
    through :meth:`Problem.from_stats
    <l2reg.objective.problem.Problem.from_stats>`.
    """
    problem = Problem.from_stats(
        stats,
        alpha,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        owner=owner,
        penalty=penalty,
    )
    return get_solver("cholesky")().solve(problem)


def store_stats_fit(estimator, stats, alpha, penalty=None) -> None:
    """Fit ``estimator`` at ``alpha`` from ``stats`` and keep them as ``stats_``.

    Whatever the estimator's ``solver`` says (it chooses ``fit``'s route over
    the rows): only ``cholesky`` works on statistics, and ``solver_`` says so.
    """
    result = solve_stats(
        stats,
        alpha,
        fit_intercept=estimator.fit_intercept,
        penalize_intercept=estimator.penalize_intercept,
        owner=type(estimator).__name__,
        penalty=penalty,
    )
    store_result(estimator, result, stats.single_target)
    estimator.n_features_in_ = stats.n_features
    estimator.stats_ = stats


def forget_statistics(estimator) -> None:
    """Drop statistics a previous ``partial_fit`` or ``fit_stats`` left (``fit`` starts over)."""
    for name in ("stats_", "fold_stats_", "n_chunks_"):
        vars(estimator).pop(name, None)
