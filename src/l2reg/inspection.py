r"""Inspecting fitted ridge models: degrees of freedom, standard errors, least squares.

Every function takes a fitted :class:`l2reg.Ridge` or
:class:`l2reg.model_selection.RidgeCV` and the data it was fitted on (the
estimators do not keep the data).

Notation: ``lam = alpha * W`` with ``W = sum(w)`` (l2reg's alpha multiplies
the *mean* loss), ``z_i = [x_i - s, 1]`` the design row with ``s`` the
weighted mean of X when the intercept is fitted and not penalized (else
``s = 0``; without an intercept ``z_i = x_i``), and the "bread"
``M = sum_i w_i z_i z_i^T + P`` with ``P = lam`` on the coefficients (and on
the intercept only if it is penalized).  The ridge estimate is
``phi = M^{-1} sum_i w_i z_i y_i``, linear in y.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from l2reg._validation import check_alpha, check_sample_weight, check_target
from l2reg.exceptions import InvalidParameterError
from l2reg.model_selection._spectral import intercept_mode, spectral_decomposition
from l2reg.objective.gram import gram_stats
from l2reg.objective.losses import SquaredLoss

__all__ = [
    "effective_degrees_of_freedom",
    "coef_standard_errors",
    "RidgeStandardErrors",
    "compare_with_least_squares",
    "LeastSquaresComparison",
]

#: Rows per block of the sandwich's "meat" pass (as in l2reg.objective.gram).
_BLOCK_ROWS = 4096


def _fitted_setup(owner, estimator, X, sample_weight):
    check_is_fitted(estimator, "coef_")
    X = check_array(X, dtype=[np.float64, np.float32])
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    if X.shape[1] != coef.shape[1]:
        raise InvalidParameterError(
            f"{owner}: X has {X.shape[1]} features but the estimator was fitted with "
            f"{coef.shape[1]}; pass the training data."
        )
    alpha = getattr(estimator, "alpha_", None)
    if alpha is None:
        alpha = estimator.alpha
    alpha = check_alpha(owner, alpha, coef.shape[0])
    weights = None
    if sample_weight is not None:
        weights = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
    params = estimator.get_params()
    mode = intercept_mode(params["fit_intercept"], params.get("penalize_intercept", False))
    return X, coef, alpha, weights, mode


def effective_degrees_of_freedom(estimator, X, sample_weight=None):
    """Trace of the hat matrix of a fitted ridge model.

    ``df = [1] + sum_j s_j / (s_j + lam)`` with ``s_j`` the eigenvalues of the
    weighted (centered) Gram matrix of X and ``lam = alpha * sum(w)``; the 1
    counts an intercept that is fitted and not penalized (a penalized
    intercept is one more shrunk direction).  It runs from the rank of the
    design (``alpha -> 0``) down to 0 or 1 (``alpha -> inf``).  At
    ``alpha = 0`` exactly it is that rank (plus the intercept): the number of
    singular values of the weighted (centered) design above
    ``numpy.linalg.lstsq``'s cutoff, the directions the ``svd`` solver keeps
    for the minimum-norm least-squares fit.

    Parameters
    ----------
    estimator : fitted Ridge or RidgeCV
    X : array-like of shape (n_samples, n_features)
        The training data.
    sample_weight : array-like of shape (n_samples,), default=None
        The training weights.

    Returns
    -------
    float or ndarray of shape (n_targets,)
        One value per target for a multi-target fit.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import Ridge
    >>> from l2reg.inspection import effective_degrees_of_freedom
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> model = Ridge(alpha=1e-9).fit(X, [1.0, 2.0, 4.0, 5.0])
    >>> round(effective_degrees_of_freedom(model, X), 6)  # 2 features + intercept
    3.0
    """
    owner = "effective_degrees_of_freedom"
    X, coef, alpha, weights, mode = _fitted_setup(owner, estimator, X, sample_weight)
    spectrum = spectral_decomposition(
        X,
        np.zeros((X.shape[0], 1)),
        weights,
        fit_intercept=mode != "none",
        penalize_intercept=mode == "penalized",
        owner=owner,
    )
    unpenalized = alpha == 0
    df = np.empty(alpha.shape)
    if not np.all(unpenalized):
        df[~unpenalized] = spectrum.effective_df(alpha[~unpenalized])
    if np.any(unpenalized):
        # s / (s + 0) cannot tell a rounding-level eigenvalue of the Gram matrix
        # (~eps * s_max) from a real one: count singular values of the design.
        df[unpenalized] = _design_rank(X, weights, mode) + (mode == "centered")
    return float(df[0]) if np.ndim(estimator.coef_) == 1 else df


def _design_rank(X, weights, mode) -> int:
    """Rank of ``sqrt(w) * Z`` with ``numpy.linalg.lstsq``'s cutoff (the ``svd`` solver's).

    ``Z`` is X centered at its weighted mean (``mode="centered"``), ``[X, 1]``
    (``"penalized"``: the intercept is one more coefficient) or X (``"none"``).
    """
    w = np.ones(X.shape[0]) if weights is None else weights
    design = np.asarray(X, dtype=np.float64)
    if mode == "centered":
        design = design - w @ design / w.sum()
    elif mode == "penalized":
        design = np.hstack([design, np.ones((design.shape[0], 1))])
    design = design * np.sqrt(w)[:, None]
    if design.size == 0:
        return 0
    singular_values = np.linalg.svd(design, compute_uv=False)
    cutoff = max(design.shape) * np.finfo(np.float64).eps * singular_values[0]
    return int(np.count_nonzero(singular_values > cutoff))


@dataclass(frozen=True)
class RidgeStandardErrors:
    """Approximate standard errors of a ridge fit, conditional on alpha.

    Attributes
    ----------
    coef : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept : float or ndarray of shape (n_targets,)
        0 when no intercept is fitted.
    covariance : ndarray of shape (n_targets, n_params, n_params)
        Covariance of ``[coef, intercept]`` (the intercept last, when fitted).
    kind : str
    effective_df : float or ndarray of shape (n_targets,)
    """

    coef: np.ndarray
    intercept: float | np.ndarray
    covariance: np.ndarray
    kind: str
    effective_df: float | np.ndarray


def coef_standard_errors(estimator, X, y, sample_weight=None, *, kind="sandwich"):
    r"""Approximate standard errors of ridge coefficients, conditional on alpha.

    The ridge estimate is linear in y, ``phi = M^{-1} sum_i w_i z_i y_i`` (see
    the module docstring), so for fixed alpha and independent errors

    .. math::

        \operatorname{Cov}(\hat\phi) = M^{-1}
        \Bigl(\sum_i w_i^2 \operatorname{Var}(y_i)\, z_i z_i^\top\Bigr) M^{-1}.

    * ``kind="sandwich"`` (default): ``Var(y_i)`` estimated by the squared
      residual ``r_i^2``, times ``n / (n - df)`` (the HC1 small-sample factor
      with the effective degrees of freedom; ``n`` counts positive weights).
      Robust to heteroskedastic errors.
    * ``kind="homoskedastic"``: ``Var(y_i) = sigma^2 / w_i`` with
      ``sigma^2 = sum_i w_i r_i^2 / (n - df)``, i.e.
      ``sigma^2 M^{-1} (sum_i w_i z_i z_i^T) M^{-1}``.

    These describe the spread of the estimate around *its own* expectation
    for the given alpha.  They ignore the shrinkage bias (the estimate is
    not centred on the true coefficients) and that alpha was chosen from
    the same data, so they are approximate: use them to compare coefficients
    or to see what the penalty does to the variance, not as exact confidence
    intervals.  As ``alpha -> 0`` they become the usual OLS standard errors
    (classical, or HC1).

    Parameters
    ----------
    estimator : fitted Ridge or RidgeCV
    X : array-like of shape (n_samples, n_features)
        The training data.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : array-like of shape (n_samples,), default=None
    kind : {"sandwich", "homoskedastic"}, default="sandwich"

    Returns
    -------
    RidgeStandardErrors
    """
    owner = "coef_standard_errors"
    if kind not in ("sandwich", "homoskedastic"):
        raise InvalidParameterError(
            f"{owner}: 'kind' must be one of 'sandwich', 'homoskedastic'; got {kind!r}."
        )
    X, coef, alpha, weights, mode = _fitted_setup(owner, estimator, X, sample_weight)
    Y = check_target(owner, y, X.shape[0], np.float64)
    Y = Y.reshape(X.shape[0], -1)
    n, p = X.shape
    k = coef.shape[0]
    if Y.shape[1] != k:
        raise InvalidParameterError(
            f"{owner}: y has {Y.shape[1]} target(s) but the estimator has {k}."
        )
    w = np.ones(n) if weights is None else weights
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    residual = Y - (np.asarray(X, dtype=np.float64) @ coef.T + intercept)
    df = effective_degrees_of_freedom(estimator, X, sample_weight=weights)
    df = np.broadcast_to(np.asarray(df, dtype=float), (k,))
    n_positive = int(np.count_nonzero(w > 0))
    denominator = np.maximum(n_positive - df, 1e-12)

    # Moments of the design z = [x - s, 1] (s: mean when the intercept is profiled).
    stats = gram_stats(X, np.zeros((n, 1)), weights, dtype=np.float64)
    W = stats.weight_sum
    shift = stats.x_mean if mode == "centered" else np.zeros(p)
    gram = stats.xx if mode == "centered" else stats.xx + W * np.outer(stats.x_mean, stats.x_mean)
    if mode == "none":
        design_moments = gram
    else:
        sums = W * (stats.x_mean - shift)  # zero when centered
        design_moments = np.block([[gram, sums[:, None]], [sums[None, :], np.array([[W]])]])
    q = design_moments.shape[0]

    covariance = np.empty((k, q, q))
    for t in range(k):
        lam = alpha[t] * W
        penalty = np.full(q, lam)
        if mode == "centered":
            penalty[-1] = 0.0
        inverse = np.linalg.pinv(design_moments + np.diag(penalty), hermitian=True)
        if kind == "homoskedastic":
            sigma2 = float(w @ residual[:, t] ** 2) / denominator[t]
            meat = sigma2 * design_moments
        else:
            meat = _weighted_outer(X, shift, mode, (w * residual[:, t]) ** 2)
            meat *= n_positive / denominator[t]
        cov = inverse @ meat @ inverse
        if mode == "centered":  # back from b' = b + s.theta to b
            J = np.eye(q)
            J[-1, :-1] = -shift
            cov = J @ cov @ J.T
        covariance[t] = (cov + cov.T) / 2
    errors = np.sqrt(np.maximum(np.diagonal(covariance, axis1=1, axis2=2), 0.0))
    coef_se = errors[:, :p]
    intercept_se = errors[:, p] if mode != "none" else np.zeros(k)
    single = np.ndim(estimator.coef_) == 1
    return RidgeStandardErrors(
        coef=coef_se[0] if single else coef_se,
        intercept=float(intercept_se[0]) if single else intercept_se,
        covariance=covariance,
        kind=kind,
        effective_df=float(df[0]) if single else np.array(df),
    )


def _weighted_outer(X, shift, mode, row_weights):
    """``sum_i row_weights_i z_i z_i^T`` for ``z_i = [x_i - shift, (1)]``, blockwise."""
    n, p = X.shape
    q = p + (mode != "none")
    total = np.zeros((q, q))
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        block = np.empty((stop - start, q))
        np.subtract(X[start:stop], shift, out=block[:, :p])
        if mode != "none":
            block[:, p] = 1.0
        total += block.T @ (block * row_weights[start:stop, None])
    return total


@dataclass(frozen=True)
class LeastSquaresComparison:
    """A fitted ridge model next to the least-squares fit of the same data.

    Every attribute is a dict with the keys ``"least squares"`` and ``"ridge"``
    (in that order), ready for a table or :func:`l2reg.plotting.plot_coefficients`.

    Attributes
    ----------
    models : dict of str to estimator
        ``"least squares"``: ``l2reg.Ridge(alpha=0)`` fitted on the data (the
        minimum-norm solution when X is rank deficient, ``solver_ == "svd"``);
        ``"ridge"``: the estimator that was given.
    coef_norm : dict of str to float or ndarray of shape (n_targets,)
        ``||theta||_2`` (the intercept not included).
    r2 : dict of str to float
        The coefficient of determination on the data (``score``).
    objective : dict of str to float or ndarray of shape (n_targets,)
        The objective ``J`` of each model at its own alpha: the weighted mean
        squared error for least squares, plus ``alpha ||theta||^2`` (and
        ``alpha b^2`` with ``penalize_intercept``) for ridge.
    """

    models: dict
    coef_norm: dict
    r2: dict
    objective: dict


def compare_with_least_squares(estimator, X, y, sample_weight=None):
    """What the penalty does: a fitted ridge model against least squares on the same data.

    Fits ``l2reg.Ridge(alpha=0)`` (with the estimator's ``fit_intercept``) and
    evaluates both models on the data: coefficient norms, R^2 and the objective
    at each model's own alpha.  The ridge model is not refitted: its objective
    is evaluated at its fitted coefficients with its alpha (``alpha_`` for
    :class:`~l2reg.model_selection.RidgeCV`).

    Parameters
    ----------
    estimator : fitted Ridge or RidgeCV
    X : array-like of shape (n_samples, n_features)
        The training data.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    LeastSquaresComparison

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg import Ridge
    >>> from l2reg.inspection import compare_with_least_squares
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> y = [1.0, 2.0, 4.0, 5.0]
    >>> comparison = compare_with_least_squares(Ridge(alpha=0.1).fit(X, y), X, y)
    >>> bool(comparison.coef_norm["ridge"] < comparison.coef_norm["least squares"])
    True
    """
    from l2reg.linear_model import Ridge

    owner = "compare_with_least_squares"
    X, coef, alpha, weights, mode = _fitted_setup(owner, estimator, X, sample_weight)
    Y = check_target(owner, y, X.shape[0], np.float64)
    if Y.reshape(X.shape[0], -1).shape[1] != coef.shape[0]:
        raise InvalidParameterError(
            f"{owner}: y has {Y.reshape(X.shape[0], -1).shape[1]} target(s) but the "
            f"estimator has {coef.shape[0]}; pass the training targets."
        )
    least_squares = Ridge(alpha=0.0, fit_intercept=mode != "none")
    least_squares.fit(X, Y, sample_weight=weights)
    models = {"least squares": least_squares, "ridge": estimator}
    single = np.ndim(estimator.coef_) == 1
    norms, r2, objective = {}, {}, {}
    for label, model in models.items():
        model_alpha = 0.0 if model is least_squares else alpha
        values = _objective(model, X, Y, weights, model_alpha, mode == "penalized")
        norm = np.linalg.norm(np.atleast_2d(model.coef_), axis=1)
        norms[label] = float(norm[0]) if single else norm
        objective[label] = float(values[0]) if single else values
        r2[label] = float(model.score(X, Y, sample_weight=weights))
    return LeastSquaresComparison(models=models, coef_norm=norms, r2=r2, objective=objective)


def _objective(model, X, Y, weights, alpha, penalize_intercept) -> np.ndarray:
    """``J`` per target at the model's fitted parameters (l2reg's squared loss plus the penalty)."""
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    Y = Y.reshape(X.shape[0], -1)
    raw = np.asarray(X, dtype=np.float64) @ coef.T + intercept
    w = np.ones(X.shape[0]) if weights is None else weights
    loss = SquaredLoss()
    values = np.array([loss.value(Y[:, t], raw[:, t], w) for t in range(Y.shape[1])])
    values = values + alpha * np.sum(coef**2, axis=1)
    if penalize_intercept:
        values = values + alpha * intercept**2
    return values
