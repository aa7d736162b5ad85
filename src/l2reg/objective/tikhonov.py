r"""Generalized L2 penalties as quadratic forms, and their standard form.

A :class:`~l2reg.objective.penalties.GeneralizedL2` description becomes, with
the sufficient statistics of the fit, a :class:`QuadraticPenalty`

.. math::

    \alpha\,(\theta - \theta_0)^\top P\,(\theta - \theta_0), \qquad
    P = D\,\Gamma^\top\Gamma\,D, \quad D = \operatorname{diag}(d),

with ``d_j = sqrt(f_j)`` (penalty factors) times the column's weighted standard
deviation (``standardize``), and ``Gamma`` the Tikhonov matrix (identity when
None).  X is never rescaled or copied: every transformation acts on the
p x p statistics.

Standard form (one decomposition for every alpha)
-------------------------------------------------
Write the design Gram ``G`` (weighted, centered) and ``lam = W alpha``.  With
the SVD ``Gamma D = U diag(sigma) V^T``, the penalized directions are
``V_r`` (``sigma > 0``) and the unpenalized ones ``N = V_0`` (the null space
of ``Gamma D``; for a diagonal ``P``, the features with ``d_j = 0``).  In
``T = V_r diag(1 / sigma_r)`` coordinates the penalty is ``lam ||phi||^2``.
The unpenalized part is profiled out exactly, as a profiled intercept is:
with ``B = N L^{-T}`` (``N^T G N = L L^T``, so ``B^T G B = I``) and
``T' = T - B (B^T G T)``, the columns of ``G T'`` are G-orthogonal to ``B``
and the problem splits into

* an unpenalized least-squares fit in ``B`` (coefficient ``B^T c``, shrinkage 1),
* a standard ridge problem with Gram ``G~ = T'^T G T'`` (r x r) and
  right-hand side ``T'^T c``.

One ``eigh`` of ``G~`` (the generalized eigendecomposition of the pair
``(G, P)`` restricted to the penalized subspace) serves every alpha:
``theta(lam) = T' V diag(1 / (s + lam)) V^T T'^T c + B B^T c``.  A diagonal or
square invertible ``Gamma D`` has no null space, and ``T' = T`` is the
classical transformation to standard form ``G~ = T^T G T``.

The solution is unique for ``alpha > 0`` exactly when ``N^T G N`` is positive
definite: the null spaces of the penalty and of the (centered) data meet
otherwise, and :func:`standard_form` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from l2reg.exceptions import InvalidParameterError
from l2reg.objective.gram import GramStats
from l2reg.objective.penalties import GeneralizedL2

__all__ = [
    "QuadraticPenalty",
    "StandardForm",
    "resolve_penalty",
    "build_penalty",
    "column_scales",
    "standard_form",
    "feature_scales",
]

#: A direction of ``N^T G N`` (equilibrated to unit diagonal) whose eigenvalue
#: is below this is treated as a null direction of the data: about 1e4 times
#: float64's rounding of a unit-diagonal matrix, so rounding noise in an
#: exactly collinear design is caught while a merely ill-conditioned one
#: (condition up to ~1e11) is solved.
NULL_SPACE_TOLERANCE = 1e-12


def feature_scales(stats: GramStats, *, fit_intercept: bool) -> np.ndarray:
    """Each column's weighted (1/n) standard deviation, as glmnet's ``standardize``.

    About the weighted mean when the intercept is fitted, the root mean
    square about 0 without one (glmnet's ``intercept=FALSE``).  A column with
    no spread gets 1: its coefficient is then penalized as it is and, being
    constant, stays at its prior mean (glmnet leaves such columns at 0).
    """
    W = stats.weight_sum
    variance = np.maximum(np.diag(stats.xx), 0.0) / W
    if not fit_intercept:
        variance = variance + stats.x_mean**2
    scale = np.sqrt(variance)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return scale


@dataclass(frozen=True, eq=False)
class QuadraticPenalty:
    """``(theta - theta0)^T P (theta - theta0)`` with ``P = D R^T R D``; see the module docstring.

    Attributes
    ----------
    scale : ndarray of shape (q,)
        ``d >= 0``.
    root : ndarray of shape (k, q) or None
        ``R = Gamma`` (dense float64); None is the identity.
    prior_mean : ndarray of shape (q, n_targets) or None
        ``theta0``; None is 0.
    """

    scale: np.ndarray
    root: np.ndarray | None = None
    prior_mean: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return self.scale.shape[0]

    @property
    def is_diagonal(self) -> bool:
        return self.root is None

    @cached_property
    def matrix(self) -> np.ndarray:
        """``P`` as a dense (q, q) array."""
        if self.root is None:
            return np.diag(self.scale**2)
        scaled = self.root * self.scale[None, :]
        return scaled.T @ scaled

    def add_to(self, H: np.ndarray, lam: float) -> None:
        """``H += lam * P`` in place."""
        if self.root is None:
            H[np.diag_indices_from(H)] += lam * self.scale**2
        else:
            H += lam * self.matrix

    def times(self, theta: np.ndarray) -> np.ndarray:
        """``P @ theta`` for theta of shape (q, m)."""
        if self.root is None:
            return self.scale[:, None] ** 2 * theta
        return self.matrix @ theta

    def offsets(self, n_targets: int) -> np.ndarray:
        """``theta0`` as a (q, n_targets) array (zeros when None)."""
        if self.prior_mean is None:
            return np.zeros((self.n_features, n_targets))
        return self.prior_mean

    def value(self, theta: np.ndarray) -> np.ndarray:
        """The quadratic form at each column of theta (q, m): shape (m,)."""
        deviation = theta - self.offsets(theta.shape[1])
        return np.sum(deviation * self.times(deviation), axis=0)

    def with_penalized_intercept(self) -> QuadraticPenalty:
        """The penalty of the design ``[X, 1]`` whose last coefficient (the intercept)
        carries ``b^2`` (l2reg's ``penalize_intercept``) and a prior mean of 0."""
        scale = np.append(self.scale, 1.0)
        root = None
        if self.root is not None:
            root = scipy.linalg.block_diag(self.root, np.ones((1, 1)))
        prior = None
        if self.prior_mean is not None:
            prior = np.vstack([self.prior_mean, np.zeros((1, self.prior_mean.shape[1]))])
        return QuadraticPenalty(scale, root, prior)

    @cached_property
    def _subspaces(self):
        """``(T, N)``: penalized coordinates (``T^T P T = I``) and an orthonormal null space."""
        q = self.n_features
        if self.root is None:
            penalized = self.scale > 0
            eye = np.eye(q)
            return eye[:, penalized] / self.scale[penalized], eye[:, ~penalized]
        scaled = self.root * self.scale[None, :]
        _, sigma, vt = np.linalg.svd(scaled, full_matrices=True)
        tolerance = max(scaled.shape) * np.finfo(np.float64).eps * (sigma[0] if sigma.size else 0)
        rank = int(np.count_nonzero(sigma > tolerance))
        return vt[:rank].T / sigma[:rank], vt[rank:].T

    @property
    def penalized_basis(self) -> np.ndarray:
        """``T`` (q, r): coordinates in which the penalty is ``||phi||^2``."""
        return self._subspaces[0]

    @property
    def null_space(self) -> np.ndarray:
        """``N`` (q, q - r), orthonormal: the unpenalized directions."""
        return self._subspaces[1]


@dataclass(frozen=True, eq=False)
class StandardForm:
    """The penalized problem split into an unpenalized fit and a standard ridge problem.

    Attributes
    ----------
    basis : ndarray of shape (q, r)
        ``T'``: design coefficients of the standard-form coordinates.
    unpenalized : ndarray of shape (q, q_N)
        ``B`` with ``B^T G B = I``, spanning the penalty's null space.
    gram : ndarray of shape (r, r)
        ``G~ = T'^T G T'``, symmetric positive semi-definite.
    """

    basis: np.ndarray
    unpenalized: np.ndarray
    gram: np.ndarray


def _equilibrated_eigenvalues(matrix: np.ndarray) -> np.ndarray:
    diagonal = np.diag(matrix)
    if not np.all(diagonal > 0):
        return np.zeros(1)
    root = 1.0 / np.sqrt(diagonal)
    return np.linalg.eigvalsh(matrix * root[:, None] * root[None, :])


def check_unique(G: np.ndarray, penalty: QuadraticPenalty, owner: str) -> None:
    """Raise when the penalty's null space meets the data's (no unique solution for alpha > 0)."""
    N = penalty.null_space
    if N.shape[1] == 0:
        return
    values = _equilibrated_eigenvalues(N.T @ G @ N)
    if values.min() > NULL_SPACE_TOLERANCE:
        return
    kind = (
        "the features with penalty_factor 0"
        if penalty.is_diagonal
        else "the null space of penalty_matrix (the directions it leaves unpenalized)"
    )
    raise InvalidParameterError(
        f"{owner}: the problem has no unique solution for any alpha > 0: {kind} "
        f"({N.shape[1]} direction{'s' if N.shape[1] != 1 else ''}) contain a combination of "
        "coefficients that does not change the fitted values (it lies in the null space of "
        "the design, centered when an intercept is fitted), and no penalty fixes it. "
        "Penalize that direction (a positive penalty_factor, or a row of penalty_matrix "
        "acting on it), or remove the collinear or constant features."
    )


def standard_form(G: np.ndarray, penalty: QuadraticPenalty, owner: str = "l2reg") -> StandardForm:
    """Split the design Gram ``G`` (q x q) under ``penalty`` (see the module docstring)."""
    T, N = penalty.penalized_basis, penalty.null_space
    if N.shape[1] == 0:
        return StandardForm(T, N, _symmetric(T.T @ G @ T))
    check_unique(G, penalty, owner)
    L = np.linalg.cholesky(_symmetric(N.T @ G @ N))
    B = scipy.linalg.solve_triangular(L, N.T, lower=True).T  # N L^{-T}
    basis = T - B @ (B.T @ (G @ T))
    return StandardForm(basis, B, _symmetric(basis.T @ G @ basis))


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    return (matrix + matrix.T) / 2


def resolve_penalty(
    description: GeneralizedL2, stats: GramStats, *, fit_intercept: bool, n_targets: int
) -> QuadraticPenalty:
    """The quadratic form of a validated ``description`` for the data of ``stats``.

    ``description`` holds validated values (the estimator's checks): factors
    of length p, a Gamma of width p, a prior mean of shape (p, n_targets).
    """
    scales = None
    if description.standardize:
        scales = feature_scales(stats, fit_intercept=fit_intercept)
    return build_penalty(description, scales, stats.n_features, n_targets)


def build_penalty(
    description: GeneralizedL2, scales: np.ndarray | None, n_features: int, n_targets: int
) -> QuadraticPenalty:
    """The quadratic form of ``description`` given standardize's column ``scales`` (or None)."""
    scale = np.ones(n_features)
    if description.penalty_factor is not None:
        scale = scale * np.sqrt(np.asarray(description.penalty_factor, dtype=np.float64))
    if description.standardize:
        scale = scale * scales
    root = description.penalty_matrix
    if root is not None:
        root = root.toarray() if sp.issparse(root) else root
        root = np.asarray(root, dtype=np.float64)
    prior = description.prior_mean
    if prior is not None:
        prior = np.broadcast_to(np.asarray(prior, dtype=np.float64), (n_features, n_targets))
    return QuadraticPenalty(scale, root, prior)


def column_scales(X, weights: np.ndarray, *, fit_intercept: bool, block_rows: int = 4096):
    """:func:`feature_scales` from the data (dense or sparse X), for models without
    a Gram pass (the GLMs): weighted means, then the weighted squared deviations
    summed block by block (no n x p temporary)."""
    W = float(weights.sum())
    if sp.issparse(X):
        mean = np.asarray(X.T @ weights).ravel() / W
        second = np.asarray(X.multiply(X).T @ weights).ravel() / W
        variance = np.maximum(second - mean**2, 0.0) if fit_intercept else second
    else:
        mean = np.asarray(weights @ X, dtype=np.float64) / W if fit_intercept else 0.0
        total = np.zeros(X.shape[1])
        for start in range(0, X.shape[0], block_rows):
            block = np.asarray(X[start : start + block_rows], dtype=np.float64) - mean
            total += weights[start : start + block_rows] @ (block * block)
        variance = total / W
    scale = np.sqrt(variance)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    return scale
