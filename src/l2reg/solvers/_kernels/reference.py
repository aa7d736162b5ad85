"""Plain NumPy twins of the coordinate-descent kernels in :mod:`.compiled`.

They are the test oracle for the numba kernels and the fallback when numba is
not installed.  Each loops over the coordinates of the working set (coordinate
descent is sequential) but does every per-coordinate reduction and update with
vectorized NumPy, so it shares no scalar loop with the compiled code.

Conventions shared by every kernel
----------------------------------
The problem is ``(1/2) ||r||_v^2 + sum_j (l1_j |theta_j| + l2_j theta_j^2 / 2)``
(plus ``theta >= 0`` when ``positive``), with ``v`` the weights normalized to
sum to one and ``r`` the centered residual.  The update of coordinate j is
``theta_j = S(u_j, l1_j) / (h_j + l2_j)`` with ``u_j = x_j^T V r + h_j theta_j``
and ``h_j = ||x_j - xbar_j||_v^2`` (``S`` soft thresholding, projected onto
``[0, inf)`` when positive).  A coordinate with ``h_j + l2_j = 0`` (a constant,
unpenalized column) stays at 0: any value minimizes, 0 is the smallest.
Each kernel updates ``theta`` and the residual (or gradient) state in place,
visits ``ws`` in order, and returns the largest ``|delta_j| sqrt(h_j)`` (the
largest change in fitted values, in the ``v``-norm).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "threshold",
    "cd_epoch_gram",
    "group_cd_epoch_gram",
    "cd_epoch_dense",
    "cd_epoch_sparse",
    "centered_norms_dense",
    "centered_norms_rows",
    "column_products_dense",
    "column_products_sparse",
]


def threshold(u: float, h: float, l1: float, l2: float, positive: bool) -> float:
    """The exact minimizer over t of ``h t^2 / 2 - u t + l1 |t| + l2 t^2 / 2`` (``t >= 0``)."""
    denominator = h + l2
    if denominator <= 0.0:
        return 0.0
    shrunk = max(u - l1, 0.0) if positive else np.sign(u) * max(abs(u) - l1, 0.0)
    return float(shrunk / denominator)


def cd_epoch_gram(G, z, theta, ws, l1, l2, positive):
    """One cyclic pass over ``ws`` with covariance updates.

    ``G`` is the weighted centered Gram matrix divided by ``sum(w)`` and
    ``z = q - G theta`` the negative gradient of the smooth part, kept current
    on ``ws`` only (entries outside ``ws`` are left stale).
    """
    max_change = 0.0
    for j in ws:
        h = G[j, j]
        old = theta[j]
        new = threshold(z[j] + h * old, h, l1[j], l2[j], positive)
        if new != old:
            delta = new - old
            theta[j] = new
            z[ws] -= delta * G[j, ws]
            max_change = max(max_change, abs(delta) * np.sqrt(h))
    return max_change


def cd_epoch_dense(X, v, x_mean, theta, r, ws, h, l1, l2, positive):
    """One cyclic pass over ``ws`` with residual updates on a dense X.

    ``r = (y - y_mean) - (X - x_mean) theta`` is updated in place; X is never
    centered, each column is shifted on the fly.
    """
    max_change = 0.0
    for j in ws:
        column = X[:, j] - x_mean[j]
        old = theta[j]
        u = float(column @ (v * r)) + h[j] * old
        new = threshold(u, h[j], l1[j], l2[j], positive)
        if new != old:
            delta = new - old
            theta[j] = new
            r -= delta * column
            max_change = max(max_change, abs(delta) * np.sqrt(h[j]))
    return max_change


def cd_epoch_sparse(
    data, indices, indptr, v, x_mean, theta, r_raw, offset, ws, h, l1, l2, positive
):
    """One cyclic pass over ``ws`` with residual updates on a CSC X.

    The centered residual is ``r = r_raw + offset`` with ``r_raw = y - X theta``
    (touched only on a column's stored entries) and the scalar
    ``offset = x_mean . theta - y_mean``, so centering never fills in X.
    Because ``r`` has weighted mean zero, ``(x_j - xbar_j)^T V r = x_j^T V r``,
    a sum over the stored entries only.  Returns ``(max_change, offset)``.
    """
    max_change = 0.0
    for j in ws:
        rows = indices[indptr[j] : indptr[j + 1]]
        values = data[indptr[j] : indptr[j + 1]]
        old = theta[j]
        u = float(values @ (v[rows] * (r_raw[rows] + offset))) + h[j] * old
        new = threshold(u, h[j], l1[j], l2[j], positive)
        if new != old:
            delta = new - old
            theta[j] = new
            r_raw[rows] -= delta * values
            offset += delta * x_mean[j]
            max_change = max(max_change, abs(delta) * np.sqrt(h[j]))
    return max_change, offset


def column_products_dense(X, x_mean, vr, index, out):
    """``out[k] = (X[:, index[k]] - x_mean[index[k]]) . vr`` without copying columns."""
    for k, j in enumerate(index):
        out[k] = (X[:, j] - x_mean[j]) @ vr
    return out


def column_products_sparse(data, indices, indptr, vr, index, out):
    """``out[k] = X[:, index[k]] . vr`` on a CSC X (the caller corrects for centering)."""
    for k, j in enumerate(index):
        out[k] = data[indptr[j] : indptr[j + 1]] @ vr[indices[indptr[j] : indptr[j + 1]]]
    return out


def centered_norms_dense(X, x_mean, v, out):
    """``out[j] = sum_i v_i (X[i, j] - x_mean[j])^2``, exactly centered, column by column."""
    for j in range(X.shape[1]):
        out[j] = v @ (X[:, j] - x_mean[j]) ** 2
    return out


#: Rows per block of :func:`centered_norms_rows` (64 rows of 20,000 columns: 10 MB).
_ROW_BLOCK = 64


def centered_norms_rows(X, x_mean, v, out):
    """``out[j] += sum_i v_i (X[i, j] - x_mean[j])^2``, reading a C-ordered X by rows.

    The same sums as :func:`centered_norms_dense` (accumulated into ``out``,
    which the caller zeroes), in row blocks, so a C-ordered X is never copied.
    """
    for start in range(0, X.shape[0], _ROW_BLOCK):
        rows = slice(start, start + _ROW_BLOCK)
        out += v[rows] @ (X[rows] - x_mean) ** 2
    return out


def group_cd_epoch_gram(G: np.ndarray, Z: np.ndarray, B: np.ndarray, l1: float, l2: float) -> float:
    """One cyclic epoch of block coordinate descent for the L2,1 (group) elastic net.

    ``B`` (n_features, n_targets) holds one row per feature, ``Z = Q - G B`` the
    correlations with the residuals.  Row j becomes ``S(u_j, l1) / (h_j + l2)``
    with ``u_j = Z_j + h_j B_j`` and ``S`` the group soft threshold
    ``u max(0, 1 - l1 / ||u||)``, so a feature leaves or enters every target at
    once.  ``B`` and ``Z`` change in place; returns the largest
    ``||delta_j|| sqrt(h_j)``.
    """
    max_change = 0.0
    for j in range(B.shape[0]):
        h = G[j, j]
        old = B[j].copy()
        u = Z[j] + h * old
        norm = float(np.sqrt(u @ u))
        denominator = h + l2
        shrink = (1.0 - l1 / norm) / denominator if denominator > 0.0 and norm > l1 else 0.0
        delta = shrink * u - old
        moved = float(delta @ delta)
        if moved == 0.0:
            continue
        B[j] += delta
        Z -= np.outer(G[j], delta)
        max_change = max(max_change, float(np.sqrt(moved * h)))
    return max_change
