"""RidgeCV on sparse X with more columns than the Gram route takes: k-fold by ``cg``.

With at most :data:`~l2reg.solvers._registry.SPARSE_GRAM_MAX_FEATURES` design
columns a sparse X goes through the spectral machinery like a dense one (its
Gram is formed sparse, :mod:`l2reg.objective.sparse_gram`), and LOO, GCV and
the evidence are exact.  Beyond it there is no eigendecomposition: those
criteria need the spectrum of the p x p Gram (or the n x n kernel, which is
no smaller), so they are refused with a clear error, and k-fold fits each
training set with the iterative solver ``cg``, from the largest alpha down,
each fit starting from the previous alpha's solution (warm start).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from l2reg._validation import check_finite
from l2reg.exceptions import IncompatibleOptionsError
from l2reg.objective.problem import Problem
from l2reg.solvers import get_solver
from l2reg.solvers._registry import SPARSE_GRAM_MAX_FEATURES

__all__ = [
    "uses_iterative_cv",
    "check_iterative_cv",
    "check_sparse_path",
    "iterative_default_alphas",
    "iterative_fold_predictions",
]

#: Alphas of the default grid of the iterative route (each costs one CG solve
#: per fold, where the spectral grid's 100 alphas cost nothing).
ITERATIVE_N_ALPHAS = 30


def uses_iterative_cv(X, n_columns: int) -> bool:
    """Whether RidgeCV takes the iterative k-fold route: sparse X, too wide for its Gram."""
    return sp.issparse(X) and n_columns > SPARSE_GRAM_MAX_FEATURES


def check_iterative_cv(owner: str, cv, n_columns: int) -> None:
    """Refuse the criteria that need a spectrum (LOO, GCV, evidence) on the iterative route."""
    if cv is None or isinstance(cv, str):
        name = "cv=None (leave-one-out)" if cv is None else f"cv={cv!r}"
        raise IncompatibleOptionsError(
            f"{owner}: {name} needs the eigendecomposition of the {n_columns} x {n_columns} "
            f"Gram matrix, which a sparse X gets only up to {SPARSE_GRAM_MAX_FEATURES} "
            f"columns; got {n_columns}. Use k-fold (e.g. cv=5), which fits each fold with "
            "the iterative solver 'cg', or select fewer features."
        )


def check_sparse_path(owner: str, X, penalize_intercept: bool) -> None:
    """``ridge_path`` on sparse X: finite stored values, and a Gram it may form."""
    check_finite(owner, "X", X)
    n_columns = X.shape[1] + int(penalize_intercept)
    if n_columns > SPARSE_GRAM_MAX_FEATURES:
        raise IncompatibleOptionsError(
            f"{owner}: a path on sparse X decomposes its {n_columns} x {n_columns} Gram "
            f"matrix, which is formed only up to {SPARSE_GRAM_MAX_FEATURES} columns. Fit "
            "Ridge(solver='cg') at each alpha (warm starts: RidgeCV with k-fold does this), "
            "or select fewer features."
        )


def iterative_default_alphas(X, sample_weight, n_columns: int) -> np.ndarray:
    """A geometric grid from ``trace(G)`` as the spectral grid would reach, without a spectrum.

    ``trace(G) = sum_j W var_j`` (one pass over the stored values) is the sum
    of the eigenvalues; the grid runs from ``lam = 1e-3 trace / q`` (every
    direction of average size kept at >= 99.9%) to ``lam = 100 trace`` (df <=
    0.01), in l2reg alphas (``lam / W``).
    """
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    W = float(weights.sum())
    mean = np.asarray(X.T @ weights).ravel() / W
    trace = float(np.sum(np.asarray(X.power(2).T @ weights).ravel() - W * mean**2))
    trace = max(trace, np.finfo(float).tiny)
    lam = np.geomspace(1e-3 * trace / n_columns, 100.0 * trace, ITERATIVE_N_ALPHAS)
    return lam / W


def iterative_fold_predictions(
    X, Y, sample_weight, train, test, alphas, *, fit_intercept, penalize_intercept, owner
) -> np.ndarray:
    """Predictions on ``test`` of Ridge(alpha) fitted on ``train`` by ``cg``: (S, A, k).

    Alphas are solved from the largest down, each from the previous solution.
    """
    X_train = X[train]
    X_test = X[test]
    Y_train = Y[train]
    w_train = None if sample_weight is None else sample_weight[train]
    k = Y.shape[1]
    predictions = np.empty((test.size, len(alphas), k))
    solver = get_solver("cg")()
    start = None
    for index in np.argsort(alphas)[::-1]:
        problem = Problem(
            X=X_train,
            Y=Y_train,
            sample_weight=w_train,
            alpha=np.full(k, float(alphas[index])),
            fit_intercept=fit_intercept,
            penalize_intercept=penalize_intercept,
            owner=owner,
        )
        result = solver.solve(problem, init=start)
        start = result.coef.T.astype(np.float64)
        if penalize_intercept:
            start = np.vstack([start, result.intercept[None, :]])
        predictions[:, index] = np.asarray(X_test @ result.coef.T) + result.intercept
    return predictions
