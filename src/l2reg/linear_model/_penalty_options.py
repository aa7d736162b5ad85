"""The generalized L2 penalty options shared by the estimators: validation and docs.

``standardize``, ``penalty_factor``, ``penalty_matrix`` and ``prior_mean``
describe ``alpha * (theta - theta0)^T D Gamma^T Gamma D (theta - theta0)``
(:mod:`l2reg.objective.tikhonov`); :func:`check_penalty_options` validates
them against the data's shape and returns the
:class:`~l2reg.objective.penalties.GeneralizedL2` the ``Problem`` carries.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from l2reg._validation import InstanceOf, validate_params
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._elastic_net import check_penalty_factor
from l2reg.objective.penalties import GeneralizedL2

__all__ = [
    "PENALTY_OPTIONS",
    "PENALTY_OPTION_SPECS",
    "PENALTY_OPTIONS_DOC",
    "check_penalty_options",
    "check_penalty_values",
]

#: The options' names, as estimator parameters and ``ridge_path`` arguments.
PENALTY_OPTIONS = ("standardize", "penalty_factor", "penalty_matrix", "prior_mean")

#: Parameter specs of the options (shape checks need the data: see below).
PENALTY_OPTION_SPECS = {"standardize": [InstanceOf((bool,))]}

#: The options' numpydoc entries, written once for every estimator.
PENALTY_OPTIONS_DOC = """\
    standardize : bool, default=False
        Penalize the coefficients of the standardized features, as glmnet's
        ``standardize=TRUE``: feature j's term is multiplied by its weighted
        (1/n) variance, computed in the same pass as the Gram matrix (about
        the weighted mean with an intercept, about 0 without one).  X is never
        rescaled or copied, and ``coef_`` is on the original scale.  A
        constant column keeps a unit scale (its coefficient stays at its prior
        mean, 0 by default).
    penalty_factor : array-like of shape (n_features,), default=None
        Per-feature factors ``f_j >= 0`` multiplying alpha for feature j
        (``alpha * sum_j f_j theta_j^2``); 0 leaves a feature unpenalized.
        Used **as given, never rescaled**: glmnet rescales its
        ``penalty.factor`` to sum to n_features, so glmnet's factors ``g``
        are l2reg's ``f = g * n_features / sum(g)`` (l2reg's
        :class:`~l2reg.ElasticNet` uses the same rule).  Not with
        ``penalty_matrix`` (fold the factors into its columns).
    penalty_matrix : array-like or scipy sparse matrix of shape (k, n_features), default=None
        Tikhonov matrix ``Gamma``: the penalty is ``alpha ||Gamma theta||^2``
        (``alpha ||Gamma D theta||^2`` with ``standardize``, D the standard
        deviations).  It may be rank deficient, e.g.
        :func:`l2reg.penalties.difference_matrix` for smooth coefficient
        profiles; its null space is unpenalized, and a null space that meets
        the data's (no unique solution) is an error.  Stored densified
        (k x n_features float64); a sparse one cannot be saved by
        :func:`l2reg.save` (pass ``.toarray()``).
    prior_mean : array-like of shape (n_features,) or (n_targets, n_features), default=None
        ``theta0``: shrink toward it instead of 0, ``alpha ||Gamma D (theta -
        theta0)||^2``.  Ridge toward theta0 is ridge on ``y - X theta0``,
        shifted back by theta0; the intercept is never shrunk toward it.
"""


def _float_values(owner: str, name: str, value, expected: str) -> np.ndarray:
    """``value`` as a float64 array, or an error naming what ``name`` must be."""
    if isinstance(value, str | bytes) or sp.issparse(value):
        raise InvalidParameterError(f"{owner}: {name!r} must be {expected}; got {value!r}.")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{owner}: {name!r} must hold real numbers; got {type(value).__name__}."
        ) from exc


def _check_matrix(owner: str, matrix, n_features: int):
    if matrix is None:
        return None
    if sp.issparse(matrix):
        values = matrix.tocsr().astype(np.float64)
        data = values.data
    else:
        expected = f"a 2-D array or sparse matrix of width {n_features}"
        values = data = _float_values(owner, "penalty_matrix", matrix, expected)
    if values.ndim != 2 or values.shape[1] != n_features or values.shape[0] < 1:
        raise InvalidParameterError(
            f"{owner}: 'penalty_matrix' must have shape (k, n_features) = (k, {n_features}) "
            f"with k >= 1, one column per feature; got shape {values.shape}."
        )
    if not np.all(np.isfinite(data)):
        raise InvalidParameterError(f"{owner}: 'penalty_matrix' contains NaN or infinity.")
    if not np.any(data != 0):
        raise InvalidParameterError(
            f"{owner}: 'penalty_matrix' is all zeros, so it penalizes nothing and alpha has no "
            "effect; pass a nonzero matrix, or use alpha=0 for least squares."
        )
    return values


def _check_prior(owner: str, prior, n_features: int, n_targets: int):
    if prior is None:
        return None
    expected = f"an array of shape ({n_features},) or ({n_targets}, {n_features})"
    values = _float_values(owner, "prior_mean", prior, expected)
    if values.shape == (n_features,):
        values = np.repeat(values[:, None], n_targets, axis=1)
    elif values.shape == (n_targets, n_features):
        values = values.T.copy()
    else:
        expected = f"({n_features},)" + (
            f" or ({n_targets}, {n_features}) (one row per target)" if n_targets > 1 else ""
        )
        raise InvalidParameterError(
            f"{owner}: 'prior_mean' must have shape {expected}, like coef_; "
            f"got shape {values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise InvalidParameterError(f"{owner}: 'prior_mean' contains NaN or infinity.")
    return values


def check_penalty_options(estimator, n_features: int, n_targets: int) -> GeneralizedL2 | None:
    """The validated penalty of ``estimator``'s options, or None for plain ``||theta||^2``.

    Returns a :class:`GeneralizedL2` whose factors have length ``n_features``,
    whose Gamma (dense array or CSR) has ``n_features`` columns, and whose
    prior mean has shape ``(n_features, n_targets)``.
    """
    return check_penalty_values(
        type(estimator).__name__,
        {name: getattr(estimator, name) for name in PENALTY_OPTIONS},
        n_features,
        n_targets,
    )


def check_penalty_values(owner: str, options: dict, n_features: int, n_targets: int):
    """:func:`check_penalty_options` for a function's arguments (``ridge_path``):
    ``options`` maps the four option names to their values."""
    validate_params(owner, {"standardize": options["standardize"]}, PENALTY_OPTION_SPECS)
    estimator = SimpleNamespace(**options)
    factors = check_penalty_factor(owner, estimator.penalty_factor, n_features)
    matrix = _check_matrix(owner, estimator.penalty_matrix, n_features)
    if factors is not None and matrix is not None:
        raise IncompatibleOptionsError(
            f"{owner}: penalty_factor and penalty_matrix cannot be combined; scale the columns "
            "of penalty_matrix by sqrt(penalty_factor) instead."
        )
    prior = _check_prior(owner, estimator.prior_mean, n_features, n_targets)
    penalty = GeneralizedL2(factors, matrix, prior, bool(estimator.standardize))
    return None if penalty.is_standard else penalty
