"""Penalties on the coefficients, in l2reg's convention (no 1/2 on the L2 term)."""

from __future__ import annotations

import numpy as np

__all__ = ["L2", "ElasticNet", "GeneralizedL2", "coordinate_conjugate", "difference_matrix"]


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
    scale : ndarray of shape (n_features,) or None
        Penalize ``s_j theta_j`` instead of ``theta_j``: the L1 weight of
        feature j is multiplied by ``s_j`` and the L2 weight by ``s_j^2``.
        glmnet's ``standardize=TRUE`` is ``s`` = the columns' weighted (1/n)
        standard deviations.  None means all ones.
    """

    def __init__(self, alpha=1.0, l1_ratio=0.5, penalty_factor=None, positive=False, scale=None):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.scale = scale

    def get_params(self, deep: bool = True) -> dict:
        return {
            "alpha": self.alpha,
            "l1_ratio": self.l1_ratio,
            "penalty_factor": self.penalty_factor,
            "positive": self.positive,
            "scale": self.scale,
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
        l1, l2 = self.alpha * self.l1_ratio * pf, self.alpha * (1.0 - self.l1_ratio) * pf
        if self.scale is None:
            return l1, l2
        scale = np.asarray(self.scale, dtype=np.float64)
        return l1 * scale, l2 * scale**2

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
            f"penalty_factor={self.penalty_factor!r}, positive={self.positive!r}, "
            f"scale={self.scale!r})"
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


class GeneralizedL2:
    """The description of a generalized L2 penalty: ``alpha * ||Gamma D (theta - theta0)||^2``.

    Data, not a solver branch (DESIGN.md §6): estimators put one on the
    :class:`~l2reg.objective.problem.Problem` (``alpha`` stays on the
    problem), and :func:`l2reg.objective.tikhonov.resolve_penalty` turns it,
    with the sufficient statistics, into the quadratic form the solvers use.

    Parameters
    ----------
    penalty_factor : ndarray of shape (n_features,) or None
        Per-feature factors ``f_j >= 0`` multiplying alpha for feature j, used
        as given (never rescaled); ``D = diag(sqrt(f))``.  None: all ones.
    penalty_matrix : ndarray or scipy sparse matrix of shape (k, n_features), or None
        Tikhonov matrix ``Gamma``; None is the identity.  It may be rank
        deficient: its null space is unpenalized.
    prior_mean : ndarray of shape (n_features, n_targets) or None
        ``theta0``: coefficients are shrunk toward it instead of 0.
    standardize : bool
        Penalize the coefficients of the standardized features: ``D`` is also
        multiplied by each column's weighted (1/n) standard deviation, taken
        from the statistics of the fit (glmnet's ``standardize=TRUE``).
    """

    def __init__(
        self, penalty_factor=None, penalty_matrix=None, prior_mean=None, standardize=False
    ):
        self.penalty_factor = penalty_factor
        self.penalty_matrix = penalty_matrix
        self.prior_mean = prior_mean
        self.standardize = standardize

    def get_params(self, deep: bool = True) -> dict:
        return {
            "penalty_factor": self.penalty_factor,
            "penalty_matrix": self.penalty_matrix,
            "prior_mean": self.prior_mean,
            "standardize": self.standardize,
        }

    def set_params(self, **params) -> GeneralizedL2:
        known = self.get_params()
        for key, value in params.items():
            if key not in known:
                raise ValueError(
                    f"GeneralizedL2 has no parameter {key!r}; its parameters are {sorted(known)}."
                )
            setattr(self, key, value)
        return self

    @property
    def is_standard(self) -> bool:
        """Whether this is the plain ``||theta||^2`` (every option at its default)."""
        return (
            self.penalty_factor is None
            and self.penalty_matrix is None
            and self.prior_mean is None
            and not self.standardize
        )

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={'<array>' if hasattr(v, 'shape') else repr(v)}"
            for k, v in self.get_params().items()
        )
        return f"GeneralizedL2({shown})"


def difference_matrix(n_features: int, order: int = 1, *, sparse: bool = False):
    """The ``order``-th difference operator, of shape ``(n_features - order, n_features)``.

    ``(D theta)_i = theta_{i+1} - theta_i`` (order 1) or
    ``theta_{i+2} - 2 theta_{i+1} + theta_i`` (order 2), and so on: as
    ``penalty_matrix`` it penalizes the roughness of a coefficient profile
    (over lags, wavelengths, ages: the P-spline penalty of Eilers & Marx,
    1996).  Its null space (constants for order 1, straight lines for
    order 2) is unpenalized.

    Parameters
    ----------
    n_features : int
        Number of coefficients, ``> order``.
    order : int, default=1
        Order of the differences, ``>= 1``.
    sparse : bool, default=False
        Return a ``scipy.sparse`` CSR matrix instead of a dense array (a
        dense one can be saved with :func:`l2reg.save`; a sparse one cannot).

    Returns
    -------
    ndarray or scipy.sparse.csr_matrix of shape (n_features - order, n_features)
    """
    import numbers

    import scipy.sparse as sp

    if not isinstance(order, numbers.Integral) or isinstance(order, bool) or order < 1:
        raise ValueError(f"difference_matrix: 'order' must be an integer >= 1; got {order!r}.")
    if not isinstance(n_features, numbers.Integral) or n_features <= order:
        raise ValueError(
            f"difference_matrix: 'n_features' must be an integer > order = {order}; "
            f"got {n_features!r}."
        )
    # Row i of the order-k operator holds the signed binomial coefficients.
    stencil = np.array([(-1.0) ** (order - j) * _binomial(order, j) for j in range(order + 1)])
    rows = n_features - order
    matrix = sp.diags(
        [np.full(rows, value) for value in stencil],
        offsets=list(range(order + 1)),
        shape=(rows, n_features),
        format="csr",
    )
    return matrix if sparse else matrix.toarray()


def _binomial(n: int, k: int) -> float:
    from math import comb

    return float(comb(n, k))
