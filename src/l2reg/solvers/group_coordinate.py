"""Block coordinate descent for the multi-target elastic net (the L2,1 group penalty).

The problem, in the normalized form of :mod:`l2reg.solvers.coordinate`
(weights ``v`` summing to one, centered data):

    (1/2) tr(R^T V R) + l1 sum_j ||B_j||_2 + (l2 / 2) ||B||_F^2,   R = Y_c - X_c B,

with ``B`` of shape (n_features, n_targets).  Only the Gram statistics enter:
``G = X_c^T V X_c``, ``Q = X_c^T V Y_c`` and ``tr(Y_c^T V Y_c)``, so one pass
over X (the core's ``gram_stats``) builds everything and an epoch costs
``O(p^2 k)`` whatever n is.  Each epoch is the compiled kernel
``group_cd_epoch_gram``; the stopping rule is scikit-learn's duality gap of
``MultiTaskElasticNet`` in this scale.
"""

from __future__ import annotations

import warnings

import numpy as np

from l2reg._warnings import user_stacklevel
from l2reg.exceptions import ConvergenceWarning
from l2reg.solvers import _kernels
from l2reg.solvers._result import Certificate

__all__ = ["group_certificate", "group_duality_gap", "solve_group_gram"]

#: Epochs when ``max_iter`` is None, as the single-target solver.
DEFAULT_MAX_ITER = 10_000


def group_duality_gap(G, Q, yy, B, Z, l1, l2):
    """scikit-learn's ``MultiTaskElasticNet`` duality gap from the Gram statistics.

    ``Z = Q - G B`` (``X_c^T V R``); ``yy = tr(Y_c^T V Y_c)``.  The dual point is
    the residual scaled so that ``max_j ||Z_j - l2 B_j|| <= l1``.  That gap
    needs ``l1 > 0`` (it does not vanish at a ridge solution); with ``l1 = 0``
    the gap is the one of the ridge dual at ``theta = R``, which simplifies to
    ``||Z - l2 B||_F^2 / (2 l2)`` (the gradient's squared norm over ``2 l2``):
    free of cancellation, it can certify far below the rounding of ``yy``.
    """
    if l1 == 0.0:
        return float(np.sum((Z - l2 * B) ** 2)) / (2.0 * l2)
    residual2 = max(yy - float(np.sum(B * (Q + Z))), 0.0)  # tr(R^T V R)
    ry = yy - float(np.sum(B * Q))  # tr(R^T V Y_c)
    dual_norm = float(np.max(np.linalg.norm(Z - l2 * B, axis=1), initial=0.0))
    if dual_norm > l1:
        const = l1 / dual_norm
        gap = 0.5 * residual2 * (1.0 + const**2)
    else:
        const = 1.0
        gap = residual2
    group_norm = float(np.sum(np.linalg.norm(B, axis=1)))
    gap += l1 * group_norm - const * ry + 0.5 * l2 * (1.0 + const**2) * float(np.sum(B * B))
    return gap


def solve_group_gram(G, Q, yy, l1, l2, *, tol, max_iter=None, init=None, owner="solver"):
    """Minimize the group elastic net from its Gram statistics by cyclic block CD.

    Parameters
    ----------
    G : ndarray of shape (n_features, n_features)
        ``X_c^T V X_c`` (C-contiguous).
    Q : ndarray of shape (n_features, n_targets)
        ``X_c^T V Y_c``.
    yy : float
        ``tr(Y_c^T V Y_c)``.
    l1, l2 : float
        ``alpha * l1_ratio`` and ``alpha * (1 - l1_ratio)``.
    tol : float
        Stop when the duality gap is at most ``tol * yy``.
    max_iter : int or None
        Most epochs; None means 10,000.
    init : ndarray of shape (n_features, n_targets) or None
        Starting coefficients (warm start); None starts from 0.

    Returns
    -------
    B : ndarray of shape (n_features, n_targets)
    gap : float
        The duality gap at ``B`` (from ``Z`` recomputed exactly).
    n_iter : int
        Epochs run.
    """
    max_iter = DEFAULT_MAX_ITER if max_iter is None else int(max_iter)
    B = np.zeros(Q.shape) if init is None else np.array(init, dtype=np.float64, order="C")
    Z = Q - G @ B
    threshold = tol * yy
    gap = group_duality_gap(G, Q, yy, B, Z, l1, l2)
    n_iter = 0
    while gap > threshold and n_iter < max_iter:
        _kernels.group_cd_epoch_gram(G, Z, B, l1, l2)
        n_iter += 1
        gap = group_duality_gap(G, Q, yy, B, Z, l1, l2)
        if gap <= threshold:  # confirm on exact correlations, free of the updates' drift
            Z = Q - G @ B
            gap = group_duality_gap(G, Q, yy, B, Z, l1, l2)
    if gap > threshold:
        warnings.warn(
            f"{owner}: block coordinate descent did not converge in {max_iter} epochs: the "
            f"duality gap is {gap:.3g}, above tol * tr(Y_c^T V Y_c) = {threshold:.3g}. "
            "Raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return B, gap, n_iter


def group_certificate(G, Q, B, l1, l2, gap):
    """The minimum-norm subgradient's norm (rows of B: features) and the duality gap."""
    gradient = G @ B - Q + l2 * B  # of the smooth part
    norms = np.linalg.norm(B, axis=1)
    nonzero = norms > 0
    sub = gradient.copy()
    sub[nonzero] += l1 * B[nonzero] / norms[nonzero, None]
    zero_rows = np.maximum(np.linalg.norm(gradient[~nonzero], axis=1) - l1, 0.0)
    gradient_norm = float(np.sqrt(np.sum(sub[nonzero] ** 2) + np.sum(zero_rows**2)))
    scale = (
        np.linalg.norm(G @ B)
        + np.linalg.norm(Q)
        + l2 * np.linalg.norm(B)
        + l1 * np.sqrt(np.count_nonzero(nonzero))
    )
    return Certificate(
        gradient_norm=gradient_norm,
        relative_gradient_norm=float(gradient_norm / scale) if scale > 0 else 0.0,
        computed_from="sufficient statistics",
        duality_gap=float(gap),
    )
