"""Penalties on the coefficients, in l2reg's convention (no 1/2 on the L2 term)."""

from __future__ import annotations

import numpy as np

__all__ = ["L2", "ElasticNet", "coordinate_conjugate"]


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


class ElasticNet:
    """The elastic-net penalty of glmnet and scikit-learn, with per-feature factors.

    ``alpha * l1_ratio * sum_j pf_j |theta_j|
    + (alpha / 2) * (1 - l1_ratio) * sum_j pf_j theta_j^2``.

    glmnet's and scikit-learn's form, half of the ridge form on the L2 part, so
    ``l1_ratio=0`` with unit factors is :class:`L2` with the same ``alpha``
    applied to half of l2reg's ridge objective (the same minimizer).

    Parameters
    ----------
    alpha : float
        Overall strength, ``> 0``.
    l1_ratio : float
        Share of the L1 part, in ``[0, 1]``.
    penalty_factor : ndarray of shape (n_features,) or None
        Per-feature factors ``pf_j >= 0`` on both parts, used as given (never
        rescaled); None means all ones.  ``pf_j = 0`` leaves feature j
        unpenalized.
    positive : bool
        Constrain the coefficients to be ``>= 0`` (the indicator of the
        non-negative orthant is added to the penalty).
    """

    def __init__(self, alpha=1.0, l1_ratio=0.5, penalty_factor=None, positive=False):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.penalty_factor = penalty_factor
        self.positive = positive

    def get_params(self, deep: bool = True) -> dict:
        return {
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "penalty_factor": self.penalty_factor,
            "positive": self.positive,
        }

    def set_params(self, **params) -> ElasticNet:
        known = self.get_params()
        for key, value in params.items():
            if key not in known:
                raise ValueError(
                    f"ElasticNet has no parameter {key!r}; its parameters are {sorted(known)}."
                )
            setattr(self, key, value)
        return self

    def factors(self, n_features: int) -> np.ndarray:
        """``pf`` as a float64 array of length ``n_features``."""
        if self.penalty_factor is None:
            return np.ones(n_features)
        return np.asarray(self.penalty_factor, dtype=np.float64)

    def weights(self, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature ``(l1, l2)`` with ``penalty = sum l1 |t| + sum l2 t^2 / 2``."""
        pf = self.factors(n_features)
        return self.alpha * self.l1_ratio * pf, self.alpha * (1.0 - self.l1_ratio) * pf

    def value(self, coef: np.ndarray) -> float:
        """The penalty at ``coef`` (``inf`` for a negative entry when ``positive``)."""
        coef = np.asarray(coef, dtype=np.float64)
        if self.positive and np.any(coef < 0):
            return float("inf")
        l1, l2 = self.weights(coef.shape[-1])
        return float(l1 @ np.abs(coef) + 0.5 * (l2 @ coef**2))

    def conjugate(self, s: np.ndarray) -> np.ndarray:
        """Fenchel conjugate of each coordinate's penalty at ``s`` (shape ``(n_features,)``).

        ``g_j(t) = l1_j |t| + l2_j t^2 / 2`` (plus ``t >= 0`` when positive) has
        ``g_j*(s) = (|s| - l1_j)_+^2 / (2 l2_j)`` (``s_+`` in place of ``|s|``
        when positive); with ``l2_j = 0`` it is 0 on ``|s| <= l1_j`` and
        ``inf`` outside.
        """
        s = np.asarray(s, dtype=np.float64)
        l1, l2 = self.weights(s.shape[0])
        return coordinate_conjugate(s, l1, l2, self.positive)

    def __repr__(self) -> str:
        return (
            f"ElasticNet(alpha={self.alpha!r}, l1_ratio={self.l1_ratio!r}, "
            f"penalty_factor={self.penalty_factor!r}, positive={self.positive!r})"
        )


def coordinate_conjugate(s, l1, l2, positive: bool) -> np.ndarray:
    """Conjugates ``g_j*(s_j)`` of the elastic net's coordinate penalties (see
    :meth:`ElasticNet.conjugate`), from the weights ``l1``, ``l2``."""
    excess = (np.maximum(s, 0.0) if positive else np.abs(s)) - l1
    excess = np.maximum(excess, 0.0)
    out = np.zeros_like(excess)
    smooth = l2 > 0
    out[smooth] = excess[smooth] ** 2 / (2.0 * l2[smooth])
    out[~smooth & (excess > 0)] = np.inf
    return out
