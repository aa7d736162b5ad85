"""Turning cross-validation error curves into a choice of alpha (shared by every CV estimator)."""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_standard_error", "select_alpha"]


def weighted_standard_error(values, weights, *, axis=0):
    """Standard error of the weighted mean of ``values`` along ``axis``.

    ``sqrt(sum_f w_f^2 (v_f - m)^2) / sum_f w_f * sqrt(K / (K - 1))`` with ``m``
    the weighted mean and ``K`` the number of positive weights: for equal
    weights it is the usual ``std(v, ddof=1) / sqrt(K)``.  NaN when K < 2.
    """
    values = np.moveaxis(np.asarray(values, dtype=float), axis, 0)
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    count = int(np.count_nonzero(weights > 0))
    if count < 2:
        return np.full(values.shape[1:], np.nan)
    mean = np.tensordot(weights, values, axes=1) / total
    spread = np.tensordot(weights**2, (values - mean) ** 2, axes=1)
    return np.sqrt(spread * count / (count - 1)) / total


def select_alpha(alphas, error, std_error, rule: str) -> int:
    """Index of the chosen alpha on one error curve (lower error is better).

    ``"min"``: the smallest error.  ``"1se"``: the largest alpha whose error is
    at most the smallest error plus its standard error (Breiman et al., 1984;
    glmnet's ``lambda.1se``).
    """
    best = int(np.nanargmin(error))
    if rule == "min":
        return best
    candidates = np.flatnonzero(error <= error[best] + std_error[best])
    return int(candidates[np.argmax(alphas[candidates])])
