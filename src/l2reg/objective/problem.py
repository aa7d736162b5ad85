"""The Problem: validated arrays, the loss, the penalty and the intercept rules, prepared once.

Every solver receives a :class:`Problem`.  Centering, sample weights and the
intercept are handled here and in :mod:`l2reg.objective.gram`, never per
solver (STYLE.md §1.2).  X is never copied or centered: centering is implicit
in the sufficient statistics and in the solvers' use of ``x_mean``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from l2reg._blas import matmul
from l2reg.objective.gram import GramStats, gram_stats
from l2reg.objective.losses import SquaredLoss

__all__ = ["Problem", "StatsEvaluation", "evaluate_from_stats"]


@dataclass(eq=False)
class Problem:
    """A penalized least-squares problem in l2reg's convention.

    ``J_k(theta_k, b_k) = sum_i w_i (y_ik - x_i.theta_k - b_k)^2 / sum_i w_i
    + alpha_k ||theta_k||^2 (+ alpha_k b_k^2 if penalize_intercept)`` for each
    target k; targets share X and the weights but are otherwise independent.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
        Always 2-D; ``single_target`` remembers whether y was 1-D.
    sample_weight : ndarray of shape (n_samples,) or None
        None means unit weights (and lets solvers skip the scaling).
    alpha : ndarray of shape (n_targets,)
    fit_intercept, penalize_intercept : bool
    """

    X: np.ndarray
    Y: np.ndarray
    sample_weight: np.ndarray | None
    alpha: np.ndarray
    fit_intercept: bool = True
    penalize_intercept: bool = False
    single_target: bool = False
    owner: str = "l2reg"  # the estimator's name, for error messages
    loss: SquaredLoss = field(default_factory=SquaredLoss)
    _gram_cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_targets(self) -> int:
        return self.Y.shape[1]

    @property
    def weights(self) -> np.ndarray:
        """Sample weights as an array (ones for unit weights)."""
        if self.sample_weight is None:
            return np.ones(self.n_samples)
        return self.sample_weight

    @property
    def weight_sum(self) -> float:
        if self.sample_weight is None:
            return float(self.n_samples)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    def gram(self, dtype=None) -> GramStats:
        """Sufficient statistics, computed once per precision and cached.

        A request for float32 statistics is served by cached float64 ones
        (more accurate, and no pass over X).
        """
        key = np.dtype(dtype or self.X.dtype)
        if key not in self._gram_cache:
            if key == np.float32 and np.dtype(np.float64) in self._gram_cache:
                return self._gram_cache[np.dtype(np.float64)]
            self._gram_cache[key] = gram_stats(self.X, self.Y, self.sample_weight, dtype=key)
        return self._gram_cache[key]

    def with_gram(self, stats: GramStats, dtype=np.float64) -> Problem:
        """A copy of this problem whose statistics cache holds ``stats``.

        For callers that already made the pass over X (``RidgeCV``,
        ``ridge_path``): a solver of the returned problem then needs no pass of
        its own.  ``stats`` must be the statistics of exactly ``(X, Y,
        sample_weight)``, accumulated in ``dtype``.
        """
        if stats.xy.shape != (self.n_features, self.n_targets):
            raise ValueError(
                f"{self.owner}: statistics of {stats.n_features} features and "
                f"{stats.n_targets} targets do not match the problem's "
                f"{self.n_features} and {self.n_targets}."
            )
        return replace(self, _gram_cache={**self._gram_cache, np.dtype(dtype): stats})

    def x_mean(self) -> np.ndarray:
        """Weighted column means of X (a cached Gram's, or one matrix-vector pass)."""
        for stats in self._gram_cache.values():
            return stats.x_mean
        weights = self.weights.astype(self.X.dtype, copy=False)
        return np.asarray(weights @ self.X, dtype=np.float64) / self.weight_sum

    def y_mean(self) -> np.ndarray:
        return np.asarray(self.weights @ self.Y, dtype=np.float64) / self.weight_sum


@dataclass(frozen=True)
class StatsEvaluation:
    """Objective and gradient at a point, per target, from sufficient statistics."""

    objective: np.ndarray  # (n_targets,)
    gradient_coef: np.ndarray  # (n_features, n_targets)
    gradient_intercept: np.ndarray | None  # (n_targets,) when the intercept is fitted
    gradient_scale: np.ndarray  # (n_targets,) sum of the norms of the gradient's terms


def evaluate_from_stats(
    stats: GramStats,
    coef: np.ndarray,
    intercept: np.ndarray,
    alpha: np.ndarray,
    *,
    fit_intercept: bool,
    penalize_intercept: bool,
) -> StatsEvaluation:
    """Objective ``J`` and its gradient at ``(coef, intercept)``.

    With centered statistics ``G = xx``, ``c = xy`` and ``u = y_mean - x_mean.theta - b``
    the weighted sum of squared residuals is ``yy - 2 theta.c + theta.G.theta + W u^2``
    (the cross terms vanish because centered columns have zero weighted sum), so

        J = (yy - 2 theta.c + theta.G.theta) / W + u^2 + alpha ||theta||^2 (+ alpha b^2)
        dJ/dtheta = 2 (G theta - c) / W - 2 u x_mean + 2 alpha theta
        dJ/db     = -2 u (+ 2 alpha b)

    ``coef`` is (n_features, n_targets), ``intercept`` (n_targets,).
    """
    W = stats.weight_sum
    G_theta = matmul(stats.xx, coef)  # SciPy's BLAS, as the Gram pass: see l2reg._blas
    c = stats.xy
    u = stats.y_mean - stats.x_mean @ coef - intercept
    quadratic = stats.yy - 2 * np.sum(coef * c, axis=0) + np.sum(coef * G_theta, axis=0)
    penalty = alpha * np.sum(coef**2, axis=0)
    intercept_penalty = alpha * intercept**2 if penalize_intercept else 0.0
    objective = quadratic / W + u**2 + penalty + intercept_penalty

    gradient_coef = 2 * (G_theta - c) / W - 2 * np.outer(stats.x_mean, u) + 2 * alpha * coef
    scale = (
        2 * (np.linalg.norm(G_theta, axis=0) + np.linalg.norm(c, axis=0)) / W
        + 2 * np.abs(u) * np.linalg.norm(stats.x_mean)
        + 2 * alpha * np.linalg.norm(coef, axis=0)
    )
    gradient_intercept = None
    if fit_intercept:
        gradient_intercept = -2 * u + (2 * alpha * intercept if penalize_intercept else 0.0)
        scale = scale + 2 * np.abs(u) + (2 * alpha * np.abs(intercept) if penalize_intercept else 0)
    return StatsEvaluation(objective, gradient_coef, gradient_intercept, scale)
