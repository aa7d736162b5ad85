"""Matrix products through SciPy's BLAS, the library of l2reg's large passes.

NumPy and SciPy wheels each bundle their own OpenBLAS, each with its own pool
of worker threads.  After a large threaded call, a pool's idle workers keep
spinning on the cores for a while (about 0.1-0.3 s); a threaded call into the
*other* library in that window waits for a core.  On the 2-core development
machine a 13 ms SciPy ``syrk`` took 30-100 ms right after a NumPy product, a
300 x 300 by 300 x 20 NumPy product took 3-4 ms right after a SciPy ``syrk``
instead of 0.06 ms, and a logistic-regression Newton step (two products with
X around a SciPy ``syrk`` Hessian pass) took 236 ms with NumPy's ``@`` against
177 ms with these functions.  So the products that run between l2reg's SciPy
passes (Gram and Hessian ``syrk``, Cholesky) go to SciPy's BLAS too.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import get_blas_funcs

__all__ = ["matmul"]


def matmul(a: np.ndarray, b: np.ndarray, *, transpose_a: bool = False) -> np.ndarray:
    """``a @ b`` (``a.T @ b`` with ``transpose_a``) by SciPy's ``?gemv``/``?gemm``; a is not copied.

    ``a`` is 2-D, C- or Fortran-ordered; ``b`` is 1-D or one column (``?gemv``)
    or 2-D (``?gemm``; a C-ordered ``b`` is copied, which is cheap for the few
    columns it has here).  Other layouts of ``a``, and dtypes that differ or
    are not float32/float64, fall back to NumPy's ``@``.
    """
    if a.flags.f_contiguous:
        operand, transposed = a, False
    elif a.flags.c_contiguous:
        operand, transposed = a.T, True  # a == operand.T, operand Fortran-ordered
    else:
        operand = None
    if operand is None or a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        return (a.T if transpose_a else a) @ b
    trans = int(transpose_a != transposed)
    if b.ndim == 1 or b.shape[1] == 1:  # a matrix-vector product: ?gemv
        gemv = get_blas_funcs("gemv", (operand,))
        product = gemv(1.0, operand, np.ascontiguousarray(b.reshape(-1)), trans=trans)
        return product if b.ndim == 1 else product[:, None]
    return get_blas_funcs("gemm", (operand,))(1.0, operand, b, trans_a=trans)
