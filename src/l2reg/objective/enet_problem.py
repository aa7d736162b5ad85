r"""The elastic-net problem and its duality gap, written once for every solver mode.

The problem, in glmnet's and scikit-learn's scaling (l2reg's ridge form halved
on the data term and the L2 term, so ``l1_ratio=0`` has ``Ridge(alpha)``'s
minimizer):

.. math::

    P(\theta) = \frac{1}{2} \lVert r \rVert_v^2
                + \sum_j \bigl(l1_j \lvert\theta_j\rvert + \tfrac{1}{2} l2_j \theta_j^2\bigr),
    \qquad r = y_c - X_c \theta,

with ``v = w / sum(w)``, ``||r||_v^2 = sum_i v_i r_i^2``, ``X_c`` and ``y_c``
centered at their weighted means when an intercept is fitted (implicitly:
nothing here or in the solvers forms ``X_c``), ``l1 = alpha * l1_ratio * pf``
and ``l2 = alpha * (1 - l1_ratio) * pf``.  ``positive=True`` adds
``theta >= 0``.

Duality gap
-----------
With ``g_j`` the penalty of coordinate j and ``g_j*`` its conjugate
(:func:`l2reg.objective.penalties.coordinate_conjugate`), the Fenchel dual is

.. math::

    D(u) = -\tfrac{1}{2} \lVert u \rVert_v^2 + u^\top V y_c
           - \sum_j g_j^*(x_{c,j}^\top V u),

1-strongly concave in ``||.||_v``, and ``P(theta) - D(u) >= P(theta*) - P*``
for every ``u``.  The dual point is built from the residual: ``u = c * u~``
where ``u~`` is ``r`` with its projection on the unpenalized columns removed
(their conjugate is the indicator of 0, so ``X_U^T V u`` must vanish), and
``c <= 1`` is the largest scaling that keeps ``|x_j^T V u| <= l1_j`` for the
features without an L2 part (the lasso's rescaling), or the better of that and
the unconstrained optimum of the quadratic part.  Because ``D`` is 1-strongly
concave, the optimal dual point lies within ``sqrt(2 * gap)`` of ``u`` in
``||.||_v``, which is what gap-safe screening uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from l2reg.objective.gram import GramStats, gram_stats
from l2reg.objective.penalties import ElasticNet

__all__ = [
    "ElasticNetProblem",
    "DualityGap",
    "Unpenalized",
    "duality_gap",
    "fenchel_young",
]


@dataclass(eq=False)
class ElasticNetProblem:
    """Validated data of one elastic-net fit.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), scipy.sparse CSC matrix, or None
        float64; never centered or copied here.  None for a problem given by
        its sufficient statistics only (:meth:`from_gram`).
    y : ndarray of shape (n_samples,) or None
    sample_weight : ndarray of shape (n_samples,) or None
    penalty : ElasticNet
        With a validated ``penalty_factor`` (an array of length n_features or None).
    fit_intercept : bool
    owner : str
        The estimator's name, for messages.
    """

    X: np.ndarray | sp.csc_matrix | None
    y: np.ndarray | None
    sample_weight: np.ndarray | None
    penalty: ElasticNet
    fit_intercept: bool = True
    owner: str = "ElasticNet"
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_gram(
        cls, stats: GramStats, penalty: ElasticNet, *, fit_intercept=True, owner="ElasticNet"
    ) -> ElasticNetProblem:
        """A problem known only by the float64 statistics of its rows (one target).

        Only covariance ("Gram") updates can solve it; k-fold paths build one
        per training fold by downdating, without reading X again.
        """
        return cls(None, None, None, penalty, fit_intercept, owner, {"gram": stats})

    def with_gram(self, stats: GramStats) -> ElasticNetProblem:
        """Seed the cache with statistics of exactly these X, y and weights (returns self)."""
        self._cache["gram"] = stats
        return self

    def gram_stats(self) -> GramStats:
        """The :class:`GramStats` of ``(X, y, w)``: one pass over dense X, cached."""
        if "gram" not in self._cache:
            self._cache["gram"] = gram_stats(self.X, self.y[:, None], self.sample_weight)
        return self._cache["gram"]

    def cached(self, key, factory):
        """``factory()`` computed once per problem (problems from ``dataclasses.replace``
        with another penalty share the cache: it holds only what the data determine)."""
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]

    @property
    def _stats_only(self) -> bool:
        return self.X is None

    @property
    def n_samples(self) -> int:
        return self._cache["gram"].n_samples if self._stats_only else self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self._cache["gram"].n_features if self._stats_only else self.X.shape[1]

    @property
    def sparse(self) -> bool:
        return sp.issparse(self.X)

    @property
    def weight_sum(self) -> float:
        if self._stats_only:
            return float(self._cache["gram"].weight_sum)
        if self.sample_weight is None:
            return float(self.n_samples)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    @property
    def normalized_weights(self) -> np.ndarray:
        """``v = w / sum(w)``."""
        if self._stats_only:
            raise ValueError(f"{self.owner}: a problem given by statistics has no rows.")
        if "v" not in self._cache:
            if self.sample_weight is None:
                self._cache["v"] = np.full(self.n_samples, 1.0 / self.n_samples)
            else:
                self._cache["v"] = self.sample_weight / self.weight_sum
        return self._cache["v"]

    @property
    def x_mean(self) -> np.ndarray:
        """Weighted column means (zeros without an intercept: nothing is centered)."""
        if "x_mean" not in self._cache:
            if self.fit_intercept and "gram" in self._cache:
                self._cache["x_mean"] = self._cache["gram"].x_mean
            elif self.fit_intercept:
                v = self.normalized_weights
                mean = self.X.T @ v if self.sparse else v @ self.X
                self._cache["x_mean"] = np.asarray(mean, dtype=np.float64).ravel()
            else:
                self._cache["x_mean"] = np.zeros(self.n_features)
        return self._cache["x_mean"]

    @property
    def y_mean(self) -> float:
        if "y_mean" not in self._cache:
            if not self.fit_intercept:
                mean = 0.0
            elif "gram" in self._cache:  # the statistics' pass computed it
                mean = float(self._cache["gram"].y_mean[0])
            else:
                mean = float(self.normalized_weights @ self.y)
            self._cache["y_mean"] = mean
        return self._cache["y_mean"]

    def penalty_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(l1, l2)`` per feature."""
        return self.penalty.weights(self.n_features)

    def intercept(self, coef: np.ndarray) -> float:
        """The optimal intercept for ``coef``: ``y_mean - x_mean . coef`` (0 without one)."""
        if not self.fit_intercept:
            return 0.0
        return self.y_mean - float(self.x_mean @ coef)


@dataclass(frozen=True)
class Unpenalized:
    """What the gap needs about the unpenalized features U (``pf_j = 0``).

    ``mask`` marks U among the features the gap is taken over; ``gram_u`` is
    ``X_c^T V X_c[:, U]`` on those features (shape ``(m, k)``), ``gram_uu`` the
    U x U block and ``xy_u`` is ``X_c[:, U]^T V y_c``.
    """

    mask: np.ndarray
    gram_u: np.ndarray
    gram_uu: np.ndarray
    xy_u: np.ndarray

    def restrict(self, index: np.ndarray) -> Unpenalized:
        """The same on a subset of the features (which must contain all of U)."""
        return Unpenalized(self.mask[index], self.gram_u[index], self.gram_uu, self.xy_u)


@dataclass(frozen=True)
class DualityGap:
    """``gap = primal - dual`` at a primal point and the dual point built from it.

    ``dual_correlations`` are ``x_{c,j}^T V u`` at the dual point ``u``
    (what gap-safe screening compares with ``l1_j``).
    """

    gap: float
    primal: float
    dual: float
    dual_correlations: np.ndarray


def fenchel_young(coef, s, l1, l2, positive: bool) -> np.ndarray:
    """``g_j(theta_j) + g_j*(s_j) - theta_j s_j >= 0`` per coordinate, without cancellation.

    Written as sums of non-negative terms (``m = |s|``, or ``s_+`` when positive):
    ``(l2 |theta| - (m - l1))^2 / (2 l2)`` when ``theta s >= 0`` and ``m >= l1``,
    else ``l2 theta^2 / 2 + (m - l1)_+^2 / (2 l2) + |theta| (l1 - sign(theta) s)``.
    Coordinates without an L2 part must have ``m <= l1`` (a feasible dual
    point); theirs is ``|theta| (l1 - sign(theta) s)``, clipped at 0 against
    rounding.
    """
    magnitude = np.maximum(s, 0.0) if positive else np.abs(s)
    abs_coef = np.abs(coef)
    excess = np.maximum(magnitude - l1, 0.0)
    along = abs_coef * np.maximum(l1 - np.sign(coef) * s, 0.0)
    smooth = l2 > 0
    safe_l2 = np.where(smooth, l2, 1.0)
    aligned = (coef * s >= 0) & (magnitude >= l1)
    value_aligned = (l2 * abs_coef - excess) ** 2 / (2.0 * safe_l2)
    value_other = 0.5 * l2 * coef**2 + excess**2 / (2.0 * safe_l2) + along
    return np.where(smooth, np.where(aligned, value_aligned, value_other), along)


def duality_gap(
    coef: np.ndarray,
    correlations: np.ndarray,
    residual_norm2: float,
    l1: np.ndarray,
    l2: np.ndarray,
    positive: bool,
    unpenalized: Unpenalized | None = None,
) -> DualityGap:
    """The duality gap of the elastic net (module docstring) at ``coef``.

    The gap is summed from non-negative terms rather than taken as the
    difference of two values of the size of ``||y_c||_v^2``, so that it keeps
    its relative accuracy far below ``eps * ||y_c||^2``: with ``u = c u~``,
    ``u~ = r - X_U delta`` (``X_U^T V u~ = 0``) and ``z~ = X_c^T V u~``,

    ``P - D = (1 - c)^2 ||u~||^2 / 2 + delta . z_U / 2
    + sum_{j not in U} [g_j(theta_j) + g_j*(c z~_j) - c theta_j z~_j]``,

    each bracket a Fenchel-Young gap (>= 0) and ``||r||^2 = ||u~||^2 + delta . z_U``.

    Parameters
    ----------
    coef : ndarray of shape (m,)
        Coefficients of the features the gap is taken over (the others are 0).
    correlations : ndarray of shape (m,)
        ``z = X_c^T V r`` on those features (the negative gradient of the data term).
    residual_norm2 : float
        ``||r||_v^2``.
    l1, l2 : ndarray of shape (m,)
    positive : bool
    unpenalized : Unpenalized or None
        Needed when some ``l1_j = l2_j = 0``.  With ``positive`` only those
        with ``theta_j > 0`` are projected out; the others keep the constraint
        ``x_j^T V u <= 0``.

    Returns
    -------
    DualityGap
    """
    penalty = float(l1 @ np.abs(coef)) + 0.5 * float(l2 @ coef**2)
    primal = 0.5 * residual_norm2 + penalty
    u_norm2, z, projected = residual_norm2, correlations, 0.0
    penalized = np.ones(coef.shape[0], dtype=bool)
    if unpenalized is not None and unpenalized.mask.any():
        index = np.flatnonzero(unpenalized.mask)
        keep = coef[index] > 0 if positive else np.ones(index.size, dtype=bool)
        if keep.any():
            z_u = correlations[index[keep]]
            gram_uu = unpenalized.gram_uu[np.ix_(keep, keep)]
            # delta = argmin ||r - X_U delta||_v: the residual's component in span(X_U).
            delta = np.linalg.lstsq(gram_uu, z_u, rcond=None)[0]
            projected = max(float(delta @ z_u), 0.0)
            u_norm2 = max(residual_norm2 - projected, 0.0)
            z = correlations - unpenalized.gram_u[:, keep] @ delta
            penalized[index[keep]] = False
    z_p, coef_p, l1_p, l2_p = z[penalized], coef[penalized], l1[penalized], l2[penalized]
    magnitude = np.maximum(z_p, 0.0) if positive else np.abs(z_p)
    lasso_like = (l2_p == 0) & (magnitude > l1_p)
    feasible = 1.0
    if lasso_like.any():
        feasible = min(1.0, float(np.min(l1_p[lasso_like] / magnitude[lasso_like])))
    candidates = {feasible}
    if u_norm2 > 0:
        # The maximizer of the quadratic part: u~ . y_c / ||u~||^2 = 1 + theta . z~ / ||u~||^2.
        candidates.add(min(max(1.0 + float(coef_p @ z_p) / u_norm2, 0.0), feasible))
    best_gap, best_scale = np.inf, feasible
    for scale in candidates:
        young = float(np.sum(fenchel_young(coef_p, scale * z_p, l1_p, l2_p, positive)))
        value = 0.5 * (1.0 - scale) ** 2 * u_norm2 + 0.5 * projected + young
        if value < best_gap:
            best_gap, best_scale = value, scale
    best_gap = max(best_gap, 0.0)
    return DualityGap(best_gap, primal, primal - best_gap, best_scale * z)
