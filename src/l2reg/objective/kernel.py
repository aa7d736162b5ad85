"""The n x n kernel ``A A^T`` of the (weighted, centered) design, for p > n.

``A = sqrt(w) * (X - x_mean)`` with a profiled intercept, ``sqrt(w) * X`` without
an intercept, and ``sqrt(w) * [X, 1]`` with a penalized one.  Two ways to form it:

* :func:`uncentered_kernel` then centering after the fact: one ``?syrk`` over
  X itself (no copy), and ``K0 - v 1^T - 1 v^T + c`` with ``v = K0 w / W`` and
  ``c = w^T K0 w / W^2`` (all from ``K0``).  Fast, but entry ``(i, j)`` then
  carries the rounding of ``K0``: a centering loss of ``max_i K0_ii / K_ii``
  (:mod:`l2reg.objective.accuracy`);
* :func:`kernel_matrix`: blocks of columns of X shifted by the exact mean in a
  reused buffer, one rank-k update each: exact centering, ~20% slower.

:func:`design_kernel` chooses: a pilot of the first rows estimates the loss
first, so data with large offsets go straight to the exact pass instead of
forming the n x n kernel twice; the after-the-fact kernel is still checked
and rejected when its measured loss exceeds the share of the budget.

All functions take arrays (not a :class:`~l2reg.objective.problem.Problem`),
so the solvers and the spectral machinery of ``model_selection`` share them.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from l2reg._blas import matmul
from l2reg.objective.accuracy import CENTERING_SHARE, PILOT_SHARE, centering_loss

__all__ = [
    "KERNEL_BLOCK_COLUMNS",
    "column_means",
    "design_kernel",
    "kernel_matrix",
    "shifted_transpose_times",
    "uncentered_kernel",
]

#: Columns per block of the exactly centered pass (as the Gram pass's rows,
#: see :mod:`l2reg.objective.gram`).
KERNEL_BLOCK_COLUMNS = 2048
# Rows of the pilot that screens for large offsets before the uncentered kernel.
PILOT_ROWS = 256


def column_means(X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted column means of X in float64 (one matrix-vector pass)."""
    if weights is None:
        weights = np.ones(X.shape[0])
    total = float(np.sum(weights, dtype=np.float64))
    # SciPy's BLAS, as the kernel's syrk (see l2reg._blas).
    product = matmul(X, weights.astype(X.dtype, copy=False), transpose_a=True)
    return np.asarray(product, dtype=np.float64) / total


def uncentered_kernel(X: np.ndarray) -> np.ndarray:
    """``X X^T`` with one ``?syrk`` and no copy of X, symmetrized, float64.

    Not split across cores as the Gram pass is (:mod:`l2reg._row_split`): for
    the n x n product of a wide X, OpenBLAS's threaded ``?syrk`` was as fast
    (2,000 x 20,000: 0.79-0.84 s either way) and needs no per-core copy of K.
    """
    syrk = get_blas_funcs("syrk", dtype=X.dtype)
    if X.flags.f_contiguous and not X.flags.c_contiguous:
        upper = syrk(1.0, X, trans=0, lower=0)
    else:
        upper = syrk(1.0, np.ascontiguousarray(X).T, trans=1, lower=0)
    K = np.triu(upper).astype(np.float64)
    K += np.triu(K, 1).T
    return K


def kernel_matrix(
    X: np.ndarray,
    shift: np.ndarray,
    *,
    sqrt_weight: np.ndarray | None = None,
    dtype=np.float64,
    ones_column: bool = False,
    center_weights: np.ndarray | None = None,
) -> np.ndarray:
    """``K = A A^T`` with ``A = sqrt(w) * [X - shift(, 1)]``, from blocks of columns of X.

    Each block is shifted in a reused buffer, so there is no cancellation
    whatever X's offsets.  A mean computed in floating point is itself off by
    about ``eps * |mean|``, which would shift every row by that much (relative
    to a spread ``s``: ``eps |mean| / s`` of the kernel's accuracy, 5e-9 for
    offsets of 1e8 at unit spread); with ``center_weights`` each shifted block
    is therefore re-centered at its exact weighted mean in the buffer (one
    matrix-vector product per block), and ``shift`` need only be close to it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        C- or Fortran-ordered; read block by block, never copied whole.
    shift : ndarray of shape (n_features,)
        Subtracted from every row (the weighted mean, or zeros).
    sqrt_weight : ndarray of shape (n_samples,), default=None
        Row scaling (None: unit weights).
    dtype : {np.float32, np.float64}, default=np.float64
        Precision of the rank-k updates; K is returned in float64.
    ones_column : bool, default=False
        Append a column of ones to the design (a penalized intercept).
    center_weights : ndarray of shape (n_samples,), default=None
        Re-center each block at its mean under these weights (the sample
        weights, or ones); None: subtract ``shift`` only.

    Returns
    -------
    ndarray of shape (n_samples, n_samples), float64
        Non-finite input shows on the diagonal; the caller reports it.
    """
    n, p = X.shape
    fortran = X.flags.f_contiguous and not X.flags.c_contiguous
    columns = max(1, min(KERNEL_BLOCK_COLUMNS, p))
    buffer = np.empty((n, columns), dtype=dtype, order="F" if fortran else "C")
    syrk = get_blas_funcs("syrk", dtype=dtype)
    K = np.zeros((n, n), dtype=dtype, order="F")
    shift = np.asarray(shift).astype(dtype)
    scale = None if sqrt_weight is None else sqrt_weight[:, None].astype(dtype)
    if center_weights is not None:
        mean_weights = (center_weights / np.sum(center_weights, dtype=np.float64)).astype(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, p, columns):
            stop = min(start + columns, p)
            block = buffer[:, : stop - start]
            np.subtract(X[:, start:stop], shift[start:stop], out=block)
            if center_weights is not None:
                block -= mean_weights @ block  # the shift's rounding, removed
            if scale is not None:
                block *= scale
            # K += block @ block.T without copies: see gram.py for the layouts.
            operand, trans = (block, 0) if fortran else (block.T, 1)
            if not operand.flags.f_contiguous:  # the last, narrower block of a C-ordered X
                operand = np.asfortranarray(operand)
            syrk(1.0, operand, beta=1.0, c=K, trans=trans, lower=0, overwrite_c=1)
        K = np.triu(K).astype(np.float64)
        K += np.triu(K, 1).T
    if ones_column:
        ones = np.ones(n) if sqrt_weight is None else np.asarray(sqrt_weight, dtype=np.float64)
        K += np.outer(ones, ones)
    return K


def _pilot_loss(X, weights) -> float:
    """The after-the-fact kernel's centering loss, estimated on the first rows.

    Their weighted mean stands in for the mean of all rows; a few hundred
    rows of O(p) each, against the n x n x p of the kernel itself.
    """
    head = np.asarray(X[:PILOT_ROWS], dtype=np.float64)
    head_weights = np.asarray(weights[:PILOT_ROWS], dtype=np.float64)
    if not head_weights.sum() > 0:
        head_weights = np.ones_like(head_weights)
    with np.errstate(invalid="ignore", over="ignore"):
        # SciPy's BLAS, as the kernel's syrk right after (see l2reg._blas).
        mean = matmul(head, head_weights, transpose_a=True) / head_weights.sum()
        raw = np.einsum("ij,ij->i", head, head)
        # ||x - m||^2 without a centered copy of the rows: this cancels as much
        # as the kernel would, so a loss too large shows as a small or
        # negative difference, which is all a screen needs.
        centered = raw - 2 * matmul(head, mean) + mean @ mean
    return centering_loss(raw, centered)


def _kernel_after_the_fact(X, weights, sqrt_weight, *, centered, ones_column):
    """``(K, loss)`` from one syrk over the uncentered X; ``(None, loss)`` when it cancels.

    With weighted means ``x_mean = X^T w / W``: ``v = X x_mean = K0 w / W`` and
    ``x_mean.x_mean = w^T K0 w / W^2``, so no further pass over X is needed.
    """
    K0 = uncentered_kernel(X)
    loss = 1.0
    if centered:
        # Non-finite input is reported by the caller from K's diagonal.
        with np.errstate(invalid="ignore", over="ignore"):
            v = matmul(K0, weights) / weights.sum()
            c = weights @ v / weights.sum()
            K = K0 - v[:, None] - v[None, :] + c
            diagonal = np.diag(K)
            if not np.all(np.isfinite(diagonal)):
                return K, np.inf
            loss = centering_loss(np.diag(K0), diagonal)
            if loss > CENTERING_SHARE:
                return None, loss
    else:
        K = K0
    if sqrt_weight is not None:
        K *= sqrt_weight[:, None]
        K *= sqrt_weight[None, :]
    if ones_column:
        ones = np.ones(X.shape[0]) if sqrt_weight is None else sqrt_weight
        K += np.outer(ones, ones)
    return K, loss


def design_kernel(
    X: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    centered: bool,
    ones_column: bool = False,
    dtype=None,
    x_mean: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """The design's kernel ``A A^T`` and its centering loss, by the cheaper accurate route.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,), default=None
    centered : bool
        Center the columns at their weighted means (a profiled intercept).
    ones_column : bool, default=False
        Append a column of ones (a penalized intercept; not with ``centered``).
    dtype : {np.float32, np.float64}, default=None
        Precision of the rank-k updates (X's).  Only float64 uses the
        after-the-fact centering: float32 rounding would leave nothing of a
        loss of 100.
    x_mean : ndarray of shape (n_features,), default=None
        The weighted column means if known (one more pass otherwise, and only
        when the exact pass is needed).

    Returns
    -------
    K : ndarray of shape (n_samples, n_samples), float64
    loss : float
        Its centering loss (1 for the exact pass; inf for non-finite data,
        whose K the caller reports).
    exact : bool
        Whether K came from the exactly centered pass (the data's offsets
        were too large for the other).
    """
    dtype = np.dtype(dtype or X.dtype)
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)
    if dtype == np.float64 and X.dtype == np.float64:
        if not centered or _pilot_loss(X, weights) <= PILOT_SHARE:
            K, loss = _kernel_after_the_fact(
                X, weights, sqrt_weight, centered=centered, ones_column=ones_column
            )
            if K is not None:
                return K, loss, False
    K = exact_design_kernel(
        X, sample_weight, centered=centered, ones_column=ones_column, dtype=dtype, x_mean=x_mean
    )
    return K, 1.0, True


def exact_design_kernel(
    X, sample_weight=None, *, centered, ones_column=False, dtype=np.float64, x_mean=None
) -> np.ndarray:
    """The design's kernel from the exactly centered blocked pass (:func:`kernel_matrix`)."""
    sqrt_weight = None if sample_weight is None else np.sqrt(sample_weight)
    if not centered:
        shift = np.zeros(X.shape[1])
        return kernel_matrix(
            X, shift, sqrt_weight=sqrt_weight, dtype=dtype, ones_column=ones_column
        )
    shift = column_means(X, sample_weight) if x_mean is None else x_mean
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return kernel_matrix(
        X, shift, sqrt_weight=sqrt_weight, dtype=dtype, ones_column=ones_column,
        center_weights=weights,
    )  # fmt: skip


def shifted_transpose_times(X: np.ndarray, shift: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``(X - shift)^T M`` from blocks of columns of X shifted in a reused buffer.

    The kernel solver's last pass when X has large offsets: ``X^T M`` itself
    would carry rounding of ``eps |shift| |M|``, which the centering
    ``- shift (1^T M)`` cannot remove.  ``M`` is (n_samples, k), k small; the
    products go through SciPy's BLAS (:mod:`l2reg._blas`).
    """
    n, p = X.shape
    fortran = X.flags.f_contiguous and not X.flags.c_contiguous
    columns = max(1, min(KERNEL_BLOCK_COLUMNS, p))
    buffer = np.empty((n, columns), dtype=X.dtype, order="F" if fortran else "C")
    shift = np.asarray(shift).astype(X.dtype)
    M = np.asarray(M, dtype=X.dtype)
    product = np.empty((p, M.shape[1]), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, p, columns):
            stop = min(start + columns, p)
            block = buffer[:, : stop - start]
            np.subtract(X[:, start:stop], shift[start:stop], out=block)
            product[start:stop] = matmul(block, M, transpose_a=True)
    return product
