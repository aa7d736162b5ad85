"""Loss functions: plain objects with value and gradient in the raw prediction.

Every loss is averaged with sample weights, ``sum_i w_i loss_i / sum_i w_i``
(see :mod:`l2reg.conventions`); the penalty is added by the Problem.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SquaredLoss"]


class SquaredLoss:
    """Squared error ``(y - raw)^2`` (no 1/2, as in the seed's mean squared error)."""

    is_classification = False
    canonical_link = "identity"

    def get_params(self, deep: bool = True) -> dict:
        return {}

    def set_params(self, **params) -> SquaredLoss:
        if params:
            raise ValueError(f"SquaredLoss has no parameters; got {sorted(params)}.")
        return self

    def value(self, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray) -> float:
        """Weighted mean of ``(y - raw)^2`` (summed over targets for 2-D y)."""
        residual = np.reshape(y - raw, (y.shape[0], -1))
        return float(sample_weight @ (residual**2).sum(axis=1) / sample_weight.sum())

    def gradient(self, y: np.ndarray, raw: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`value` with respect to each raw prediction."""
        scale = 2.0 * sample_weight / sample_weight.sum()
        return (raw - y) * (scale if y.ndim == 1 else scale[:, None])
