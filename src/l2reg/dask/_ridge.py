"""Ridge, RidgeCV and ridge_path on Dask collections: statistics on the workers, solve here.

``Ridge.fit`` makes one distributed pass (:func:`~l2reg.dask._stats.distributed_stats`)
and solves the normal equations on the client with Ridge's own ``cholesky``
solver (the statistics seed its problem), so ``coef_``, ``solver_`` and
``certificate_`` are what an in-memory fit gives.  ``RidgeCV`` takes GCV,
evidence and k-fold from the same single pass (per-fold statistics), and
exact leave-one-out from one more pass that reduces per-alpha sums only.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import dask
import numpy as np

from l2reg.dask._collections import RowBlocks, compute, row_blocks, tree_reduce
from l2reg.dask._folds import fold_rule
from l2reg.dask._stats import distributed_stats
from l2reg.exceptions import (
    IncompatibleOptionsError,
    InvalidParameterError,
    L2RegError,
    SolverFallbackWarning,
)
from l2reg.linear_model._base import store_result
from l2reg.model_selection._cv import kfold_errors_from_stats
from l2reg.model_selection._path import (
    SPECTRAL_MAX_CONDITION,
    RidgePath,
    check_alpha_grid,
    spectral_condition,
)
from l2reg.model_selection._selection import select_alpha
from l2reg.model_selection._spectral import (
    default_alphas,
    intercept_mode,
    spectrum_from_stats,
)
from l2reg.objective.gram import GramStats
from l2reg.objective.problem import Problem, evaluate_from_stats
from l2reg.solvers import get_solver
from l2reg.solvers._result import SolverResult, certificate_from_gradient

__all__ = ["fit_ridge", "fit_ridge_cv", "distributed_ridge_path", "solve_from_stats"]

# Ridge solvers a distributed fit can run: those that need only the statistics.
_STATS_SOLVERS = ("auto", "cholesky")


class DistributedSolveError(L2RegError, ValueError):
    """The normal equations are too ill-conditioned and the rows are not in one place."""


def solve_from_stats(
    stats: GramStats,
    alpha: np.ndarray,
    *,
    fit_intercept: bool,
    penalize_intercept: bool,
    single_target: bool,
    owner: str,
    dtype,
) -> SolverResult:
    """Ridge's ``cholesky`` solve of the problem whose statistics are ``stats``.

    The problem carries no rows (they stay on the workers): the statistics
    seed its cache (:meth:`Problem.with_gram`), which is all the Cholesky
    route reads.  When the accuracy budget sends ``Ridge`` to its ``svd``
    fallback, which needs the rows, this raises instead of returning a less
    accurate answer.
    """
    problem = Problem(
        X=np.empty((0, stats.n_features), dtype=dtype),
        Y=np.empty((0, stats.n_targets), dtype=dtype),
        sample_weight=None,
        alpha=np.asarray(alpha, dtype=np.float64),
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        single_target=single_target,
        owner=owner,
    ).with_gram(stats)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverFallbackWarning)
        try:
            return get_solver("cholesky")().solve(problem)
        except SolverFallbackWarning as fallback:
            raise DistributedSolveError(
                f"{owner}: on Dask only the normal equations can be solved, and here "
                f"they lose too much accuracy ({fallback}). Use a larger alpha, scale the "
                "features, or fit in memory (X.compute()) where the 'svd' solver applies."
            ) from None


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
    """``Ridge.fit`` on Dask collections (registered as its handler)."""
    owner = type(estimator).__name__
    blocks = row_blocks(owner, X, y, sample_weight)
    alpha = estimator._check_params(blocks.n_targets)
    _check_solver(owner, estimator.solver)
    _check_primal(owner, blocks, estimator.penalize_intercept)
    stats = distributed_stats(blocks, owner).total
    result = solve_from_stats(
        stats,
        alpha,
        fit_intercept=estimator.fit_intercept,
        penalize_intercept=estimator.penalize_intercept,
        single_target=blocks.single_target,
        owner=owner,
        dtype=blocks.dtype,
    )
    blocks.set_feature_attributes(estimator)
    store_result(estimator, result, blocks.single_target)
    return estimator


# ----------------------------------------------------------------------- ridge_path


def _certificates(stats, coefs, intercepts, alphas, **options):
    """Each alpha's gradient certificate from the statistics (as ``ridge_path``'s)."""
    certificates = []
    for j, alpha in enumerate(alphas):
        evaluation = evaluate_from_stats(
            stats,
            np.asarray(coefs[j], dtype=np.float64).T,
            np.asarray(intercepts[j], dtype=np.float64),
            np.full(stats.n_targets, alpha),
            **options,
        )
        certificates.append(
            certificate_from_gradient(
                [evaluation.gradient_coef, evaluation.gradient_intercept],
                evaluation.gradient_scale,
                "sufficient statistics",
            )
        )
    return certificates


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
    """``ridge_path`` on Dask collections: one distributed pass, the path on the client.

    As in memory, each alpha's coefficients come from the eigendecomposition
    of the statistics where its condition number keeps them accurate, and
    from Ridge's Cholesky solve (on the same statistics) elsewhere.
    """
    owner = "ridge_path"
    if not isinstance(fit_intercept, bool) or not isinstance(penalize_intercept, bool):
        raise InvalidParameterError(
            f"{owner}: fit_intercept and penalize_intercept must be bools; "
            f"got {fit_intercept!r} and {penalize_intercept!r}."
        )
    if penalize_intercept and not fit_intercept:
        raise IncompatibleOptionsError(
            f"{owner}: penalize_intercept=True requires fit_intercept=True; "
            "set fit_intercept=True or penalize_intercept=False."
        )
    blocks = row_blocks(owner, X, y, sample_weight)
    _check_primal(owner, blocks, penalize_intercept)
    summary = distributed_stats(blocks, owner)
    stats = summary.total
    mode = intercept_mode(fit_intercept, penalize_intercept)
    spectrum = spectrum_from_stats(stats, mode, n_positive=int(summary.positive.sum()))
    alphas = check_alpha_grid(
        owner, default_alphas(spectrum, int(n_alphas)) if alphas is None else alphas
    )
    coefs, intercepts = spectrum.coefficients(alphas)
    condition = spectral_condition(spectrum.eigenvalues, spectrum.penalties(alphas))
    options = dict(fit_intercept=fit_intercept, penalize_intercept=penalize_intercept)
    certificates = _certificates(stats, coefs, intercepts, alphas, **options)
    coefs, intercepts = coefs.astype(blocks.dtype), intercepts.astype(blocks.dtype)
    solvers = ["spectral"] * alphas.size
    for j in np.flatnonzero(~(condition <= SPECTRAL_MAX_CONDITION)):
        result = solve_from_stats(
            stats,
            np.full(blocks.n_targets, alphas[j]),
            single_target=False,
            owner=owner,
            dtype=blocks.dtype,
            **options,
        )
        coefs[j], intercepts[j] = result.coef, result.intercept
        solvers[j], certificates[j] = result.solver, result.certificate
    if blocks.single_target:
        coefs, intercepts = coefs[:, 0], intercepts[:, 0]
    return RidgePath(
        alphas,
        coefs,
        intercepts,
        spectrum.effective_df(alphas),
        spectrum.form,
        condition_numbers=condition,
        solvers=tuple(solvers),
        certificates=tuple(certificates),
    )


# ----------------------------------------------------------------------- RidgeCV


def _block_loo_sums(X, Y, weights, spectrum, alphas):
    """Leave-one-out sums of one block, from the client's eigendecomposition (a worker task)."""
    part = replace(
        spectrum,
        X=np.asarray(X),
        Y=np.asarray(Y),
        sample_weight=None if weights is None else np.asarray(weights, dtype=np.float64),
    )
    return part.leave_one_out_sums(alphas)


def _leave_one_out(blocks: RowBlocks, spectrum, alphas):
    """Exact LOO errors: the second pass; each block returns its per-alpha sums only."""
    task = dask.delayed(_block_loo_sums, pure=True)
    # The spectrum (p x p eigenvectors and the projections) is sent once and
    # shared by every block task.
    shared = dask.delayed(spectrum, traverse=False)
    parts = [
        task(
            blocks.X[i],
            blocks.Y[i],
            None if blocks.weights is None else blocks.weights[i],
            shared,
            alphas,
        )
        for i in range(len(blocks))
    ]
    (sums,) = compute(tree_reduce(parts, lambda items: sum(items[1:], items[0])))
    return spectrum.leave_one_out_from_sums(sums)


def _closed_form(criterion):
    nan = np.full(criterion.shape, np.nan)
    return criterion.mean(axis=1), nan[:, 0], (criterion, nan)


def fit_ridge_cv(estimator, X, y, sample_weight=None, groups=None):
    """``RidgeCV.fit`` on Dask collections (registered as its handler).

    Supports ``cv`` None (exact LOO, a second pass), ``"gcv"``, ``"evidence"``
    and k-fold with fold labels from row positions (an integer, an unshuffled
    ``KFold`` or :class:`~l2reg.dask.HashedKFold`), all with the squared-error
    criterion; ``scoring`` other than MSE needs the predictions of every row
    and is refused.
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
    kfold = not (cv is None or isinstance(cv, str))
    folds = fold_rule(owner, cv, blocks.n_samples) if kfold else None
    summary = distributed_stats(blocks, owner, folds)
    stats = summary.total
    n_positive = int(summary.positive.sum())
    if n_positive < 2:
        raise InvalidParameterError(
            f"{owner}: choosing alpha needs at least 2 samples with positive weight; got "
            f"{n_positive}."
        )
    mode = intercept_mode(estimator.fit_intercept, estimator.penalize_intercept)
    spectrum = spectrum_from_stats(stats, mode, n_positive=n_positive)
    alphas = (
        default_alphas(spectrum)
        if estimator.alphas is None
        else check_alpha_grid(owner, estimator.alphas)
    )
    k = blocks.n_targets
    per_target = estimator.alpha_per_target and k > 1
    results = {"alphas": alphas, "effective_df": spectrum.effective_df(alphas)}
    if cv is None:
        loo = _leave_one_out(blocks, spectrum, alphas)
        error, std_error = loo.mean_error_targets, loo.std_error_targets
        by_target = (loo.mean_error, loo.std_error)
    elif cv == "gcv":
        error, std_error, by_target = _closed_form(spectrum.gcv(alphas))
    elif cv == "evidence":
        log_evidence = spectrum.log_evidence(alphas) + _log_weight_term(blocks, owner)
        error, std_error, by_target = _closed_form(-log_evidence)
        results["log_evidence"] = log_evidence if per_target else log_evidence.mean(axis=1)
    else:
        error, std_error, by_target = kfold_errors_from_stats(
            list(summary.groups), stats, mode, alphas, n_positive, summary.positive
        )
    if per_target:
        mean_error, mean_std = by_target
        choice = [
            select_alpha(alphas, mean_error[:, t], mean_std[:, t], estimator.selection)
            for t in range(k)
        ]
        alpha = alphas[choice]
        best = -mean_error[choice, np.arange(k)]
    else:
        mean_error, mean_std = error, std_error
        index = select_alpha(alphas, error, std_error, estimator.selection)
        alpha = np.full(k, alphas[index])
        best = -error[index]
    results["mean_error"] = mean_error
    results["std_error"] = mean_std
    if k > 1 and by_target[0] is not None:
        results["mean_error_per_target"] = by_target[0]
    result = solve_from_stats(
        stats,
        alpha,
        fit_intercept=estimator.fit_intercept,
        penalize_intercept=estimator.penalize_intercept,
        single_target=blocks.single_target,
        owner=owner,
        dtype=blocks.dtype,
    )
    blocks.set_feature_attributes(estimator)
    store_result(estimator, result, blocks.single_target)
    estimator.alpha_ = alpha if per_target else float(alpha[0])
    estimator.best_score_ = best if per_target else float(best)
    estimator.cv_results_ = results
    return estimator


def _block_log_weights(weights):
    weights = np.asarray(weights, dtype=np.float64)
    return float(np.sum(np.log(weights[weights > 0])))


def _log_weight_term(blocks: RowBlocks, owner: str) -> float:
    """``(1/2) sum_{w_i > 0} log w_i``, the evidence's weight constant (0 for unit weights).

    A statistics-only spectrum has no weights and counts this term as 0.
    """
    if blocks.weights is None:
        return 0.0
    task = dask.delayed(_block_log_weights, pure=True)
    (total,) = compute(tree_reduce([task(w) for w in blocks.weights], sum))
    return 0.5 * total
