"""Coordinate-descent kernels: compiled with numba when it is installed.

:mod:`.compiled` holds the ``@njit(cache=True)`` kernels and :mod:`.reference`
their plain NumPy twins, which serve as the test oracle and as the fallback
when numba is missing (``HAVE_NUMBA`` says which is in use).  With
``NUMBA_DISABLE_JIT=1`` numba runs the compiled module's Python source, which
is how the test suite covers it.
"""

try:
    from l2reg.solvers._kernels.compiled import (
        cd_epoch_dense,
        cd_epoch_gram,
        cd_epoch_sparse,
        centered_norms_dense,
        column_products_dense,
        column_products_sparse,
    )

    HAVE_NUMBA = True
except ImportError:  # numba is optional at run time; the twins are exact, only slower
    from l2reg.solvers._kernels.reference import (
        cd_epoch_dense,
        cd_epoch_gram,
        cd_epoch_sparse,
        centered_norms_dense,
        column_products_dense,
        column_products_sparse,
    )

    HAVE_NUMBA = False

__all__ = [
    "HAVE_NUMBA",
    "cd_epoch_dense",
    "cd_epoch_gram",
    "cd_epoch_sparse",
    "centered_norms_dense",
    "column_products_dense",
    "column_products_sparse",
]
