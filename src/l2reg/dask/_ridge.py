"""Ridge, RidgeCV and ridge_path on Dask collections: statistics on the workers, solve here.

``Ridge.fit`` makes one distributed pass (:func:`~l2reg.dask._stats.distributed_stats`)
and hands the statistics to ``Ridge.fit_stats``: the solve runs on the client
with Ridge's own ``cholesky`` solver, so ``coef_``, ``solver_`` and
``certificate_`` are what an in-memory fit gives.  ``RidgeCV`` takes GCV,
evidence and k-fold from the same single pass (per-fold statistics, then
``RidgeCV.fit_stats``), and exact leave-one-out from one more pass that
reduces per-alpha sums only.
"""

from __future__ import annotations

from dataclasses import replace

import dask
import numpy as np

from l2reg.dask._collections import RowBlocks, as_columns, compute, row_blocks, tree_reduce
from l2reg.dask._folds import fold_rule
from l2reg.dask._stats import distributed_stats
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._base import forget_statistics, store_stats_fit
from l2reg.model_selection._path import RidgePath, check_alpha_grid, ridge_path
from l2reg.model_selection._spectral import default_alphas, intercept_mode, spectrum_from_stats
from l2reg.objective.gram import GramStats

__all__ = ["fit_ridge", "fit_ridge_cv", "distributed_ridge_path"]

# Ridge solvers a distributed fit can run: those that need only the statistics.
_STATS_SOLVERS = ("auto", "cholesky")


def _check_solver(owner: str, solver: str) -> None:
    if solver not in _STATS_SOLVERS:
        raise IncompatibleOptionsError(
            f"{owner}: solver={solver!r} needs the rows in one place; on Dask collections use "
            "solver='auto' or 'cholesky' (the normal equations from distributed statistics)."
        )


def _check_primal(owner: str, blocks: RowBlocks, penalize_intercept: bool) -> None:
    if blocks.n_features + penalize_intercept > blocks.n_samples:
        raise InvalidParameterError(
            f"{owner}: on Dask collections n_samples must be at least n_features (got "
            f"{blocks.n_samples} x {blocks.n_features}); the kernel form for p > n needs the "
            "rows in one place: fit in memory (X.compute())."
        )


def fit_ridge(estimator, X, y, sample_weight=None):
    """``Ridge.fit`` on Dask collections (registered as its handler).

    ``Ridge.fit_stats`` on the distributed statistics: the model also keeps
    them as ``stats_``, so another alpha refits without a pass
    (``Ridge(alpha=a).fit_stats(model.stats_)``).
    """
    owner = type(estimator).__name__
    blocks = row_blocks(owner, X, y, sample_weight)
    estimator._check_params(blocks.n_targets)
    _check_solver(owner, estimator.solver)
    _check_primal(owner, blocks, estimator.penalize_intercept)
    (stats,) = distributed_stats(blocks, owner)
    estimator.fit_stats(stats)
    blocks.set_feature_attributes(estimator)
    return estimator


# ----------------------------------------------------------------------- ridge_path


def distributed_ridge_path(
    X,
    y,
    alphas=None,
    *,
    fit_intercept=True,
    penalize_intercept=False,
    sample_weight=None,
    n_alphas=100,
) -> RidgePath:
    """``ridge_path`` on Dask collections: ``ridge_path(stats=...)`` of one distributed pass.

    ``ridge_path`` has checked the options before handing over.
    """
    owner = "ridge_path"
    blocks = row_blocks(owner, X, y, sample_weight)
    _check_primal(owner, blocks, penalize_intercept)
    (stats,) = distributed_stats(blocks, owner)
    return ridge_path(
        alphas=alphas,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        n_alphas=n_alphas,
        stats=stats,
    )


# ----------------------------------------------------------------------- RidgeCV


def _block_loo_sums(X, Y, weights, spectrum, alphas):
    """Leave-one-out sums of one block, from the client's eigendecomposition (a worker task)."""
    part = replace(
        spectrum,
        X=np.asarray(X),
        Y=as_columns(Y),
        sample_weight=None if weights is None else np.asarray(weights, dtype=np.float64),
    )
    return part.leave_one_out_sums(alphas)


def _leave_one_out(blocks: RowBlocks, spectrum, alphas):
    """Exact LOO errors: the second pass; each block returns its per-alpha sums only."""
    # The spectrum (p x p eigenvectors and the projections) is sent once and
    # shared by every block task.
    parts = blocks.tasks(_block_loo_sums, dask.delayed(spectrum, traverse=False), alphas)
    (sums,) = compute(tree_reduce(parts, lambda items: sum(items[1:], items[0])))
    return spectrum.leave_one_out_from_sums(sums)


def fit_ridge_cv(estimator, X, y, sample_weight=None, groups=None):
    """``RidgeCV.fit`` on Dask collections (registered as its handler).

    ``cv="gcv"``, ``"evidence"`` and k-fold (an integer: scikit-learn's
    contiguous ``KFold`` folds, as ``fit`` uses in memory; or a
    :class:`~l2reg.model_selection.HashedKFold`) are ``RidgeCV.fit_stats`` on
    the statistics of one distributed pass (per fold for k-fold).  ``cv=None``
    (exact LOO) adds a second pass for the leverages.  Only the squared
    error is available as the criterion.
    """
    owner = type(estimator).__name__
    scorer = estimator._check_params()
    if scorer is not None:
        raise IncompatibleOptionsError(
            f"{owner}: on Dask collections only the squared error is available as the CV "
            f"criterion (scoring=None); got scoring={estimator.scoring!r}."
        )
    if groups is not None:
        raise IncompatibleOptionsError(
            f"{owner}: groups are not supported on Dask collections; folds come from row "
            "positions (cv=k or HashedKFold)."
        )
    blocks = row_blocks(owner, X, y, sample_weight)
    _check_primal(owner, blocks, estimator.penalize_intercept)
    cv = estimator.cv
    folds = None if cv is None or isinstance(cv, str) else fold_rule(owner, cv, blocks.n_samples)
    parts = distributed_stats(blocks, owner, folds)
    if cv is not None:
        estimator.fit_stats(parts if folds is not None else parts[0])
    else:
        _fit_leave_one_out(estimator, blocks, parts[0], owner)
    blocks.set_feature_attributes(estimator)
    return estimator


def _fit_leave_one_out(estimator, blocks: RowBlocks, stats: GramStats, owner: str) -> None:
    """RidgeCV with exact LOO: the spectrum of the statistics, a pass for the sums, the refit."""
    n_positive = stats.positive_count
    if n_positive < 2:
        raise InvalidParameterError(
            f"{owner}: choosing alpha needs at least 2 samples with positive weight; got "
            f"{n_positive}."
        )
    if estimator.standardize or any(
        getattr(estimator, name) is not None
        for name in ("penalty_factor", "penalty_matrix", "prior_mean", "feature_groups")
    ):
        raise IncompatibleOptionsError(
            f"{owner}: exact leave-one-out on Dask takes no penalty options or feature_groups "
            "yet; use cv='gcv', 'evidence' or k folds, or fit in memory."
        )
    mode = intercept_mode(estimator.fit_intercept, estimator.penalize_intercept)
    spectrum = spectrum_from_stats(stats, mode, n_positive=n_positive)
    alphas = (
        default_alphas(spectrum)
        if estimator.alphas is None
        else check_alpha_grid(owner, estimator.alphas)
    )
    k = stats.n_targets
    results = {"alphas": alphas, "effective_df": spectrum.effective_df(alphas)}
    loo = _leave_one_out(blocks, spectrum, alphas)
    criterion = (loo.mean_error_targets, loo.std_error_targets, (loo.mean_error, loo.std_error))
    # RidgeCV's own selection rule and bookkeeping, as for its in-memory LOO.
    alpha, best = estimator._choose(alphas, criterion, k, results)
    # The refit and stats_ as fit_stats leaves them (no fold_stats_: LOO has no folds).
    forget_statistics(estimator)
    store_stats_fit(estimator, stats, alpha)
    estimator._store_choice(alpha, best, results, estimator.alpha_per_target and k > 1)
