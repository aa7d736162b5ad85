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

__all__ = ["DesignKernel", "Problem", "StatsEvaluation", "evaluate_from_stats"]


@dataclass(frozen=True, eq=False)
class DesignKernel:
    """The n x n kernel of a problem's design, computed once by a caller.

    The unweighted ``Z Z^T`` with ``Z`` the rows of ``X - x_mean`` (weighted
    column means: a profiled intercept), of ``X`` (no intercept) or of
    ``[X, 1]`` (a penalized intercept): what
    :func:`l2reg.objective.kernel.design_kernel` forms with unit weights.  The
    weighted kernel ``diag(sqrt w) K diag(sqrt w)`` costs O(n^2) from it, so
    one kernel serves any weights' caller (``RidgeCV``'s spectrum and its
    refit); see :meth:`Problem.with_kernel`.

    Attributes
    ----------
    matrix : ndarray of shape (n_samples, n_samples), float64
    centered, ones_column : bool
        The design's form, as :func:`~l2reg.objective.kernel.design_kernel`'s
        arguments.
    loss : float
        The centering loss the matrix carries (:mod:`l2reg.objective.accuracy`):
        1 for an exactly centered (or an uncentered) kernel, more for one
        centered after the fact, which the kernel solver may then recompute.
    """

    matrix: np.ndarray
    centered: bool
    ones_column: bool
    loss: float = 1.0

    def weighted(self, sqrt_weight: np.ndarray | None) -> np.ndarray:
        """``diag(sqrt w) K diag(sqrt w)``: a new float64 array (the matrix stays as it is)."""
        if sqrt_weight is None:
            return self.matrix.copy()
        return self.matrix * sqrt_weight[:, None] * sqrt_weight[None, :]


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
    _kernel: DesignKernel | None = field(default=None, repr=False)
    # False for a problem built from statistics alone (from_stats): X and Y
    # are then empty placeholders with the right columns and dtype, and only
    # a solver of the statistics (cholesky) can solve it.
    has_rows: bool = True

    @classmethod
    def from_stats(
        cls,
        stats: GramStats,
        alpha: np.ndarray,
        *,
        fit_intercept: bool = True,
        penalize_intercept: bool = False,
        owner: str = "l2reg",
    ) -> Problem:
        """The problem of the rows ``stats`` summarize, without the rows.

        Only solvers that work on the statistics (``cholesky``) can solve it:
        its ``X`` and ``Y`` have no rows (they carry the columns and X's
        dtype, ``stats.dtype``), ``has_rows`` is False, and its weight sum is
        the statistics'.
        """
        dtype = np.dtype(stats.dtype)
        problem = cls(
            X=np.zeros((0, stats.n_features), dtype=dtype),
            Y=np.zeros((0, stats.n_targets), dtype=dtype),
            sample_weight=None,
            alpha=np.asarray(alpha, dtype=np.float64),
            fit_intercept=fit_intercept,
            penalize_intercept=penalize_intercept,
            single_target=stats.single_target,
            owner=owner,
            has_rows=False,
        )
        return problem.with_gram(stats)

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
        if not self.has_rows:
            return self.gram(np.float64).weight_sum
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
            if not self.has_rows:  # pragma: no cover - from_stats seeds float64
                raise ValueError(f"{self.owner}: a problem without rows has no {key} statistics.")
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

    def with_kernel(
        self, kernel: np.ndarray, *, centered: bool, ones_column: bool, loss: float = 1.0
    ) -> Problem:
        """A copy of this problem that carries its design's kernel (see :class:`DesignKernel`).

        For callers that already formed the n x n kernel (``RidgeCV`` and
        ``ridge_path`` in the kernel form, p > n): the kernel solver of the
        returned problem then makes no kernel pass of its own, only its
        cheap product with X (coefficients and certificate).  ``kernel``
        must be the *unweighted* kernel of exactly this problem's design: about
        X's weighted column means when the intercept is fitted and not
        penalized, with a ones column appended when it is penalized, of X
        itself without an intercept.  It does not depend on y, so a problem
        with other targets (the same X and weights) may share it.

        Parameters
        ----------
        kernel : ndarray of shape (n_samples, n_samples)
            Symmetric, float64; not copied.
        centered, ones_column : bool
            The design ``kernel`` was formed for (as
            :func:`~l2reg.objective.kernel.design_kernel`'s arguments); they
            must be this problem's, so a kernel of another design is refused.
        loss : float, default=1.0
            Its centering loss: 1 when it was centered exactly (or needs no
            centering), the measured loss when centered after the fact.
        """
        kernel = np.asarray(kernel)
        n = self.n_samples
        if kernel.shape != (n, n) or kernel.dtype != np.float64:
            raise ValueError(
                f"{self.owner}: a design kernel must be a float64 array of shape ({n}, {n}) "
                f"for {n} samples; got {kernel.dtype} of shape {kernel.shape}. Pass the "
                "kernel computed from this problem's X."
            )
        if not loss >= 1.0:
            raise ValueError(
                f"{self.owner}: a centering loss is at least 1; got {loss!r}. Pass 1.0 for "
                "an exactly centered kernel."
            )
        design = (self.fit_intercept and not self.penalize_intercept, self.penalize_intercept)
        if (bool(centered), bool(ones_column)) != design:
            raise ValueError(
                f"{self.owner}: a kernel with centered={centered}, ones_column={ones_column} "
                f"is not the design of this problem (fit_intercept={self.fit_intercept}, "
                f"penalize_intercept={self.penalize_intercept}), which needs "
                f"centered={design[0]}, ones_column={design[1]}."
            )
        cached = DesignKernel(kernel, centered=design[0], ones_column=design[1], loss=float(loss))
        return replace(self, _kernel=cached)

    @property
    def kernel(self) -> DesignKernel | None:
        """The design kernel a caller supplied (:meth:`with_kernel`), or None."""
        return self._kernel

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
