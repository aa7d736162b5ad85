"""Penalties on the coefficients, in l2reg's convention (no 1/2 on the L2 term)."""

from __future__ import annotations

import numpy as np

__all__ = ["L2"]


class L2:
    """``alpha * ||theta||^2``.

    Parameters
    ----------
    alpha : float
        Regularization strength, ``>= 0``.
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def get_params(self, deep: bool = True) -> dict:
        return {"alpha": self.alpha}

    def set_params(self, **params) -> L2:
        for key, value in params.items():
            if key != "alpha":
                raise ValueError(f"L2 has no parameter {key!r}; its only parameter is 'alpha'.")
            self.alpha = value
        return self

    def value(self, coef: np.ndarray) -> float:
        return float(self.alpha * np.sum(coef**2))

    def gradient(self, coef: np.ndarray) -> np.ndarray:
        return 2.0 * self.alpha * coef

    def __repr__(self) -> str:
        return f"L2(alpha={self.alpha!r})"
