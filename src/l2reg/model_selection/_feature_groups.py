"""One alpha per block of features for ``RidgeCV(feature_groups=...)``.

The model is ``Ridge(alpha_, penalty_factor=m[g(j)])``: feature j of group
``g(j)`` carries ``alpha_ * m_g``.  ``alpha_`` is ``RidgeCV``'s usual choice
with every multiplier 1 (one decomposition, every alpha); then the
multipliers ``m`` (one per group) are chosen by the same criterion (exact LOO,
GCV or the evidence) at that ``alpha_``:

``"grid"``
    the product grid ``GROUP_MULTIPLIERS`` ** n_groups around the common
    choice (5 values per group: 5**G points), each point one decomposition of
    the penalty's standard form (:mod:`l2reg.objective.tikhonov`: a p x p
    ``eigh``; LOO adds one product of X with the p x p basis);
``"optimize"``
    L-BFGS-B over ``log m`` (bounded to ``OPTIMIZE_BOUNDS``), started at the
    common choice (``m = 1``), with finite-difference gradients: each
    evaluation is again one decomposition.

The number of decompositions is reported in ``group_cv_results_``; the
criterion values of every point evaluated are kept there too.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.optimize

from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.model_selection._spectral import spectral_decomposition
from l2reg.objective.penalties import GeneralizedL2

__all__ = ["check_feature_groups", "choose_group_multipliers", "GROUP_MULTIPLIERS"]

#: Multipliers of the common alpha tried per group by the grid: two decades
#: each way in decade-and-a-half steps, so 5 values (5**G decompositions).
GROUP_MULTIPLIERS = np.geomspace(1e-2, 1e2, 5)
#: The grid's largest product (5**5): beyond, the optimizer is the practical choice.
MAX_GRID_POINTS = 3125
#: Bounds of the optimizer's multipliers (four decades each way).
OPTIMIZE_BOUNDS = (1e-4, 1e4)


def check_feature_groups(owner: str, feature_groups, n_features: int) -> np.ndarray:
    """Each feature's group index (0..G-1, in the order of ``np.unique`` of the labels)."""
    labels = np.asarray(feature_groups)
    if labels.ndim != 1 or labels.shape[0] != n_features:
        raise InvalidParameterError(
            f"{owner}: 'feature_groups' must hold one group label per feature, shape "
            f"({n_features},); got shape {labels.shape}."
        )
    _, index = np.unique(labels, return_inverse=True)
    if index.max() < 1:
        raise InvalidParameterError(
            f"{owner}: 'feature_groups' has a single group; drop it (one alpha for all "
            "features is RidgeCV's default) or give at least two groups."
        )
    return index.astype(np.intp)


def check_group_options(estimator, scorer) -> None:
    """The options ``feature_groups`` cannot be combined with, with the reason."""
    owner = type(estimator).__name__
    refused = []
    if not (estimator.cv is None or estimator.cv in ("gcv", "evidence")):
        refused.append(f"cv={estimator.cv!r} (k-fold)")
    if scorer is not None:
        refused.append(f"scoring={estimator.scoring!r}")
    if estimator.alpha_per_target:
        refused.append("alpha_per_target=True")
    if estimator.selection != "min":
        refused.append(f"selection={estimator.selection!r}")
    if estimator.penalty_factor is not None or estimator.penalty_matrix is not None:
        refused.append("penalty_factor or penalty_matrix (the groups set the factors)")
    if refused:
        raise IncompatibleOptionsError(
            f"{owner}: feature_groups chooses one alpha per group by exact leave-one-out, "
            f"GCV or the evidence; it does not combine with {', '.join(refused)}."
        )


def _criterion(X, Y, weights, stats, cv, alpha, mode, description, owner):
    """The minimized criterion at ``alpha`` under ``description`` (lower is better).

    The decomposition of the data (not of the statistics alone), so that the
    evidence carries the weights' constant as ``RidgeCV``'s does; no pass over
    X except LOO's product and a prior mean's fitted values.
    """
    spectrum = spectral_decomposition(
        X,
        Y,
        weights,
        fit_intercept=mode != "none",
        penalize_intercept=mode == "penalized",
        stats=stats,
        owner=owner,
        penalty=description,
    )
    if cv is None:
        return float(spectrum.leave_one_out([alpha]).mean_error_targets[0])
    if cv == "gcv":
        return float(spectrum.gcv([alpha]).mean())
    return -float(spectrum.log_evidence([alpha]).mean())


def choose_group_multipliers(
    X, Y, weights, stats, *, mode, cv, alpha, groups, search, options, owner
):
    """``(multipliers (G,), results dict)``: the group multipliers of ``alpha`` chosen by ``cv``.

    ``options`` holds the estimator's other penalty options (``standardize``,
    ``prior_mean``: validated values) that every point shares.
    """
    n_groups = int(groups.max()) + 1

    def description(multipliers):
        return GeneralizedL2(
            penalty_factor=np.asarray(multipliers)[groups],
            standardize=options["standardize"],
            prior_mean=options["prior_mean"],
        )

    points, values = [], []

    def evaluate(multipliers):
        value = _criterion(X, Y, weights, stats, cv, alpha, mode, description(multipliers), owner)
        points.append(np.array(multipliers, dtype=float))
        values.append(value)
        return value

    if search == "grid":
        if GROUP_MULTIPLIERS.size**n_groups > MAX_GRID_POINTS:
            raise IncompatibleOptionsError(
                f"{owner}: the product grid of {n_groups} groups has "
                f"{GROUP_MULTIPLIERS.size}**{n_groups} = {GROUP_MULTIPLIERS.size**n_groups} "
                f"points (at most {MAX_GRID_POINTS}); use group_search='optimize'."
            )
        for combination in itertools.product(GROUP_MULTIPLIERS, repeat=n_groups):
            evaluate(combination)
        best = points[int(np.argmin(values))]
    else:
        low, high = np.log(OPTIMIZE_BOUNDS)
        result = scipy.optimize.minimize(
            lambda log_m: evaluate(np.exp(log_m)),
            np.zeros(n_groups),
            method="L-BFGS-B",
            bounds=[(low, high)] * n_groups,
        )
        best = np.exp(result.x)
        if evaluate(best) > min(values):  # the optimizer's point is not its best one
            best = points[int(np.argmin(values))]
    results = {
        "group_alphas": alpha * np.asarray(points),
        "mean_error": np.asarray(values),
        "n_decompositions": np.array([float(len(values))]),
    }
    return np.asarray(best, dtype=float), results
