"""numba kernels of the mixed-precision passes (:mod:`l2reg._mixed_passes`).

Two memory-bound steps of those passes ran at a third to a half of the
memory's speed in NumPy; each is one free ``@njit(cache=True, nogil=True)``
function over arrays here (STYLE.md §5), run by the passes' worker threads:

:func:`shifted_float32`
    ``out = float32((X_b - shift) * sqrt(w_b))``, the conversion of a float64
    row block, and ``X_b^T [w_b Y_b, w_b]`` in float64 from the same reads.
    NumPy needed a float64 scratch block and a casting copy (3.3 ns per value
    on 200,000 x 500), and the cross products a ``dgemm`` that read the block
    again; one loop reads each value once (0.8 ns).
:func:`residual_products_rows`
    ``X_b^T W_b (Y_b - offset - X_b theta)`` of a row block, each row read once
    from memory and once from the L1 cache: the two ``dgemm`` calls per
    256-row block ran at about half the rate at which two cores read memory.

The passes import this module on first use, so that ``import l2reg`` does not
import numba; where numba is missing they keep their NumPy / BLAS forms, which
compute the same values (the tests hold the two to each other).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["kernels"]


@functools.cache
def kernels():
    """``(shifted_float32, residual_products_rows)`` compiled, or None without numba."""
    try:
        from numba import njit
    except ImportError:  # the passes keep their NumPy / BLAS forms
        return None

    # reassoc/contract: the cross products' sums over a Fortran block's rows
    # may be vectorized; the conversion itself has nothing to reorder.
    @njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    def shifted_float32(block, shift, sqrt_weights, out, rows_of_y, cross):
        # Rows of a C-ordered block in memory order; a Fortran-ordered block
        # (a row range of a Fortran X: columns with a stride) column by column.
        # Each value, read once, is also added into cross[c, j] += x_ij * rows_of_y[i, c]
        # (X^T [w Y, w] in float64, unshifted).
        count, p = block.shape
        width = rows_of_y.shape[1]
        weighted = sqrt_weights.shape[0] > 0
        if block.strides[1] == block.itemsize:
            for i in range(count):
                scale = sqrt_weights[i] if weighted else 1.0
                row, target = block[i], out[i]
                for j in range(p):
                    target[j] = np.float32((row[j] - shift[j]) * scale)
                for c in range(width):
                    factor, accumulated = rows_of_y[i, c], cross[c]
                    for j in range(p):
                        accumulated[j] += row[j] * factor
        else:
            for j in range(p):
                for i in range(count):
                    scale = sqrt_weights[i] if weighted else 1.0
                    out[i, j] = np.float32((block[i, j] - shift[j]) * scale)
                for c in range(width):
                    total = 0.0
                    for i in range(count):
                        total += block[i, j] * rows_of_y[i, c]
                    cross[c, j] += total

    # reassoc/contract only: the dot products may be vectorized (a different
    # order of the same float64 sums), NaN and inf keep their meaning.
    @njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
    def residual_products_rows(X, Y, theta, offset, weights, start, stop, total):
        # total[t] += sum_i w_i r_it x_i, r_it = Y_it - offset_t - x_i . theta_t,
        # over the rows start:stop of a C-ordered X (theta and total: one row per
        # target, so both inner loops run along memory).
        k, p = theta.shape
        weighted = weights.shape[0] > 0
        residual = np.empty(k)
        for i in range(start, stop):
            row = X[i]
            for t in range(k):
                fitted = 0.0
                coefficients = theta[t]
                for j in range(p):
                    fitted += row[j] * coefficients[j]
                residual[t] = Y[i, t] - offset[t] - fitted
                if weighted:
                    residual[t] *= weights[i]
            for t in range(k):
                value = residual[t]
                accumulated = total[t]
                for j in range(p):
                    accumulated[j] += value * row[j]

    return shifted_float32, residual_products_rows
