"""The equilibrated copy of a symmetric positive (semi)definite system, for LAPACK.

:func:`equilibrated_upper` returns ``D (H + shift I) D`` in the triangle that
``?potrf`` factors, with ``D`` the powers of two nearest ``diag(H + shift
I)^{-1/2}`` (so the scaling rounds nothing) and the matrix's 1-norm, which
``?pocon`` needs for its condition estimate.  See
:func:`l2reg.solvers.direct._cholesky_solve` for why the system is
equilibrated.

Why a kernel
------------
NumPy formed the system in four passes over the p x p matrix: a copy, the
scaling of its rows, the scaling of its columns, and LAPACK's ``lange`` for the
norm (21 + 6 ms at p = 2,000 on the 2-core development VM, next to 60 ms for
the threaded ``potrf``).  The numba loop reads the one triangle ``potrf``
uses, writes it scaled and adds the magnitudes for the norm in the same pass
(6.6 ms at p = 2,000 on the same machine).  Without numba, and below
:data:`KERNEL_MIN_FEATURES` columns, the NumPy form runs; both compute the same
values (the scaling is exact; the norm's sums may differ in order).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.linalg.lapack import get_lapack_funcs

__all__ = ["equilibrated_upper"]

#: Below this many columns the NumPy form runs, numba or not: it takes well under a
#: millisecond there, while a process's first use of the kernel imports numba and
#: loads the compiled loop (0.5 s and 70 MB of memory, for a one-off fit of a
#: 51-column file).
KERNEL_MIN_FEATURES = 256


@functools.cache
def _kernel():
    """The compiled loop, or None without numba."""
    try:
        from numba import njit
    except ImportError:
        return None

    @njit(cache=True, nogil=True)
    def scaled_lower_rows(H, scale, out, magnitudes):
        # out[i, :i] = s_i H[i, :i] s_j (exact: powers of two), the strictly
        # lower triangle of a C-ordered H, in memory order; magnitudes gets
        # each entry's |value| in its row's and its column's sum (the
        # symmetric matrix's column sums without the diagonal).
        for i in range(H.shape[0]):
            source = H[i]
            target = out[i]
            factor = scale[i]
            row_sum = 0.0
            for j in range(i):
                value = source[j] * factor * scale[j]
                target[j] = value
                size = abs(value)
                row_sum += size
                magnitudes[j] += size
            magnitudes[i] += row_sum

    return scaled_lower_rows


def equilibrated_upper(H: np.ndarray, shift: float = 0.0):
    """``(A, scale, anorm)`` with ``A``'s upper triangle ``D (H + shift I) D``.

    Parameters
    ----------
    H : ndarray of shape (p, p)
        Symmetric, float64 or float32; not modified.
    shift : float
        Added to the diagonal before the scaling (a ridge ``W alpha``).

    Returns
    -------
    A : ndarray of shape (p, p), Fortran-ordered
        A fresh matrix for ``?potrf(A, lower=0, overwrite_a=1)``; only its
        upper triangle is defined.
    scale : ndarray of shape (p,)
        ``diag(D)``, ``2^-round(log2(h_jj + shift) / 2)``.
    anorm : float
        The 1-norm of the symmetric ``D (H + shift I) D``.

    None when a diagonal entry of ``H + shift I`` is not positive and finite
    (the system is then not positive definite, or the data hold a NaN).
    """
    diagonal = np.diag(H) + shift
    if not (np.all(diagonal > 0) and np.all(np.isfinite(diagonal))):
        return None
    scale = np.exp2(-np.round(np.log2(diagonal) / 2)).astype(H.dtype, copy=False)
    kernel = _kernel() if H.shape[0] >= KERNEL_MIN_FEATURES else None
    if kernel is None:
        return _numpy_form(H, shift, scale)
    # A symmetric H is its own transpose: read whichever is C-ordered.
    source = H.T if H.flags.f_contiguous and not H.flags.c_contiguous else np.ascontiguousarray(H)
    lower = np.empty_like(source, order="C")
    magnitudes = np.zeros(H.shape[0], dtype=source.dtype)
    kernel(source, scale, lower, magnitudes)
    scaled_diagonal = (diagonal * scale * scale).astype(H.dtype, copy=False)
    lower[np.diag_indices_from(lower)] = scaled_diagonal
    anorm = float(np.max(magnitudes + np.abs(scaled_diagonal))) if H.shape[0] else 0.0
    return lower.T, scale, anorm


def _numpy_form(H, shift, scale):
    """The same system by NumPy and LAPACK's ``lange`` (the form without numba)."""
    A = H.copy().T if H.flags.c_contiguous else H.copy(order="F")
    A[np.diag_indices_from(A)] += shift
    A *= scale[:, None]
    A *= scale[None, :]
    (lange,) = get_lapack_funcs(("lange",), (A,))
    return A, scale, float(lange("1", A))
