"""Ridge regularization paths from one eigendecomposition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_array

from l2reg._validation import check_sample_weight, check_target
from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.model_selection._spectral import default_alphas, spectral_decomposition

__all__ = ["RidgePath", "ridge_path", "check_alpha_grid"]


def check_alpha_grid(owner: str, alphas) -> np.ndarray:
    """A non-empty 1-D float array of finite, strictly positive alphas."""
    if isinstance(alphas, str | bytes | bool):
        raise InvalidParameterError(
            f"{owner}: 'alphas' must be an array of positive numbers; got {alphas!r}."
        )
    try:
        values = np.asarray(alphas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"{owner}: 'alphas' must be an array of positive numbers; got {alphas!r}."
        ) from exc
    values = np.atleast_1d(values)
    if values.ndim != 1 or values.size == 0:
        raise InvalidParameterError(
            f"{owner}: 'alphas' must be a non-empty 1-D array; got shape {values.shape}. "
            "Pass e.g. np.logspace(-4, 2, 50), or alphas=None for a grid built from the data."
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        bad = values[~(np.isfinite(values) & (values > 0))][0]
        raise InvalidParameterError(
            f"{owner}: every alpha must be finite and > 0; got {bad!r}. "
            "alpha=0 (no penalty) has no leave-one-out or evidence shortcut; use a small "
            "positive value instead."
        )
    return values


@dataclass(frozen=True)
class RidgePath:
    """Ridge solutions along a grid of alphas.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_alphas, n_features) or (n_alphas, n_targets, n_features)
    intercepts : ndarray of shape (n_alphas,) or (n_alphas, n_targets)
    effective_df : ndarray of shape (n_alphas,)
        Trace of the hat matrix at each alpha (the intercept counts 1 when it
        is fitted and not penalized).
    form : {"primal", "kernel"}
        Which eigendecomposition was used (p x p Gram or n x n kernel).
    """

    alphas: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    effective_df: np.ndarray
    form: str


def ridge_path(
    X,
    y,
    alphas=None,
    *,
    fit_intercept=True,
    penalize_intercept=False,
    sample_weight=None,
    n_alphas=100,
) -> RidgePath:
    r"""Ridge coefficients for every alpha from one eigendecomposition.

    Solves, for each alpha in the grid and each target,

    .. math::

        \min_{\theta, b} \frac{\sum_i w_i (y_i - x_i^\top\theta - b)^2}{\sum_i w_i}
        + \alpha \lVert\theta\rVert_2^2 \;(+\;\alpha b^2 \text{ if } penalize\_intercept)

    exactly as :class:`l2reg.Ridge` does, from one eigendecomposition of the
    weighted centered Gram matrix (``n >= p``, one blocked pass over X) or of
    the n x n kernel (``p > n``).  Every extra alpha costs O(p^2) per target.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    alphas : array-like of shape (n_alphas,), default=None
        Strictly positive alphas.  None: ``n_alphas`` values, geometric, whose
        effective degrees of freedom run from nearly the rank of X down to
        nearly 0 (see :func:`l2reg.model_selection._spectral.default_alphas`).
    fit_intercept : bool, default=True
    penalize_intercept : bool, default=False
    sample_weight : array-like of shape (n_samples,), default=None
    n_alphas : int, default=100
        Size of the automatic grid.

    Returns
    -------
    RidgePath
        ``coefs[j]`` and ``intercepts[j]`` equal ``Ridge(alpha=alphas[j])``'s
        ``coef_`` and ``intercept_``.

    Examples
    --------
    >>> import numpy as np
    >>> from l2reg.model_selection import ridge_path
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> path = ridge_path(X, [1.0, 2.0, 4.0, 5.0], alphas=[0.01, 1.0])
    >>> path.coefs.shape
    (2, 2)
    >>> bool(path.effective_df[0] > path.effective_df[1])
    True
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
    X = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False)
    Y = check_target(owner, y, X.shape[0], np.float64)
    single_target = Y.ndim == 1
    Y = Y[:, None] if single_target else Y
    if sample_weight is not None:
        sample_weight = check_sample_weight(owner, sample_weight, X.shape[0], np.float64)
    spectrum = spectral_decomposition(
        X,
        Y,
        sample_weight,
        fit_intercept=fit_intercept,
        penalize_intercept=penalize_intercept,
        owner=owner,
    )
    if alphas is None:
        alphas = default_alphas(spectrum, int(n_alphas))
    alphas = check_alpha_grid(owner, alphas)
    coefs, intercepts = spectrum.coefficients(alphas)
    if single_target:
        coefs, intercepts = coefs[:, 0], intercepts[:, 0]
    return RidgePath(alphas, coefs, intercepts, spectrum.effective_df(alphas), spectrum.form)
