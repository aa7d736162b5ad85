"""The two passes over a float64 X that mixed-precision ridge needs, split by rows across cores.

:func:`float32_gram`
    ``sum_i w_i (x_i - s)(x_i - s)^T`` formed by ``ssyrk`` in float32 from a
    float64 X, with **no float32 copy of X**: each worker converts one row
    block at a time into its own small float32 buffer (the shift and the
    weights fused into the conversion), runs ``ssyrk`` on it and adds the
    block's product into a float64 total.  The same block, still in cache,
    gives ``X^T W [Y, 1]`` in float64 (``dgemm``), so the right-hand side, the
    means and the first iterate of the refinement are exact.
:func:`residual_products`
    ``X^T W (Y - X theta - offset)`` in float64, in one fused pass: per block
    ``R_b = Y_b - offset - X_b theta`` (``dgemm``) and ``G += X_b^T W_b R_b``
    (``dgemm``), the block read from cache the second time.  The gradient of
    a ridge objective, computed from the data, at the cost of reading X once.

Why float32 blocks are added into a float64 total
--------------------------------------------------
A float32 sum over n rows drifts like ``eps32 * sqrt(n)`` or worse (a
200,000-row sum: errors of ~1e-5 of the diagonal, too coarse for a
preconditioner of a condition-1e4 system).  One block's ``ssyrk``
(:data:`BLOCK_ROWS` rows) rounds in float32; the sum of the blocks is
float64, so the Gram carries about one block's float32 rounding, and adding
the p x p block costs about 1/(2 * BLOCK_ROWS / p) of its ``ssyrk`` (measured:
see :data:`BLOCK_ROWS`).

Both passes use SciPy's ``cython_blas`` routines through ``ctypes`` (they
release the GIL and read a row block of a Fortran-ordered X in place) and
the thread rules of :mod:`l2reg._row_split` (one single-threaded BLAS per
worker).  Where those routines are not available they run serially through
SciPy's f2py wrappers and the same arithmetic.
"""

from __future__ import annotations

import ctypes

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from l2reg._blas import matmul
from l2reg._mixed_kernels import kernels
from l2reg._row_split import raw_routines, run_shares, run_split

__all__ = ["float32_gram", "residual_products", "BLOCK_ROWS"]

#: Rows per block of the float32 pass.  A 4,096 x 500 float32 block (8 MB)
#: and its float64 source stay in the shared 32 MB L3 cache between the
#: conversion, the ``ssyrk`` and the ``dgemm``; on 200,000 x 500 the pass
#: measured 1,024: 0.65x, 2,048: 0.56x, 4,096: 0.52x the float64 split syrk
#: (one run, before the conversion went through a float64 scratch block).
BLOCK_ROWS = 4096
#: Rows of the float64 scratch block of the shifted conversion (1 MB at 500 columns).
SCRATCH_ROWS = 256
#: Rows per block of the residual pass: the block is read twice (``X_b theta``
#: then ``X_b^T R_b``), so it should stay in the 2 MB per-core L2 cache.  On
#: 200,000 x 500 one pass took 256: 0.056x, 512: 0.065x, 1,024: 0.087x the
#: float64 split syrk (one run, machine lightly loaded).
RESIDUAL_BLOCK_ROWS = 256
# The 32-bit (LP64) BLAS interface of scipy.linalg.cython_blas.
_MAX_BLAS_INT = 2**31 - 1
# The kernels' "no sample weights".
_NO_WEIGHTS = np.empty(0)


def _int(value: int):
    return ctypes.byref(ctypes.c_int(value))


def _layout(X):
    """``(trans, leading dimension, bytes per row)`` of a row block of X as BLAS sees it.

    To Fortran BLAS a C-ordered X is the p x n matrix X^T (leading dimension
    p), so its row block is ``X_b^T`` as stored ("N" gives ``X_b^T``); a
    Fortran-ordered X is X itself (leading dimension n), its row block ``X_b``
    ("T" gives ``X_b^T``).
    """
    n, p = X.shape
    if X.flags.c_contiguous:
        return b"N", p, X.itemsize * p
    return b"T", n, X.itemsize


def _raw_usable(X, names):
    """The raw routines, or None where X's dtype, layout or size does not suit them."""
    contiguous = X.flags.c_contiguous or X.flags.f_contiguous
    if X.dtype != np.float64 or not contiguous or max(X.shape) > _MAX_BLAS_INT:
        return None
    return raw_routines(names)


def _workers_for(n_rows: int, block_rows: int):
    blocks = -(-n_rows // block_rows)
    return lambda requested: max(1, min(requested, blocks))


# --- float32 Gram ----------------------------------------------------------------


def float32_gram(X, Y, sample_weight, shift, *, block_rows=BLOCK_ROWS, workers=None):
    """Shifted Gram in float32 blocks and the exact cross products, from one pass over X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Read in place, one row block at a time; never copied as a whole.
    Y : ndarray of shape (n_samples, n_targets)
    sample_weight : ndarray of shape (n_samples,) or None
    shift : ndarray of shape (n_features,)
        Subtracted from every row before the float32 rounding (a pilot mean:
        the float32 Gram then carries the rounding of the centered spread,
        not of the offsets).
    block_rows : int, default=BLOCK_ROWS
    workers : int, optional
        Most threads to split the rows among (see :func:`l2reg._row_split.run_split`).

    Returns
    -------
    lower : ndarray of shape (n_features, n_features), float64, Fortran-ordered
        ``sum_i w_i (x_i - shift)(x_i - shift)^T`` in its lower triangle, each
        block's part rounded in float32.
    cross : ndarray of shape (n_features, n_targets + 1), float64
        ``X^T W [Y, 1]`` (X unshifted), accumulated in float64.
    """
    n, p = X.shape
    block_rows = max(1, min(block_rows, n))
    shift = np.asarray(shift, dtype=np.float64)
    blas = _raw_usable(X, ("ssyrk", "dgemm"))

    def work(start, stop):
        return _float32_share(X, Y, sample_weight, shift, start, stop, block_rows, blas)

    def run(count):
        results = run_shares(n, block_rows, count if blas is not None else 1, work)
        lower, cross = results[0]
        for other_lower, other_cross in results[1:]:
            lower += other_lower
            cross += other_cross
        return lower, cross

    return run_split(p, workers, _workers_for(n, block_rows), run)


def _float32_share(X, Y, sample_weight, shift, start, stop, block_rows, blas):
    """The float32 Gram and float64 cross products of rows start:stop."""
    n, p = X.shape
    width = Y.shape[1] + 1
    fortran = not X.flags.c_contiguous
    # The float32 block has X's layout, so that the conversion reads and
    # writes both in memory order.
    buffer = np.empty((block_rows, p), dtype=np.float32, order="F" if fortran else "C")
    # Zeros: ssyrk writes the lower triangle only, and the whole block is added.
    block_product = np.zeros((p, p), dtype=np.float32, order="F")
    lower = np.zeros((p, p), order="F")
    cross = np.zeros((p, width), order="F")
    rows_of_y = np.empty((block_rows, width))  # [w Y_b, w], C-ordered
    compiled = kernels()
    if compiled is None:
        scratch = np.empty((min(SCRATCH_ROWS, block_rows), p), order="F" if fortran else "C")
    for first in range(start, stop, block_rows):
        count = min(block_rows, stop - first)
        block = X[first : first + count]
        converted = buffer[:count]
        weights = None if sample_weight is None else sample_weight[first : first + count]
        rows_of_y[:count, :-1] = Y[first : first + count]
        rows_of_y[:count, -1] = 1.0
        if weights is not None:
            rows_of_y[:count] *= weights[:, None]
        if compiled is not None:  # conversion and cross products in one read of the block
            root_weights = _NO_WEIGHTS if weights is None else np.sqrt(weights)
            compiled[0](block, shift, root_weights, converted, rows_of_y[:count], cross.T)
        else:
            _shifted_into(block, shift, converted, scratch)
            if weights is not None:
                converted *= np.sqrt(weights, dtype=np.float32)[:, None]
        with_cross = compiled is None
        if blas is None:
            _float32_block_f2py(
                block, converted, rows_of_y[:count], block_product, cross, with_cross
            )
        else:
            _float32_block_raw(
                X, first, count, converted, rows_of_y, block_product, cross, blas, with_cross
            )
        lower += block_product
    return lower, cross


def _shifted_into(block, shift, converted, scratch):
    """``converted[...] = block - shift``: subtracted in float64, then rounded to float32
    (the NumPy form of :mod:`l2reg._mixed_kernels`' ``shifted_float32``).

    Through a small float64 scratch block in cache: one ``np.subtract`` that
    casts on output ran ~1.5x slower (NumPy's buffered casting loop).  A zero
    shift (no intercept) is a plain conversion.
    """
    if not np.any(shift):
        converted[...] = block
        return
    rows = scratch.shape[0]
    for first in range(0, block.shape[0], rows):
        part = scratch[: min(rows, block.shape[0] - first)]
        np.subtract(block[first : first + rows], shift, out=part)
        converted[first : first + rows] = part


def _float32_block_raw(
    X, first, count, converted, rows_of_y, block_product, cross, blas, with_cross
):
    """The block's ``ssyrk`` and, with ``with_cross``, its ``dgemm`` with ``[w Y_b, w]``."""
    ssyrk, dgemm = blas
    p = X.shape[1]
    width = rows_of_y.shape[1]
    if converted.flags.c_contiguous:  # to BLAS the p x count matrix converted^T
        trans32, ld32 = b"N", p
    else:  # a Fortran-ordered block of a taller buffer: leading dimension = its rows
        trans32, ld32 = b"T", converted.strides[1] // converted.itemsize
    one32, zero32 = ctypes.byref(ctypes.c_float(1.0)), ctypes.byref(ctypes.c_float(0.0))
    columns, depth = _int(p), _int(count)
    ssyrk(
        b"L", trans32, columns, depth, one32, converted.ctypes.data, _int(ld32), zero32,
        block_product.ctypes.data, columns,
    )  # fmt: skip
    if not with_cross:
        return
    trans, leading, row_step = _layout(X)
    one = ctypes.byref(ctypes.c_double(1.0))
    dgemm(
        trans, b"T", columns, _int(width), depth, one, X.ctypes.data + first * row_step,
        _int(leading), rows_of_y.ctypes.data, _int(width), one, cross.ctypes.data, columns,
    )  # fmt: skip


def _float32_block_f2py(block, converted, rows_of_y, block_product, cross, with_cross):
    """The same products through SciPy's f2py wrappers (no raw routines)."""
    syrk = get_blas_funcs("syrk", dtype=np.float32)
    operand = converted.T if converted.flags.c_contiguous else converted
    trans = 0 if converted.flags.c_contiguous else 1
    block_product[...] = syrk(1.0, operand, trans=trans, lower=1)
    if with_cross:
        cross += matmul(np.ascontiguousarray(block), rows_of_y, transpose_a=True)


# --- Residual products -----------------------------------------------------------


def residual_products(
    X, Y, theta, offset, sample_weight, *, block_rows=RESIDUAL_BLOCK_ROWS, workers=None
):
    """``X^T W (Y - X theta - offset)`` in float64, from one fused pass over X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    Y : ndarray of shape (n_samples, n_targets)
    theta : ndarray of shape (n_features, n_targets)
    offset : ndarray of shape (n_targets,)
        Subtracted from every residual: with the weighted mean residual
        ``y_mean - x_mean . theta`` the product is the centered
        ``Xc^T W (yc - Xc theta)`` without centering X (the weighted sum of
        the centered residuals is zero).
    sample_weight : ndarray of shape (n_samples,) or None
    block_rows : int, default=RESIDUAL_BLOCK_ROWS
    workers : int, optional

    Returns
    -------
    ndarray of shape (n_features, n_targets), float64
    """
    n, p = X.shape
    block_rows = max(1, min(block_rows, n))
    theta = np.asfortranarray(theta, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    blas = _raw_usable(X, ("dgemm",))
    compiled = kernels() if X.flags.c_contiguous and X.dtype == np.float64 else None
    if compiled is not None:  # one kernel call per share: rows in memory order
        rows_theta = np.ascontiguousarray(theta.T)
        weights = _NO_WEIGHTS if sample_weight is None else sample_weight
        Y = np.asarray(Y, dtype=np.float64)

    def work(start, stop):
        if compiled is not None:
            total = np.zeros((rows_theta.shape[0], p))
            compiled[1](X, Y, rows_theta, offset, weights, start, stop, total)
            return total.T
        return _residual_share(X, Y, theta, offset, sample_weight, start, stop, block_rows, blas)

    def run(count):
        # Both the kernel and the raw BLAS release the GIL: the shares overlap.
        splits = blas is not None or compiled is not None
        results = run_shares(n, block_rows, count if splits else 1, work)
        total = results[0]
        for other in results[1:]:
            total += other
        return total

    return run_split(p, workers, _workers_for(n, block_rows), run)


def _residual_share(X, Y, theta, offset, sample_weight, start, stop, block_rows, blas):
    n, p = X.shape
    k = theta.shape[1]
    total = np.zeros((p, k), order="F")
    residual = np.empty((block_rows, k), order="F")
    for first in range(start, stop, block_rows):
        count = min(block_rows, stop - first)
        part = residual[:count]
        np.subtract(Y[first : first + count], offset, out=part)
        if blas is None:
            block = X[first : first + count]
            part -= block @ theta
            if sample_weight is not None:
                part *= sample_weight[first : first + count, None]
            total += matmul(np.ascontiguousarray(block), part, transpose_a=True)
            continue
        (dgemm,) = blas
        trans, leading, row_step = _layout(X)
        address, ld = X.ctypes.data + first * row_step, _int(leading)
        one = ctypes.byref(ctypes.c_double(1.0))
        minus_one = ctypes.byref(ctypes.c_double(-1.0))
        # part = part - X_b theta: op(stored block) must be X_b, the transpose of trans.
        untrans = b"T" if trans == b"N" else b"N"
        dgemm(
            untrans, b"N", _int(count), _int(k), _int(p), minus_one, address, ld,
            theta.ctypes.data, _int(p), one, part.ctypes.data, _int(block_rows),
        )  # fmt: skip
        if sample_weight is not None:
            part *= sample_weight[first : first + count, None]
        # total += X_b^T part
        dgemm(
            trans, b"N", _int(p), _int(k), _int(count), one, address, ld,
            part.ctypes.data, _int(block_rows), one, total.ctypes.data, _int(p),
        )  # fmt: skip
    return total
